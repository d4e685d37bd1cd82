package web

import (
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/problem"
)

// Page is what the layout needs of every page: a service's page value embeds it, and its
// template opens with {{template "head" .}} and closes with {{template "foot" .}}.
type Page struct {
	Lang, Other string
	Title       string // the page's own title, before the service's name
	Service     string // the service's name, in the header and the title
	ServiceHome string // where the service's name leads
	Nav         []NavLink
	Account     template.HTML // who is signed in (AccountNav)
	Flash       string        // what just succeeded
	Error       bool          // the page reports a failure: its title says so
	Fields      []FieldProblem
	CSS         string   // socle's stylesheet
	Styles      []string // a service's own, after it
	Switch      string   // this page in the other language
}

// NavLink is a link of the header's navigation.
type NavLink struct{ Path, Text string }

// FieldProblem is one thing wrong with what someone sent: the line of a file (0 when none),
// or where it is in a form when that is not a line (a cell of a table: "69123 Lyon, 17"); the
// field; what is wrong, in the page's language; and the id of the form field at fault, if
// the page has it, which the message then links to.
type FieldProblem struct {
	Line    int
	Where   string
	Field   string
	Message string
	Target  string
}

// FieldsByLine reports whether the page's problems are placed by lines of a file (none is
// placed otherwise): the "fields" component then heads its first column "Line".
func (p Page) FieldsByLine() bool {
	for _, f := range p.Fields {
		if f.Where != "" {
			return false
		}
	}
	return true
}

// AccountNav writes the account part of the header (who is signed in, a sign-out; or a
// sign-in link). Package identity, which knows people and imports this one, sets it.
var AccountNav = func(r *http.Request, lang string) template.HTML { return "" }

// Site is a service's part of the page edge: its name in the header, its pages' templates
// (each parsed with the layout and the components), its own stylesheet if it has one.
type Site struct {
	Name   Text
	Home   string // the service's first page
	Nav    []Link
	Styles []string
	Logger *slog.Logger

	pages *template.Template
}

// NewSite parses the service's templates matching patterns in fsys, with the layout, the
// components and funcs.
func NewSite(name Text, home string, fsys fs.FS, funcs template.FuncMap, patterns ...string) *Site {
	t := template.Must(template.New("").Funcs(pageFuncs).Funcs(funcs).ParseFS(templates, "templates/layout.html", "templates/error.html"))
	return &Site{Name: name, Home: home, pages: template.Must(t.ParseFS(fsys, patterns...))}
}

var pageFuncs = template.FuncMap{
	"chrome":  func(lang, key string) string { return chromeWords.T(lang, key) },
	"plural":  Plural,
	"number":  Number,
	"date":    Date,
	"day":     Day,
	"decimal": Decimal,
}

// Plural picks key's singular form, key + ".one", for one (and, in French, for zero: "0
// erreur"), else key: "1 erreur", "0 erreur", "2 erreurs"; "1 error", "0 errors".
func Plural(lang string, n int, key string) string {
	if n == 1 || (n == 0 && lang != "en") {
		return key + ".one"
	}
	return key
}

// Number writes an integer as people of lang read it: 12 345 in French (a narrow no-break
// space between thousands, as the Imprimerie nationale's rules and CLDR have it), 12,345 in
// English.
func Number(lang string, n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if lang != "en" {
		sep = "\u202f"
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Decimal writes a number with digits decimals: 0,5 in French, 0.5 in English.
func Decimal(lang string, f float64, digits int) string {
	s := strconv.FormatFloat(f, 'f', digits, 64)
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Paris is the time zone of every date socle shows and reads from a form: its people are
// French and Belgian, one hour apart at most, and a page mixing zones would be worse.
var Paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}()

// Date writes a time the one way pages show it, in Paris time: 04/12/2026 09:30 in French,
// 2026-12-04 09:30 in English (ISO 8601: not 12/04, which an English reader takes either way).
func Date(lang string, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(Paris)
	if lang == "en" {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("02/01/2006 15:04")
}

// Day writes a calendar day given as YYYY-MM-DD (ISO 8601, what APIs carry) as people of lang
// read it: 04/12/2026 in French, unchanged in English. What is not such a day is unchanged.
func Day(lang, iso string) string {
	d, err := time.Parse(time.DateOnly, iso)
	if err != nil || lang == "en" {
		return iso
	}
	return d.Format("02/01/2006")
}

// Page returns the layout's part of a page of the site for r.
func (s *Site) Page(r *http.Request, title string) Page {
	lang := Lang(r)
	p := Page{Lang: lang, Other: Other(lang), Title: title, Service: s.Name.In(lang), ServiceHome: s.Home,
		Account: AccountNav(r, lang), CSS: stylesheetPath, Styles: s.Styles, Switch: switchURL(r, Other(lang))}
	for _, l := range s.Nav {
		p.Nav = append(p.Nav, NavLink{Path: l.Path, Text: l.Text.In(lang)})
	}
	return p
}

// switchURL is the page r asked for, in lang.
func switchURL(r *http.Request, lang string) string {
	q := r.URL.Query()
	q.Set("lang", lang)
	q.Del("done") // a flash is said once
	return r.URL.Path + "?" + q.Encode()
}

// Render writes the page name of the site with data, whose type embeds Page.
func (s *Site) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", Lang(r))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store") // pages show who is signed in
	}
	w.WriteHeader(status)
	if err := s.pages.ExecuteTemplate(w, name, data); err != nil {
		s.logger().Error("render page", "page", name, "path", r.URL.Path, "error", err)
	}
}

