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
	// Reconnecting: the same participant takes its session back (resume.go), on the node
	// that holds it.
	if tok := r.URL.Query().Get("resume"); tok != "" {
		s.resumeAt(w, r, name, tok, id)
		return
	}
	// Several media nodes: the meeting's node, placed now if it has none; another node's
	// meeting is reached through the relay (remote.go).
	node, err := s.nodes.place(r.Context(), name, id.agent)
	if err != nil {
		if errors.Is(err, ErrNodesFull) {
			problem.Write(w, r, problem.New("nodes-full", http.StatusServiceUnavailable, "No media node available", err.Error()))
			return
		}
		s.log.Warn("meeting not placed", "room", name, "error", err)
		problem.Write(w, r, problem.New("placement-failed", http.StatusServiceUnavailable, "Meeting not placed", "try again in a moment"))
		return
	}
	if node != s.nodes.id {
		s.relayTo(w, r, node, name, id, nil)
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
	conn.SetReadLimit(ReadLimit)
	s.serve(r.Context(), conn, room, id, created)
}

func (s *Service) serve(ctx context.Context, conn wire, room *Room, w who, created bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The participant's messages go through a session that a new connection can resume
	// (resume.go); l is this connection's side of it.
	ss := newSession(s)
	l := &link{out: make(chan frame, outQueue), cancel: cancel}
	ss.link, ss.who = l, w
	p := ss
	go l.write(ctx, conn)
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
			Welcome: Message{"ice_servers": s.iceServers(room.Name), "resume": ss.token}}
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
		writeMessage(ctx, conn, Message{"type": "error", "code": code, "message": msg})
		conn.Close(websocket.StatusPolicyViolation, code)
		return
	}
	// Until the session is registered, a connection that ends is the participant leaving.
	registered := false
	defer func() {
		if !registered {
			room.Leave(pid)
		}
	}()
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
	// Media go through the SFU: the browser offers what it sends, the SFU offers again
	// whenever others' tracks come or go.
	media, err := s.media.Room(room.media).Join(pid, func(sig sfu.Signal) { p.send(Message{"type": "signal", "signal": sig}) })
	if err != nil {
		s.participants.Dec()
		s.log.Warn("media join", "room", room.Name, "error", err)
		return
	}
	s.peers.Store(room.media+"\x00"+pid, media)
	ss.mu.Lock()
	ss.room, ss.pid, ss.media = room, pid, media
	ss.mu.Unlock()
	s.sessions.Store(ss.token, ss)
	registered = true
	s.converse(ctx, conn, ss, l)
}

// converse reads the participant's requests and does them, until the connection is over: then
// the participant leaves if it closed the connection (or was removed), or may resume.
func (s *Service) converse(ctx context.Context, conn wire, ss *session, l *link) {
	room, pid, media, p, w := ss.room, ss.pid, ss.media, ss, ss.who
	for {
		m, err := readMessage(ctx, conn)
		var me *MessageError
		if errors.As(err, &me) {
			ss.read()
			// Not one of the protocol's messages: refused, and the connection goes on.
			p.send(Message{"type": "error", "code": cmp.Or(me.Code, "refused"), "message": me.Reason, "request": me.Request})
			continue
		}
		if err != nil {
			// A close frame is the participant leaving; a connection that broke is not, nor
			// one the page closed because it stalled (resume.go, closeStalled).
			if st := websocket.CloseStatus(err); (st != -1 && st != closeStalled) || !room.Has(pid) {
				ss.end()
			} else {
				ss.detach(l, s.grace())
			}
			return
		}
		ss.read()
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
func readMessage(ctx context.Context, conn wire) (ClientMessage, error) {
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
