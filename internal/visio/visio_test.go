package visio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database/dbtest"
	"socle/internal/visio"
	"socle/internal/visio/client"
)

const secret = "the shared secret of the token issuer"

// site runs the conference over TLS on loopback, as `socle serve` does.
type site struct {
	t   *testing.T
	srv *httptest.Server
	svc *visio.Service
}

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func newSite(t *testing.T) *site { return newSiteWith(t, nil) }

func newSiteWith(t *testing.T, pool *pgxpool.Pool) *site {
	t.Helper()
	svc, err := visio.New(visio.Config{JWTAppID: "socle", JWTSecret: secret, InviteTTL: time.Hour, MediaLoopback: true},
		visio.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux, nil)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() { svc.Stop(context.Background()); srv.Close() })
	return &site{t: t, srv: srv, svc: svc}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// token is a Jitsi-format token for room.
func token(t *testing.T, room string, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := jwt.MapClaims{"aud": "socle", "iss": "socle", "sub": "*", "room": room, "exp": time.Now().Add(time.Hour).Unix(),
		"context": map[string]any{"user": map[string]any{"id": "42", "name": "Agent Martin"}}}
	if edit != nil {
		edit(c)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *site) url(room, query string) string {
	return "wss" + strings.TrimPrefix(s.srv.URL, "https") + "/visio/ws/" + room + "?" + query
}

func (s *site) agent(room, name string) *client.Client {
	s.t.Helper()
	c, err := client.Join(ctx(s.t), s.srv.Client(), s.url(room, "jwt="+token(s.t, room, nil)), name, "")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(c.Close)
	return c
}

// invitation asks the agent for an invitation and returns its query.
func (s *site) invitation(agent *client.Client) string {
	s.t.Helper()
	agent.Send(ctx(s.t), client.Message{"type": "invite"})
	m, err := agent.WaitFor(ctx(s.t), "invite")
	if err != nil {
		s.t.Fatal(err)
	}
	return m.String("url")[strings.Index(m.String("url"), "?")+1:]
}

func (s *site) guest(room, query, name, password string) (*client.Client, error) {
	c, err := client.Join(ctx(s.t), s.srv.Client(), s.url(room, query), name, password)
	if err == nil {
		s.t.Cleanup(c.Close)
	}
	return c, err
}

func want(t *testing.T, c *client.Client, typ string) client.Message {
	t.Helper()
	m, err := c.WaitFor(ctx(t), typ)
	if err != nil {
		t.Fatalf("waiting for %s: %v", typ, err)
	}
	return m
}

func TestAnAgentOpensTheRoomAndAGuestJoinsByInvitation(t *testing.T) {
	s := newSite(t)
	agent := s.agent("Point-Hebdo", "Camille")
	you := agent.Welcome["you"].(map[string]any)
	if agent.Welcome["room"] != "point-hebdo" || you["moderator"] != true || you["guest"] != false {
		t.Fatalf("welcome %v", agent.Welcome)
	}
	inv := s.invitation(agent)
	guest, err := s.guest("point-hebdo", inv, "Dominique (Préfecture)", "")
	if err != nil {
		t.Fatal(err)
	}
	if ps := guest.Welcome["participants"].([]any); len(ps) != 2 {
		t.Fatalf("the guest sees %v", ps)
	}
	joined := want(t, agent, "joined")["participant"].(map[string]any)
	if joined["name"] != "Dominique (Préfecture)" || joined["guest"] != true || joined["moderator"] != false {
		t.Fatalf("joined %v", joined)
	}
	// A guest may not invite others.
	guest.Send(ctx(t), client.Message{"type": "invite"})
	if e := want(t, guest, "error"); e.String("request") != "invite" {
		t.Fatalf("%v", e)
	}
}

func TestTokensAndInvitationsAreCheckedBeforeAnyoneEnters(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "socle", "iss": "socle", "room": "salle",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not the issuer's secret"))
	for name, tc := range map[string]struct {
		room, query string
		status      int
		problem     string
	}{
		"bad signature":        {"salle", "jwt=" + forged, 401, "token-invalid"},
		"expired":              {"salle", "jwt=" + token(t, "salle", func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 401, "token-expired"},
		"another room's token": {"salle", "jwt=" + token(t, "autre", nil), 401, "token-wrong-room"},
		"invitation elsewhere": {"autre", inv, 403, "invitation-refused"},
		"guest creating a room": {"pas-encore-ouverte", "invite=" + strings.TrimPrefix(s.newInvite("pas-encore-ouverte"), "invite="),
			404, "room-not-found"},
		"nothing":  {"salle", "", 401, "authentication-required"},
		"bad name": {"Salle%20!", "jwt=x", 400, "invalid-room"},
	} {
		_, err := s.guest(tc.room, tc.query, "Quelqu'un", "")
		var r *client.Refused
		if !errors.As(err, &r) || r.Status != tc.status || r.Problem != "urn:socle:problem:"+tc.problem {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A tenant's room is /visio/<tenant>/<room>, as Jitsi's https://host/<tenant>/<room>: its
// tokens name the tenant in sub (Jitsi's verify_room), its invitations lead back to it, and
// the service's own paths (static files, the socket) stay where they were.
func TestATenantsRoomTakesTheTenantsTokensAndInvitations(t *testing.T) {
	s := newSite(t)
	tenantToken := func(sub, room string) string {
		return token(t, room, func(c jwt.MapClaims) { c["sub"] = sub })
	}
	agent, err := client.Join(ctx(t), s.srv.Client(), s.url("prefecture-13/point-hebdo", "jwt="+tenantToken("prefecture-13", "point-hebdo")), "Camille", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agent.Close)
	if agent.Welcome["room"] != "[prefecture-13]point-hebdo" {
		t.Errorf("welcome room %v", agent.Welcome["room"])
	}
	inv := s.invitation(agent)
	u, _ := s.svc.InviteURL("[prefecture-13]point-hebdo")
	if !strings.HasPrefix(u, "/visio/prefecture-13/point-hebdo?invite=") {
		t.Errorf("invitation %s", u)
	}
	if _, err := s.guest("prefecture-13/point-hebdo", inv, "Dominique", ""); err != nil {
		t.Errorf("guest by invitation: %v", err)
	}
	for name, c := range map[string]struct{ path, query, problem string }{
		"another tenant's token":           {"prefecture-13/point-hebdo", "jwt=" + tenantToken("prefecture-69", "point-hebdo"), "token-wrong-tenant"},
		"the same room of no tenant":       {"point-hebdo", inv, "invitation-refused"},
		"the invitation in another tenant": {"prefecture-69/point-hebdo", inv, "invitation-refused"},
		"three parts":                      {"a/b/c", "jwt=x", "invalid-room"},
	} {
		_, err := s.guest(c.path, c.query, "Quelqu'un", "")
		var r *client.Refused
		if !errors.As(err, &r) || r.Problem != "urn:socle:problem:"+c.problem {
			t.Errorf("%s: %v, want %s", name, err, c.problem)
		}
	}
	for path, want := range map[string]string{
		"/visio/prefecture-13/point-hebdo": `data-room="prefecture-13/point-hebdo"`,
		"/visio/static/room.js":            "socketURL",
	} {
		resp, err := s.srv.Client().Get(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, want %q in it", path, resp.StatusCode, want)
		}
	}
}

// newInvite makes a valid invitation to a room nobody opened.
func (s *site) newInvite(room string) string {
	u, _ := s.svc.InviteURL(room)
	return u[strings.Index(u, "?")+1:]
}

func TestALockedRoomRefusesAWrongPassword(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	agent.Send(ctx(t), client.Message{"type": "lock", "password": "tournesol"})
	if m := want(t, agent, "locked"); m["locked"] != true {
		t.Fatal(m)
	}
	if _, err := s.guest("salle", inv, "Invité", "girasol"); err == nil || !strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.guest("salle", inv, "Invité", "tournesol"); err != nil {
		t.Fatalf("right password: %v", err)
	}
}

func TestTheLobbyLetsModeratorsAdmitOrRefuseGuests(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	agent.Send(ctx(t), client.Message{"type": "lobby", "enabled": true})
	want(t, agent, "lobby")

	first, err := s.guest("salle", inv, "Premier", "")
	if err != nil || first.Welcome != nil {
		t.Fatalf("the guest entered without knocking: %v %v", first.Welcome, err)
	}
	knock := want(t, agent, "knock")
	agent.Send(ctx(t), client.Message{"type": "admit", "id": knock.String("id")})
	if w := want(t, first, "welcome"); len(w["participants"].([]any)) != 2 {
		t.Fatalf("welcome %v", w)
	}

	second, _ := s.guest("salle", inv, "Second", "")
	knock = want(t, agent, "knock")
	agent.Send(ctx(t), client.Message{"type": "refuse", "id": knock.String("id")})
	want(t, second, "refused")
	if _, err := second.Next(ctx(t)); err == nil {
		t.Fatal("a refused guest stays connected")
	}
	// Only moderators decide.
	first.Send(ctx(t), client.Message{"type": "lobby", "enabled": false})
	if e := want(t, first, "error"); !strings.Contains(e.String("message"), "moderator") {
		t.Fatal(e)
	}
}

func TestModeratorsMuteRemoveAndEndTheMeetingForAll(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	a, _ := s.guest("salle", inv, "A", "")
	b, _ := s.guest("salle", inv, "B", "")
	bID := b.Welcome["you"].(map[string]any)["id"].(string)

	// A guest may not remove anyone.
	a.Send(ctx(t), client.Message{"type": "kick", "id": bID})
	want(t, a, "error")

	agent.Send(ctx(t), client.Message{"type": "mute", "id": "all"})
	want(t, a, "muted")
	want(t, b, "muted")

	agent.Send(ctx(t), client.Message{"type": "kick", "id": bID})
	want(t, b, "kicked")
	if _, err := b.Next(ctx(t)); err == nil {
		t.Fatal("a removed participant stays connected")
	}
	if left := want(t, a, "left"); left.String("id") != bID {
		t.Fatal(left)
	}

	// Moderation can be handed over.
	aID := a.Welcome["you"].(map[string]any)["id"].(string)
	agent.Send(ctx(t), client.Message{"type": "grant", "id": aID})
	want(t, a, "moderator")
	a.Send(ctx(t), client.Message{"type": "end"})
	want(t, agent, "ended")
	want(t, a, "ended")
	// The meeting is over: its invitation opens nothing, its chat is gone.
	if _, err := s.guest("salle", inv, "Retardataire", ""); err == nil {
		t.Fatal("entered an ended meeting")
	}
}

func TestChatGoesToAllOrToOneAndLatecomersGetWhatIsTheirs(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	a, _ := s.guest("salle", inv, "A", "")
	aID := a.Welcome["you"].(map[string]any)["id"].(string)

	agent.Send(ctx(t), client.Message{"type": "chat", "text": "Bonjour à tous"})
	if m := want(t, a, "chat")["message"].(map[string]any); m["text"] != "Bonjour à tous" || m["name"] != "Camille" {
		t.Fatal(m)
	}
	agent.Send(ctx(t), client.Message{"type": "chat", "to": aID, "text": "Un mot en privé"})
	if m := want(t, a, "chat")["message"].(map[string]any); m["to"] != aID {
		t.Fatal(m)
	}
	want(t, agent, "chat") // the public one, echoed
	want(t, agent, "chat") // the private one, echoed to its author

	late, _ := s.guest("salle", inv, "Retardataire", "")
	chat := late.Welcome["chat"].([]any)
	if len(chat) != 1 || chat[0].(map[string]any)["text"] != "Bonjour à tous" {
		t.Fatalf("the latecomer sees %v", chat)
	}
	agent.Send(ctx(t), client.Message{"type": "chat", "text": strings.Repeat("x", visio.MaxChatRunes+1)})
	want(t, agent, "error")
}

func TestUsageIsCountedPerDayWithoutNamesOrPeople(t *testing.T) {
	pool := dbtest.New(t, visio.Migrations())
	s := newSiteWith(t, pool)
	agent := s.agent("salle", "Camille")
	g, _ := s.guest("salle", s.invitation(agent), "Invité", "")
	want(t, agent, "joined")
	st, err := s.svc.Stats(ctx(t), 30)
	if err != nil || st.Now.Conferences != 1 || st.Now.Participants != 2 {
		t.Fatalf("now: %+v %v", st.Now, err)
	}
	agent.Send(ctx(t), client.Message{"type": "end"})
	want(t, g, "ended")
	var d visio.Day
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if st, _ = s.svc.Stats(ctx(t), 30); len(st.Days) == 1 && st.Days[0].Peak == 2 {
			d = st.Days[0]
			break
		}
	}
	if d.Conferences != 1 || d.Participants != 2 || d.Guests != 1 || d.Peak != 2 || st.Now.Conferences != 0 {
		t.Fatalf("per day: %+v, now %+v", st.Days, st.Now)
	}
	// The statistics keep no room name and nobody's identity.
	var cols []string
	rows, _ := pool.Query(ctx(t), `SELECT column_name FROM information_schema.columns WHERE table_schema = 'visio' AND table_name = 'conferences'`)
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	if strings.Contains(strings.Join(cols, ","), "room") || strings.Contains(strings.Join(cols, ","), "name") {
		t.Fatalf("columns %v", cols)
	}
	// Only administrators read them on the web.
	resp, err := s.srv.Client().Get(s.srv.URL + "/visio/api/stats")
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous stats: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
}

func TestSharedNotesReachEveryoneAndLatecomersGetTheText(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	g, _ := s.guest("salle", inv, "Invité", "")
	if n := g.Welcome["notes"].(map[string]any); n["text"] != "" || n["rev"] != float64(0) {
		t.Fatalf("notes at first: %v", n)
	}
	agent.Send(ctx(t), client.Message{"type": "notes-edit", "rev": 0, "op": []any{"Ordre du jour"}})
	if a := want(t, agent, "notes-ack"); a["rev"] != float64(1) {
		t.Fatal(a)
	}
	if e := want(t, g, "notes-edit"); e["rev"] != float64(1) {
		t.Fatal(e)
	}
	// Both edit revision 1 at once: the server orders and transforms.
	agent.Send(ctx(t), client.Message{"type": "notes-edit", "rev": 1, "op": []any{13, " : budget"}})
	g.Send(ctx(t), client.Message{"type": "notes-edit", "rev": 1, "op": []any{"# ", 13}})
	want(t, agent, "notes-ack")
	want(t, g, "notes-ack")
	late, _ := s.guest("salle", inv, "Retardataire", "")
	if n := late.Welcome["notes"].(map[string]any); n["text"] != "# Ordre du jour : budget" || n["rev"] != float64(3) {
		t.Fatalf("the latecomer gets %v", n)
	}
	// An edit that does not fit the text is refused with the text to reload.
	g.Send(ctx(t), client.Message{"type": "notes-edit", "rev": 3, "op": []any{999, "x"}})
	if r := want(t, g, "notes-reload"); r["text"] != "# Ordre du jour : budget" {
		t.Fatal(r)
	}
}

func TestTwoTalkPeerToPeerAndTheSFUTakesOverFromTheThird(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	inv := s.invitation(agent)
	a, _ := s.guest("salle", inv, "A", "")
	aID := a.Welcome["you"].(map[string]any)["id"].(string)
	for _, c := range []*client.Client{agent, a} {
		if m := want(t, c, "mode"); m["mode"] != "p2p" || len(m["peers"].([]any)) != 2 {
			t.Fatalf("mode %v", m)
		}
	}
	agent.Send(ctx(t), client.Message{"type": "p2p", "to": aID, "signal": map[string]any{"type": "offer", "sdp": "v=0"}})
	if m := want(t, a, "p2p"); m["from"] != agent.Welcome["you"].(map[string]any)["id"] || m["signal"].(map[string]any)["sdp"] != "v=0" {
		t.Fatalf("relayed %v", m)
	}
	b, _ := s.guest("salle", inv, "B", "")
	for _, c := range []*client.Client{agent, a, b} {
		if m := want(t, c, "mode"); m["mode"] != "sfu" {
			t.Fatalf("mode %v", m)
		}
	}
	agent.Send(ctx(t), client.Message{"type": "p2p", "to": aID, "signal": map[string]any{"type": "offer"}})
	if e := want(t, agent, "error"); e.String("request") != "p2p" {
		t.Fatal(e)
	}
	b.Close()
	for _, c := range []*client.Client{agent, a} {
		if m := want(t, c, "mode"); m["mode"] != "p2p" {
			t.Fatalf("back to two: %v", m)
		}
	}
}

func TestBrowsersGetTheBuiltInRelayWithTimeLimitedCredentials(t *testing.T) {
	svc, err := visio.New(visio.Config{JWTAppID: "socle", JWTSecret: secret, InviteTTL: time.Hour, MediaLoopback: true,
		TURNAddr: "127.0.0.1:0"}, visio.Deps{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil { // the relay's sockets
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Routes(mux, nil)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() { svc.Stop(context.Background()); srv.Close() })
	s := &site{t: t, srv: srv, svc: svc}
	agent := s.agent("salle", "Camille")
	ice := agent.Welcome["ice_servers"].([]any)
	if len(ice) != 1 {
		t.Fatalf("ice servers %v", ice)
	}
	relay := ice[0].(map[string]any)
	urls := fmt.Sprint(relay["urls"])
	if !strings.Contains(urls, "turn:127.0.0.1:") || !strings.Contains(urls, "transport=udp") || !strings.Contains(urls, "transport=tcp") ||
		!regexp.MustCompile(`^\d+:`).MatchString(relay["username"].(string)) || relay["credential"] == "" {
		t.Fatalf("relay %v", relay)
	}
}