func (s *Site) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Error is a failure a handler returns: its status, the problem type programs read, and what
// people read, in French and English. Err, the cause, is logged and never shown.
type Error struct {
	Status  int
	Type    string // short problem type: "not-found", "forbidden"...
	Title   Text
	Detail  Text
	Fields  []problem.FieldError
	Err     error
	Problem *problem.Problem // the problem to send to programs as it is, if the handler made one
}

func (e *Error) Error() string {
	msg := e.Title.EN
	if e.Detail.EN != "" {
		msg += ": " + e.Detail.EN
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Common failures, with their words.
func NotFound() *Error {
	return &Error{Status: http.StatusNotFound, Type: "not-found",
		Title:  Text{"Page introuvable", "Page not found"},
		Detail: Text{"Cette adresse ne mène à rien : elle est peut-être incomplète, ou ce qu'elle désignait n'existe plus.", "Nothing is at this address: it may be incomplete, or what it named no longer exists."}}
}

func Forbidden() *Error {
	return &Error{Status: http.StatusForbidden, Type: "forbidden",
		Title:  Text{"Accès refusé", "Access denied"},
		Detail: Text{"Votre compte n'a pas de rôle qui permette cette action ici. Un administrateur peut vous l'attribuer.", "Your account holds no role that allows this here. An administrator can grant you one."}}
}

// Internal wraps an unexpected failure: people are told to try again, the cause is logged.
func Internal(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Type: "internal", Err: err,
		Title:  Text{"Erreur du serveur", "Server error"},
		Detail: Text{"La demande n'a pas pu être traitée. Réessayez dans un instant ; si cela se reproduit, donnez aux exploitants le numéro ci-dessous.", "The request could not be handled. Try again in a moment; if it happens again, give the operators the number below."}}
}

// Errorf is a failure with its own words. A 404 or a 403 keeps the platform's title, which
// people know those pages by; detail says why.
func Errorf(status int, typ string, title, detail Text) *Error {
	switch status {
	case http.StatusNotFound:
		title = NotFound().Title
	case http.StatusForbidden:
		title = Forbidden().Title
	}
	return &Error{Status: status, Type: typ, Title: title, Detail: detail}
}

// HandlerFunc is a handler that returns its failure rather than writing it: Handle answers it
// in the one way of the site.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle turns fn's failures into answers: problem+json for programs, the site's error page
// for people (see Fail).
func (s *Site) Handle(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.Fail(w, r, err)
		}
	})
}

// Fail answers err. A browser asking for a page (Accept: text/html) gets an error page in the
// site's layout; anything else gets problem+json (RFC 9457). An err that is no *Error is a
// 500 whose cause is logged with the request id, which the answer gives.
func (s *Site) Fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Internal(err)
	}
	reqID := w.Header().Get("X-Request-Id")
	if e.Status >= 500 {
		s.logger().Error("request failed", "path", r.URL.Path, "method", r.Method, "request_id", reqID, "error", err)
	}
	if !wantsPage(r) {
		p := e.Problem
		if p == nil {
			p = problem.New(e.Type, e.Status, e.Title.EN, e.Detail.EN).With(e.Fields...)
		}
		problem.Write(w, r, p)
		return
	}
	lang := Lang(r)
	page := errorPage{Page: s.Page(r, e.Title.In(lang)), Heading: e.Title.In(lang), Message: e.Detail.In(lang), Back: s.Home}
	page.Error = true
	if e.Status >= 500 {
		page.RequestID = reqID
	}
	for _, f := range e.Fields {
		page.Fields = append(page.Fields, FieldProblem{Field: f.Field, Message: f.Reason})
	}
	if page.Back == "" {
		page.Back = "/"
	}
	s.Render(w, r, e.Status, "error.html", page)
}

type errorPage struct {
	Page
	Heading, Message, RequestID, Back string
}

// wantsPage tells a browser asking for a page from a program.
func wantsPage(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// Lines are the non-blank lines of a form's textarea, trimmed: one entry per line.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
