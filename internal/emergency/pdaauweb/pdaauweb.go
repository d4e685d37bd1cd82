// Package pdaauweb is the web workflow of the routing tables, for CCED editors and
// prefecture staff signed in with their roles per département: upload a département's PDAAU
// (every error shown with its line, nothing saved), edit a draft's rows, see what changes
// against the table in effect, approve (another person), publish with an effective date,
// browse the history and publish an earlier version again.
package pdaauweb

import (
	"context"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"socle/internal/emergency/geo"
	"socle/internal/emergency/pdaau"
	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// newSite is the workflow's part of the page edge.
func newSite() *web.Site {
	return web.NewSite(web.Text{FR: "Tables de routage (PDAAU)", EN: "Routing tables (PDAAU)"}, "/emergency/pdaau/",
		templateFiles, template.FuncMap{
			// when is an optional time, as every date is shown.
			"when": func(lang string, t *time.Time) string {
				if t == nil {
					return ""
				}
				return web.Date(lang, *t)
			},
			"deref": func(s *string) string {
				if s == nil {
					return ""
				}
				return *s
			},
			"join": strings.Join,
			// depName is a département's code with its name: "75 — Paris".
			"depName": func(code string) string {
				if n := geo.DepartementName(code); n != "" {
					return code + " — " + n
				}
				return code
			},
		}, "templates/*.html")
}

// UI serves the pages under /emergency/pdaau/.
type UI struct {
	Store    *pdaau.Store
	Identity *identity.Store
	Logger   *slog.Logger
	// PSAPs names the centres by routing number, for the pages.
	PSAPs func() map[string]string

	site *web.Site
}

// Routes mounts the pages; every one needs a signed-in user.
func (u *UI) Routes(mux *http.ServeMux) {
	u.site = newSite()
	u.site.Logger = u.Logger
	h := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, u.Identity.Require(u.site.Handle(fn))) }
	h("GET /emergency/pdaau/{$}", u.list)
	h("GET /emergency/pdaau/{dep}/{$}", u.departement)
	h("POST /emergency/pdaau/{dep}/upload", u.upload)
	h("POST /emergency/pdaau/{dep}/drafts", u.draftFromActive)
	h("GET /emergency/pdaau/versions/{id}/{$}", u.version)
	h("GET /emergency/pdaau/versions/{id}/csv", u.csv)
	h("POST /emergency/pdaau/versions/{id}/rows", u.saveRows)
	h("POST /emergency/pdaau/versions/{id}/approve", u.act("done.approved", u.approve, RoleApprover))
	h("POST /emergency/pdaau/versions/{id}/publish", u.act("done.published", u.publish, RoleApprover))
	h("POST /emergency/pdaau/versions/{id}/republish", u.act("done.restored", u.republish, RoleApprover))
	h("POST /emergency/pdaau/versions/{id}/discard", u.discard)
}

// page is what every template gets.
type page struct {
	web.Page
	T    func(string) string
	User *identity.User
	Data any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, problems ...problemView) {
	lang := web.Lang(r)
	user, _ := identity.UserFrom(r.Context())
	p := page{Page: u.site.Page(r, messages.T(lang, title)), T: func(k string) string { return messages.T(lang, k) }, User: user, Data: data}
	p.Flash = messages.T(lang, r.URL.Query().Get("done"))
	for _, pr := range problems {
		p.Fields = append(p.Fields, web.FieldProblem{Line: pr.Line, Where: pr.Where, Field: pr.Field, Message: pr.Message, Target: pr.Target})
	}
	u.site.Render(w, r, status, name, p)
}

// refusal is a failure of the workflow, in its words (the message key's).
func refusal(status int, typ, key string) *web.Error {
	return web.Errorf(status, typ, messages.Text("error"), messages.Text(key))
}

var (
	errNotFound  = func() *web.Error { return refusal(http.StatusNotFound, "not-found", "err.notfound") }
	errForbidden = func() *web.Error { return refusal(http.StatusForbidden, "forbidden", "err.forbidden") }
)

func user(r *http.Request) *identity.User {
	usr, _ := identity.UserFrom(r.Context())
	return usr
}

// canSee: any role on the département lets one read its tables.
func canSee(usr *identity.User, dep string) bool {
	return usr.Can(RoleEditor, dep) || usr.Can(RoleApprover, dep)
}

