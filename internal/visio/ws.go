package visio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
	"socle/internal/visio/sfu"
	"socle/internal/visio/token"
)

// Limits of the connection.
const (
	joinTimeout = 10 * time.Second
	outQueue    = 256
)

// who is the person behind a connection, from its credentials.
type who struct {
	agent     bool // may create the room
	moderator bool // the token says so
	name      string
	guest     bool
}

// authenticate reads the credentials of GET /visio/ws/{room}: a Jitsi-format token (?jwt=),
// a signed-in agent's session, or a guest's invitation (?invite=). A refusal is a problem
// written, before any upgrade, so that the page can say why.
func (s *Service) authenticate(w http.ResponseWriter, r *http.Request, room string) (who, bool) {
	q := r.URL.Query()
	if raw := q.Get("jwt"); raw != "" {
		c, err := s.tokens.Verify(raw, room)
		if err != nil {
			typ := map[error]string{token.ErrExpired: "token-expired", token.ErrNotYet: "token-not-yet-valid",
				token.ErrRoom: "token-wrong-room", token.ErrAudience: "token-wrong-application",
				token.ErrTenant: "token-wrong-tenant"}
			t := "token-invalid"
			for e, name := range typ {
				if errors.Is(err, e) {
					t = name
				}
			}
			problem.Write(w, r, problem.New(t, http.StatusUnauthorized, "Token refused", err.Error()))
			return who{}, false
		}
		return who{agent: true, moderator: c.Moderator, name: c.User.Name}, true
	}
	if u, ok := identity.UserFrom(r.Context()); ok {
		return who{agent: true, name: u.Name}, true
	}
	if code := q.Get("invite"); code != "" {
		if _, err := s.invites.Check(code, room, time.Now()); err != nil {
			problem.Write(w, r, problem.New("invitation-refused", http.StatusForbidden, "Invitation refused", err.Error()))
			return who{}, false
		}
		return who{guest: true}, true
	}
	problem.Write(w, r, problem.New("authentication-required", http.StatusUnauthorized, "Sign in or use an invitation",
		"a room is entered by a signed-in agent, with a token (?jwt=), or by a guest with an invitation link"))
	return who{}, false
}

// connect serves GET /visio/ws/{room}, or /visio/ws/{tenant}/{room}: checks who is coming,
// upgrades to a WebSocket, waits for the join message, and relays the participant's requests
// to the room.
func (s *Service) connect(w http.ResponseWriter, r *http.Request) {
	name, ok := RoomKey(r.PathValue("path"))
	if !ok {
		problem.Write(w, r, problem.New("invalid-room", http.StatusBadRequest, "Invalid room name", "").
			With(problem.FieldError{Field: "room", Reason: "1 to 64 letters a-z, digits, - or _, starting with a letter or digit; a tenant's room is tenant/room"}))
		return
	}
	id, ok := s.authenticate(w, r, name)
	if !ok {
		return
	}
	room, created := s.room(name, id.agent)
	if room == nil {
		problem.Write(w, r, problem.New("room-not-found", http.StatusNotFound, "No such meeting",
			"this meeting has not started: a guest enters once an agent has opened the room"))
		return
	}
	// Cross-site WebSocket hijacking: the library refuses other origins by default.
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		if created {
			room.Leave("") // nobody came in: forget the room
		}
		return
	}
	conn.SetReadLimit(MaxMessageBytes)
	s.serve(r.Context(), conn, room, id, created)
}

// peer is one connection's outbound side: a queue its writer drains; a participant too slow
// to read is disconnected rather than allowed to hold the room back.
type peer struct {
	out    chan Message
	cancel context.CancelFunc
}

func (p *peer) send(m Message) {
	select {
	case p.out <- m:
	default:
		p.cancel()
	}
}

