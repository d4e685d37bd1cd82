package visio

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"socle/internal/platform/problem"
)

// The signalling relay (docs/visio-nodes.md): the web replica holding a participant's
// WebSocket opens a session on the meeting's node with a request on visio.node.<id>.open;
// then the participant's messages go, in order, on visio.session.<sid>.in and the node's on
// visio.session.<sid>.out (one publisher each way: NATS keeps their order). A message with a
// Close-Code header ends the session from either side. Each side pings the other's node and
// ends the session when it stops answering: the browser's socket is then closed with
// "node-lost", and the page reconnects, which places the meeting again.

// Close codes: a meeting whose node is gone. 1013 Try Again Later (RFC 6455 §7.4.1, IANA
// registry): the page should connect again, which places the meeting on a live node.
const (
	closeNodeLost       = websocket.StatusTryAgainLater
	closeNodeLostReason = "node-lost"
	watchEvery          = time.Second
	sessionBuffer       = 1024
)

// openRequest asks a node to let a participant into a meeting: the web replica checked who
// they are (authenticate); the nodes trust each other's word as they share the bus, whose
// routes are mutual TLS between socle's own certificates.
type openRequest struct {
	Session   string `json:"session"`
	Room      string `json:"room"`
	From      string `json:"from"` // the web replica's node, watched by the meeting's node
	Agent     bool   `json:"agent"`
	Moderator bool   `json:"moderator"`
	Guest     bool   `json:"guest"`
	Name      string `json:"name"`
	// Resume, when set, takes a dropped participant's session back (resume.go) rather than
	// joining.
	Resume *resumeRequest `json:"resume,omitempty"`
}

type openReply struct {
	Error string `json:"error,omitempty"` // a problem type: room-not-found
}

func sessionIn(sid string) string  { return "visio.session." + sid + ".in" }
func sessionOut(sid string) string { return "visio.session." + sid + ".out" }

// serveNode answers this node's subjects: pings, and sessions opened by web replicas.
func (s *Service) serveNode(ctx context.Context) error {
	nc := s.nodes.nc
	ping, err := nc.Subscribe(pingSubject(s.nodes.id), func(m *nats.Msg) { m.Respond([]byte("pong")) })
	if err != nil {
		return fmt.Errorf("visio node: %w", err)
	}
	open, err := nc.Subscribe(openSubject(s.nodes.id), func(m *nats.Msg) { s.openSession(ctx, m) })
	if err != nil {
		ping.Unsubscribe()
		return fmt.Errorf("visio node: %w", err)
	}
	s.quitNode = func() { ping.Unsubscribe(); open.Unsubscribe(); nc.Flush() }
	s.res.AddFunc(func() { ping.Unsubscribe(); open.Unsubscribe() })
	return nc.Flush()
}

func (s *Service) openSession(ctx context.Context, m *nats.Msg) {
	var req openRequest
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Session == "" {
		b, _ := json.Marshal(openReply{Error: "bad-request"})
		m.Respond(b)
		return
	}
	var ss *session
	if req.Resume != nil {
		var why string
		if ss, why = s.resumable(req.Room, req.Resume.Token, req.Resume.Last); ss == nil {
			b, _ := json.Marshal(openReply{Error: why})
			m.Respond(b)
			return
		}
	}
	room, created := s.room(req.Room, req.Agent && ss == nil)
	if room == nil {
		b, _ := json.Marshal(openReply{Error: "room-not-found"})
		m.Respond(b)
		return
	}
	w := &natsWire{nc: s.nodes.nc, out: sessionOut(req.Session), in: make(chan *nats.Msg, sessionBuffer), done: make(chan struct{})}
	sub, err := s.nodes.nc.ChanSubscribe(sessionIn(req.Session), w.in)
	if err == nil {
		err = s.nodes.nc.Flush() // the subscription known to the server before the web replica sends
	}
	if err != nil {
		if created {
			room.Leave("")
		}
		b, _ := json.Marshal(openReply{Error: "node-busy"})
		m.Respond(b)
		return
	}
	b, _ := json.Marshal(openReply{})
	m.Respond(b)
	s.relayed.Inc()
	go func() {
		defer s.relayed.Dec()
		defer sub.Unsubscribe()
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go s.watch(sctx, req.From, func() { w.lost(); cancel() })
		if ss != nil {
			s.resumeOn(sctx, w, ss, req.Resume.Last)
			return
		}
		s.serve(sctx, w, room, who{agent: req.Agent, moderator: req.Moderator, guest: req.Guest, name: req.Name}, created)
	}()
}

// watch calls lost when node stops answering pings twice in a row, or returns with ctx.
func (s *Service) watch(ctx context.Context, node string, lost func()) {
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.nodes.alive(node) {
			misses = 0
			continue
		}
		if misses++; misses >= 2 {
			lost()
			return
		}
	}
}

// natsWire is a participant's session seen from the meeting's node.
type natsWire struct {
	nc   *nats.Conn
	out  string
	in   chan *nats.Msg
	once sync.Once
	done chan struct{}
}

