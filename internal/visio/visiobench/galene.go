package visiobench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// Galène (https://galene.org, github.com/jech/galene) as the peer the SFU is compared with.
// The bench starts the binary it is given on 127.0.0.1 with one open group, and the same
// synthetic participants join it through its own signalling, described in its source's
// galene-protocol.md: a WebSocket of JSON messages, where every stream is a peer connection
// of its own, offered by its sender. A participant therefore has one connection publishing
// its camera and microphone, and one per other participant, which Galène offers it.

// galeneGroup is the group the participants join; anyone may, with any password, and present.
const (
	galeneGroup       = "bench"
	galeneGroupConfig = `{"wildcard-user": {"password": {"type": "wildcard"}, "permissions": "present"}}`
)

// galeneMessage is a message of Galène's protocol, version 2: the fields the bench sends or
// reads. Others (status, data, rtcConfiguration...) are ignored.
type galeneMessage struct {
	Type      string                   `json:"type"`
	Kind      string                   `json:"kind,omitempty"`
	ID        string                   `json:"id,omitempty"`
	Source    string                   `json:"source,omitempty"`
	Username  string                   `json:"username,omitempty"`
	Password  string                   `json:"password,omitempty"`
	Group     string                   `json:"group,omitempty"`
	Version   []string                 `json:"version,omitempty"`
	Label     string                   `json:"label,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
	Request   map[string][]string      `json:"request,omitempty"`
	Error     string                   `json:"error,omitempty"`
	Value     json.RawMessage          `json:"value,omitempty"`
}

// parseGalene reads a message from Galène and checks what the bench relies on: a type, and
// for a stream's messages its id and, with an offer or an answer, an SDP.
func parseGalene(b []byte) (galeneMessage, error) {
	var m galeneMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("galene: message: %w", err)
	}
	switch m.Type {
	case "":
		return m, errors.New("galene: message without a type")
	case "offer", "answer":
		if m.ID == "" || m.SDP == "" {
			return m, fmt.Errorf("galene: %s without a stream id or an sdp", m.Type)
		}
	case "ice", "close", "abort", "renegotiate":
		if m.ID == "" {
			return m, fmt.Errorf("galene: %s without a stream id", m.Type)
		}
	}
	return m, nil
}

// galeneText is a message's value as text, for an error: Galène's errors carry a
// human-readable string there.
func (m galeneMessage) galeneText() string {
	var s string
	if json.Unmarshal(m.Value, &s) == nil && s != "" {
		return s
	}
	return m.Error
}

// startGalene runs Galène from path on 127.0.0.1 in a fresh directory holding the group,
// without its TURN server, over plain HTTP, and waits for the group to be served.
func startGalene(ctx context.Context, path, profile string) (*child, string, func(), error) {
	dir, err := os.MkdirTemp("", "visiobench-galene-")
	if err != nil {
		return nil, "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	for _, d := range []string{"groups", "data", "static", "recordings"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			cleanup()
			return nil, "", nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "groups", galeneGroup+".json"), []byte(galeneGroupConfig), 0o600); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	argv := []string{path, "-insecure", "-http", addr, "-turn", "",
		"-data", "data", "-groups", "groups", "-static", "static", "-recordings", "recordings"}
	if profile != "" {
		argv = append(argv, "-cpuprofile", profile)
	}
	c, err := startChild("galene", argv, dir, nil)
	if err != nil {
		cleanup()
		return nil, "", nil, err
	}
	status := "http://" + addr + "/group/" + galeneGroup + "/.status"
	for {
		if err := c.exited(); err != nil {
			cleanup()
			return nil, "", nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, status, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, addr, cleanup, nil
			}
		}
		select {
		case <-ctx.Done():
			c.stop()
			cleanup()
			return nil, "", nil, fmt.Errorf("galene serving %s: %w", status, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort is a TCP port free on 127.0.0.1 a moment ago; in the bench's own network
// namespace nothing else takes it meanwhile.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// galeneRoom connects every participant to Galène's group, one after the other, each
// publishing as it joins, as sfuRoom does with socle's SFU.
type galeneRoom struct {
	path    string
	profile string // where Galène writes a CPU profile, if anywhere
	proc    *child
	cleanup func()
	clients []*galeneClient
	stop    chan struct{} // ends nudge
	nudged  chan struct{} // nudge returned

	mu  sync.Mutex
	err error
}

func (r *galeneRoom) connect(ctx context.Context, ph *phase) error {
	var addr string
	var err error
	if r.proc, addr, r.cleanup, err = startGalene(ctx, r.path, r.profile); err != nil {
		return fmt.Errorf("%w: %w", errSetup, err)
	}
	// Galène's candidates are on the bench's bridge (see BenchAddress).
	api := newClientAPI(BenchAddress)
	for _, p := range ph.parts {
		c, err := r.join(ctx, api, addr, p)
		if err != nil {
			return fmt.Errorf("%w: %s joins galene: %w", errSetup, p.id, err)
		}
		if err := c.run(ctx, c.publish); err != nil {
			return fmt.Errorf("%w: %s publishes on galene: %w", errSetup, p.id, err)
		}
		ph.start(p)
	}
	r.stop = make(chan struct{})
	r.nudged = make(chan struct{})
	go r.nudge(len(ph.parts))
	return nil
}

// nudge asks Galène again, every second, for the streams a participant lacks. Galène
// offers a stream to the group's clients 200 ms after it starts or gains a track, to those
// in the group when it started (rtpconn's pushConn): one who joined in between misses it
// until it sends a new request, which is harmless for what it has (an unchanged stream is
// not renegotiated). The synthetic participants join faster than people do.
func (r *galeneRoom) nudge(n int) {
	defer close(r.nudged)
	want := 2 * (n - 1)
	for {
		select {
		case <-r.stop:
			return
		case <-time.After(time.Second):
		}
		lacking := 0
		for _, c := range r.clients {
			c.p.mu.Lock()
			got := len(c.p.in)
			c.p.mu.Unlock()
			if got < want {
				lacking++
				if err := c.send(galeneMessage{Type: "request", Request: galeneRequest}); err != nil {
					r.fail(fmt.Errorf("%s: request: %w", c.p.id, err))
					return
				}
			}
		}
		if lacking == 0 {
			return
		}
	}
}

// galeneRequest asks for everyone's camera and microphone, as socle's SFU sends them.
var galeneRequest = map[string][]string{"": {"audio", "video"}}

func (r *galeneRoom) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

func (r *galeneRoom) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	if r.proc != nil {
		return r.proc.exited()
	}
	return nil
}

func (r *galeneRoom) cpu() (time.Duration, bool) {
	if r.proc == nil {
		return 0, false
	}
	return r.proc.cpu()
}

func (r *galeneRoom) close() {
	if r.stop != nil {
		close(r.stop)
		<-r.nudged
	}
	var pcs []*webrtc.PeerConnection
	for _, c := range r.clients {
		close(c.done)
		c.conn.Close(websocket.StatusNormalClosure, "")
		<-c.stopped
		for _, s := range c.streams {
			pcs = append(pcs, s.pc)
		}
	}
	closeAll(pcs)
	if r.proc != nil {
		r.proc.stop()
	}
	if r.cleanup != nil {
		r.cleanup()
	}
}

// galeneClient is a participant's session with Galène: one goroutine handles its messages
// and owns its streams.
type galeneClient struct {
	room    *galeneRoom
	p       *participant
	api     *webrtc.API
	id      string
	conn    *websocket.Conn
	wmu     sync.Mutex
	in      chan galeneMessage
	do      chan func()
	done    chan struct{}
	stopped chan struct{} // the loop returned
	joined  chan error
	streams map[string]*galeneStream // by stream id, the loop's
}

// galeneInbox is how many of Galène's messages wait for a client's loop. Galène closes a
// connection it cannot write to for 500 ms (rtpconn's clientWriter): on a loaded machine,
// a loop busy with descriptions must not stop the reading, so the queue holds all that a
// large room's setup sends (an offer and a few candidates per stream).
const galeneInbox = 1 << 14

// galeneStream is one of a client's peer connections: its published stream, or one it
// receives. Candidates wait for the remote description.
type galeneStream struct {
	pc      *webrtc.PeerConnection
	pending []webrtc.ICECandidateInit
}

func (r *galeneRoom) join(ctx context.Context, api *webrtc.API, addr string, p *participant) (*galeneClient, error) {
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	c := &galeneClient{room: r, p: p, api: api, id: "bench-" + p.id, conn: conn,
		in: make(chan galeneMessage, galeneInbox), do: make(chan func()), done: make(chan struct{}),
		stopped: make(chan struct{}), joined: make(chan error, 1), streams: make(map[string]*galeneStream)}
	r.clients = append(r.clients, c)
	go c.read()
	go c.loop()
	for _, m := range []galeneMessage{
		{Type: "handshake", Version: []string{"2"}, ID: c.id},
		{Type: "join", Kind: "join", Group: galeneGroup, Username: p.id, Password: "bench"},
	} {
		if err := c.send(m); err != nil {
			return nil, err
		}
	}
	select {
	case err := <-c.joined:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c, c.send(galeneMessage{Type: "request", Request: galeneRequest})
}

func (c *galeneClient) send(m galeneMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// read passes Galène's messages to the loop.
func (c *galeneClient) read() {
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		m, err := parseGalene(b)
		if err != nil {
			c.room.fail(fmt.Errorf("%s: %w", c.p.id, err))
			return
		}
		select {
		case c.in <- m:
		case <-c.done:
			return
		}
	}
}

func (c *galeneClient) loop() {
	defer close(c.stopped)
	for {
		select {
		case <-c.done:
			return
		case f := <-c.do:
			f()
		case m := <-c.in:
			if err := c.handle(m); err != nil {
				c.room.fail(fmt.Errorf("%s: galene's %s: %w", c.p.id, m.Type, err))
			}
		}
	}
}

// run does f on the loop's goroutine.
func (c *galeneClient) run(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	select {
	case c.do <- func() { errc <- f() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-errc
}

func (c *galeneClient) handle(m galeneMessage) error {
	switch m.Type {
	case "ping":
		return c.send(galeneMessage{Type: "pong"})
	case "joined":
		var err error
		switch m.Kind {
		case "join":
		case "fail":
			err = fmt.Errorf("galene refused the join: %s", m.galeneText())
		default:
			return nil
		}
		select {
		case c.joined <- err:
		default: // only the first counts
		}
	case "usermessage":
		if m.Kind == "error" {
			return fmt.Errorf("error: %s", m.galeneText())
		}
	case "offer":
		return c.answer(m)
	case "answer":
		s := c.streams[m.ID]
		if s == nil {
			return fmt.Errorf("answer for stream %q, never offered", m.ID)
		}
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return err
		}
		return s.flush()
	case "ice":
		s := c.streams[m.ID]
		if s == nil || m.Candidate == nil {
			return nil // a stream already closed, or the end of its candidates
		}
		if s.pc.RemoteDescription() == nil {
			s.pending = append(s.pending, *m.Candidate)
			return nil
		}
		return s.pc.AddICECandidate(*m.Candidate)
	case "close":
		if s := c.streams[m.ID]; s != nil {
			delete(c.streams, m.ID)
			go s.pc.Close()
		}
	case "abort":
		return fmt.Errorf("galene aborted stream %q", m.ID)
	}
	return nil
}

func (s *galeneStream) flush() error {
	for _, cand := range s.pending {
		if err := s.pc.AddICECandidate(cand); err != nil {
			return err
		}
	}
	s.pending = nil
	return nil
}

// newStream is a peer connection trickling its candidates to Galène under the stream's id.
func (c *galeneClient) newStream(id string) (*galeneStream, error) {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			init := cand.ToJSON()
			_ = c.send(galeneMessage{Type: "ice", ID: id, Candidate: &init})
		}
	})
	s := &galeneStream{pc: pc}
	c.streams[id] = s
	return s, nil
}

// publish offers the participant's camera and microphone as one stream, send-only: in
// Galène's protocol the offerer of a stream is its sender.
func (c *galeneClient) publish() error {
	id := "up-" + c.p.id
	s, err := c.newStream(id)
	if err != nil {
		return err
	}
	for _, tr := range []webrtc.TrackLocal{c.p.video, c.p.audio} {
		t, err := s.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		go c.p.readRTCP(t.Sender())
	}
	offer, err := s.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := s.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	return c.send(galeneMessage{Type: "offer", ID: id, Label: "camera", Source: c.id, Username: c.p.id, SDP: offer.SDP})
}

// answer takes a stream Galène offers: another participant's, or a renegotiation of one.
func (c *galeneClient) answer(m galeneMessage) error {
	s := c.streams[m.ID]
	if s == nil {
		var err error
		if s, err = c.newStream(m.ID); err != nil {
			return err
		}
		s.pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) { go c.p.receive(tr, rcv) })
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
		return err
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := s.pc.SetLocalDescription(answer); err != nil {
		return err
	}
	if err := c.send(galeneMessage{Type: "answer", ID: m.ID, SDP: answer.SDP}); err != nil {
		return err
	}
	return s.flush()
}