type summaryRow struct {
	pdaau.Summary
	Edit, Approve bool
}

func (u *UI) list(w http.ResponseWriter, r *http.Request) error {
	usr := user(r)
	all, err := u.Store.Departements(r.Context())
	if err != nil {
		return err
	}
	var rows []summaryRow
	for _, s := range all {
		if canSee(usr, s.Departement) {
			rows = append(rows, summaryRow{Summary: s, Edit: usr.Can(RoleEditor, s.Departement),
				Approve: usr.Can(RoleApprover, s.Departement)})
		}
	}
	u.render(w, r, http.StatusOK, "list.html", "list.title", rows)
	return nil
}

type depPage struct {
	Dep      string
	Current  *pdaau.Version
	History  []pdaau.Version
	CanEdit  bool
	FileName string
	// Open is the département's open version, if it has one: no other draft can be made
	// until it is published or discarded. Refused says a new draft was just refused for it.
	Open    *pdaau.Version
	Refused bool
}

type problemView struct {
	Line    int
	Where   string
	Field   string
	Message string
	Target  string
}

func (u *UI) depData(r *http.Request, dep string) (*depPage, error) {
	cur, err := u.Store.Current(r.Context(), dep)
	if err != nil {
		return nil, err
	}
	h, err := u.Store.History(r.Context(), dep)
	if err != nil {
		return nil, err
	}
	open, err := u.Store.Open(r.Context(), dep)
	if err != nil {
		return nil, err
	}
	return &depPage{Dep: dep, Current: cur, History: h, CanEdit: user(r).Can(RoleEditor, dep), Open: open}, nil
}

// refuseOpen answers a new draft refused because the département has an open version: its
// page, saying so — which version, who opened it and when, a link to it, and the way to
// discard it — with 409 Conflict. Any other err goes on as it is.
func (u *UI) refuseOpen(w http.ResponseWriter, r *http.Request, dep string, err error) error {
	var open *pdaau.OpenError
	if !errors.As(err, &open) {
		return err
	}
	d, err := u.depData(r, dep)
	if err != nil {
		return err
	}
	if d.Open == nil { // discarded since: say which one refused the draft all the same
		d.Open = &open.Open
	}
	d.Refused = true
	u.Logger.Info("pdaau draft refused: one is open", "departement", dep, "open", open.Open.ID, "by", user(r).Email)
	u.render(w, r, http.StatusConflict, "departement.html", "dep.title", d)
	return nil
}

func (u *UI) departement(w http.ResponseWriter, r *http.Request) error {
	dep := r.PathValue("dep")
	if !geo.ValidDepartement(dep) {
		return errNotFound()
	}
	if !canSee(user(r), dep) {
		return errForbidden()
	}
	d, err := u.depData(r, dep)
	if err != nil {
		return err
	}
	u.render(w, r, http.StatusOK, "departement.html", "dep.title", d)
	return nil
}

// maxUpload bounds an uploaded file: a département's table is well under a megabyte.
const maxUpload = 8 << 20

func (u *UI) upload(w http.ResponseWriter, r *http.Request) error {
	dep := r.PathValue("dep")
	usr := user(r)
	if !geo.ValidDepartement(dep) || !usr.Can(RoleEditor, dep) {
		return errForbidden()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return refusal(http.StatusBadRequest, "no-file", "err.nofile")
	}
	defer f.Close()
	rows, problems := pdaau.ParseCSV(f)
	var id int64
	if len(problems) == 0 {
		id, problems, err = u.Store.CreateDraft(r.Context(), dep, rows, usr.Email, hdr.Filename)
		if err != nil {
			return u.refuseOpen(w, r, dep, err)
		}
	}
	if len(problems) > 0 {
		d, err := u.depData(r, dep)
		if err != nil {
			return err
		}
		d.FileName = hdr.Filename
		u.render(w, r, http.StatusUnprocessableEntity, "departement.html", "dep.title", d, views(web.Lang(r), problems)...)
		return nil
	}
	u.Logger.Info("pdaau draft uploaded", "departement", dep, "version", id, "by", usr.Email, "rows", len(rows))
	u.redirect(w, r, id, "done.uploaded")
	return nil
}

