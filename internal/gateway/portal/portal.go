// Package portal is the gateway's developer portal, under /portal/: the catalogue of APIs
// and their documentation (public), the applications of the person signed in (register one,
// subscribe it, its keys, certificates and usage), the owners' pages (approve subscriptions,
// edit an API, plans) and the analytics. Pages are rendered on the server; the scripts only
// add the OpenAPI viewer and a copy button.
package portal

import (
	"context"
	"crypto/x509"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/catalog"
	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
	"socle/internal/web"
)

// The gateway's roles, as package gateway defines them (it imports this package, so they are
// written again here).
const (
	RoleOwner = "gateway.owner"
	RoleAdmin = "gateway.admin"
)

//go:embed templates/*.html
var templateFiles embed.FS

// static holds the portal's script and stylesheet, and npm/, where make build copies
// Swagger UI from node_modules (not committed: without it the documentation pages list the
// operations without the viewer).
//
//go:embed static
var static embed.FS

// Deps is what the portal needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Identity *identity.Store
	Logger   *slog.Logger
	// ClientCAs are the platform's client CAs: a certificate bound to an application must
	// chain to one of them.
	ClientCAs *x509.CertPool
	// Catalog is the catalogue the gateway serves from (the public pages read it); pages
	// after a change read the tables, so that a person sees what they just did.
	Catalog   func() *catalog.Catalog
	Analytics Analytics
	// KeyOverlap is how long a replaced key keeps working beside its successor.
	KeyOverlap time.Duration
	// Now is the clock (tests move it); time.Now when nil.
	Now func() time.Time
}

// Portal serves the developer portal.
type Portal struct {
	d      Deps
	site   *web.Site
	assets *web.Assets
	viewer bool // Swagger UI is in static/npm
}

// New makes the portal; nothing starts.
func New(d Deps) *Portal {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	sub, _ := fs.Sub(static, "static")
	p := &Portal{d: d, assets: web.NewAssets(sub, "/portal/static/")}
	_, err := fs.Stat(sub, "npm/swagger-ui-bundle.js")
	_, err2 := fs.Stat(sub, "npm/swagger-ui.css")
	p.viewer = err == nil && err2 == nil
	p.site = web.NewSite(web.Text{FR: "Portail des API", EN: "API portal"}, "/portal/", templateFiles, template.FuncMap{
		"join":  strings.Join,
		"short": func(s string) string { return s[:min(len(s), 16)] },
		"when": func(lang string, t *time.Time) string {
			if t == nil {
				return "—"
			}
			return web.Date(lang, *t)
		},
		"ms": func(lang string, d time.Duration) string {
			return web.Decimal(lang, float64(d)/float64(time.Millisecond), 1)
		},
		"path": url.PathEscape,
		"int":  func(n int64) int { return int(n) },
		"list": func(s ...string) []string { return s },
		// message is a SOAP message's table's value: the page, its caption, the message.
		"message": func(pg page, label string, m *soapMessage) map[string]any {
			return map[string]any{"Page": pg, "Label": label, "Message": m}
		},
	}, "templates/*.html")
	p.site.Logger = d.Logger
	p.site.Styles = []string{p.assets.Path("portal.css")}
	return p
}

// Routes mounts the portal under /portal/: the catalogue and documentation for everyone, the
// rest for people signed in (inside identity's Middleware, which also refuses cross-origin
// forms).
func (p *Portal) Routes(mux *http.ServeMux) {
	pub := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, p.site.Handle(fn)) }
	in := func(pattern string, fn web.HandlerFunc) {
		mux.Handle(pattern, p.d.Identity.Require(p.site.Handle(fn)))
	}
	mux.Handle("GET /portal/static/", p.assets)
	pub("GET /portal/{$}", p.catalogue)
	pub("GET /portal/guide", p.guide)
	pub("GET /portal/apis/{name}", p.apiDoc)
	pub("GET /portal/apis/{name}/openapi.json", p.rawDoc("json"))
	pub("GET /portal/apis/{name}/openapi.yaml", p.rawDoc("yaml"))
	pub("GET /portal/apis/{name}/service.wsdl", p.rawDoc("wsdl"))
	pub("GET /portal/apis/{name}/viewer.json", p.viewerDoc)

	in("GET /portal/apps/{$}", p.apps)
	in("POST /portal/apps/{$}", p.register)
	in("GET /portal/apps/{app}/{$}", p.app)
	in("POST /portal/apps/{app}/subscriptions", p.subscribe)
	in("POST /portal/apps/{app}/keys", p.issueKey)
	in("POST /portal/apps/{app}/keys/{id}/revoke", p.revokeKey)
	in("POST /portal/apps/{app}/certificates", p.bindCert)
	in("POST /portal/apps/{app}/certificates/{fp}/unbind", p.unbindCert)
	in("GET /portal/apps/{app}/usage.csv", p.usageCSV)

	in("GET /portal/manage/{$}", p.manage)
	in("POST /portal/manage/subscriptions/{app}/{api}", p.decide)
	in("GET /portal/manage/apis/{name}", p.editAPI)
	in("POST /portal/manage/apis/{name}", p.saveAPI)
	in("POST /portal/manage/plans", p.savePlan)

	in("GET /portal/analytics", p.analytics)
	in("GET /portal/analytics.csv", p.analyticsCSV)
}

