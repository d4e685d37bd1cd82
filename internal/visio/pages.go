package visio

import (
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
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

// home serves /visio/: type or generate a room name. The name is taken as typed
// ("Réunion préfecture" opens reunion-prefecture, RoomSlug); one that gives no room is said
// so in the form (problem+json, field "room", for a program), never replaced by another.
func (s *Service) home(w http.ResponseWriter, r *http.Request) {
	q, asked := r.URL.Query()["room"]
	if !asked {
		s.render(w, r, http.StatusOK, "home.html", page{Suggested: suggestName()})
		return
	}
	typed := strings.Join(q, "")
	name, err := RoomSlug(typed)
	if err == nil {
		http.Redirect(w, r, "/visio/"+name, http.StatusSeeOther)
		return
	}
	lang := web.Lang(r)
	reason := roomNameMessage(lang, err)
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		problem.Write(w, r, problem.New("invalid-room", http.StatusBadRequest, "Invalid room name", err.Error()).
			With(problem.FieldError{Field: "room", Reason: roomNameMessage("en", err)}))
		return
	}
	s.render(w, r, http.StatusBadRequest, "home.html", page{Suggested: typed, Alert: reason})
}

// roomNameMessage says, in people's words, why a typed name gives no room.
func roomNameMessage(lang string, err error) string {
	var re *RoomNameError
	errors.As(err, &re)
	switch {
	case errors.Is(err, ErrRoomTooLong):
		return strings.NewReplacer("{n}", strconv.Itoa(utf8.RuneCountInString(re.Slug)), "{max}", strconv.Itoa(MaxRoomRunes)).
			Replace(messages.T(lang, "err.room.long"))
	case errors.Is(err, ErrRoomReserved):
		return messages.T(lang, "err.room.reserved")
	default:
		return messages.T(lang, "err.room.empty")
	}
}

// roomPage serves /visio/{room}: the meeting, in the browser. A room named in the URL as
// people type it ("/visio/Réunion préfecture") is sent to its own address.
func (s *Service) roomPage(w http.ResponseWriter, r *http.Request) {
	path := r.PathValue("path")
	key, ok := roomKeyAsTyped(path)
	if !ok {
		s.render(w, r, http.StatusNotFound, "home.html", page{Suggested: suggestName()})
		return
	}
	if canonical := roomPath(key); canonical != path {
		u := *r.URL
		u.Path, u.RawPath = "/visio/"+canonical, ""
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
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
