package visio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"socle/internal/platform/problem"
	"socle/internal/visio/sfu"
)

// A participant's signalling outlives its WebSocket: when the connection drops without the
// participant closing it (a network cut, a laptop's Wi-Fi changing), the participant stays
// in the room, marked reconnecting, for ResumeGrace, with its SFU peer; a new WebSocket
// with ?resume=<token>&last=<seq> takes the session over (docs/visio-signalling.md,
// "Reconnecting").
//
// Nothing is lost on the way: every message the server sends carries a sequence number
// ("seq") and the last resumeWindow of them are kept, so that the new connection gets
// again those the page did not receive; the server counts the messages it read, and tells
// the page ("resumed": received) from which of its own it must send again. A resume the
// window no longer covers is refused, and the page joins afresh.

const (
	// DefaultResumeGrace is how long a participant whose connection dropped stays in the
	// room, waiting for it to come back.
	DefaultResumeGrace = 30 * time.Second
	// resumeWindow is how many of the last messages sent a resume can get again.
	resumeWindow = 512
	// closeStalled is the close code of a page that closes a connection which stalled, to
	// resume on another: its close frame may come late, and is not the participant leaving
	// (RFC 6455 §7.4.2: 4000-4999 are the application's).
	closeStalled websocket.StatusCode = 4000
)

// frame is one message as sent: its type, for the writer, and its JSON with its seq.
type frame struct {
	typ string
	b   []byte
}

// link is one WebSocket's outbound side: a queue its writer drains; a participant too slow
// to read is disconnected (and may resume) rather than allowed to hold the room back.
type link struct {
	out    chan frame
	cancel context.CancelFunc
}

// session is a participant's signalling across connections.
type session struct {
	token string
	svc   *Service
	who   who // the credentials it came with

	mu       sync.Mutex
	room     *Room
	pid      string
	media    *sfu.Peer
	seq      uint64  // messages sent so far: the last one's seq
	sent     []frame // the last resumeWindow of them, seq-len(sent)+1 to seq
	received uint64  // messages read from the participant
	link     *link   // the connection attached; nil while reconnecting
	timer    *time.Timer
	over     bool
	final    bool // removed or the meeting ended: nothing to resume
}

func newSession(svc *Service) *session {
	b := make([]byte, 16) // 128 bits
	rand.Read(b)
	return &session{svc: svc, token: base64.RawURLEncoding.EncodeToString(b)}
}

// send numbers m, keeps it for a resume, and queues it on the connection, if any. It never
// blocks: the room calls it under its lock.
func (ss *session) send(m Message) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.over {
		return
	}
	ss.seq++
	b, err := json.Marshal(m)
	if err != nil || len(b) < 2 {
		return
	}
	// {"seq":n, then the message's own fields: m is shared by every recipient of a
	// broadcast, so the number is spliced into the bytes, not the map.
	head := `{"seq":` + strconv.FormatUint(ss.seq, 10)
	withSeq := []byte(head + "}")
	if len(b) > 2 {
		withSeq = append([]byte(head+","), b[1:]...)
	}
	typ, _ := m["type"].(string)
	f := frame{typ: typ, b: withSeq}
	if typ == "kicked" || typ == "ended" {
		ss.final = true
	}
	ss.sent = append(ss.sent, f)
	if len(ss.sent) > resumeWindow {
		ss.sent = ss.sent[len(ss.sent)-resumeWindow:]
	}
	if ss.link != nil {
		ss.link.push(f)
	}
}

func (l *link) push(f frame) {
	select {
	case l.out <- f:
	default:
		l.cancel()
	}
}

// attach makes l the session's connection; the one it had, if any (a half-open connection
// the participant gave up on), is closed. It replays the messages after last.
func (ss *session) attach(l *link, last uint64) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	first := ss.seq - uint64(len(ss.sent)) // seq of the message before the oldest kept
	if ss.over || last > ss.seq || last < first {
		return false
	}
	if ss.timer != nil {
		ss.timer.Stop()
		ss.timer = nil
	}
	if ss.link != nil {
		ss.link.cancel()
	}
	ss.link = l
	for _, f := range ss.sent[last-first:] {
		l.push(f)
	}
	return true
}

// read counts a message read from the participant.
func (ss *session) read() {
	ss.mu.Lock()
	ss.received++
	ss.mu.Unlock()
}

// detach notes that l's connection dropped: unless another took over, the participant is
// marked reconnecting and leaves when grace is over without a resume.
func (ss *session) detach(l *link, grace time.Duration) {
	ss.mu.Lock()
	if ss.over || ss.link != l {
		ss.mu.Unlock()
		return
	}
	if ss.final {
		ss.mu.Unlock()
		ss.end()
		return
	}
	ss.link = nil
	ss.timer = time.AfterFunc(grace, func() {
		ss.mu.Lock()
		expired := ss.link == nil && !ss.over
		ss.mu.Unlock()
		if expired {
			ss.svc.log.Info("visio: a participant did not come back", "room", ss.room.Name, "after", grace)
			ss.end()
		}
	})
	ss.mu.Unlock()
	ss.room.SetReconnecting(ss.pid, true)
}

