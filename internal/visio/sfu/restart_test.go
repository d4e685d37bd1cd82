package sfu

import (
	"errors"
	"regexp"
	"testing"

	"github.com/pion/webrtc/v4"
)

var ufragLine = regexp.MustCompile(`(?m)^a=ice-ufrag:(\S+)`)

func ufrag(t *testing.T, d *webrtc.SessionDescription) string {
	t.Helper()
	if d == nil {
		t.Fatal("no description")
	}
	m := ufragLine.FindStringSubmatch(d.SDP)
	if m == nil {
		t.Fatalf("no ice-ufrag in %s", d.SDP)
	}
	return m[1]
}

// A participant whose network changed restarts ICE (RFC 8445 §9; JSEP restartIce): it offers
// again with new credentials on the same connection, the SFU answers with new ones of its
// own, and the media flow again on the same peer.
func TestAParticipantRestartsICEAndKeepsReceiving(t *testing.T) {
	room := newTestSFU(t).Room("standup")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	r := read(bob.nextTrack())
	r.receives(t, "bob receives alice's video", 20)
	eventually(t, "bob connected", func() bool { return bob.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })

	var before, sfuBefore string
	peer := bob.peer
	bob.run(func() error {
		before, sfuBefore = ufrag(t, bob.pc.LocalDescription()), ufrag(t, bob.pc.RemoteDescription())
		return nil
	})
	for {
		var crossed bool
		bob.run(func() error {
			offer, err := bob.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
			if err != nil {
				return err
			}
			err = bob.peer.HandleSignal(Signal{Type: SignalOffer, SDP: offer.SDP})
			if errors.Is(err, ErrGlare) {
				crossed = true
				return nil
			}
			if err != nil {
				return err
			}
			return bob.pc.SetLocalDescription(offer)
		})
		if !crossed {
			break
		}
		eventually(t, "the SFU's crossing offer answered", func() bool {
			stable := make(chan bool)
			bob.do <- func() { stable <- bob.pc.SignalingState() == webrtc.SignalingStateStable }
			return <-stable
		})
	}
	var after, sfuAfter string
	eventually(t, "the SFU answered the restart", func() bool {
		done := make(chan bool)
		bob.do <- func() {
			done <- bob.pc.SignalingState() == webrtc.SignalingStateStable && bob.pc.RemoteDescription() != nil &&
				ufrag(t, bob.pc.RemoteDescription()) != sfuBefore
		}
		return <-done
	})
	bob.run(func() error {
		after, sfuAfter = ufrag(t, bob.pc.LocalDescription()), ufrag(t, bob.pc.RemoteDescription())
		return nil
	})
	if after == before || sfuAfter == sfuBefore {
		t.Fatalf("ICE credentials: bob %s → %s, SFU %s → %s: both must change", before, after, sfuBefore, sfuAfter)
	}
	eventually(t, "bob connected again", func() bool { return bob.pc.ConnectionState() == webrtc.PeerConnectionStateConnected })
	r.receives(t, "bob receives alice's video after the restart", 50)
	if bob.peer != peer || peer.isClosed() {
		t.Error("the restart replaced or closed the SFU's peer")
	}
}
