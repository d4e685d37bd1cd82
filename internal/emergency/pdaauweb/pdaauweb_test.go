package pdaauweb_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/pdaauweb"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/web"
)

func TestMain(m *testing.M) {
	// The emergency service defines these roles when it registers; this package's tests
	// run without it.
	for _, r := range pdaauweb.Roles {
		identity.DefineRole(r)
	}
	os.Exit(dbtest.Main(m))
}

// site runs the pages over TLS with four people: two editors of the Rhône (69), an approver
// of the Rhône, and an editor of Paris (75). The Rhône has two communes and three centres.
type site struct {
	t     *testing.T
	srv   *httptest.Server
	store *pdaau.Store
	token map[string]string
}

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	pool := dbtest.New(t, identity.Migrations(), schema.Migrations())
	for _, q := range []string{
		`INSERT INTO emergency.communes (code, name, geometry) VALUES ('69123', 'Lyon', '[]'), ('69266', 'Villeurbanne', '[]'), ('75056', 'Paris', '[]')`,
		`INSERT INTO emergency.psaps (id, name, routing_number, endpoint) VALUES ('samu-69', 'SAMU du Rhône', '0400000015', 'https://127.0.0.1:9'),
			('sdmis-69', 'SDMIS du Rhône', '0400000018', 'https://127.0.0.1:9'), ('police-69', 'Police du Rhône', '0400000017', 'https://127.0.0.1:9')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	people := identity.New(pool, nil)
	s := &site{t: t, store: pdaau.NewStore(pool), token: map[string]string{}}
	for email, grant := range map[string][2]string{
		"ed69@prefecture.test": {pdaauweb.RoleEditor, "69"}, "ap69@prefecture.test": {pdaauweb.RoleApprover, "69"},
		"autre69@prefecture.test": {pdaauweb.RoleEditor, "69"},
		"ed75@prefecture.test":    {pdaauweb.RoleEditor, "75"},
	} {
		u, err := people.AddUser(ctx, email, email, "un mot de passe assez long")
		if err != nil {
			t.Fatal(err)
		}
		people.Grant(ctx, email, grant[0], grant[1])
		u, _ = people.Authenticate(ctx, email, "un mot de passe assez long")
		s.token[email], _, err = people.Login(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	people.Routes(mux)
	ui := &pdaauweb.UI{Store: s.store, Identity: people, Logger: slogDiscard(), PSAPs: func() map[string]string {
		return map[string]string{"0400000015": "SAMU du Rhône", "0400000018": "SDMIS du Rhône", "0400000017": "Police du Rhône"}
	}}
	ui.Routes(mux)
	s.srv = httptest.NewTLSServer(people.Middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// do sends a request as who ("" for nobody); it does not follow redirects.
func (s *site) do(who, method, path, contentType string, body io.Reader) (int, string, string) {
	s.t.Helper()
	status, loc, page, err := s.send(who, method, path, contentType, body)
	if err != nil {
		s.t.Fatal(err)
	}
	return status, loc, page
}

// send is do for any goroutine: it returns its failure.
func (s *site) send(who, method, path, contentType string, body io.Reader) (int, string, string, error) {
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if who != "" {
		req.AddCookie(&http.Cookie{Name: identity.CookieName, Value: s.token[who]})
	}
	c := *s.srv.Client() // a copy: requests may run at once
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b), nil
}

func (s *site) upload(who, dep, csv string) (int, string, string) {
	s.t.Helper()
	ct, body := uploadForm(csv)
	return s.do(who, "POST", "/emergency/pdaau/"+dep+"/upload", ct, body)
}

func uploadForm(csv string) (string, io.Reader) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "rhone.csv")
	io.WriteString(fw, csv)
	mw.Close()
	return mw.FormDataContentType(), &b
}

func (s *site) post(who, path string, form url.Values) (int, string, string) {
	return s.do(who, "POST", path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// rhone is a complete table: everything to SDMIS but 15 to the SAMU; change alters it.
func rhone(change map[string]string) string {
	var b strings.Builder
	b.WriteString("insee,number,routing_number\n")
	for _, c := range []string{"69123", "69266"} {
		for _, n := range pdaau.ShortNumbers {
			r := "0400000018"
			if n == "15" {
				r = "0400000015"
			}
			if v, ok := change[c+"/"+n]; ok {
				r = v
			}
			fmt.Fprintf(&b, "%s,%s,%s\n", c, n, r)
		}
	}
	return b.String()
}

func TestPeopleSeeOnlyTheirDepartements(t *testing.T) {
	s := newSite(t)
	if status, loc, _ := s.do("", "GET", "/emergency/pdaau/", "", nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("anonymous: %d %s", status, loc)
	}
	_, _, list := s.do("ed75@prefecture.test", "GET", "/emergency/pdaau/", "", nil)
	if !strings.Contains(list, `href="/emergency/pdaau/75/`) || strings.Contains(list, `href="/emergency/pdaau/69/`) {
		t.Fatalf("the Paris editor's list:\n%s", list)
	}
	if status, _, _ := s.do("ed75@prefecture.test", "GET", "/emergency/pdaau/69/", "", nil); status != http.StatusForbidden {
		t.Fatalf("Paris editor on the Rhône page: %d", status)
	}
	if status, _, _ := s.upload("ed75@prefecture.test", "69", rhone(nil)); status != http.StatusForbidden {
		t.Fatalf("Paris editor uploading for the Rhône: %d", status)
	}
	if status, _, _ := s.upload("ap69@prefecture.test", "69", rhone(nil)); status != http.StatusForbidden {
		t.Fatalf("an approver uploading: %d", status)
	}
}

func TestAnUploadWithErrorsShowsThemAllAndSavesNothing(t *testing.T) {
	s := newSite(t)
	bad := rhone(map[string]string{"69123/17": "04000", "69266/18": "0499999999"})
	bad = strings.Replace(bad, "69266,112,", "75056,112,", 1)
	status, _, page := s.upload("ed69@prefecture.test", "69", bad)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", status)
	}
	for _, want := range []string{
		`role="alert"`, "<strong>4 problèmes</strong>\u00a0: rien n&#39;a été enregistré.",
		"<td>3</td><td>routing_number</td><td>numéro d&#39;acheminement &#34;04000&#34; mal formé",
		"<td>16</td><td>routing_number</td><td>numéro d&#39;acheminement 0499999999 : aucun centre",
		"<td>17</td><td>insee</td><td>la commune 75056 n&#39;est pas dans le département 69",
		"la commune 69266 n&#39;a pas de centre pour le 112",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if h, _ := s.store.History(context.Background(), "69"); len(h) != 0 {
		t.Fatalf("%d versions saved", len(h))
	}
}

func TestATableGoesFromUploadToPublicationWithTwoPeople(t *testing.T) {
	s := newSite(t)
	status, loc, _ := s.upload("ed69@prefecture.test", "69", rhone(nil))
	if status != http.StatusSeeOther {
		t.Fatalf("upload: %d", status)
	}
	_, _, page := s.do("ed69@prefecture.test", "GET", loc, "", nil)
	if !strings.Contains(page, "24 changements") || strings.Contains(page, "/approve") {
		t.Fatalf("the editor's view of their draft:\n%s", page)
	}
	id := strings.Split(loc, "/")[4]
	if status, _, _ := s.post("ed69@prefecture.test", "/emergency/pdaau/versions/"+id+"/approve", nil); status != http.StatusForbidden {
		t.Fatalf("an editor approving: %d", status)
	}
	if status, _, _ := s.post("ap69@prefecture.test", "/emergency/pdaau/versions/"+id+"/approve", nil); status != http.StatusSeeOther {
		t.Fatalf("approve: %d", status)
	}
	// Publishing changes where calls go: it is confirmed in the form, or refused.
	if status, _, body := s.post("ap69@prefecture.test", "/emergency/pdaau/versions/"+id+"/publish", url.Values{"effective_at": {""}}); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "confirmation") {
		t.Fatalf("publish unconfirmed: %d %s", status, body)
	}
	if status, _, body := s.post("ap69@prefecture.test", "/emergency/pdaau/versions/"+id+"/publish", url.Values{"effective_at": {""}, "confirm": {"yes"}}); status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", status, body)
	}

	// A second version sends Lyon's 17 to the police: the diff says exactly that.
	_, loc, _ = s.upload("ed69@prefecture.test", "69", rhone(map[string]string{"69123/17": "0400000017"}))
	_, _, page = s.do("ap69@prefecture.test", "GET", loc+"&lang=en", "", nil)
	for _, want := range []string{"1 change: a commune", "<td>69123 Lyon</td><td>17</td>", "SDMIS du Rhône (0400000018)", "Police du Rhône (0400000017)", "/approve"} {
		if !strings.Contains(page, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	// The editor fixes the draft in the page: Villeurbanne's 17 too.
	id2 := strings.Split(loc, "/")[4]
	form := rowsForm(map[string]string{"69123/17": "0400000017", "69266/17": "0400000017"})
	if status, _, body := s.post("ed69@prefecture.test", "/emergency/pdaau/versions/"+id2+"/rows", form); status != http.StatusSeeOther {
		t.Fatalf("save rows: %d %s", status, body)
	}
	form.Set("r.69266.17", "17")
	if status, _, body := s.post("ed69@prefecture.test", "/emergency/pdaau/versions/"+id2+"/rows", form); status != http.StatusUnprocessableEntity ||
		!strings.Contains(body, "mal formé") {
		t.Fatalf("save a bad row: %d", status)
	}
	// The download opens in a French spreadsheet (a byte-order mark, semicolons), and goes
	// back up as it came down.
	_, _, csv := s.do("ap69@prefecture.test", "GET", "/emergency/pdaau/versions/"+id2+"/csv", "", nil)
	if !strings.HasPrefix(csv, "\uFEFFinsee;number;routing_number\r\n") || !strings.Contains(csv, "69266;17;0400000017\r\n") {
		t.Fatalf("csv:\n%q", csv)
	}
	if status, _, body := s.post("ed69@prefecture.test", "/emergency/pdaau/versions/"+id2+"/discard", nil); status != http.StatusSeeOther {
		t.Fatalf("discard: %d %s", status, body) // one draft at a time
	}
	if status, _, body := s.upload("ed69@prefecture.test", "69", csv); status >= 400 {
		t.Fatalf("the download uploaded again: %d %s", status, body)
	}
}

func TestRowsAndChangesNameTheirCommunesBesideTheCodes(t *testing.T) {
	s := newSite(t)
	first := s.approved(rhone(nil))
	s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}})
	_, loc, _ := s.upload("ed69@prefecture.test", "69", rhone(map[string]string{"69266/17": "0400000017"}))
	_, _, page := s.do("ap69@prefecture.test", "GET", loc, "", nil)
	if diff := section(page, `id="diff-table"`, `</table>`); !strings.Contains(diff, `<td>69266 Villeurbanne</td><td>17</td>`) {
		t.Errorf("the diff lacks the commune's name:\n%s", diff)
	}
	for who, wants := range map[string][]string{
		"ap69@prefecture.test": {
			`Département <a href="/emergency/pdaau/69/?lang=fr">69 — Rhône</a>`,
			`<td>69123 Lyon</td><td>15</td>`, // the rows
			`<td>69266 Villeurbanne</td><td>116117</td>`,
		},
		"ed69@prefecture.test": { // the rows, as the editor edits them
			`<td>69123 Lyon</td><td>15</td>`,
			`aria-label="Numéro d&#39;acheminement 69266 Villeurbanne 116117"`,
		},
	} {
		_, _, page := s.do(who, "GET", loc, "", nil)
		for _, want := range wants {
			if !strings.Contains(page, want) {
				t.Errorf("%s's page lacks %s", who, want)
			}
		}
	}
}

func TestASecondEditorIsToldWhoHoldsTheOpenDraftAndMayDiscardIt(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	_, loc, _ := s.upload("ed69@prefecture.test", "69", rhone(nil))
	draft, _, _ := strings.Cut(loc, "?")
	v, _ := s.store.Version(ctx, mustID(t, draft))
	held := fmt.Sprintf("La version %d (brouillon) a été ouverte par ed69@prefecture.test le %s.", v.ID, web.Date("fr", v.CreatedAt))
	link := fmt.Sprintf(`<a href="/emergency/pdaau/versions/%d/?lang=fr">Ouvrir la version %d</a>`, v.ID, v.ID)
	discard := fmt.Sprintf(`<form method="post" action="/emergency/pdaau/versions/%d/discard?lang=fr" class="inline">`, v.ID)

	// The département's page says so, and offers no other draft.
	_, _, page := s.do("autre69@prefecture.test", "GET", "/emergency/pdaau/69/", "", nil)
	for _, want := range []string{`<h2 id="open">Brouillon en cours</h2>`, held, link, discard} {
		if !strings.Contains(page, want) {
			t.Errorf("the département's page lacks %s", want)
		}
	}
	if strings.Contains(page, "/69/upload") || strings.Contains(page, "/69/drafts") {
		t.Error("the département's page offers a second draft")
	}
	// A second upload or draft, from a page opened before, is refused and says why.
	for what, send := range map[string]func() (int, string, string){
		"upload": func() (int, string, string) { return s.upload("autre69@prefecture.test", "69", rhone(nil)) },
		"draft": func() (int, string, string) {
			return s.post("autre69@prefecture.test", "/emergency/pdaau/69/drafts", nil)
		},
	} {
		status, _, page := send()
		if status != http.StatusConflict {
			t.Fatalf("%s: %d", what, status)
		}
		for _, want := range []string{`<div class="alert" role="alert">`, "Votre brouillon n&#39;a pas été créé : ce département en a déjà un.", held, link} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the refusal lacks %s", what, want)
			}
		}
	}
	_, _, page = s.post("autre69@prefecture.test", "/emergency/pdaau/69/drafts?lang=en", nil)
	if want := fmt.Sprintf("Version %d (draft) was opened by ed69@prefecture.test on %s.", v.ID, web.Date("en", v.CreatedAt)); !strings.Contains(page, want) {
		t.Errorf("the English refusal lacks %s", want)
	}
	if h, _ := s.store.History(ctx, "69"); len(h) != 1 {
		t.Fatalf("%d versions", len(h))
	}

	// No one else's département: no discarding it.
	if status, _, _ := s.post("ed75@prefecture.test", draft+"discard", nil); status != http.StatusForbidden {
		t.Fatalf("the Paris editor discarding: %d", status)
	}
	// The second editor discards it to start again.
	status, loc, _ := s.post("autre69@prefecture.test", draft+"discard", nil)
	if status != http.StatusSeeOther || loc != "/emergency/pdaau/69/?done=done.discarded" {
		t.Fatalf("discard: %d %s", status, loc)
	}
	_, _, page = s.do("autre69@prefecture.test", "GET", loc, "", nil)
	if !strings.Contains(page, `role="status">Version abandonnée.</p>`) || !strings.Contains(page, "/69/upload") {
		t.Fatalf("after the discard:\n%s", page)
	}
	if _, _, page = s.do("ed69@prefecture.test", "GET", draft, "", nil); !strings.Contains(page, "<dt>Abandonnée par</dt><dd>autre69@prefecture.test, ") {
		t.Error("the discarded version does not say who discarded it")
	}
	status, loc, _ = s.upload("autre69@prefecture.test", "69", rhone(nil))
	if status != http.StatusSeeOther {
		t.Fatalf("a new upload: %d", status)
	}
	// Approved and not yet published, it is still the open one.
	mine, _, _ := strings.Cut(loc, "?")
	s.post("ap69@prefecture.test", mine+"approve", nil)
	if status, _, page := s.upload("ed69@prefecture.test", "69", rhone(nil)); status != http.StatusConflict || !strings.Contains(page, "(approuvée) a été ouverte par autre69@prefecture.test") {
		t.Fatalf("an upload beside an approved version: %d", status)
	}
	// An editor may discard an approved version too.
	if _, _, page := s.do("ed69@prefecture.test", "GET", mine, "", nil); !strings.Contains(page, `/discard?lang=fr" class="inline"><button type="submit" class="secondary">Abandonner</button>`) {
		t.Error("an editor is not offered to discard an approved version")
	}
}