// views are a table's problems in the page's language.
func views(lang string, problems pdaau.Problems) []problemView {
	var out []problemView
	for _, p := range problems {
		out = append(out, problemView{Line: p.Line, Field: p.Field, Message: p.Message(lang)})
	}
	return out
}

func (u *UI) redirect(w http.ResponseWriter, r *http.Request, id int64, done string) {
	q := "?done=" + done
	if l := r.URL.Query().Get("lang"); l != "" {
		q += "&lang=" + l
	}
	http.Redirect(w, r, fmt.Sprintf("/emergency/pdaau/versions/%d/%s", id, q), http.StatusSeeOther)
}

func (u *UI) draftFromActive(w http.ResponseWriter, r *http.Request) error {
	dep := r.PathValue("dep")
	usr := user(r)
	if !geo.ValidDepartement(dep) || !usr.Can(RoleEditor, dep) {
		return errForbidden()
	}
	id, err := u.Store.DraftFromActive(r.Context(), dep, usr.Email)
	if errors.Is(err, pdaau.ErrNotFound) {
		return refusal(http.StatusConflict, "no-active-version", "err.noactive")
	}
	if err != nil {
		return u.refuseOpen(w, r, dep, err)
	}
	u.redirect(w, r, id, "done.drafted")
	return nil
}

type versionPage struct {
	V          pdaau.Version
	Current    *pdaau.Version
	Changes    []changeView
	Rows       []rowView
	PSAPs      []psapOption
	CanEdit    bool
	CanApprove bool // approver, and not an editor of it
	FourEyes   bool // approver, but an editor of it
	CanPublish bool
	CanRestore bool
	CanDiscard bool // the open version, for an editor or an approver
	// Publish and Restore are the forms that publish, with the choice of when.
	Publish, Restore whenForm
	Fix              string // what to do about the problems listed: a message key
}

// whenForm is a form's choice of when a publication takes effect: now (the first choice, and
// no date: the moment the server publishes, however long the page stayed open) or at a date
// typed beside it. A refused date is shown again as typed, its reason beside it.
type whenForm struct {
	ID    string // the prefix of its fields' ids
	Later bool   // "at a date" chosen
	At    string // the date typed: 2026-12-04T09:30
	Error string
	T     func(string) string
}

type changeView struct {
	pdaau.Change
	OldName, NewName string
}

type rowView struct {
	pdaau.Row
	Commune, PSAP string
	ID            string   // its routing number's field: cell-69123-17
	Errors        []string // what is wrong with it, shown beside it
}

// cellID is the id of a row's routing-number field on the version's page.
func cellID(insee, number string) string { return "cell-" + insee + "-" + number }

type psapOption struct{ Number, Name string }

// versionFor reads {id}, and the version if the user may see it.
func (u *UI) versionFor(r *http.Request) (pdaau.Version, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return pdaau.Version{}, errNotFound()
	}
	v, err := u.Store.Version(r.Context(), id)
	if errors.Is(err, pdaau.ErrNotFound) {
		return v, errNotFound()
	}
	if err != nil {
		return v, err
	}
	if !canSee(user(r), v.Departement) {
		return v, errForbidden()
	}
	return v, nil
}

// versionAs reads {id} for a user holding one of roles on its département.
func (u *UI) versionAs(r *http.Request, roles ...string) (pdaau.Version, *identity.User, error) {
	v, err := u.versionFor(r)
	if err != nil {
		return v, nil, err
	}
	usr := user(r)
	for _, role := range roles {
		if usr.Can(role, v.Departement) {
			return v, usr, nil
		}
	}
	return v, nil, errForbidden()
}

func (u *UI) version(w http.ResponseWriter, r *http.Request) error {
	v, err := u.versionFor(r)
	if err != nil {
		return err
	}
	return u.showVersion(w, r, http.StatusOK, v, shown{})
}

// shown is what a refused form brings back to a version's page: its table's problems (found
// on approval or publication, or in an edit of its rows), the edit as typed, or a date.
type shown struct {
	problems pdaau.Problems
	typed    map[string]string // an edit of the rows refused: routing numbers by "INSEE.number"
	date     *dateError
}

