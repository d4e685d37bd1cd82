package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// frameInfo is what the SFU needs to know of a packet's payload: whether it starts a
// keyframe, where switching layers may begin, and where a VP8 payload keeps the picture ids
// that must stay continuous across a switch.
type frameInfo struct {
	keyframe bool
	picID    int    // VP8 PictureID, -1 when absent
	picBits  uint   // 7 or 15
	picAt    int    // offset of the PictureID in the payload
	tl0      int    // VP8 TL0PICIDX, -1 when absent
	tl0At    int    // offset of the TL0PICIDX in the payload
	mime     string // lower case
}

// inspect reads the payload of a packet of the given codec. Audio is always a "keyframe":
// any packet can start a stream.
func inspect(codec webrtc.RTPCodecCapability, payload []byte) frameInfo {
	info := frameInfo{picID: -1, tl0: -1, mime: strings.ToLower(codec.MimeType)}
	switch {
	case strings.HasPrefix(info.mime, "audio/"):
		info.keyframe = true
	case info.mime == strings.ToLower(webrtc.MimeTypeVP8):
		parseVP8(payload, &info)
	case info.mime == strings.ToLower(webrtc.MimeTypeH264):
		info.keyframe = isH264Keyframe(payload)
	}
	return info
}

// parseVP8 reads the VP8 payload descriptor (RFC 7741 section 4.2) and, on the first packet
// of a frame, the keyframe bit of the VP8 payload header (inverted: 0 means keyframe).
func parseVP8(p []byte, info *frameInfo) {
	if len(p) < 1 {
		return
	}
	start := p[0]&0x10 != 0 && p[0]&0x07 == 0 // S bit, partition 0
	i := 1
	if p[0]&0x80 != 0 { // X: extended control bits
		if len(p) <= i {
			return
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: PictureID
			if len(p) <= i {
				return
			}
			info.picAt = i
			if p[i]&0x80 != 0 { // M: 15 bits
				if len(p) <= i+1 {
					return
				}
				info.picID = int(p[i]&0x7f)<<8 | int(p[i+1])
				info.picBits = 15
				i += 2
			} else {
				info.picID = int(p[i])
				info.picBits = 7
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			if len(p) <= i {
				return
			}
			info.tl0, info.tl0At = int(p[i]), i
			i++
		}
		if x&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	if start && len(p) > i {
		info.keyframe = p[i]&0x01 == 0
	}
}

// rewriteVP8 returns the payload with its PictureID and TL0PICIDX replaced, copying it so
// that the packet other receivers get is left alone.
func rewriteVP8(p []byte, info frameInfo, picID, tl0 int) []byte {
	out := append([]byte(nil), p...)
	if info.picID >= 0 {
		if info.picBits == 15 {
			out[info.picAt] = 0x80 | byte(picID>>8)&0x7f
			out[info.picAt+1] = byte(picID)
		} else {
			out[info.picAt] = byte(picID) & 0x7f
		}
	}
	if info.tl0 >= 0 {
		out[info.tl0At] = byte(tl0)
	}
	return out
}

// isH264Keyframe reports whether an H.264 payload (RFC 6184) carries an IDR slice or a
// sequence parameter set, directly, in a STAP-A aggregate, or at the start of a FU-A.
func isH264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	isKey := func(nal byte) bool { t := nal & 0x1f; return t == 5 || t == 7 }
	switch t := p[0] & 0x1f; {
	case t == 24: // STAP-A: 16-bit size, then the unit
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if i+2 < len(p) && isKey(p[i+2]) {
				return true
			}
			i += 2 + size
		}
		return false
	case t == 28: // FU-A: start bit and the fragmented unit's type
		return len(p) > 1 && p[1]&0x80 != 0 && isKey(p[1])
	default:
		return isKey(p[0])
	}
}