func TestOfTwoUploadsAtOnceOneMakesTheDraftAndTheOtherIsToldSo(t *testing.T) {
	s := newSite(t)
	statuses := make(chan int)
	for _, who := range []string{"ed69@prefecture.test", "autre69@prefecture.test"} {
		go func() {
			ct, body := uploadForm(rhone(nil))
			status, _, _, err := s.send(who, "POST", "/emergency/pdaau/69/upload", ct, body)
			if err != nil {
				status = 0
			}
			statuses <- status
		}()
	}
	got := []int{<-statuses, <-statuses}
	slices.Sort(got)
	if !slices.Equal(got, []int{http.StatusSeeOther, http.StatusConflict}) {
		t.Fatalf("statuses %v, want one 303 and one 409", got)
	}
	if h, _ := s.store.History(context.Background(), "69"); len(h) != 1 {
		t.Fatalf("%d versions", len(h))
	}
}

func TestAnUploadOrAnEditThatChangesNothingIsRefused(t *testing.T) {
	s := newSite(t)
	first := s.approved(rhone(nil))
	s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}})
	none := fmt.Sprintf("aucun changement par rapport à la version en vigueur (version %d) : il n&#39;y aurait rien à publier", mustID(t, first))

	status, _, page := s.upload("ed69@prefecture.test", "69", rhone(nil))
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "<td>—</td><td></td><td>"+none+"</td>") {
		t.Fatalf("the same upload: %d", status)
	}
	if h, _ := s.store.History(context.Background(), "69"); len(h) != 1 {
		t.Fatalf("%d versions", len(h))
	}
	// A draft from the version in effect is to be edited: saved unchanged or approved
	// unchanged, it is refused.
	_, loc, _ := s.post("ed69@prefecture.test", "/emergency/pdaau/69/drafts", nil)
	draft, _, _ := strings.Cut(loc, "?")
	status, _, page = s.post("ed69@prefecture.test", draft+"rows", rowsForm(nil))
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "<td>la table entière</td><td></td><td>"+none+"</td>") {
		t.Fatalf("saved unchanged: %d", status)
	}
	if status, _, page := s.post("ap69@prefecture.test", draft+"approve", nil); status != http.StatusUnprocessableEntity || !strings.Contains(page, none) {
		t.Fatalf("approved unchanged: %d", status)
	}
}

