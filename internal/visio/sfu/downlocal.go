package sfu

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// localTrack is what a downTrack sends on, in place of Pion's TrackLocalStaticRTP: a track
// bound to one connection, the receiver's, that hands each packet to the connection's
// interceptors as its own header and the publisher's payload, never copied.
//
// TrackLocalStaticRTP.WriteRTP copies the packet into one from a pool and reuses it once
// written, so the NACK responder below it must copy header and payload again to keep them
// for retransmission: once per receiver, the largest cost of forwarding after the
// encryption and the send itself (a CPU profile under `socle bench visio -peer`). Here the
// header is the forwarding's own and the payload is never written to after it was read
// (ReadRTP reads every packet into a buffer of its own, and a rewritten VP8 descriptor is
// a new slice), so the responder may keep references (nack.DisableCopy, in newAPI).
type localTrack struct {
	codec        webrtc.RTPCodecCapability
	id, streamID string
	kind         webrtc.RTPCodecType
	mu           sync.RWMutex
	bound        bool
	ssrc         uint32
	payloadType  uint8
	writer       webrtc.TrackLocalWriter
	bindID       string
}

func newLocalTrack(codec webrtc.RTPCodecCapability, id, streamID string) *localTrack {
	kind := webrtc.RTPCodecTypeAudio
	if strings.HasPrefix(strings.ToLower(codec.MimeType), "video/") {
		kind = webrtc.RTPCodecTypeVideo
	}
	return &localTrack{codec: codec, id: id, streamID: streamID, kind: kind}
}

// Bind takes the negotiated codec of the same MIME type. The SFU's media engine registers
// one codec per MIME type (registerCodecs), so the negotiated list holds at most one, and
// its parameters are the SFU's own.
func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.bound, t.ssrc, t.payloadType = true, uint32(ctx.SSRC()), uint8(c.PayloadType)
			t.writer, t.bindID = ctx.WriteStream(), ctx.ID()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

func (t *localTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound || t.bindID != ctx.ID() {
		return webrtc.ErrUnbindFailed
	}
	t.bound, t.writer = false, nil
	return nil
}

func (t *localTrack) ID() string                { return t.id }
func (t *localTrack) RID() string               { return "" }
func (t *localTrack) StreamID() string          { return t.streamID }
func (t *localTrack) Kind() webrtc.RTPCodecType { return t.kind }

// writeRTP sends pkt, which the caller gives up: its header is kept, and may be changed, by
// the interceptors (the NACK responder keeps it for retransmissions). Before the track is
// bound, the packet is dropped, as TrackLocalStaticRTP drops it.
func (t *localTrack) writeRTP(pkt *rtp.Packet) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.bound {
		return nil
	}
	pkt.SSRC, pkt.PayloadType = t.ssrc, t.payloadType
	_, err := t.writer.WriteRTP(&pkt.Header, pkt.Payload)
	return err
}
