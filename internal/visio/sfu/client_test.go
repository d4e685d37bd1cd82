package sfu

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// The test clients are Pion peers on loopback, as the SFU's own connections are; this file
// is the plumbing, sfu_test.go the specification.

const testTimeout = 15 * time.Second

type rtpPacket = rtp.Packet

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestSFU returns an SFU restricted to loopback, closed at the end of the test.
func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	// Test clients that only receive never offer: the SFU offers them others' tracks soon.
	s, err := New(Config{LoopbackOnly: true, FirstOfferWait: 200 * time.Millisecond}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client is a participant: a Pion peer connection signalling with the SFU in process, the
// impolite side of the negotiation. One goroutine does all its signalling.
type client struct {
	t     *testing.T
	id    string
	pc    *webrtc.PeerConnection
	peer  *Peer
	inbox chan Signal
	held  chan struct{} // closed when the inbox is handled
	do    chan func()
	track chan *webrtc.TrackRemote
	done  chan struct{}
}

func join(t *testing.T, room *Room, id string) *client {
	t.Helper()
	c := joinHeld(t, room, id)
	c.release()
	return c
}

// joinHeld joins without handling the SFU's signals until release: they wait in the inbox,
// as if on the wire, so that an offer of the client's can cross one of the SFU's.
func joinHeld(t *testing.T, room *Room, id string) *client {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetInterfaceFilter(isLoopbackInterface)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, id: id, pc: pc, inbox: make(chan Signal, 256), do: make(chan func()),
		track: make(chan *webrtc.TrackRemote, 16), done: make(chan struct{}), held: make(chan struct{})}
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		go func() { // the SFU's sender reports, which Pion's receiver reports then refer to
			buf := make([]byte, 1500)
			for {
				if _, _, err := r.Read(buf); err != nil {
					return
				}
			}
		}()
		c.track <- tr
	})
	var ready sync.WaitGroup
	ready.Add(1)
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		ready.Wait()
		if cand != nil {
			init := cand.ToJSON()
			_ = c.peer.HandleSignal(Signal{Type: SignalCandidate, Candidate: &init})
		}
	})
	c.peer, err = room.Join(id, func(s Signal) {
		select {
		case c.inbox <- s:
		case <-c.done:
		}
	})
	ready.Done()
	if err != nil {
		t.Fatal(err)
	}
	go c.loop()
	t.Cleanup(c.leave)
	return c
}

// leave hangs up, as a participant closing the tab: its side first, then the SFU's.
func (c *client) leave() {
	select {
	case <-c.done:
		return
	default:
	}
	close(c.done)
	_ = c.pc.Close()
	c.peer.Close()
}

func (c *client) release() { close(c.held) }

func (c *client) loop() {
	var inbox chan Signal // nil while held
	for {
		select {
		case <-c.done:
			return
		case <-c.held:
			inbox, c.held = c.inbox, nil
		case f := <-c.do:
			f()
		case s := <-inbox:
			if err := c.handle(s); err != nil {
				select {
				case <-c.done: // hanging up, the test may be over
				default:
					c.t.Errorf("%s: %s: %v", c.id, s.Type, err)
				}
			}
		}
	}
}

func (c *client) handle(s Signal) error {
	switch s.Type {
	case SignalOffer:
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			return err
		}
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.pc.SetLocalDescription(answer); err != nil {
			return err
		}
		return c.peer.HandleSignal(Signal{Type: SignalAnswer, SDP: answer.SDP})
	case SignalAnswer:
		return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
	case SignalCandidate:
		return c.pc.AddICECandidate(*s.Candidate)
	}
	return errors.New("unknown signal")
}

// run does f on the signalling goroutine.
func (c *client) run(f func() error) {
	c.t.Helper()
	errc := make(chan error, 1)
	c.do <- func() { errc <- f() }
	if err := <-errc; err != nil {
		c.t.Fatalf("%s: %v", c.id, err)
	}
}

// offer sends the SFU an offer describing what the client now publishes. The offer is set
// locally only once the SFU has taken it: Pion cannot roll an offer back, so when it crosses
// one of the SFU's (ErrGlare) the client answers the SFU's first and offers again.
func (c *client) offer() {
	c.t.Helper()
	for {
		eventually(c.t, c.id+"'s previous negotiation is over", func() bool {
			stable := make(chan bool)
			c.do <- func() { stable <- c.pc.SignalingState() == webrtc.SignalingStateStable }
			return <-stable
		})
		var crossed bool
		c.run(func() error {
			offer, err := c.tryOffer()
			if errors.Is(err, ErrGlare) {
				crossed = true
				return nil
			}
			if err != nil {
				return err
			}
			return c.pc.SetLocalDescription(offer)
		})
		if !crossed {
			return
		}
		time.Sleep(20 * time.Millisecond) // the SFU's offer is on its way
	}
}

// tryOffer creates an offer and sends it, without setting it locally.
func (c *client) tryOffer() (webrtc.SessionDescription, error) {
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return offer, err
	}
	return offer, c.peer.HandleSignal(Signal{Type: SignalOffer, SDP: offer.SDP})
}

// nextTrack waits for the next track the SFU forwards to the client.
func (c *client) nextTrack() *webrtc.TrackRemote {
	c.t.Helper()
	select {
	case tr := <-c.track:
		return tr
	case <-time.After(testTimeout):
		c.t.Fatalf("%s: no track received", c.id)
		return nil
	}
}

