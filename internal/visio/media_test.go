package visio_test

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"socle/internal/visio/client"
	"socle/internal/visio/sfu"
)

// pionPeer is a participant's media side in Go: a Pion PeerConnection on loopback, negotiated
// through the signalling client as a browser page does (the polite side).
type pionPeer struct {
	t      *testing.T
	c      *client.Client
	pc     *webrtc.PeerConnection
	mu     sync.Mutex
	tracks chan *webrtc.TrackRemote
	others chan client.Message // what is not media signalling
}

func loopbackAPI(t *testing.T) *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	var me webrtc.MediaEngine
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&me))
}

func newPionPeer(t *testing.T, c *client.Client) *pionPeer {
	pc, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	p := &pionPeer{t: t, c: c, pc: pc, tracks: make(chan *webrtc.TrackRemote, 8), others: make(chan client.Message, 64)}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { p.tracks <- tr })
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		sig := sfu.Signal{Type: sfu.SignalCandidate}
		if cand != nil {
			init := cand.ToJSON()
			sig.Candidate = &init
		}
		c.Send(context.Background(), client.Message{"type": "signal", "signal": sig})
	})
	go p.loop()
	return p
}

// loop applies the SFU's signals until the connection ends.
func (p *pionPeer) loop() {
	for {
		m, err := p.c.Next(context.Background())
		if err != nil {
			return
		}
		if m.Type() != "signal" {
			select {
			case p.others <- m:
			default:
			}
			continue
		}
		b, _ := json.Marshal(m["signal"])
		var sig sfu.Signal
		json.Unmarshal(b, &sig)
		p.mu.Lock()
		switch sig.Type {
		case sfu.SignalOffer:
			if p.pc.SignalingState() != webrtc.SignalingStateStable {
				p.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
			}
			p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sig.SDP})
			answer, err := p.pc.CreateAnswer(nil)
			if err == nil && p.pc.SetLocalDescription(answer) == nil {
				p.c.Send(context.Background(), client.Message{"type": "signal", "signal": sfu.Signal{Type: sfu.SignalAnswer, SDP: answer.SDP}})
			}
		case sfu.SignalAnswer:
			p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sig.SDP})
		case sfu.SignalCandidate:
			if sig.Candidate != nil {
				p.pc.AddICECandidate(*sig.Candidate)
			}
		}
		p.mu.Unlock()
	}
}

// publish sends a VP8 camera track of packets carrying their sequence number, until the test
// ends.
func (p *pionPeer) publish() {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", "camera")
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	if _, err := p.pc.AddTrack(track); err != nil {
		p.t.Fatal(err)
	}
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	p.mu.Unlock()
	if err != nil {
		p.t.Fatal(err)
	}
	p.c.Send(context.Background(), client.Message{"type": "signal", "signal": sfu.Signal{Type: sfu.SignalOffer, SDP: offer.SDP}})
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// A VP8 keyframe payload descriptor (RFC 7741 §4.2), then a marker.
			payload := []byte{0x10, 0x00, 0x9d, 0x01, 0x2a, byte(seq), byte(seq >> 8)}
			track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: payload})
		}
	}()
}

func TestTwoParticipantsExchangeMediaThroughTheSFU(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	guest, err := s.guest("salle", s.invitation(agent), "Invité", "")
	if err != nil {
		t.Fatal(err)
	}
	pa, pg := newPionPeer(t, agent), newPionPeer(t, guest)
	pa.publish()
	pg.publish()
	for name, p := range map[string]*pionPeer{"the agent": pa, "the guest": pg} {
		select {
		case tr := <-p.tracks:
			n := 0
			deadline := time.Now().Add(10 * time.Second)
			for n < 20 && time.Now().Before(deadline) {
				tr.SetReadDeadline(deadline)
				if _, _, err := tr.ReadRTP(); err != nil {
					break
				}
				n++
			}
			if n < 20 {
				t.Errorf("%s received %d packets of the other's camera", name, n)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s received no track", name)
		}
	}
	// Connection details: the SFU reports the streams it forwards; a moderator may see a
	// participant's, a guest may not see the moderator's.
	guest.Send(ctx(t), client.Message{"type": "stats", "id": agent.Welcome["you"].(map[string]any)["id"]})
	for deadline := time.After(10 * time.Second); ; {
		select {
		case m := <-pg.others:
			if m.Type() != "error" {
				continue
			}
		case <-deadline:
			t.Fatal("a guest saw the moderator's connection")
		}
		break
	}
	agent.Send(ctx(t), client.Message{"type": "stats", "id": guest.Welcome["you"].(map[string]any)["id"]})
	for deadline := time.After(10 * time.Second); ; {
		select {
		case m := <-pa.others:
			if m.Type() != "stats" {
				continue
			}
			if streams, _ := m["streams"].([]any); len(streams) == 0 {
				t.Fatalf("stats %v", m)
			}
			return
		case <-deadline:
			t.Fatal("no stats")
		}
	}
}