// end is the participant leaving for good: the room, the media, the resume token.
func (ss *session) end() {
	ss.mu.Lock()
	if ss.over {
		ss.mu.Unlock()
		return
	}
	ss.over = true
	if ss.timer != nil {
		ss.timer.Stop()
	}
	ss.mu.Unlock()
	ss.svc.sessions.Delete(ss.token)
	// The media first: once the others hear that the participant left, nothing of it is
	// left behind.
	if ss.media != nil {
		ss.svc.peers.Delete(ss.room.media + "\x00" + ss.pid)
		ss.media.Close()
		ss.svc.participants.Dec()
	}
	ss.room.Leave(ss.pid)
}

// grace is how long a dropped participant is waited for.
func (s *Service) grace() time.Duration {
	if s.cfg.ResumeGrace > 0 {
		return s.cfg.ResumeGrace
	}
	return DefaultResumeGrace
}

// resumeAt serves GET /visio/ws/{room}?resume=<token>&last=<seq>: the participant whose
// connection dropped takes its session back, with the credentials it came with, on the node
// that holds the meeting (through the relay when it is another: remote.go). A token unknown
// there, expired or for another room, or a last the server can no longer replay from, is
// refused before the upgrade (410): the page joins afresh, or offers to.
func (s *Service) resumeAt(w http.ResponseWriter, r *http.Request, name, tok string, id who) {
	last, err := strconv.ParseUint(r.URL.Query().Get("last"), 10, 64)
	if err != nil {
		problem.Write(w, r, problem.New("invalid-resume", http.StatusBadRequest, "Invalid resume", "").
			With(problem.FieldError{Field: "last", Reason: "the seq of the last message received, a number"}))
		return
	}
	node, err := s.nodes.place(r.Context(), name, false)
	if err != nil {
		problem.Write(w, r, problem.New("placement-failed", http.StatusServiceUnavailable, "Meeting not placed", "try again in a moment"))
		return
	}
	if node != s.nodes.id {
		s.relayTo(w, r, node, name, id, &resumeRequest{Token: tok, Last: last})
		return
	}
	ss, why := s.resumable(name, tok, last)
	if ss == nil {
		problem.Write(w, r, problem.New(why, http.StatusGone, "This session cannot be resumed", resumeRefusals[why]))
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(ReadLimit)
	s.resumeOn(r.Context(), conn, ss, last)
}

// resumeRequest is a resume asked through the relay.
type resumeRequest struct {
	Token string `json:"token"`
	Last  uint64 `json:"last"`
}

// Why a resume is refused: a session this node does not know (its node died, or it was
// over long ago: the page joins afresh by itself), or one that is over (left, removed, not
// back in time, too much missed: the page offers to rejoin).
var resumeRefusals = map[string]string{
	"resume-unknown": "no such session here (its media node may have stopped): join again",
	"resume-refused": "the session is over (left, removed, or not back within the grace period): join again",
	"resume-too-far": "too many messages were missed: join again",
}

// resumable is the session tok names in room, if the page's last message can be replayed
// from; otherwise nil and why not (a key of resumeRefusals).
func (s *Service) resumable(name, tok string, last uint64) (*session, string) {
	v, ok := s.sessions.Load(tok)
	if !ok {
		return nil, "resume-unknown"
	}
	ss := v.(*session)
	ss.mu.Lock()
	room, over, seq, kept := ss.room, ss.over || ss.final, ss.seq, uint64(len(ss.sent))
	ss.mu.Unlock()
	switch {
	case over || room.Name != name || room.Ended() || !room.Has(ss.pid):
		return nil, "resume-refused"
	case last > seq || last < seq-kept:
		// The messages in between are no longer kept: the page's state cannot be made
		// whole again. The participant leaves now rather than at the end of the grace.
		ss.end()
		return nil, "resume-too-far"
	}
	return ss, ""
}

// resumeOn attaches conn to ss, replays what the page missed after last, and goes on with
// the participant's requests.
func (s *Service) resumeOn(ctx context.Context, conn wire, ss *session, last uint64) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer conn.CloseNow()
	// Room for the messages replayed, which attach queues at once, and the usual queue.
	l := &link{out: make(chan frame, outQueue+resumeWindow), cancel: cancel}
	go l.write(ctx, conn)
	if !ss.attach(l, last) {
		conn.Close(websocket.StatusPolicyViolation, "session over")
		return
	}
	ss.mu.Lock()
	received, room := ss.received, ss.room
	ss.mu.Unlock()
	room.SetReconnecting(ss.pid, false)
	ss.send(Message{"type": "resumed", "received": received, "participants": room.Participants()})
	s.converse(ctx, conn, ss, l)
}

// write sends l's frames until ctx ends; after a kick, the end of the meeting or a refusal,
// it closes the connection.
func (l *link) write(ctx context.Context, conn wire) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-l.out:
			wctx, c := context.WithTimeout(ctx, 10*time.Second)
			err := conn.Write(wctx, websocket.MessageText, f.b)
			c()
			if err != nil {
				l.cancel()
				return
			}
			if f.typ == "kicked" || f.typ == "ended" || f.typ == "refused" {
				conn.Close(websocket.StatusNormalClosure, f.typ)
				l.cancel()
				return
			}
		}
	}
}
