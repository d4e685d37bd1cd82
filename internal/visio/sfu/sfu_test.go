package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

func TestEveryOtherPeerReceivesWhatAPeerPublishes(t *testing.T) {
	room := newTestSFU(t).Room("standup")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	carol := join(t, room, "carol")

	for _, c := range []*client{bob, carol} {
		tr := c.nextTrack()
		if tr.Kind() != webrtc.RTPCodecTypeVideo || tr.Codec().MimeType != webrtc.MimeTypeVP8 {
			t.Fatalf("%s got a %s %s track, want VP8 video", c.id, tr.Kind(), tr.Codec().MimeType)
		}
		if tr.StreamID() != "alice" || tr.ID() != "camera" {
			t.Errorf("%s got stream %q track %q, want the publisher's id and its track id", c.id, tr.StreamID(), tr.ID())
		}
		r := read(tr)
		r.receives(t, c.id+" receives alice's packets", 20)
		if got := text(r.all()[0].Payload); got != "layer=" {
			t.Errorf("%s got payload %q, want alice's, forwarded as is", c.id, got)
		}
	}
	if got := room.Peers(); got != 3 {
		t.Errorf("Peers() = %d, want 3", got)
	}
	select {
	case tr := <-alice.track:
		t.Errorf("alice received a track (%s): a publisher must not get its own", tr.ID())
	default:
	}
}

func TestAnOfferCrossingTheSFUsIsRefusedThenMadeAgain(t *testing.T) {
	room := newTestSFU(t).Room("glare")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	// The SFU offers alice's camera to bob as he joins; bob, not having seen that offer yet,
	// offers his own camera.
	bob := joinHeld(t, room, "bob")
	eventually(t, "the SFU has offered alice's camera to bob", func() bool { return len(bob.inbox) > 0 })
	bob.run(func() error {
		if _, err := bob.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
			return err
		}
		if _, err := bob.tryOffer(); !errors.Is(err, ErrGlare) {
			t.Errorf("crossing offer: err = %v, want ErrGlare", err)
		}
		return nil
	})

	// Bob answers the SFU's offer, then publishes.
	bob.release()
	bob.publishVP8("camera")

	read(bob.nextTrack()).receives(t, "bob receives alice", 10)
	read(alice.nextTrack()).receives(t, "alice receives bob", 10)
}

func TestAScreenShareIsASecondVideoTrack(t *testing.T) {
	room := newTestSFU(t).Room("demo")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	read(bob.nextTrack()).receives(t, "bob receives alice's camera", 5)

	alice.publishVP8("screen")

	screen := bob.nextTrack()
	if screen.ID() != "screen" || screen.Kind() != webrtc.RTPCodecTypeVideo {
		t.Fatalf("bob got %s track %q, want alice's screen", screen.Kind(), screen.ID())
	}
	read(screen).receives(t, "bob receives alice's screen", 10)
}

func TestAReceiversKeyframeRequestReachesThePublisher(t *testing.T) {
	room := newTestSFU(t).Room("pli")
	alice := join(t, room, "alice")
	camera := alice.publishVP8("camera")
	bob := join(t, room, "bob")
	tr := bob.nextTrack()
	read(tr).receives(t, "bob receives alice", 10)
	time.Sleep(2 * keyframeInterval) // let the SFU's own requests, for bob's start, settle
	before := camera.plis.Load()

	if err := bob.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}}); err != nil {
		t.Fatal(err)
	}

	eventually(t, "alice is asked for a keyframe", func() bool { return camera.plis.Load() > before })
}

func TestAPeerLeavingIsWithdrawnFromTheOthers(t *testing.T) {
	room := newTestSFU(t).Room("standup")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	r := read(bob.nextTrack())
	r.receives(t, "bob receives alice", 10)

	alice.leave()

	select {
	case <-r.ended: // the SFU renegotiated and bob's receiver was stopped
	case <-time.After(testTimeout):
		t.Fatal("alice's track did not end at bob's after she left")
	}
	eventually(t, "the room counts only bob", func() bool { return room.Peers() == 1 })
}