// showVersion writes a version's page. Problems of its rows are placed by commune and
// number, in the list of problems (which links to the cell) and beside the cell; a refused
// edit shows the rows as typed, so that nothing typed is lost.
func (u *UI) showVersion(w http.ResponseWriter, r *http.Request, status int, v pdaau.Version, back shown) error {
	ctx := r.Context()
	usr := user(r)
	cur, err := u.Store.Current(ctx, v.Departement)
	if err != nil {
		return err
	}
	var from *int64
	if cur != nil {
		from = &cur.ID
	}
	changes, err := u.Store.Diff(ctx, from, v.ID)
	if err != nil {
		return err
	}
	rows, err := u.Store.Rows(ctx, v.ID)
	if err != nil {
		return err
	}
	communes, err := u.Store.Communes(ctx, v.Departement)
	if err != nil {
		return err
	}
	names := u.PSAPs()
	lang := web.Lang(r)
	t := func(k string) string { return messages.T(lang, k) }
	p := &versionPage{V: v, Current: cur, Publish: whenForm{ID: "publish", T: t}, Restore: whenForm{ID: "restore", T: t}}
	var problems []problemView
	if refused := back.date; refused != nil {
		f := &p.Publish
		if refused.form == "restore" {
			f = &p.Restore
		}
		f.Later, f.At, f.Error = true, refused.at, refused.message(lang)
		problems = append(problems, problemView{Field: t("version.effective"), Message: f.Error, Target: f.ID + "-at"})
	}
	for _, c := range changes {
		p.Changes = append(p.Changes, changeView{Change: c, OldName: names[c.Old], NewName: names[c.New]})
	}
	cells := map[string]int{} // "INSEE.number" → index in p.Rows
	for _, row := range rows {
		key := row.INSEE + "." + row.Number
		if typed, ok := back.typed[key]; ok {
			row.RoutingNumber = typed
		}
		cells[key] = len(p.Rows)
		p.Rows = append(p.Rows, rowView{Row: row, Commune: communes[row.INSEE], PSAP: names[row.RoutingNumber], ID: cellID(row.INSEE, row.Number)})
	}
	for _, pr := range back.problems {
		pv := problemView{Field: fieldName(lang, pr.Field), Message: pr.Message(lang), Where: t("where.table")}
		if pr.INSEE != "" {
			pv.Where = strings.TrimSpace(pr.INSEE + " " + communes[pr.INSEE])
			if pr.Number != "" {
				pv.Where += ", " + pr.Number
			}
		}
		if i, ok := cells[pr.INSEE+"."+pr.Number]; ok {
			p.Rows[i].Errors = append(p.Rows[i].Errors, pv.Message)
			pv.Target = p.Rows[i].ID
			if pv.Field == "" {
				pv.Field = fieldName(lang, "routing_number")
			}
		}
		problems = append(problems, pv)
	}
	p.Fix = "problems.fix"
	switch {
	case back.typed != nil:
		p.Fix = "problems.fix.edit"
	case back.problems == nil:
		p.Fix = ""
	}
	for n, name := range names {
		p.PSAPs = append(p.PSAPs, psapOption{Number: n, Name: name})
	}
	slices.SortFunc(p.PSAPs, func(a, b psapOption) int { return strings.Compare(a.Name, b.Name) })
	approver := usr.Can(RoleApprover, v.Departement)
	editor := slices.Contains(v.Editors, usr.Email)
	p.CanEdit = v.State == pdaau.Draft && usr.Can(RoleEditor, v.Departement)
	p.CanApprove = v.State == pdaau.Draft && approver && !editor
	p.FourEyes = v.State == pdaau.Draft && approver && editor
	p.CanPublish = v.State == pdaau.Approved && approver
	p.CanRestore = v.State == pdaau.Published && v.Active() && approver && (cur == nil || cur.ID != v.ID)
	p.CanDiscard = v.Open() && (approver || usr.Can(RoleEditor, v.Departement))
	u.render(w, r, status, "version.html", "version.title", p, problems...)
	return nil
}

// fieldName words a table's column as the version's page heads it.
func fieldName(lang, field string) string {
	switch field {
	case "insee":
		return messages.T(lang, "col.commune")
	case "number":
		return messages.T(lang, "col.number")
	case "routing_number":
		return messages.T(lang, "col.routing")
	}
	return field
}

