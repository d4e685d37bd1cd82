package turn

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestWebRTCRelayOnly connects two Pion PeerConnections on loopback that may only use relay
// candidates, so the data channel between them can only work through this server: each
// side's relay sends to the other's, over TURN/UDP or TURN/TCP between peer and server.
func TestWebRTCRelayOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("WebRTC end-to-end test skipped in -short mode")
	}
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			s := newTestServer(t, nil)
			offerer := newRelayOnlyPeer(t, s, "alice", transport)
			answerer := newRelayOnlyPeer(t, s, "bob", transport)

			received := make(chan string, 1)
			answerer.OnDataChannel(func(dc *webrtc.DataChannel) {
				dc.OnMessage(func(msg webrtc.DataChannelMessage) {
					select {
					case received <- string(msg.Data):
					default:
					}
				})
			})
			dc, err := offerer.CreateDataChannel("chat", nil)
			if err != nil {
				t.Fatal(err)
			}
			dc.OnOpen(func() { _ = dc.SendText("hello through " + transport) })

			// Non-trickle: each side's description carries all of its candidates.
			offer := describe(t, offerer, func() (webrtc.SessionDescription, error) { return offerer.CreateOffer(nil) })
			if err := answerer.SetRemoteDescription(offer); err != nil {
				t.Fatal(err)
			}
			answer := describe(t, answerer, func() (webrtc.SessionDescription, error) { return answerer.CreateAnswer(nil) })
			if err := offerer.SetRemoteDescription(answer); err != nil {
				t.Fatal(err)
			}
			for _, d := range []webrtc.SessionDescription{offer, answer} {
				checkRelayCandidatesOnly(t, d.SDP)
			}

			select {
			case msg := <-received:
				if msg != "hello through "+transport {
					t.Fatalf("received %q", msg)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no message over the data channel (offerer ICE state %s, answerer %s)",
					offerer.ICEConnectionState(), answerer.ICEConnectionState())
			}

			for _, pc := range []*webrtc.PeerConnection{offerer, answerer} {
				pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
				if err != nil || pair == nil {
					t.Fatalf("no selected candidate pair: %v", err)
				}
				if pair.Local.Typ != webrtc.ICECandidateTypeRelay || pair.Remote.Typ != webrtc.ICECandidateTypeRelay {
					t.Fatalf("selected pair %s <-> %s, want relay on both sides", pair.Local, pair.Remote)
				}
			}
			if n := s.quota.total(); n < 2 {
				t.Errorf("allocations counted: %d, want at least 2", n)
			}
		})
	}
}

// newRelayOnlyPeer returns a PeerConnection on loopback whose only ICE server is s, reached
// over transport, with ICETransportPolicy relay.
func newRelayOnlyPeer(t *testing.T, s *Server, user, transport string) *webrtc.PeerConnection {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4})
	se.SetICETimeouts(5*time.Second, 10*time.Second, 500*time.Millisecond)
	se.SetRelayAcceptanceMinWait(100 * time.Millisecond) // Pion waits 2s for better pairs by default

	cred := s.Credentials(user, time.Now())
	var urls []string
	for _, u := range cred.URLs {
		if strings.HasSuffix(u, "?transport="+transport) {
			urls = append(urls, u)
		}
	}
	if len(urls) != 1 {
		t.Fatalf("credentials have no %s URL: %q", transport, cred.URLs)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{
		ICEServers:         []webrtc.ICEServer{{URLs: urls, Username: cred.Username, Credential: cred.Credential}},
		ICETransportPolicy: webrtc.ICETransportPolicyRelay,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// describe creates an offer or answer, sets it as pc's local description and returns it
// once ICE gathering is complete.
func describe(t *testing.T, pc *webrtc.PeerConnection,
	create func() (webrtc.SessionDescription, error)) webrtc.SessionDescription {
	t.Helper()
	sdp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sdp); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("ICE gathering did not complete")
	}
	return *pc.LocalDescription()
}

// checkRelayCandidatesOnly fails unless the SDP has candidates, all of them relay ones.
func checkRelayCandidatesOnly(t *testing.T, sdp string) {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(sdp, "\n") {
		if !strings.HasPrefix(line, "a=candidate:") {
			continue
		}
		n++
		if !strings.Contains(line, " typ relay") {
			t.Errorf("non-relay candidate %q", strings.TrimSpace(line))
		}
	}
	if n == 0 {
		t.Errorf("no candidates in SDP:\n%s", sdp)
	}
}
