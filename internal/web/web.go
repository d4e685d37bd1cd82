// Package web serves socle's pages: templates and assets embedded in the binary, French by
// default and English on request (?lang=en or the browser's Accept-Language).
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
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

var pages = template.Must(template.New("").Funcs(template.FuncMap{}).ParseFS(templates, "templates/*.html"))

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

// Other is the language a page offers to switch to.
func Other(lang string) string {
	if lang == "en" {
		return "fr"
	}
	return "en"
}

var messages = Catalog{
	"fr": {
		"title":    "socle — plateforme socle souveraine",
		"lead":     "Cette instance de socle fait tourner les services suivants.",
		"services": "Services",
		"ops":      "Exploitation",
		"ops.desc": "Métriques Prometheus, /healthz et /readyz sur le port d'exploitation.",
		"docs":     "Documentation",
		"switch":   "English",
	},
	"en": {
		"title":    "socle — sovereign base platform",
		"lead":     "This socle instance runs the following services.",
		"services": "Services",
		"ops":      "Operations",
		"ops.desc": "Prometheus metrics, /healthz and /readyz on the ops port.",
		"docs":     "Documentation",
		"switch":   "Français",
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

// Routes mounts the home page, listing the services it is given; account writes the
// header's account part (identity.AccountNav, which this package cannot import).
func Routes(mux *http.ServeMux, services []Home, account func(*http.Request, string) template.HTML) {
	mux.HandleFunc("GET "+stylesheetPath, serveStylesheet)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		lang := Lang(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Language", lang)
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		pages.ExecuteTemplate(w, "home.html", map[string]any{
			"Lang": lang, "Other": Other(lang), "Services": services,
			"In":      func(t Text) string { return t.In(lang) },
			"Account": account(r, lang), "CSS": stylesheetPath,
			"T": func(key string) string { return messages.T(lang, key) },
		})
	})
}