func TestAudioOnlyStopsVideoAndKeepsAudio(t *testing.T) {
	room := newTestSFU(t).Room("busy-network")
	alice := join(t, room, "alice")
	alice.publishOpus("mic")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	var audio, video *reader
	for audio == nil || video == nil {
		tr := bob.nextTrack()
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			audio = read(tr)
		} else {
			video = read(tr)
		}
	}
	video.receives(t, "bob receives video", 10)

	bob.peer.SetAudioOnly(true)
	time.Sleep(200 * time.Millisecond) // packets already on their way
	before := video.count()
	audio.receives(t, "audio keeps flowing in audio-only mode", 25)
	if got := video.count(); got != before {
		t.Errorf("bob received %d video packets in audio-only mode, want none", got-before)
	}

	bob.peer.SetAudioOnly(false)
	video.receives(t, "video resumes after audio-only mode", 10)
	if seqGaps(video.all()) != 0 {
		t.Errorf("video sequence numbers have gaps across the pause: %v", seqs(video.all()))
	}
}

func TestSimulcastReceiverGetsTheLayerItIsCappedTo(t *testing.T) {
	room := newTestSFU(t).Room("simulcast")
	alice := join(t, room, "alice")
	alice.publishVP8("camera", "q", "h", "f")
	bob := join(t, room, "bob")
	bob.peer.SetMaxLayer("q")
	tr := bob.nextTrack()
	if tr.RID() != "" {
		t.Errorf("bob got rid %q: a receiver gets one stream, not the layers", tr.RID())
	}
	r := read(tr)

	latest := func() string {
		pkts := r.all()
		if len(pkts) == 0 {
			return ""
		}
		return text(pkts[len(pkts)-1].Payload)
	}
	eventually(t, "bob receives the q layer", func() bool { return latest() == "layer=q" })
	r.receives(t, "bob keeps receiving", 20)
	for _, p := range r.all() {
		if got := text(p.Payload); got != "layer=q" {
			t.Fatalf("capped to q, bob received %q", got)
		}
	}

	bob.peer.SetMaxLayer("f")
	eventually(t, "bob receives the f layer once raised", func() bool { return latest() == "layer=f" })
	pkts := r.all()
	if n := seqGaps(pkts); n != 0 {
		t.Errorf("%d sequence number gaps across the switch, want a continuous stream: %v", n, seqs(pkts))
	}
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}
	for i := 1; i < len(pkts); i++ {
		if int32(pkts[i].Timestamp-pkts[i-1].Timestamp) <= 0 {
			t.Errorf("timestamp went from %d to %d, want it to advance", pkts[i-1].Timestamp, pkts[i].Timestamp)
		}
		prev, cur := inspect(vp8, pkts[i-1].Payload).picID, inspect(vp8, pkts[i].Payload).picID
		if cur != (prev+1)&0x7fff {
			t.Errorf("VP8 picture id went from %d to %d, want one more", prev, cur)
		}
	}
	stats := bob.peer.Stats()
	if len(stats) != 1 || stats[0].RID != "f" {
		t.Errorf("bob's stats = %+v, want one outbound stream of layer f", stats)
	}

	bob.peer.SetMaxLayer("h")
	eventually(t, "bob goes down to h", func() bool { return latest() == "layer=h" })
}

func TestStatsCountPacketsBothWays(t *testing.T) {
	room := newTestSFU(t).Room("stats")
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	bob := join(t, room, "bob")
	read(bob.nextTrack()).receives(t, "bob receives", 10)
	eventually(t, "rates are measured on both sides", func() bool {
		in, out := alice.peer.Stats(), bob.peer.Stats()
		return len(in) == 1 && in[0].Bitrate > 0 && len(out) == 1 && out[0].Bitrate > 0
	})

	in := alice.peer.Stats()
	if len(in) != 1 || in[0].Direction != Inbound || in[0].Kind != "video" || in[0].Packets == 0 || in[0].Bitrate == 0 {
		t.Errorf("alice's stats = %+v, want one inbound video stream with packets and a bitrate", in)
	}
	out := bob.peer.Stats()
	if len(out) != 1 || out[0].Direction != Outbound || out[0].Publisher != "alice" || out[0].Packets == 0 || out[0].Bitrate == 0 {
		t.Errorf("bob's stats = %+v, want one outbound stream from alice with packets and a bitrate", out)
	}
	eventually(t, "bob's receiver reports give a round-trip time", func() bool { return bob.peer.Stats()[0].RTT > 0 })
	if rtt := bob.peer.Stats()[0].RTT; rtt > time.Second {
		t.Errorf("round-trip time on loopback = %v", rtt)
	}
	if out[0].Lost != 0 || in[0].Lost != 0 {
		t.Errorf("packets lost on loopback: in %d, out %d", in[0].Lost, out[0].Lost)
	}
}