// source is something a client publishes: it sends a packet every 20 ms, on each of its
// simulcast layers, with the rid (or the kind) as payload after the VP8 descriptor, and a
// keyframe first and whenever asked by a PLI.
type source struct {
	c      *client
	rids   []string
	tracks []*webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	video  bool
	stop   chan struct{}

	// Simulcast packets carry the mid and their rid, which is how the SFU tells them apart.
	mid            string
	midExt, ridExt uint8

	plis atomic.Int64 // keyframe requests received

	mu  sync.Mutex
	key map[string]bool
}

// publishVP8 adds a VP8 track, simulcast if rids are given, and negotiates it.
func (c *client) publishVP8(trackID string, rids ...string) *source {
	c.t.Helper()
	s := &source{c: c, rids: rids, video: true, stop: make(chan struct{}), key: map[string]bool{}}
	if len(rids) == 0 {
		s.rids = []string{""}
	}
	for _, rid := range s.rids {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, trackID, c.id, opts...)
		if err != nil {
			c.t.Fatal(err)
		}
		s.tracks = append(s.tracks, tr)
		s.key[rid] = true
	}
	s.start()
	return s
}

// publishOpus adds an audio track and negotiates it.
func (c *client) publishOpus(trackID string) *source {
	c.t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, trackID, c.id)
	if err != nil {
		c.t.Fatal(err)
	}
	s := &source{c: c, rids: []string{""}, tracks: []*webrtc.TrackLocalStaticRTP{tr}, stop: make(chan struct{}), key: map[string]bool{}}
	s.start()
	return s
}

func (s *source) start() {
	c := s.c
	c.run(func() error {
		var err error
		if s.sender, err = c.pc.AddTrack(s.tracks[0]); err != nil {
			return err
		}
		for _, tr := range s.tracks[1:] {
			if err := s.sender.AddEncoding(tr); err != nil {
				return err
			}
		}
		return nil
	})
	for _, rid := range s.rids {
		go s.readRTCP(rid)
	}
	c.offer()
	c.run(func() error {
		for _, tr := range c.pc.GetTransceivers() {
			if tr.Sender() == s.sender {
				s.mid = tr.Mid()
			}
		}
		for _, ext := range s.sender.GetParameters().HeaderExtensions {
			switch ext.URI {
			case sdp.SDESMidURI:
				s.midExt = uint8(ext.ID)
			case sdp.SDESRTPStreamIDURI:
				s.ridExt = uint8(ext.ID)
			}
		}
		return nil
	})
	go s.send()
	c.t.Cleanup(func() { s.halt() })
}

func (s *source) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
}

func (s *source) readRTCP(rid string) {
	for {
		var pkts []rtcp.Packet
		var err error
		if rid == "" {
			pkts, _, err = s.sender.ReadRTCP()
		} else {
			pkts, _, err = s.sender.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.PictureLossIndication); ok {
				s.plis.Add(1)
				s.mu.Lock()
				s.key[rid] = true
				s.mu.Unlock()
			}
		}
	}
}

func (s *source) send() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	var seq uint16
	var ts uint32
	var pic int
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		seq++
		ts += 960
		pic = (pic + 1) & 0x7fff
		for i, rid := range s.rids {
			payload := []byte("audio")
			if s.video {
				s.mu.Lock()
				key := s.key[rid]
				s.key[rid] = false
				s.mu.Unlock()
				payload = vp8Payload((pic+i*1000)&0x7fff, key, "layer="+rid) // layers number pictures apart
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, SequenceNumber: seq + uint16(i)*10000,
				Timestamp: ts + uint32(i)*1000000}, Payload: payload}
			if rid != "" {
				_ = pkt.Header.SetExtension(s.midExt, []byte(s.mid))
				_ = pkt.Header.SetExtension(s.ridExt, []byte(rid))
			}
			if err := s.tracks[i].WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}
}

// vp8Payload is a one-packet VP8 frame: descriptor with a 15-bit picture id, then a payload
// header whose first bit says keyframe or not, then text the tests look for.
func vp8Payload(pic int, key bool, text string) []byte {
	header := byte(0x01) // P: interframe
	if key {
		header = 0x00
	}
	return append([]byte{0x90, 0x80, 0x80 | byte(pic>>8), byte(pic), header}, text...)
}

// text is what vp8Payload put after the headers, or an audio payload as is.
func text(payload []byte) string {
	if i := bytes.Index(payload, []byte("layer=")); i >= 0 {
		return string(payload[i:])
	}
	return string(payload)
}

// reader collects what a client receives on a track.
type reader struct {
	mu      sync.Mutex
	packets []*rtp.Packet
	ended   chan struct{}
}

func read(tr *webrtc.TrackRemote) *reader {
	r := &reader{ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.packets = append(r.packets, pkt)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *reader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.packets)
}

func (r *reader) all() []*rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*rtp.Packet(nil), r.packets...)
}

// eventually waits for cond, failing the test after testTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receives waits until the reader has n more packets than it had.
func (r *reader) receives(t *testing.T, what string, n int) {
	t.Helper()
	from := r.count()
	eventually(t, what, func() bool { return r.count() >= from+n })
}