func (s *Service) serve(ctx context.Context, conn *websocket.Conn, room *Room, w who, created bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &peer{out: make(chan Message, outQueue), cancel: cancel}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-p.out:
				wctx, c := context.WithTimeout(ctx, 10*time.Second)
				err := wsjson.Write(wctx, conn, m)
				c()
				if err != nil {
					cancel()
					return
				}
				if t := m["type"]; t == "kicked" || t == "ended" || t == "refused" {
					conn.Close(websocket.StatusNormalClosure, fmt.Sprint(t))
					cancel()
					return
				}
			}
		}
	}()
	defer conn.CloseNow()

	// The first message says who joins: {"type":"join","name":"...","password":"..."}.
	jctx, jcancel := context.WithTimeout(ctx, joinTimeout)
	join, err := readMessage(jctx, conn)
	jcancel()
	var ee *EnterError
	if !errors.As(err, &ee) && (err != nil || join.Type != "join") {
		if created {
			room.Leave("")
		}
		conn.Close(websocket.StatusPolicyViolation, "the first message must be join")
		return
	}
	var pid string
	var waiting bool
	admitted := make(chan bool, 1)
	if err == nil {
		if join.Name == "" {
			join.Name = w.name
		}
		e := Entrant{Name: join.Name, Moderator: w.moderator || created, Guest: w.guest, Password: join.Password,
			Welcome: Message{"ice_servers": s.iceServers(room.Name)}}
		// Only the one whose join created the room decides that it is end-to-end encrypted.
		e.E2EE = created && join.E2EE
		pid, waiting, err = room.Enter(e, p.send, func(_ string, ok bool) { admitted <- ok })
	}
	if err != nil {
		var ee *EnterError
		code, msg := "error", err.Error()
		if errors.As(err, &ee) {
			code, msg = ee.Code, ee.Message
		}
		if created {
			room.Leave("")
		}
		wsjson.Write(ctx, conn, Message{"type": "error", "code": code, "message": msg})
		conn.Close(websocket.StatusPolicyViolation, code)
		return
	}
	defer room.Leave(pid)
	if waiting {
		p.send(Message{"type": "lobby-wait", "id": pid})
		select {
		case ok := <-admitted:
			if !ok {
				<-ctx.Done() // the writer closes after "refused"
				return
			}
		case <-ctx.Done():
			return
		}
	}
	s.participants.Inc()
	defer s.participants.Dec()
	// Media go through the SFU: the browser offers what it sends, the SFU offers again
	// whenever others' tracks come or go.
	media, err := s.media.Room(room.media).Join(pid, func(sig sfu.Signal) { p.send(Message{"type": "signal", "signal": sig}) })
	if err != nil {
		s.log.Warn("media join", "room", room.Name, "error", err)
		return
	}
	defer media.Close()
	key := room.media + "\x00" + pid
	s.peers.Store(key, media)
	defer s.peers.Delete(key)
	for {
		m, err := readMessage(ctx, conn)
		var me *MessageError
		if errors.As(err, &me) {
			// Not one of the protocol's messages: refused, and the connection goes on.
			p.send(Message{"type": "error", "code": "refused", "message": me.Reason, "request": me.Request})
			continue
		}
		if err != nil {
			return
		}
		switch m.Type {
		case "chat":
			err = room.Chat(pid, m.To, m.Text)
		case "lock":
			err = room.Lock(pid, m.Password)
		case "unlock":
			err = room.Lock(pid, "")
		case "lobby":
			err = room.SetLobby(pid, m.Enabled)
		case "admit", "refuse":
			err = room.Admit(pid, m.ID, m.Type == "admit")
		case "grant":
			err = room.Grant(pid, m.ID)
		case "mute":
			err = room.Mute(pid, m.ID)
		case "kick":
			var done func()
			if done, err = room.Kick(pid, m.ID); err == nil {
				done()
			}
		case "hand":
			room.Hand(pid, m.Raised)
		case "end":
			err = room.End(pid)
		case "invite":
			if w.guest {
				err = errors.New("guests cannot invite")
			} else {
				url, exp := s.InviteURL(room.Name)
				p.send(Message{"type": "invite", "url": url, "expires": exp.UTC()})
			}
		case "notes-edit":
			room.NotesEdit(pid, m.Rev, m.Op)
		case "notes-reload":
			room.NotesReload(pid)
		case "signal":
			var sig sfu.Signal
			if err = json.Unmarshal(m.Signal, &sig); err == nil {
				err = media.HandleSignal(sig)
			}
		case "p2p":
			err = room.P2P(pid, m.To, m.Signal)
		case "screen":
			room.Screen(pid, m.Track, m.On)
		case "audio-only":
			media.SetAudioOnly(m.Enabled)
		case "layer":
			media.SetMaxLayer(m.Max) // q, h or f: DecodeClientMessage checked it
		case "stats":
			// One's own streams; a moderator may also ask for a participant's ("connection
			// details").
			of := media
			if m.ID != "" && m.ID != pid {
				if !room.IsModerator(pid) {
					err = errors.New("only a moderator may see another participant's connection")
					break
				}
				v, ok := s.peers.Load(room.media + "\x00" + m.ID)
				if !ok {
					err = fmt.Errorf("nobody with id %s has media here", m.ID)
					break
				}
				of = v.(*sfu.Peer)
			}
			p.send(Message{"type": "stats", "id": cmp.Or(m.ID, pid), "streams": of.Stats()})
		case "ping":
			p.send(Message{"type": "pong"})
		case "join":
			err = errors.New("already in the room")
		}
		if err != nil {
			p.send(Message{"type": "error", "code": "refused", "message": err.Error(), "request": m.Type})
		}
	}
}

// readMessage reads a participant's next message: a *MessageError (or, for a join, an
// *EnterError) for one that is not the protocol's, another error when the connection is over.
func readMessage(ctx context.Context, conn *websocket.Conn) (ClientMessage, error) {
	typ, b, err := conn.Read(ctx)
	if err != nil {
		return ClientMessage{}, err
	}
	if typ != websocket.MessageText {
		conn.Close(websocket.StatusUnsupportedData, "messages are JSON text")
		return ClientMessage{}, errors.New("visio: a binary message")
	}
	return DecodeClientMessage(b)
}