// page is what every template gets.
type page struct {
	web.Page
	T      func(string) string
	User   *identity.User
	Asset  func(string) string
	Admin  bool
	Owner  bool // owns some API, or is an admin: the owners' pages are open
	Data   any
	Script bool // the page loads portal.js
}

// csp is the pages' content security policy: scripts and everything else from the portal
// itself only. The documentation page allows inline styles, which Swagger UI sets.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any, problems ...web.FieldProblem) {
	lang := web.Lang(r)
	usr, _ := identity.UserFrom(r.Context())
	pg := page{Page: p.site.Page(r, messages.T(lang, title)), T: func(k string) string { return messages.T(lang, k) },
		User: usr, Asset: p.assets.Path, Admin: isAdmin(usr), Data: data}
	pg.Owner = pg.Admin || len(usr.Scopes(RoleOwner)) > 0
	pg.Nav = []web.NavLink{{Path: "/portal/", Text: messages.T(lang, "nav.catalogue")}, {Path: "/portal/guide", Text: messages.T(lang, "nav.guide")},
		{Path: "/portal/apps/", Text: messages.T(lang, "nav.apps")}}
	if pg.Owner {
		pg.Nav = append(pg.Nav, web.NavLink{Path: "/portal/manage/", Text: messages.T(lang, "nav.manage")},
			web.NavLink{Path: "/portal/analytics", Text: messages.T(lang, "nav.analytics")})
	}
	if done := r.URL.Query().Get("done"); strings.HasPrefix(done, "done.") {
		pg.Flash = messages.T(lang, done)
	}
	pg.Fields = problems
	if d, ok := data.(docPage); ok && d.Viewer && len(d.Operations) > 0 {
		pg.Styles = append(pg.Styles, p.assets.Path("npm/swagger-ui.css"))
	}
	if w.Header().Get("Content-Security-Policy") == "" {
		w.Header().Set("Content-Security-Policy", csp)
	}
	p.site.Render(w, r, status, name, pg)
}

// redirect sends the browser to path after a change, with the message to show and the language.
func redirect(w http.ResponseWriter, r *http.Request, path, done string) {
	q := url.Values{}
	if done != "" {
		q.Set("done", done)
	}
	if l := r.URL.Query().Get("lang"); l != "" {
		q.Set("lang", l)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// refusal is a failure in the portal's words.
func refusal(status int, typ, key string) *web.Error {
	return web.Errorf(status, typ, messages.Text("error"), messages.Text(key))
}

func notFound() *web.Error  { return refusal(http.StatusNotFound, "not-found", "err.notfound") }
func forbidden() *web.Error { return refusal(http.StatusForbidden, "forbidden", "err.forbidden") }

// invalid answers a form's problems to a program: 422 problem+json with every field at fault.
func invalid(fields []web.FieldProblem) *web.Error {
	e := refusal(http.StatusUnprocessableEntity, "invalid-form", "err.form")
	for _, f := range fields {
		e.Fields = append(e.Fields, problem.FieldError{Field: f.Target, Reason: f.Message})
	}
	return e
}

// wantsPage tells a browser, which gets the form again with its problems, from a program,
// which gets problem+json.
func wantsPage(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") }

func user(r *http.Request) *identity.User {
	u, _ := identity.UserFrom(r.Context())
	return u
}

func isAdmin(u *identity.User) bool { return u.Can(RoleAdmin, identity.AllScopes) }

// owns says whether u may manage api: an admin, an owner by role, or an account the API
// records as its owner.
func owns(u *identity.User, a *catalog.API) bool {
	return u != nil && (isAdmin(u) || u.Can(RoleOwner, a.Spec.Name) || !u.Disabled && a.OwnedBy(u.ID))
}

// current is the gateway's catalogue, for the public pages.
func (p *Portal) current(ctx context.Context) (*catalog.Catalog, error) {
	if p.d.Catalog != nil {
		if c := p.d.Catalog(); c != nil {
			return c, nil
		}
	}
	return catalog.Load(ctx, p.d.Pool)
}

// fresh reads the tables, for a page showing what its person just changed (the gateway's
// copy follows a moment later, when notified).
func (p *Portal) fresh(ctx context.Context) (*catalog.Catalog, error) {
	return catalog.Load(ctx, p.d.Pool)
}

// catalogErr words the catalogue's refusals; anything else goes on (a 500).
func catalogErr(err error) error {
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return refusal(http.StatusNotFound, "not-found", "err.notfound")
	case errors.Is(err, catalog.ErrDecided):
		return refusal(http.StatusConflict, "already-decided", "err.decided")
	case errors.Is(err, catalog.ErrExists):
		return refusal(http.StatusConflict, "already-subscribed", "err.subscribed")
	case errors.Is(err, catalog.ErrBoundElse):
		return refusal(http.StatusConflict, "certificate-bound", "err.bound")
	}
	return err
}
