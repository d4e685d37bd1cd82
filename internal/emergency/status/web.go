package status

import (
	"embed"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/gorilla/feeds"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// Web serves the weather: /status (people), /status.json (programs), /status.atom (feeds),
// and /status/admin, where administrators post.
type Web struct {
	Status   *Status
	Identity *identity.Store

	site *web.Site
}

// Routes mounts the pages on the web listener. /status and its feeds need no sign-in.
func (w *Web) Routes(mux *http.ServeMux) {
	w.site = web.NewSite(web.Text{FR: "Météo de la plateforme d'urgence", EN: "Emergency platform status"}, "/status",
		templateFiles, template.FuncMap{
			"postOf": func(p pageData, post Post) postView {
				return postView{pageData: p, P: post, Names: p.names(post.Components)}
			},
			"statesOf": func(kind string) []string { return states[kind][1:] },
		}, "templates/*.html")
	w.site.Logger = w.Status.Logger
	mux.Handle("GET /status", w.site.Handle(w.page))
	mux.HandleFunc("GET /status.json", w.json)
	mux.HandleFunc("GET /status.atom", w.atom)
	admin := func(fn web.HandlerFunc) http.Handler { return w.Identity.Require(w.site.Handle(w.adminOnly(fn))) }
	mux.Handle("GET /status/admin", admin(w.adminPage))
	mux.Handle("POST /status/admin/posts", admin(w.addPost))
	mux.Handle("POST /status/admin/posts/{id}/updates", admin(w.advance))
}

type pageData struct {
	web.Page
	T         func(string) string
	View      View
	Overall   Level
	Open      []Post
	Past      []Post
	News      []Post
	Groups    []group
	Addresses []Address
	Admin     bool
	byID      map[string]string
}

func (p pageData) names(ids []string) string {
	var out []string
	for _, id := range ids {
		if n, ok := p.byID[id]; ok {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

type postView struct {
	pageData
	P     Post
	Names string
}

type group struct {
	Kind string
	Rows []row
}

type row struct {
	Component
	Days    []dayView
	Summary string
}

type dayView struct {
	Level Level
	Title string
}

// name is a component's name in lang: the services' are words of the page, the others' are
// the operators' and PSAPs' own.
func name(c Component, lang string) string {
	if c.Kind == KindService {
		if n := messages.T(lang, "component."+c.ID); n != "" {
			return n
		}
	}
	return c.Name
}

func (w *Web) data(r *http.Request, title string) pageData {
	lang := web.Lang(r)
	now := time.Now()
	v := w.Status.View(now)
	p := pageData{Page: w.site.Page(r, title), T: func(k string) string { return messages.T(lang, k) }, View: v,
		Overall: Operational, Addresses: w.Status.Addresses, byID: map[string]string{}}
	if u, ok := identity.UserFrom(r.Context()); ok && u.Can(identity.RoleAdmin, identity.AllScopes) {
		p.Admin = true
	}
	first := Day(now).AddDate(0, 0, -(HistoryDays - 1))
	for _, kind := range []string{KindService, KindOperator, KindPSAP} {
		g := group{Kind: kind}
		for _, c := range v.Components {
			if c.Kind != kind {
				continue
			}
			c.Name = name(c, lang)
			c.Detail = c.Text(lang, now)
			p.byID[c.ID] = c.Name
			if kind == KindService {
				p.Overall = worse(p.Overall, c.Status)
			}
			rw := row{Component: c}
			counts := map[Level]int{}
			for i, l := range v.History[c.ID] {
				d := first.AddDate(0, 0, i)
				title := web.Day(lang, d.Format(time.DateOnly))
				if l != "" {
					title += " : " + messages.T(lang, "level."+string(l))
					counts[l]++
				}
				rw.Days = append(rw.Days, dayView{Level: l, Title: title})
			}
			rw.Summary = fmt.Sprintf(messages.T(lang, "days.summary"), HistoryDays, counts[Down], counts[Degraded])
			g.Rows = append(g.Rows, rw)
		}
		if len(g.Rows) > 0 {
			p.Groups = append(p.Groups, g)
		}
	}
	for _, post := range v.Posts {
		switch {
		case post.Kind == PostNews:
			p.News = append(p.News, post)
		case post.Open(now):
			p.Open = append(p.Open, post)
		default:
			p.Past = append(p.Past, post)
		}
	}
	return p
}

func (w *Web) page(rw http.ResponseWriter, r *http.Request) error {
	p := w.data(r, "")
	// The weather changes at each tick: the browser reloads the page as often (5 s at the
	// most often), rather than keep it.
	rw.Header().Set("Refresh", strconv.Itoa(int(max(w.Status.Interval, 5*time.Second)/time.Second)))
	w.site.Render(rw, r, http.StatusOK, "status.html", p)
	return nil
}

// jsonView is /status.json.
type jsonView struct {
	Updated    time.Time   `json:"updated"`
	Stale      bool        `json:"stale,omitempty"` // the posts are as last read: the database did not answer
	Components []Component `json:"components"`
	Incidents  []Post      `json:"incidents"`
	News       []Post      `json:"news"`
	Addresses  []jsonAddr  `json:"addresses,omitempty"`
}

type jsonAddr struct {
	Flow    string `json:"flow"`
	Address string `json:"address"`
}

func (w *Web) json(rw http.ResponseWriter, r *http.Request) {
	now := time.Now()
	v := w.Status.View(now)
	out := jsonView{Updated: v.Updated.UTC().Truncate(time.Second), Stale: v.Stale, Components: v.Components,
		Incidents: []Post{}, News: []Post{}}
	for i := range out.Components {
		out.Components[i].Since = out.Components[i].Since.UTC().Truncate(time.Second)
	}
	for _, p := range v.Posts {
		if p.Kind == PostNews {
			out.News = append(out.News, p)
		} else {
			out.Incidents = append(out.Incidents, p)
		}
	}
	for _, a := range w.Status.Addresses {
		out.Addresses = append(out.Addresses, jsonAddr{Flow: a.Flow, Address: a.Value})
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-cache")
	rw.Header().Set("Access-Control-Allow-Origin", "*") // public data, for anyone's dashboard
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// atom serves the incidents, maintenance and news as an Atom feed (RFC 4287): each post an
// entry, updated when its last update came.
func (w *Web) atom(rw http.ResponseWriter, r *http.Request) {
	now := time.Now()
	v := w.Status.View(now)
	base := "https://" + r.Host
	f := &feeds.AtomFeed{Xmlns: "http://www.w3.org/2005/Atom", Id: "urn:socle:emergency:status",
		Title: "Météo de la plateforme d'urgence (socle)", Updated: now.UTC().Format(time.RFC3339),
		Author: &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: "socle"}},
		Link:   &feeds.AtomLink{Rel: "self", Href: base + "/status.atom", Type: "application/atom+xml"}}
	for _, p := range v.Posts {
		var b strings.Builder
		for _, u := range p.Updates {
			fmt.Fprintf(&b, "%s — %s : %s\n", web.Date("fr", u.At), messages.T("fr", "state."+u.State), u.Body)
		}
		f.Entries = append(f.Entries, &feeds.AtomEntry{
			Id: fmt.Sprintf("urn:socle:emergency:status:post:%d", p.ID), Title: messages.T("fr", "post."+p.Kind) + " : " + p.Title,
			Updated: p.Updates[0].At.UTC().Format(time.RFC3339), Published: p.StartsAt.UTC().Format(time.RFC3339),
			Links:   []feeds.AtomLink{{Rel: "alternate", Href: fmt.Sprintf("%s/status#post-%d", base, p.ID), Type: "text/html"}},
			Content: &feeds.AtomContent{Type: "text", Content: b.String()}})
	}
	if len(f.Entries) > 0 && f.Entries[0].Updated > f.Updated {
		f.Updated = f.Entries[0].Updated
	}
	rw.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	rw.Write([]byte(xml.Header))
	enc := xml.NewEncoder(rw)
	enc.Indent("", "  ")
	enc.Encode(f)
}

func (w *Web) adminOnly(fn web.HandlerFunc) web.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) error {
		if u, ok := identity.UserFrom(r.Context()); !ok || !u.Can(identity.RoleAdmin, identity.AllScopes) {
			e := web.Forbidden()
			e.Detail = messages.Text("admin.forbidden")
			return e
		}
		return fn(rw, r)
	}
}

type adminData struct {
	pageData
	Components []Component
}

func (w *Web) adminPage(rw http.ResponseWriter, r *http.Request) error {
	return w.renderAdmin(rw, r, http.StatusOK, nil)
}

func (w *Web) renderAdmin(rw http.ResponseWriter, r *http.Request, status int, bad FieldErrors) error {
	lang := web.Lang(r)
	p := adminData{pageData: w.data(r, messages.T(lang, "admin.title"))}
	for _, g := range p.Groups {
		for _, row := range g.Rows {
			p.Components = append(p.Components, row.Component)
		}
	}
	for f, why := range bad {
		p.Fields = append(p.Fields, web.FieldProblem{Field: f, Message: why})
	}
	w.site.Render(rw, r, status, "admin.html", p)
	return nil
}

// localTime reads a datetime-local field, in Paris time; empty is def.
func localTime(v string, def *time.Time) (*time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return def, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", strings.TrimSpace(v), web.Paris)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (w *Web) addPost(rw http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return web.Errorf(http.StatusBadRequest, "unreadable-form", messages.Text("err.title"), messages.Text("err.form"))
	}
	u, _ := identity.UserFrom(r.Context())
	now := time.Now()
	bad := FieldErrors{}
	starts, err := localTime(r.PostForm.Get("starts_at"), &now)
	if err != nil {
		bad["starts_at"] = messages.T(web.Lang(r), "err.date")
	}
	ends, err := localTime(r.PostForm.Get("ends_at"), nil)
	if err != nil {
		bad["ends_at"] = messages.T(web.Lang(r), "err.date")
	}
	if len(bad) > 0 {
		return w.renderAdmin(rw, r, http.StatusUnprocessableEntity, bad)
	}
	n := NewPost{Kind: r.PostForm.Get("kind"), Title: r.PostForm.Get("title"), Body: r.PostForm.Get("body"),
		Components: r.PostForm["components"], StartsAt: *starts, EndsAt: ends, By: u.Email}
	id, err := w.Status.Store.Add(r.Context(), n)
	var fe FieldErrors
	if errors.As(err, &fe) {
		return w.renderAdmin(rw, r, http.StatusUnprocessableEntity, fe)
	}
	if err != nil {
		return err
	}
	w.Status.Logger.Info("status post published", "post", id, "kind", n.Kind, "by", u.Email)
	w.Status.Refresh(r.Context())
	http.Redirect(rw, r, "/status?lang="+web.Lang(r)+"#post-"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (w *Web) advance(rw http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return web.NotFound()
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return web.Errorf(http.StatusBadRequest, "unreadable-form", messages.Text("err.title"), messages.Text("err.form"))
	}
	u, _ := identity.UserFrom(r.Context())
	err = w.Status.Store.Advance(r.Context(), id, r.PostForm.Get("state"), r.PostForm.Get("body"), u.Email, time.Now())
	var fe FieldErrors
	if errors.As(err, &fe) {
		return w.renderAdmin(rw, r, http.StatusUnprocessableEntity, fe)
	}
	if err != nil {
		return err
	}
	w.Status.Refresh(r.Context())
	http.Redirect(rw, r, "/status?lang="+web.Lang(r)+"#post-"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}
