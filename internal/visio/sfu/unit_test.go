package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"loopback for tests", Config{LoopbackOnly: true}, true},
		{"production", Config{UDPPortMin: 40000, UDPPortMax: 40100, NAT1To1IPs: []string{"203.0.113.7"}}, true},
		{"one port bound only", Config{UDPPortMin: 40000}, false},
		{"range upside down", Config{UDPPortMin: 40100, UDPPortMax: 40000}, false},
		{"nat address not an IP", Config{NAT1To1IPs: []string{"visio.example.org"}}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tt.name, err, tt.ok)
		}
		if _, err := New(tt.cfg, nil); (err == nil) != tt.ok {
			t.Errorf("%s: New() = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestKeyframesAreRecognised(t *testing.T) {
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}
	h264 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}
	tests := []struct {
		name    string
		codec   webrtc.RTPCodecCapability
		payload []byte
		key     bool
	}{
		{"vp8 keyframe, 15-bit picture id", vp8, vp8Payload(300, true, "x"), true},
		{"vp8 interframe", vp8, vp8Payload(300, false, "x"), false},
		{"vp8 keyframe, no extension", vp8, []byte{0x10, 0x00}, true},
		{"vp8 continuation of a keyframe", vp8, []byte{0x00, 0x00}, false},
		{"vp8 second partition", vp8, []byte{0x11, 0x00}, false},
		{"vp8 truncated", vp8, []byte{0x90}, false},
		{"h264 idr", h264, []byte{0x65, 0x88}, true},
		{"h264 non-idr slice", h264, []byte{0x41, 0x9a}, false},
		{"h264 stap-a with sps", h264, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 fu-a start of idr", h264, []byte{0x7c, 0x85, 0x88}, true},
		{"h264 fu-a middle of idr", h264, []byte{0x7c, 0x05, 0x88}, false},
		{"opus", opus, []byte{0xfc}, true},
	}
	for _, tt := range tests {
		if got := inspect(tt.codec, tt.payload).keyframe; got != tt.key {
			t.Errorf("%s: keyframe = %v, want %v", tt.name, got, tt.key)
		}
	}
}

func TestVP8PictureIDsAreRewrittenOnACopy(t *testing.T) {
	payload := vp8Payload(0x1234, true, "layer=f")
	info := inspect(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, payload)
	if info.picID != 0x1234 || info.picBits != 15 {
		t.Fatalf("picture id = %#x on %d bits, want 0x1234 on 15", info.picID, info.picBits)
	}
	out := rewriteVP8(payload, info, 0x7fff, -1)
	if again := inspect(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, out); again.picID != 0x7fff || !again.keyframe {
		t.Errorf("rewritten picture id = %#x keyframe %v, want 0x7fff, still a keyframe", again.picID, again.keyframe)
	}
	if !bytes.Equal(payload, vp8Payload(0x1234, true, "layer=f")) {
		t.Error("the original payload, shared by other receivers, was modified")
	}
}

func TestTheHighestAvailableLayerUnderTheLimitIsChosen(t *testing.T) {
	all := [layerCount]bool{true, true, true}
	tests := []struct {
		name      string
		available [layerCount]bool
		limit     int
		want      int
	}{
		{"all layers, full allowed", all, layerF, layerF},
		{"all layers, capped to half", all, layerH, layerH},
		{"all layers, capped to quarter", all, layerQ, layerQ},
		{"publisher dropped f", [layerCount]bool{true, true, false}, layerF, layerH},
		{"only f, capped to q: better f than nothing", [layerCount]bool{false, false, true}, layerQ, layerF},
		{"nothing sent yet", [layerCount]bool{}, layerF, -1},
	}
	for _, tt := range tests {
		if got := chooseLayer(tt.available, tt.limit); got != tt.want {
			t.Errorf("%s: chooseLayer = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestCongestionStepsLayersDownAndQuietStepsThemUp(t *testing.T) {
	var b budget
	now := time.Unix(0, 0)
	step := func(d time.Duration, estimate, sent uint64) int {
		now = now.Add(d)
		return b.update(now, estimate, sent)
	}
	if got := step(0, 0, 1_000_000); got != 0 {
		t.Fatalf("no estimate: drop = %d, want 0", got)
	}
	if got := step(time.Second, 1_500_000, 1_000_000); got != 0 {
		t.Fatalf("estimate above what is sent: drop = %d, want 0", got)
	}
	if got := step(time.Second, 500_000, 1_000_000); got != 1 {
		t.Fatalf("congested: drop = %d, want 1", got)
	}
	if got := step(500*time.Millisecond, 200_000, 600_000); got != 1 {
		t.Fatalf("congested again at once: drop = %d, want still 1 (one step at a time)", got)
	}
	if got := step(2*time.Second, 200_000, 600_000); got != 2 {
		t.Fatalf("still congested: drop = %d, want 2", got)
	}
	if got := step(2*time.Second, 300_000, 300_000); got != 2 {
		t.Fatalf("quiet for less than the step-up interval: drop = %d, want 2", got)
	}
	if got := step(firstStepUp, 300_000, 300_000); got != 1 {
		t.Fatalf("quiet: drop = %d, want 1", got)
	}
	// A step up soon followed by congestion makes the next step up wait longer.
	if got := step(time.Second, 100_000, 600_000); got != 2 {
		t.Fatalf("congested after stepping up: drop = %d, want 2", got)
	}
	if got := step(firstStepUp, 600_000, 300_000); got != 2 {
		t.Fatalf("after a failed step up, the wait doubles: drop = %d, want 2", got)
	}
	if got := step(firstStepUp, 600_000, 300_000); got != 1 {
		t.Fatalf("after the doubled wait: drop = %d, want 1", got)
	}
}

func TestRoundTripTimeUnits(t *testing.T) {
	now := time.Now()
	if d := ntpMiddle(now) - ntpMiddle(now.Add(-time.Second)); d < 65535 || d > 65537 {
		t.Errorf("one second is %d in NTP middle bits, want 65536", d)
	}
}