// rowsForm is a draft's rows as its page's form sends them, with changes by "INSEE/number".
func rowsForm(change map[string]string) url.Values {
	form := url.Values{}
	for _, line := range strings.Split(strings.TrimSpace(rhone(change)), "\n")[1:] {
		f := strings.Split(line, ",")
		form.Set("r."+f[0]+"."+f[1], f[2])
	}
	return form
}

func TestABadCellKeepsEveryEditAndIsPointedAtByCommuneAndNumber(t *testing.T) {
	s := newSite(t)
	first := s.approved(rhone(nil))
	s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}})
	_, loc, _ := s.upload("ed69@prefecture.test", "69", rhone(map[string]string{"69123/17": "0400000017"}))
	draft, _, _ := strings.Cut(loc, "?")

	// The editor changes three cells; two are wrong.
	edit := rowsForm(map[string]string{"69123/17": "0400000017", "69266/17": "0400000017", "69266/18": "04000", "69266/115": "0499999999"})
	status, _, page := s.post("ed69@prefecture.test", draft+"rows", edit)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("save with two bad cells: %d", status)
	}
	for _, want := range []string{
		// Every edit is kept, the good one as the bad ones...
		`<input type="text" id="cell-69266-17" name="r.69266.17" value="0400000017" list="psaps" inputmode="numeric"
      aria-label="Numéro d&#39;acheminement 69266 Villeurbanne 17">`,
		// ...and a bad cell is marked, its reason beside it.
		`<input type="text" id="cell-69266-18" name="r.69266.18" value="04000" list="psaps" inputmode="numeric"
      aria-label="Numéro d&#39;acheminement 69266 Villeurbanne 18" aria-invalid="true" aria-describedby="cell-69266-18-error">`,
		`<span id="cell-69266-18-error" class="field-error">numéro d&#39;acheminement &#34;04000&#34; mal formé (attendu : 10 chiffres)</span>`,
		`aria-invalid="true" aria-describedby="cell-69266-115-error"><span id="cell-69266-115-error" class="field-error">numéro d&#39;acheminement 0499999999 : aucun centre (PSAP) n&#39;a ce numéro</span>`,
		// The list of problems names the commune and the number, and leads to the cell.
		`<strong>2 problèmes</strong>`, `<th scope="col">Emplacement</th>`,
		`<td>69266 Villeurbanne, 18</td><td>Numéro d&#39;acheminement</td><td><a href="#cell-69266-18">numéro d&#39;acheminement &#34;04000&#34; mal formé`,
		`<td>69266 Villeurbanne, 115</td><td>Numéro d&#39;acheminement</td><td><a href="#cell-69266-115">`,
		"Vos modifications sont conservées ci-dessous : corrigez les cases signalées, puis enregistrez de nouveau.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if n := strings.Count(page, `aria-invalid="true"`); n != 2 {
		t.Errorf("%d cells marked, want 2", n)
	}
	rows, _ := s.store.Rows(context.Background(), mustID(t, draft))
	for _, r := range rows {
		if r.INSEE == "69266" && r.Number == "17" && r.RoutingNumber != "0400000018" {
			t.Fatalf("a refused edit saved %+v", r)
		}
	}
	// In English too.
	_, _, page = s.post("ed69@prefecture.test", draft+"rows?lang=en", edit)
	if want := `<td>69266 Villeurbanne, 18</td><td>Routing number</td><td><a href="#cell-69266-18">routing number &#34;04000&#34; is malformed`; !strings.Contains(page, want) {
		t.Errorf("the English page lacks %s", want)
	}

	// Corrected, the edit is saved whole.
	edit.Set("r.69266.18", "0400000018")
	edit.Set("r.69266.115", "0400000018")
	if status, _, body := s.post("ed69@prefecture.test", draft+"rows", edit); status != http.StatusSeeOther {
		t.Fatalf("save corrected: %d %s", status, body)
	}
	rows, _ = s.store.Rows(context.Background(), mustID(t, draft))
	for _, r := range rows {
		if r.INSEE == "69266" && r.Number == "17" && r.RoutingNumber != "0400000017" {
			t.Fatalf("the edit was not saved: %+v", r)
		}
	}
}