func (u *UI) csv(w http.ResponseWriter, r *http.Request) error {
	v, err := u.versionFor(r)
	if err != nil {
		return err
	}
	rows, err := u.Store.Rows(r.Context(), v.ID)
	if err != nil {
		return err
	}
	// As a spreadsheet in a French locale opens it: a byte-order mark (else the accents of
	// nothing here, but of what people add, come out wrong) and semicolons (a comma is the
	// decimal separator there). The upload takes it back as it is (csvfile reads both).
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pdaau-%s-v%d.csv"`, v.Departement, v.ID))
	io.WriteString(w, "\uFEFF")
	out := csv.NewWriter(w)
	out.Comma = ';'
	out.UseCRLF = true // what spreadsheets write, and expect
	out.Write(pdaau.Header)
	for _, row := range rows {
		out.Write([]string{row.INSEE, row.Number, row.RoutingNumber})
	}
	out.Flush()
	return nil
}

// saveRows takes the draft's table as edited in the page: one field per commune and number,
// named r.INSEE.NUMBER, holding the routing number.
func (u *UI) saveRows(w http.ResponseWriter, r *http.Request) error {
	v, usr, err := u.versionAs(r, RoleEditor)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxUpload)
	if err := r.ParseForm(); err != nil {
		return refusal(http.StatusBadRequest, "unreadable-form", "err.form")
	}
	var rows []pdaau.Row
	typed := map[string]string{}
	for k, vals := range r.PostForm {
		insee, number, ok := strings.Cut(strings.TrimPrefix(k, "r."), ".")
		if !ok || !strings.HasPrefix(k, "r.") || len(vals) != 1 {
			continue
		}
		rows = append(rows, pdaau.Row{INSEE: insee, Number: number, RoutingNumber: strings.TrimSpace(vals[0])})
		typed[insee+"."+number] = strings.TrimSpace(vals[0])
	}
	slices.SortFunc(rows, func(a, b pdaau.Row) int {
		return strings.Compare(a.INSEE+"\x00"+a.Number, b.INSEE+"\x00"+b.Number)
	})
	problems, err := u.Store.UpdateDraft(r.Context(), v.ID, rows, usr.Email)
	if err != nil {
		return stateError(err)
	}
	if len(problems) > 0 {
		// Nothing is saved, and nothing typed is lost: the rows come back as typed.
		return u.showVersion(w, r, http.StatusUnprocessableEntity, v, shown{problems: problems, typed: typed})
	}
	u.redirect(w, r, v.ID, "done.saved")
	return nil
}

// stateError words the workflow's refusals; any other error goes on as it is (a 500).
func stateError(err error) error {
	switch {
	case errors.Is(err, pdaau.ErrState), errors.Is(err, pdaau.ErrNotPublished):
		return refusal(http.StatusConflict, "workflow-state", "err.state")
	case errors.Is(err, pdaau.ErrFourEyes):
		return refusal(http.StatusForbidden, "four-eyes", "err.foureyes")
	case errors.Is(err, pdaau.ErrNotFound):
		return errNotFound()
	case errors.Is(err, errUnconfirmed):
		return refusal(http.StatusUnprocessableEntity, "unconfirmed", "err.confirm")
	}
	return err
}

// step is one workflow action on a version: it returns the version to show next and the
// table's problems, if any.
type step func(ctx context.Context, v pdaau.Version, by string, r *http.Request) (next int64, problems pdaau.Problems, err error)

// act runs a step on the version of the path, for a user holding one of roles. Refusals
// show an error page, table problems the version's page; done names the message shown on
// the next version's page.
func (u *UI) act(done string, run step, roles ...string) web.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		v, usr, err := u.versionAs(r, roles...)
		if err != nil {
			return err
		}
		next, problems, err := run(r.Context(), v, usr.Email, r)
		var refused *dateError
		if errors.As(err, &refused) {
			return u.showVersion(w, r, http.StatusUnprocessableEntity, v, shown{date: refused})
		}
		if err != nil {
			return stateError(err)
		}
		if len(problems) > 0 {
			return u.showVersion(w, r, http.StatusUnprocessableEntity, v, shown{problems: problems})
		}
		u.Logger.Info("pdaau "+done, "version", next, "from", v.ID, "by", usr.Email)
		u.redirect(w, r, next, done)
		return nil
	}
}

