package sfu

import (
	"errors"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// bindContext is what a peer connection hands a track when it binds it.
type bindContext struct {
	codecs []webrtc.RTPCodecParameters
	ssrc   webrtc.SSRC
	id     string
	w      *recordWriter
}

func (c bindContext) CodecParameters() []webrtc.RTPCodecParameters { return c.codecs }
func (c bindContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return nil
}
func (c bindContext) SSRC() webrtc.SSRC                       { return c.ssrc }
func (c bindContext) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c bindContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c bindContext) WriteStream() webrtc.TrackLocalWriter    { return c.w }
func (c bindContext) ID() string                              { return c.id }
func (c bindContext) RTCPReader() interceptor.RTCPReader      { return nil }

type recordWriter struct {
	headers  []*rtp.Header
	payloads [][]byte
}

func (w *recordWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.headers, w.payloads = append(w.headers, h), append(w.payloads, payload)
	return len(payload), nil
}

func (w *recordWriter) Write(b []byte) (int, error) { return 0, errors.New("not used") }

func TestLocalTrack(t *testing.T) {
	track := newLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "p1")
	if track.Kind() != webrtc.RTPCodecTypeVideo || track.ID() != "cam" || track.StreamID() != "p1" || track.RID() != "" {
		t.Fatalf("track %s %q %q %q", track.Kind(), track.ID(), track.StreamID(), track.RID())
	}
	if k := newLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "mic", "p1").Kind(); k != webrtc.RTPCodecTypeAudio {
		t.Errorf("opus is %s", k)
	}
	// Before it is bound, packets are dropped.
	if err := track.writeRTP(&rtp.Packet{Payload: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	w := &recordWriter{}
	opus := webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}}
	vp8 := webrtc.RTPCodecParameters{PayloadType: 98, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "video/vp8"}}
	if _, err := track.Bind(bindContext{codecs: []webrtc.RTPCodecParameters{opus}, id: "a", w: w}); !errors.Is(err, webrtc.ErrUnsupportedCodec) {
		t.Errorf("bound without VP8 negotiated: %v", err)
	}
	ctx := bindContext{codecs: []webrtc.RTPCodecParameters{opus, vp8}, ssrc: 4242, id: "b", w: w}
	got, err := track.Bind(ctx)
	if err != nil || got.PayloadType != 98 {
		t.Fatalf("bound to %+v, %v; want payload type 98 (MIME types compare without case)", got, err)
	}
	// The header handed down is the packet's own, not a copy: the NACK responder keeps it.
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, PayloadType: 96, SSRC: 1}, Payload: []byte{1, 2, 3}}
	if err := track.writeRTP(pkt); err != nil {
		t.Fatal(err)
	}
	if len(w.headers) != 1 || w.headers[0] != &pkt.Header || &w.payloads[0][0] != &pkt.Payload[0] {
		t.Fatalf("wrote %d packets, not the packet's own header and payload", len(w.headers))
	}
	if h := w.headers[0]; h.SSRC != 4242 || h.PayloadType != 98 || h.SequenceNumber != 7 {
		t.Errorf("header %+v: want the binding's SSRC and payload type, the sequence number kept", h)
	}
	if err := track.Unbind(bindContext{id: "other"}); !errors.Is(err, webrtc.ErrUnbindFailed) {
		t.Errorf("unbound by another binding: %v", err)
	}
	if err := track.Unbind(ctx); err != nil {
		t.Fatal(err)
	}
	if err := track.writeRTP(&rtp.Packet{Payload: []byte{1}}); err != nil || len(w.headers) != 1 {
		t.Errorf("wrote after Unbind: %d packets, %v", len(w.headers), err)
	}
}