func TestJoinRefusesADuplicateIDAndAClosedRoom(t *testing.T) {
	s := newTestSFU(t)
	room := s.Room("r")
	join(t, room, "alice")
	if _, err := room.Join("alice", func(Signal) {}); !errors.Is(err, ErrPeerExists) {
		t.Errorf("second alice: err = %v, want ErrPeerExists", err)
	}
	room.Close()
	if _, err := room.Join("bob", func(Signal) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed room: err = %v, want ErrClosed", err)
	}
	if s.Room("r") == room {
		t.Error("a closed room is still handed out")
	}
}

func seqs(pkts []*rtpPacket) []uint16 {
	out := make([]uint16, len(pkts))
	for i, p := range pkts {
		out[i] = p.SequenceNumber
	}
	return out
}

func seqGaps(pkts []*rtpPacket) int {
	gaps := 0
	for i := 1; i < len(pkts); i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
			gaps++
		}
	}
	return gaps
}

// The participant's first offer fixes the ids of the RTP header extensions for the BUNDLE
// group, so the SFU makes no offer of its own before it: a browser that applied Pion's ids
// first could no longer offer its camera (Chrome: "A BUNDLE group contains a codec collision
// for header extension id=1"). The SFU answers the participant's offer, then offers what the
// others publish.
func TestTheSFUWaitsForAParticipantsFirstOffer(t *testing.T) {
	s, err := New(Config{LoopbackOnly: true, FirstOfferWait: time.Minute}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	room := s.Room("first-offer")
	alice := join(t, room, "alice")
	alice.publishVP8("camera") // alice offers first: the SFU answers at once
	bob := joinHeld(t, room, "bob")
	bob.run(func() error {
		_, err := bob.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio)
		return err
	})
	if n := len(bob.inbox); n != 0 {
		t.Fatalf("the SFU sent bob %d signals before his first offer", n)
	}
	bob.run(func() error {
		offer, err := bob.tryOffer()
		if err != nil {
			return err
		}
		return bob.pc.SetLocalDescription(offer)
	})
	bob.release()
	read(bob.nextTrack()).receives(t, "bob receives alice once he has offered", 10)
}

// A participant without camera or microphone offers to receive audio and video; what others
// publish later comes on transceivers of the SFU's ("s1"...), never on those the participant
// made to receive, where the page could not tell whose stream it is.
func TestOthersStreamsComeOnTheSFUsOwnTransceivers(t *testing.T) {
	s, err := New(Config{LoopbackOnly: true, FirstOfferWait: time.Minute}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	room := s.Room("receive-only")
	bob := joinHeld(t, room, "bob")
	bob.run(func() error {
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
			if _, err := bob.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
				return err
			}
		}
		offer, err := bob.tryOffer()
		if err != nil {
			return err
		}
		return bob.pc.SetLocalDescription(offer)
	})
	bob.release()
	alice := join(t, room, "alice")
	alice.publishVP8("camera")
	track := bob.nextTrack()
	var mid string
	bob.run(func() error {
		for _, tr := range bob.pc.GetTransceivers() {
			if r := tr.Receiver(); r != nil && r.Track() == track {
				mid = tr.Mid()
			}
		}
		return nil
	})
	if !strings.HasPrefix(mid, "s") {
		t.Fatalf("alice's camera came on transceiver %q, one bob made to receive", mid)
	}
}