// errUnconfirmed: publishing, which changes where emergency calls go, is confirmed by the
// person, in the form itself (a box ticked), not by a script.
var errUnconfirmed = errors.New("publication not confirmed")

func confirmed(r *http.Request) error {
	if r.FormValue("confirm") != "yes" {
		return errUnconfirmed
	}
	return nil
}

// dateError is a publication refused for the date it was asked for: none, malformed, or
// past. The version's page shows it again in its form (form: "publish" or "restore"), the
// date as typed, the reason beside the field.
type dateError struct {
	form, at string
	key      string    // the reason, a message key
	past     time.Time // the date, for err.past
	err      error
}

func (e *dateError) Error() string { return "effective date " + e.at + ": " + e.key }
func (e *dateError) Unwrap() error { return e.err }

func (e *dateError) message(lang string) string {
	if e.key == "err.past" {
		return fmt.Sprintf(messages.T(lang, e.key), web.Date(lang, e.past))
	}
	return messages.T(lang, e.key)
}

// effective reads the form's choice of when the version takes effect: "now" is the zero time,
// the moment the server publishes it — never a time written in the page, which gets old
// while the person reads; "at" is the date and time typed, in Paris time. A form without the
// choice (a script) gives a date, or none for now.
func effective(r *http.Request, form string) (time.Time, error) {
	at := strings.TrimSpace(r.PostFormValue("effective_at"))
	switch r.PostFormValue("when") {
	case "now":
		return time.Time{}, nil
	case "at":
		if at == "" {
			return time.Time{}, &dateError{form: form, key: "err.nodate"}
		}
	case "":
		if at == "" {
			return time.Time{}, nil
		}
	default:
		return time.Time{}, &dateError{form: form, at: at, key: "err.date"}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", at, web.Paris)
	if err != nil {
		return t, &dateError{form: form, at: at, key: "err.date"}
	}
	return t, nil
}

// pastDate turns the store's refusal of a date gone by into the form's.
func pastDate(err error, form string, at time.Time, r *http.Request) error {
	if errors.Is(err, pdaau.ErrPast) {
		return &dateError{form: form, at: strings.TrimSpace(r.PostFormValue("effective_at")), key: "err.past", past: at, err: err}
	}
	return err
}

func (u *UI) approve(ctx context.Context, v pdaau.Version, by string, _ *http.Request) (int64, pdaau.Problems, error) {
	ps, err := u.Store.Approve(ctx, v.ID, by)
	return v.ID, ps, err
}

func (u *UI) publish(ctx context.Context, v pdaau.Version, by string, r *http.Request) (int64, pdaau.Problems, error) {
	if err := confirmed(r); err != nil {
		return 0, nil, err
	}
	at, err := effective(r, "publish")
	if err != nil {
		return 0, nil, err
	}
	ps, err := u.Store.Publish(ctx, v.ID, by, at)
	return v.ID, ps, pastDate(err, "publish", at, r)
}

func (u *UI) republish(ctx context.Context, v pdaau.Version, by string, r *http.Request) (int64, pdaau.Problems, error) {
	if err := confirmed(r); err != nil {
		return 0, nil, err
	}
	at, err := effective(r, "restore")
	if err != nil {
		return 0, nil, err
	}
	id, ps, err := u.Store.Republish(ctx, v.ID, by, at)
	return id, ps, pastDate(err, "restore", at, r)
}

// discard sets the open version aside, for an editor or an approver of its département, and
// leads back to the département's page, where a new draft can be started.
func (u *UI) discard(w http.ResponseWriter, r *http.Request) error {
	v, usr, err := u.versionAs(r, RoleEditor, RoleApprover)
	if err != nil {
		return err
	}
	if err := u.Store.Discard(r.Context(), v.ID, usr.Email); err != nil {
		return stateError(err)
	}
	u.Logger.Info("pdaau done.discarded", "version", v.ID, "by", usr.Email)
	q := "?done=done.discarded"
	if l := r.URL.Query().Get("lang"); l != "" {
		q += "&lang=" + l
	}
	http.Redirect(w, r, "/emergency/pdaau/"+v.Departement+"/"+q, http.StatusSeeOther)
	return nil
}
