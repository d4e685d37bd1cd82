package visiobench

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseGalene(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want galeneMessage
		err  string // in the error, if one is wanted
	}{
		{in: `{"type":"handshake","version":["2"]}`, want: galeneMessage{Type: "handshake", Version: []string{"2"}}},
		{in: `{"type":"joined","kind":"join","group":"bench","username":"p0","permissions":["present"],"status":{"name":"bench"},"rtcConfiguration":{}}`,
			want: galeneMessage{Type: "joined", Kind: "join", Group: "bench", Username: "p0"}},
		{in: `{"type":"joined","kind":"fail","error":"not-authorised","value":"not authorised"}`,
			want: galeneMessage{Type: "joined", Kind: "fail", Error: "not-authorised", Value: json.RawMessage(`"not authorised"`)}},
		{in: `{"type":"offer","id":"up-p1","label":"camera","source":"bench-p1","username":"p1","sdp":"v=0\r\n"}`,
			want: galeneMessage{Type: "offer", ID: "up-p1", Label: "camera", Source: "bench-p1", Username: "p1", SDP: "v=0\r\n"}},
		{in: `{"type":"ice","id":"up-p1","candidate":null}`, want: galeneMessage{Type: "ice", ID: "up-p1"}},
		{in: `{"type":"close","id":"up-p1"}`, want: galeneMessage{Type: "close", ID: "up-p1"}},
		{in: `{"type":"ping"}`, want: galeneMessage{Type: "ping"}},
		{in: `{"kind":"join"}`, err: "without a type"},
		{in: `{"type":"offer","id":"x"}`, err: "offer without a stream id or an sdp"},
		{in: `{"type":"answer","sdp":"v=0"}`, err: "answer without a stream id or an sdp"},
		{in: `{"type":"ice","candidate":{"candidate":""}}`, err: "ice without a stream id"},
		{in: `{"type":"close"}`, err: "close without a stream id"},
		{in: `{"type":["offer"]}`, err: "galene: message"},
		{in: `not json`, err: "galene: message"},
	} {
		m, err := parseGalene([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got, _ := json.Marshal(m)
		want, _ := json.Marshal(tc.want)
		if string(got) != string(want) {
			t.Errorf("%s: parsed as %s, want %s", tc.in, got, want)
		}
	}
	// The candidate, as Galène writes Pion's ICECandidateInit.
	m, err := parseGalene([]byte(`{"type":"ice","id":"a","candidate":{"candidate":"candidate:1 1 udp 2130706431 198.18.0.1 40000 typ host","sdpMid":"0","sdpMLineIndex":0}}`))
	if err != nil || m.Candidate == nil || m.Candidate.SDPMid == nil || *m.Candidate.SDPMid != "0" ||
		!strings.Contains(m.Candidate.Candidate, "198.18.0.1") {
		t.Errorf("ice: %+v, %v", m.Candidate, err)
	}
	if got := (galeneMessage{Value: json.RawMessage(`"group is locked"`), Error: "locked"}).galeneText(); got != "group is locked" {
		t.Errorf("text %q", got)
	}
	if got := (galeneMessage{Value: json.RawMessage(`{"x":1}`), Error: "locked"}).galeneText(); got != "locked" {
		t.Errorf("text of a non-string value %q", got)
	}
}

// What Galène sends is outside input: parsing never panics, and what it accepts has a type
// and, for a stream's message, the id (and SDP) the client then relies on.
func FuzzParseGalene(f *testing.F) {
	for _, s := range []string{`{"type":"offer","id":"a","sdp":"v=0"}`, `{"type":"ice","id":"a","candidate":{"candidate":"c"}}`,
		`{"type":"joined","kind":"fail","value":"no"}`, `{"type":"close","id":""}`, `{}`, `[]`, `{"type":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseGalene(b)
		if err != nil {
			return
		}
		if m.Type == "" {
			t.Fatalf("accepted %q without a type", b)
		}
		switch m.Type {
		case "offer", "answer":
			if m.ID == "" || m.SDP == "" {
				t.Fatalf("accepted %q", b)
			}
		case "ice", "close", "abort", "renegotiate":
			if m.ID == "" {
				t.Fatalf("accepted %q", b)
			}
		}
		_ = m.galeneText()
	})
}
