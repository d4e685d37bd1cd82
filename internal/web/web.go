// Package web serves socle's pages: templates and assets embedded in the binary, French by
// default and English on request (?lang=en or the browser's Accept-Language).
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed static/socle.css
var stylesheet []byte

// stylesheetPath is the stylesheet's address, named by its content's checksum: it may be
// kept by browsers for good (a new stylesheet is a new address).
var stylesheetPath = func() string {
	sum := sha256.Sum256(stylesheet)
	return "/static/socle." + hex.EncodeToString(sum[:6]) + ".css"
}()

// Stylesheet is the address of socle's one stylesheet, for every page's <link>.
func Stylesheet() string { return stylesheetPath }

// home is the platform's own site: the home page.
var home = NewSite(Text{}, "/", templates, nil, "templates/home.html")

// Lang picks the page language: ?lang= first, then Accept-Language, French otherwise.
func Lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "en" || l == "fr" {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "fr"):
			return "fr"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "fr"
}

// Catalog is the words of some pages by language: French, the default, and English.
type Catalog map[string]map[string]string

// T returns key in lang, in French when lang lacks it, "" when neither has it.
func (c Catalog) T(lang, key string) string {
	if m, ok := c[lang][key]; ok {
		return m
	}
	return c["fr"][key]
}

// Text is key in both languages, for what is said beyond the package that words it (an
// error's words, a home-page entry): a catalog is where a package keeps its words, a Text is
// one of them on its way.
func (c Catalog) Text(key string) Text { return Text{FR: c.T("fr", key), EN: c.T("en", key)} }

// Other is the language a page offers to switch to.
func Other(lang string) string {
	if lang == "en" {
		return "fr"
	}
	return "en"
}

var messages = Catalog{
	"fr": {
		"home":     "Accueil",
		"title":    "socle — plateforme socle souveraine",
		"lead":     "Cette instance de socle fait tourner les services suivants.",
		"services": "Services",
		"ops":      "Exploitation",
		"ops.desc": "Métriques Prometheus, /healthz et /readyz sur le port d'exploitation.",
		"docs":     "Documentation",
		"switch":   "English",
	},
	"en": {
		"home":     "Home",
		"title":    "socle — sovereign base platform",
		"lead":     "This socle instance runs the following services.",
		"services": "Services",
		"ops":      "Operations",
		"ops.desc": "Prometheus metrics, /healthz and /readyz on the ops port.",
		"docs":     "Documentation",
		"switch":   "Français",
	},
}

// chromeWords are the layout's and the components' words.
var chromeWords = Catalog{
	"fr": {
		"skip": "Aller au contenu", "nav": "Navigation principale", "language": "Français", "error": "Erreur",
		"problems": "problèmes", "problems.one": "problème", "problems.nothing": "\u00a0: rien n'a été enregistré.",
		"problems.caption": "Problèmes, ligne par ligne", "col.line": "Ligne", "col.field": "Champ", "col.problem": "Problème",
		"problems.caption.where": "Problèmes, case par case", "col.where": "Emplacement",
		"error.request": "Numéro de la demande, à donner aux exploitants :", "error.back": "Revenir à l'accueil du service",
	},
	"en": {
		"skip": "Skip to content", "nav": "Main navigation", "language": "English", "error": "Error",
		"problems": "problems", "problems.one": "problem", "problems.nothing": ": nothing was saved.",
		"problems.caption": "Problems, line by line", "col.line": "Line", "col.field": "Field", "col.problem": "Problem",
		"problems.caption.where": "Problems, cell by cell", "col.where": "Where",
		"error.request": "Request number, to give the operators:", "error.back": "Back to the service's first page",
	},
}

// Text is a text in the page languages: French, the default, and English.
type Text struct{ FR, EN string }

// In returns the text in lang, French when it has no English.
func (t Text) In(lang string) string {
	if lang == "en" && t.EN != "" {
		return t.EN
	}
	return t.FR
}

// Link is a link of a home-page entry.
type Link struct {
	Path string
	Text Text
}

// Home is a service's entry on the home page.
type Home struct {
	Title, Summary Text
	Links          []Link
}

// serveStylesheet serves the stylesheet at its checksum address.
func serveStylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Write(stylesheet)
}

// homePage is the home page's value.
type homePage struct {
	Page
	Services []Home
	In       func(Text) string
	T        func(string) string
}

// Routes mounts the stylesheet and the home page, listing the services it is given, and the
// answer to addresses nothing else serves: a page saying so, or problem+json.
func Routes(mux *http.ServeMux, services []Home) {
	mux.HandleFunc("GET "+stylesheetPath, serveStylesheet)
	// Any method: a service may mount a subtree for every method ("/apis/", the gateway's),
	// which a "GET /" would conflict with in net/http's mux.
	mux.Handle("/", home.Handle(func(http.ResponseWriter, *http.Request) error { return NotFound() }))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		lang := Lang(r)
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		home.Render(w, r, http.StatusOK, "home.html", homePage{Page: home.Page(r, messages.T(lang, "home")), Services: services,
			In: func(t Text) string { return t.In(lang) },
			T:  func(key string) string { return messages.T(lang, key) }})
	})
}