// approved uploads a table as the Rhône's editor and has the approver approve it; it returns
// the version's path.
func (s *site) approved(csv string) string {
	s.t.Helper()
	status, loc, body := s.upload("ed69@prefecture.test", "69", csv)
	if status != http.StatusSeeOther {
		s.t.Fatalf("upload: %d %s", status, body)
	}
	path, _, _ := strings.Cut(loc, "?")
	if status, _, body := s.post("ap69@prefecture.test", path+"approve", nil); status != http.StatusSeeOther {
		s.t.Fatalf("approve: %d %s", status, body)
	}
	return path
}

// inEffect is the id of the Rhône's version in effect.
func (s *site) inEffect() int64 {
	s.t.Helper()
	cur, err := s.store.Current(context.Background(), "69")
	if err != nil || cur == nil {
		s.t.Fatalf("no version in effect: %v", err)
	}
	return cur.ID
}

// paris writes a time as a datetime-local field holds it, in Paris time.
func paris(t time.Time) string {
	loc, _ := time.LoadLocation("Europe/Paris")
	return t.In(loc).Format("2006-01-02T15:04")
}

func TestPublishingNowWorksHoweverLongThePageStayedOpen(t *testing.T) {
	s := newSite(t)
	first := s.approved(rhone(nil))
	// The form offers "now" first, chosen, and writes no time in the page: a time written
	// when the page was opened is in the past once the approver has read the changes.
	_, _, page := s.do("ap69@prefecture.test", "GET", first, "", nil)
	for _, want := range []string{
		`<legend>Entrée en vigueur</legend>`,
		`<input type="radio" id="publish-now" name="when" value="now" checked>`,
		`<input type="radio" id="publish-later" name="when" value="at">`,
		`<input type="datetime-local" id="publish-at" name="effective_at" value="" aria-describedby="publish-at-help">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the publication form lacks %s", want)
		}
	}
	// The approver read the diff for ten minutes: "now" still publishes now, whatever date
	// sits in the field beside it.
	stale := paris(time.Now().Add(-10 * time.Minute))
	status, loc, body := s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"now"}, "effective_at": {stale}, "confirm": {"yes"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "done=done.published") {
		t.Fatalf("publish now: %d %s", status, body)
	}
	if id := strings.Split(first, "/")[4]; fmt.Sprint(s.inEffect()) != id {
		t.Fatalf("version %d in effect, want %s", s.inEffect(), id)
	}

	// A second version, then an urgent rollback to the first, now, from a page as old.
	second := s.approved(rhone(map[string]string{"69123/17": "0400000017"}))
	if status, _, body := s.post("ap69@prefecture.test", second+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}}); status != http.StatusSeeOther {
		t.Fatalf("publish the second: %d %s", status, body)
	}
	status, loc, body = s.post("ap69@prefecture.test", first+"republish", url.Values{"when": {"now"}, "effective_at": {stale}, "confirm": {"yes"}})
	if status != http.StatusSeeOther || !strings.Contains(loc, "done=done.restored") {
		t.Fatalf("roll back now: %d %s", status, body)
	}
	cur, _ := s.store.Current(context.Background(), "69")
	if cur.RestoredFrom == nil || fmt.Sprint(*cur.RestoredFrom) != strings.Split(first, "/")[4] {
		t.Fatalf("in effect after the rollback: %+v", cur)
	}
}

func TestADateGoneByIsRefusedBesideItsFieldAndNothingIsPublished(t *testing.T) {
	s := newSite(t)
	first := s.approved(rhone(nil))
	hourAgo := time.Now().Add(-time.Hour)
	status, _, page := s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"at"}, "effective_at": {paris(hourAgo)}, "confirm": {"yes"}})
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("publish an hour ago: %d", status)
	}
	want := "La date d&#39;effet choisie, " + web.Date("fr", hourAgo.Truncate(time.Minute)) + ", est passée : choisissez « maintenant » ou une date à venir."
	for _, want := range []string{
		// In the list of problems, leading to the field...
		`<td>Date et heure d&#39;effet (heure de Paris)</td><td><a href="#publish-at">` + want + `</a></td>`,
		// ...and beside it, the date as typed, "at a date" still chosen.
		`<input type="radio" id="publish-later" name="when" value="at" checked>`,
		`<input type="datetime-local" id="publish-at" name="effective_at" value="` + paris(hourAgo) + `" aria-describedby="publish-at-help publish-at-error" aria-invalid="true">`,
		`<span id="publish-at-error" class="field-error">` + want + `</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the refusal lacks %s\n", want)
		}
	}
	v, _ := s.store.Version(context.Background(), mustID(t, first))
	if v.State != pdaau.Approved {
		t.Fatalf("the version is %s", v.State)
	}
	// "At a date" with no date says so.
	if status, _, page := s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"at"}, "confirm": {"yes"}}); status != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "Indiquez la date et l&#39;heure d&#39;effet, ou choisissez « maintenant ».") {
		t.Fatalf("at no date: %d", status)
	}
	// A rollback to a date gone by is refused in the same way, in its own form, in English too.
	if status, _, body := s.post("ap69@prefecture.test", first+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}}); status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", status, body)
	}
	second := s.approved(rhone(map[string]string{"69123/17": "0400000017"}))
	s.post("ap69@prefecture.test", second+"publish", url.Values{"when": {"now"}, "confirm": {"yes"}})
	status, _, page = s.post("ap69@prefecture.test", first+"republish?lang=en", url.Values{"when": {"at"}, "effective_at": {paris(hourAgo)}, "confirm": {"yes"}})
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, `id="restore-at-error" class="field-error">The effective date chosen, `+web.Date("en", hourAgo.Truncate(time.Minute))+`, has passed`) {
		t.Fatalf("roll back to an hour ago: %d\n%s", status, page)
	}
	if s.inEffect() != mustID(t, second) {
		t.Fatalf("version %d in effect after a refused rollback", s.inEffect())
	}
}

// section is the part of page from the first start to the next end.
func section(page, start, end string) string {
	_, after, _ := strings.Cut(page, start)
	in, _, _ := strings.Cut(after, end)
	return in
}

func mustID(t *testing.T, path string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.Split(path, "/")[4], 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return id
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
