package visio

import (
	"crypto/rand"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"math/big"
	"net/http"

	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{"css": web.Stylesheet}).ParseFS(templateFiles, "templates/*.html"))

type page struct {
	Lang, Other string
	T           func(string) string
	Room        string
	Agent       bool          // signed in: may open rooms
	Name        string        // the signed-in agent's name
	Account     template.HTML // who is signed in, and a sign-out (identity.AccountNav)
	Messages    template.JS
	Suggested   string
	Error       string
	Stats       *Stats
}

func writeJSON(w http.ResponseWriter, v any) { json.NewEncoder(w).Encode(v) }

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Lang = web.Lang(r)
	p.Other = web.Other(p.Lang)
	lang := p.Lang
	p.T = func(k string) string { return messages.T(lang, k) }
	b, _ := json.Marshal(messages[lang])
	p.Messages = template.JS(b)
	if u, ok := identity.UserFrom(r.Context()); ok {
		p.Agent, p.Name = true, u.Name
	}
	p.Account = identity.AccountNav(r, lang)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, p); err != nil {
		s.log.Error("visio page", "page", name, "error", err)
	}
}

// home serves /visio/: type or generate a room name.
func (s *Service) home(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query().Get("room"); q != "" {
		if name, ok := RoomName(q); ok {
			http.Redirect(w, r, "/visio/"+name, http.StatusSeeOther)
			return
		}
	}
	s.render(w, r, http.StatusOK, "home.html", page{Suggested: suggestName()})
}

// roomPage serves /visio/{room}: the meeting, in the browser.
func (s *Service) roomPage(w http.ResponseWriter, r *http.Request) {
	key, ok := RoomKey(r.PathValue("path"))
	if !ok {
		s.render(w, r, http.StatusNotFound, "home.html", page{Suggested: suggestName()})
		return
	}
	s.render(w, r, http.StatusOK, "room.html", page{Room: roomPath(key)})
}

func (s *Service) static() http.Handler {
	sub, _ := fs.Sub(staticFiles, "static")
	return http.StripPrefix("/visio/static/", http.FileServerFS(sub))
}

// suggestName proposes a room name hard to guess: three words and a number.
func suggestName() string {
	words := []string{"azur", "bruyere", "cedre", "dune", "erable", "falaise", "garrigue", "houle", "iris", "jonquille",
		"lavande", "maquis", "noisetier", "olivier", "peuplier", "quartz", "roseau", "saule", "tilleul", "verveine"}
	pick := func(n int64) int64 { v, _ := rand.Int(rand.Reader, big.NewInt(n)); return v.Int64() }
	return words[pick(20)] + "-" + words[pick(20)] + "-" + words[pick(20)] + "-" + big.NewInt(pick(9000)+1000).String()
}
