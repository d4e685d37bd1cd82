package status

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"github.com/gorilla/feeds"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/schema"
	"socle/internal/platform/bus"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestEachDayKeepsTheWorstLevelSeen(t *testing.T) {
	st := &Store{Pool: dbtest.New(t, schema.Migrations())}
	ctx := context.Background()
	now := time.Date(2026, 12, 4, 22, 30, 0, 0, time.UTC) // 23:30 in Paris: still the 4th
	rec := func(at time.Time, l Level) {
		if err := st.Record(ctx, at, []Component{{ID: "psap:x", Status: l}}); err != nil {
			t.Fatal(err)
		}
	}
	rec(now.Add(-2*time.Hour), Down)
	rec(now.Add(-time.Hour), Operational) // a later good tick does not erase the outage
	rec(now.Add(-24*time.Hour), Degraded)
	rec(now.Add(time.Hour), Operational) // 00:30 in Paris: the 5th
	h, err := st.History(ctx, now, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := h["psap:x"]; len(got) != 3 || got[0] != "" || got[1] != Degraded || got[2] != Down {
		t.Fatalf("history: %q", got)
	}
}

func TestAnIncidentGoesFromInvestigatingToResolvedAndBadPostsAreRefusedWhole(t *testing.T) {
	st := &Store{Pool: dbtest.New(t, schema.Migrations())}
	ctx := context.Background()
	now := time.Now()
	_, err := st.Add(ctx, NewPost{Kind: PostMaintenance, Title: " ", Body: "x", StartsAt: now, By: "a@x.fr"})
	var fe FieldErrors
	if !errors.As(err, &fe) || fe["title"] == "" || fe["ends_at"] == "" || !errors.Is(err, ErrInput) {
		t.Fatalf("bad post: %v", err)
	}
	if ps, _ := st.Posts(ctx, now, 90); len(ps) != 0 {
		t.Fatalf("a refused post was stored: %v", ps)
	}
	id, err := st.Add(ctx, NewPost{Kind: PostIncident, Title: "Remises au SAMU 75 retardées", Body: "Analyse en cours.",
		Components: []string{"psap:samu-75"}, StartsAt: now, By: "a@x.fr"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Advance(ctx, id, "completed", "x", "a@x.fr", now); !errors.As(err, &fe) || fe["state"] == "" {
		t.Fatalf("a maintenance state on an incident: %v", err)
	}
	if err := st.Advance(ctx, id, "resolved", "Rétabli.", "a@x.fr", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	ps, err := st.Posts(ctx, now, 90)
	if err != nil || len(ps) != 1 {
		t.Fatalf("%v %v", ps, err)
	}
	p := ps[0]
	if p.State != "resolved" || p.Open(now) || p.EndsAt == nil || len(p.Updates) != 2 || p.Updates[0].Body != "Rétabli." {
		t.Fatalf("post: %+v", p)
	}
}

// site is the weather on a real database and bus, with an administrator and an agent.
func site(t *testing.T) (*Status, *httptest.Server, *identity.Store) {
	t.Helper()
	pool := dbtest.New(t, identity.Migrations(), schema.Migrations())
	b, err := bus.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	snap := &directory.Snapshot{PSAPs: map[string]*directory.PSAP{"samu-75": {ID: "samu-75", Name: "SAMU de Paris"}}}
	st := &Status{Observer: &Observer{Node: "n1", Directory: func() *directory.Snapshot { return snap },
		Ping: func(ctx context.Context) error { return pool.Ping(ctx) }},
		Board: NewBoard(time.Minute), Store: &Store{Pool: pool}, Bus: b.Conn, Interval: time.Second, Logger: quiet,
		Addresses: []Address{{Flow: "operators", Value: "interconnect.socle.example:8443"}}}
	people := identity.New(pool, quiet)
	mux := http.NewServeMux()
	people.Routes(mux)
	(&Web{Status: st, Identity: people}).Routes(mux)
	srv := httptest.NewTLSServer(people.Middleware(mux))
	t.Cleanup(srv.Close)
	return st, srv, people
}

func TestTheStatusIsPublicInFrenchJSONAndAtom(t *testing.T) {
	st, srv, _ := site(t)
	ctx := context.Background()
	if _, err := st.Store.Add(ctx, NewPost{Kind: PostNews, Title: "Bascule des opérateurs", Body: "Trois opérateurs sur quatre ont passé la recevabilité.",
		StartsAt: time.Now(), By: "a@x.fr"}); err != nil {
		t.Fatal(err)
	}
	st.Tick(ctx)
	c := srv.Client()

	resp, err := c.Get(srv.URL + "/status.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Updated    time.Time
		Components []struct {
			ID, Name, Kind, Status, Detail string
			Since                          time.Time
		}
		Incidents []any
		News      []struct{ Title string }
	}
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	kinds := map[string]string{}
	for _, c := range v.Components {
		kinds[c.ID] = c.Kind + " " + c.Status
	}
	if kinds["service:intake"] != "service operational" || kinds["psap:samu-75"] != "psap operational" ||
		v.Updated.IsZero() || len(v.News) != 1 || v.Incidents == nil {
		t.Fatalf("status.json: %+v", v)
	}

	resp, _ = c.Get(srv.URL + "/status")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`<html lang="fr">`, "Tous les services fonctionnent.", "SAMU de Paris", "Bascule des opérateurs",
		"interconnect.socle.example:8443", `class="level level-operational">opérationnel`, "90 jours : 0 jour(s) d&#39;interruption"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the page lacks %s", want)
		}
	}

	resp, _ = c.Get(srv.URL + "/status.atom")
	var feed feeds.AtomFeed
	if err := xml.NewDecoder(resp.Body).Decode(&feed); err != nil || len(feed.Entries) != 1 ||
		!strings.HasPrefix(feed.Entries[0].Title, "Actualité : Bascule") || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("atom: %v %+v", err, feed)
	}
	resp.Body.Close()
}

func TestWhenPostgreSQLIsDownThePageSaysSoAndShowsWhatItLastRead(t *testing.T) {
	st, srv, _ := site(t)
	ctx := context.Background()
	if _, err := st.Store.Add(ctx, NewPost{Kind: PostIncident, Title: "Lenteurs", Body: "Analyse.", StartsAt: time.Now(), By: "a@x.fr"}); err != nil {
		t.Fatal(err)
	}
	st.Tick(ctx)
	st.Store.Pool.Close() // the database is gone for this node
	st.Tick(ctx)
	resp, _ := srv.Client().Get(srv.URL + "/status")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"La base de données ne répond pas", "Lenteurs", `class="level level-down">interrompu`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the page lacks %s\n", want)
		}
	}
}

