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

// assets are the conference's scripts and stylesheet, by checksum.
var assets = func() *web.Assets {
	sub, _ := fs.Sub(staticFiles, "static")
	return web.NewAssets(sub, "/visio/static/")
}()

// newSite is the conference's part of the page edge, with its own stylesheet after socle's.
func newSite() *web.Site {
	s := web.NewSite(web.Text{FR: "Webconférence de l'État", EN: "Web conference of the State"}, "/visio/",
		templateFiles, template.FuncMap{"asset": assets.Path}, "templates/*.html")
	s.Styles = []string{assets.Path("visio.css")}
	return s
}

type page struct {
	web.Page
	T         func(string) string
	Room      string
	Agent     bool   // signed in: may open rooms
	Name      string // the signed-in agent's name
	Messages  template.JS
	Suggested string
	Alert     string
	Stats     *Stats
}

func writeJSON(w http.ResponseWriter, v any) { json.NewEncoder(w).Encode(v) }

func (s *Service) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	title := p.Room
	if p.Stats != nil {
		title = messages.T(web.Lang(r), "stats.title")
	}
	p.Page = s.site.Page(r, title)
	lang := p.Lang
	p.T = func(k string) string { return messages.T(lang, k) }
	b, _ := json.Marshal(messages[lang])
	p.Messages = template.JS(b)
	if u, ok := identity.UserFrom(r.Context()); ok {
		p.Agent, p.Name = true, u.Name
	}
	s.site.Render(w, r, status, name, p)
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

func (s *Service) static() http.Handler { return assets }

// suggestName proposes a room name hard to guess: three words and a number.
func suggestName() string {
	words := []string{"azur", "bruyere", "cedre", "dune", "erable", "falaise", "garrigue", "houle", "iris", "jonquille",
		"lavande", "maquis", "noisetier", "olivier", "peuplier", "quartz", "roseau", "saule", "tilleul", "verveine"}
	pick := func(n int64) int64 { v, _ := rand.Int(rand.Reader, big.NewInt(n)); return v.Int64() }
	return words[pick(20)] + "-" + words[pick(20)] + "-" + words[pick(20)] + "-" + big.NewInt(pick(9000)+1000).String()
}