func (w *natsWire) Read(ctx context.Context) (websocket.MessageType, []byte, error) {
	select {
	case <-ctx.Done():
		return 0, nil, ctx.Err()
	case <-w.done:
		return 0, nil, errors.New("visio: session closed")
	case m := <-w.in:
		if c := m.Header.Get("Close-Code"); c != "" {
			w.once.Do(func() { close(w.done) })
			// As the browser's socket ended: a close frame with its code, or a broken
			// connection (closeStalled), so that serve tells leaving from a drop.
			code, _ := strconv.Atoi(c)
			return 0, nil, fmt.Errorf("visio: session closed by the web replica: %w", websocket.CloseError{Code: websocket.StatusCode(code), Reason: m.Header.Get("Close-Reason")})
		}
		return websocket.MessageText, m.Data, nil
	}
}

func (w *natsWire) Write(ctx context.Context, _ websocket.MessageType, p []byte) error {
	select {
	case <-w.done:
		return errors.New("visio: session closed")
	default:
	}
	return w.nc.Publish(w.out, p)
}

func (w *natsWire) Close(code websocket.StatusCode, reason string) error {
	w.once.Do(func() {
		close(w.done)
		msg := nats.NewMsg(w.out)
		msg.Header.Set("Close-Code", strconv.Itoa(int(code)))
		msg.Header.Set("Close-Reason", reason)
		w.nc.PublishMsg(msg)
	})
	return nil
}

func (w *natsWire) CloseNow() error { return w.Close(websocket.StatusGoingAway, "") }

// lost ends the session without a word: the web replica is gone.
func (w *natsWire) lost() { w.once.Do(func() { close(w.done) }) }

// relayTo serves a participant whose meeting is on node, another process: the WebSocket
// stays here, its messages go to the node and back.
// resume, if not nil, takes a dropped participant's session back there.
func (s *Service) relayTo(w http.ResponseWriter, r *http.Request, node, room string, id who, resume *resumeRequest) {
	nc := s.nodes.nc
	sidb := make([]byte, 16)
	rand.Read(sidb)
	sid := fmt.Sprintf("%x", sidb)
	out := make(chan *nats.Msg, sessionBuffer)
	sub, err := nc.ChanSubscribe(sessionOut(sid), out)
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		problem.Write(w, r, problem.New("node-unreachable", http.StatusServiceUnavailable, "Meeting unreachable", err.Error()))
		return
	}
	defer sub.Unsubscribe()
	req, _ := json.Marshal(openRequest{Session: sid, Room: room, From: s.nodes.id, Agent: id.agent, Moderator: id.moderator, Guest: id.guest, Name: id.name, Resume: resume})
	resp, err := nc.Request(openSubject(node), req, 5*time.Second)
	if err != nil {
		problem.Write(w, r, problem.New("node-unreachable", http.StatusServiceUnavailable, "Meeting unreachable",
			fmt.Sprintf("the meeting's media node %s did not answer: try again", node)))
		return
	}
	var rep openReply
	json.Unmarshal(resp.Data, &rep)
	switch rep.Error {
	case "":
	case "resume-unknown", "resume-refused", "resume-too-far":
		problem.Write(w, r, problem.New(rep.Error, http.StatusGone, "This session cannot be resumed", resumeRefusals[rep.Error]))
		return
	case "room-not-found":
		problem.Write(w, r, problem.New("room-not-found", http.StatusNotFound, "No such meeting",
			"this meeting has not started: a guest enters once an agent has opened the room"))
		return
	default:
		problem.Write(w, r, problem.New("node-unreachable", http.StatusServiceUnavailable, "Meeting unreachable", rep.Error))
		return
	}
	in := sessionIn(sid)
	closeSession := func(code websocket.StatusCode, reason string) {
		msg := nats.NewMsg(in)
		msg.Header.Set("Close-Code", strconv.Itoa(int(code)))
		msg.Header.Set("Close-Reason", reason)
		nc.PublishMsg(msg)
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		closeSession(websocket.StatusGoingAway, "upgrade failed")
		return
	}
	conn.SetReadLimit(ReadLimit)
	defer conn.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s.relayed.Inc()
	defer s.relayed.Dec()
	go func() {
		defer cancel()
		for {
			typ, b, err := conn.Read(ctx)
			if err != nil {
				// The meeting's node tells leaving (a close frame) from a connection that
				// broke, which the participant may resume (resume.go).
				code := websocket.CloseStatus(err)
				if code == -1 {
					code = closeStalled
				}
				closeSession(code, "the participant's connection ended")
				return
			}
			if typ != websocket.MessageText {
				closeSession(websocket.StatusGoingAway, "a binary message")
				conn.Close(websocket.StatusUnsupportedData, "messages are JSON text")
				return
			}
			if err := nc.Publish(in, b); err != nil {
				closeSession(websocket.StatusGoingAway, "relay failed")
				return
			}
		}
	}()
	lost := make(chan struct{})
	go s.watch(ctx, node, func() { close(lost) })
	for {
		select {
		case <-ctx.Done():
			return
		case <-lost:
			s.log.Warn("meeting's node lost: participant sent to reconnect", "room", room, "node", node)
			conn.Close(closeNodeLost, closeNodeLostReason)
			return
		case m := <-out:
			if c := m.Header.Get("Close-Code"); c != "" {
				code, _ := strconv.Atoi(c)
				conn.Close(websocket.StatusCode(code), m.Header.Get("Close-Reason"))
				return
			}
			wctx, c := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, m.Data)
			c()
			if err != nil {
				closeSession(websocket.StatusGoingAway, "the participant's socket failed")
				return
			}
		}
	}
}