func TestOnlyAdministratorsPost(t *testing.T) {
	_, srv, people := site(t)
	ctx := context.Background()
	people.AddUser(ctx, "agent@x.fr", "Agent", "correct horse battery staple")
	c := srv.Client()
	c.Jar = newJar()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(path string, form url.Values) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	post("/login", url.Values{"email": {"agent@x.fr"}, "password": {"correct horse battery staple"}, "next": {"/"}})
	if resp := post("/status/admin/posts", url.Values{"kind": {"news"}, "title": {"x"}, "body": {"y"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an agent posts: %d", resp.StatusCode)
	}
}

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

// Two nodes on one bus: each sees what the other reports, so both pages say the same.
func TestEveryReplicaShowsWhatAllTheNodesSee(t *testing.T) {
	b, err := bus.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	node := func(name string) *Status {
		st := &Status{Board: NewBoard(time.Minute), Bus: b.Conn, Logger: quiet}
		sub, err := st.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
		return st
	}
	a, c := node("a"), node("c")
	publish := func(r Report) {
		data, _ := json.Marshal(r)
		if err := b.Publish(Subject, data); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	publish(Report{Node: "a", At: now, Seen: []Seen{seen("psap:x", Down)}})
	publish(Report{Node: "c", At: now, Seen: []Seen{seen("psap:x", Operational)}})
	b.Flush()
	for _, st := range []*Status{a, c} {
		deadline := time.After(10 * time.Second)
		for cs := st.Board.Components(now); len(cs) != 1 || cs[0].Status != Degraded; cs = st.Board.Components(now) {
			select {
			case <-st.Board.Heard(): // another report came: look again
			case <-deadline:
				t.Fatalf("a replica shows %+v", cs)
			}
		}
	}
}

func TestAnAdministratorPostsAnIncidentAndResolvesIt(t *testing.T) {
	st, srv, people := site(t)
	ctx := context.Background()
	st.Tick(ctx)
	u, err := people.AddUser(ctx, "chef@x.fr", "Chef", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	people.Grant(ctx, "chef@x.fr", identity.RoleAdmin, identity.AllScopes)
	token, _, err := people.Login(ctx, u) // signed in (password and code are identity's tests)
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(method, path string, form url.Values) (*http.Response, string) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(&http.Cookie{Name: identity.CookieName, Value: token})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	// A maintenance without an end is refused, field by field, and nothing is stored.
	resp, page := do("POST", "/status/admin/posts", url.Values{"kind": {"maintenance"}, "title": {"Bascule"}, "body": {"Nuit du 5."}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "<td>ends_at</td><td>une fin de maintenance après son début</td>") {
		t.Fatalf("maintenance without an end: %d\n%s", resp.StatusCode, page)
	}
	resp, _ = do("POST", "/status/admin/posts", url.Values{"kind": {"incident"}, "title": {"Retards vers le SAMU 75"},
		"body": {"Les remises sont retardées."}, "components": {"psap:samu-75"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("incident: %d", resp.StatusCode)
	}
	_, page = do("GET", "/status", nil)
	if !strings.Contains(page, "Incidents et maintenances en cours") || !strings.Contains(page, "Retards vers le SAMU 75") ||
		!strings.Contains(page, "— SAMU de Paris") {
		t.Fatalf("the open incident is not shown:\n%s", page)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/status?lang=fr#post-")
	if resp, _ = do("POST", "/status/admin/posts/"+id+"/updates", url.Values{"state": {"resolved"}, "body": {"Rétabli à 10 h."}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("resolve: %d", resp.StatusCode)
	}
	_, page = do("GET", "/status", nil)
	if strings.Contains(page, "Incidents et maintenances en cours") || !strings.Contains(page, "Incidents et maintenances passés") ||
		!strings.Contains(page, "Rétabli à 10 h.") {
		t.Fatalf("the resolved incident:\n%s", page)
	}
}
