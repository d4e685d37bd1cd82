package visio

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// The examples of docs/visio-signalling.md, as a page sends them.
var documentedMessages = []string{
	`{"type":"join","name":"Camille Martin","password":""}`,
	`{"type":"join","name":"Camille Martin","e2ee":true}`,
	`{"type":"chat","text":"Bonjour à tous"}`,
	`{"type":"chat","to":"2","text":"Un mot en privé"}`,
	`{"type":"hand","raised":true}`,
	`{"type":"invite"}`,
	`{"type":"lock","password":"tournesol"}`,
	`{"type":"unlock"}`,
	`{"type":"lobby","enabled":true}`,
	`{"type":"admit","id":"3"}`,
	`{"type":"refuse","id":"3"}`,
	`{"type":"grant","id":"2"}`,
	`{"type":"mute","id":"all"}`,
	`{"type":"kick","id":"2"}`,
	`{"type":"end"}`,
	`{"type":"notes-edit","rev":3,"op":[5,"abc",-2]}`,
	`{"type":"notes-reload"}`,
	`{"type":"signal","signal":{"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}}`,
	`{"type":"signal","signal":{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host","sdpMid":"0"}}}`,
	`{"type":"p2p","to":"1","signal":{"type":"answer","sdp":"v=0"}}`,
	`{"type":"screen","track":"{0f3c5e1a-2b4d-4c6e-8f10-a1b2c3d4e5f6}","on":true}`,
	`{"type":"audio-only","enabled":true}`,
	`{"type":"layer","max":"h"}`,
	`{"type":"stats"}`,
	`{"type":"stats","id":"2"}`,
	`{"type":"ping"}`,
}

func TestEveryDocumentedMessageIsAccepted(t *testing.T) {
	for _, s := range documentedMessages {
		if _, err := DecodeClientMessage([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestMessagesOutOfRangeAreRefusedWithAReason(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	for msg, reason := range map[string]string{
		`{"type":"chat","text":""}`:                                             "1 to 4000 characters",
		`{"type":"chat","text":"` + long(4001) + `"}`:                           "1 to 4000 characters",
		`{"type":"lock","password":"` + long(129) + `"}`:                        "at most 128",
		`{"type":"kick"}`:                                                       "kick: id missing",
		`{"type":"mute","id":"` + long(33) + `"}`:                               "more than 64 bytes",
		`{"type":"notes-edit","rev":-1,"op":[1]}`:                               "rev",
		`{"type":"notes-edit","rev":1,"op":"abc"}`:                              "op must be an array",
		`{"type":"signal","signal":"offer"}`:                                    "signal must be a JSON object",
		`{"type":"p2p","signal":{}}`:                                            "p2p: to missing",
		`{"type":"screen","on":true}`:                                           "track",
		`{"type":"layer","max":"x"}`:                                            "q, h or f",
		`{"type":"teleport"}`:                                                   `unknown message type "teleport"`,
		`{"type":"chat","text":5}`:                                              "text: want a string",
		`["chat"]`:                                                              "not a JSON object",
		`{"type":"chat","text":"` + strings.Repeat("a", MaxMessageBytes) + `"}`: "at most 65536 bytes",
		"{\"type\":\"chat\",\"text\":\"\xff\"}":                                 "not UTF-8",
	} {
		_, err := DecodeClientMessage([]byte(msg))
		var me *MessageError
		if !errors.As(err, &me) || !strings.Contains(me.Reason, reason) {
			t.Errorf("%.60s: %v, want a refusal saying %q", msg, err, reason)
		}
	}
	// A join is refused as the room refuses an entrant: with the code the page translates.
	for msg, code := range map[string]string{
		`{"type":"join","name":"` + long(81) + `"}`:      CodeBadName,
		`{"type":"join","password":"` + long(129) + `"}`: CodeWrongPassword,
	} {
		var ee *EnterError
		if _, err := DecodeClientMessage([]byte(msg)); !errors.As(err, &ee) || ee.Code != code {
			t.Errorf("%.40s: %v, want code %s", msg, err, code)
		}
	}
}

// FuzzDecodeClientMessage: whatever a participant sends is refused with a reason (and a
// short echo of its type), or it is a message of the protocol with every field in its
// documented range, which re-encodes to a message that decodes to the same value.
func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range documentedMessages {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"type":"chat","text":"a","signal":{"x":1},"name":"unused"}`))
	f.Add([]byte(`{"TYPE":"Chat","Text":"case"}`))
	f.Add([]byte(`{"type":"notes-edit","rev":0,"op":[ 1 , "<b>\u2028" ]}`))
	f.Add([]byte(`{"type":"p2p","to":"1","signal":null}`))
	f.Add([]byte(`{"type":"chat","text":"\ud800"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClientMessage(b)
		if err != nil {
			var me *MessageError
			var ee *EnterError
			switch {
			case errors.As(err, &me):
				if me.Reason == "" || len(me.Request) > 40 {
					t.Fatalf("refusal without a reason, or echoing too much: %+v", me)
				}
			case errors.As(err, &ee):
				if ee.Code != CodeBadName && ee.Code != CodeWrongPassword {
					t.Fatalf("a join refused with code %q", ee.Code)
				}
			default:
				t.Fatalf("refusal of an unknown kind: %v", err)
			}
			return
		}
		inRange(t, m)
		out, err := EncodeClientMessage(m)
		if err != nil {
			t.Fatalf("accepted %+v, which does not encode: %v", m, err)
		}
		again, err := decodeClientMessage(out)
		if err != nil {
			t.Fatalf("accepted %s, re-encoded as %s, which is refused: %v", b, out, err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip changes the message:\n%+v\n%+v", m, again)
		}
	})
}

// inRange restates docs/visio-signalling.md's ranges for an accepted message.
func inRange(t *testing.T, m ClientMessage) {
	t.Helper()
	runes := func(s string, min, max int) bool {
		n := utf8.RuneCountInString(s)
		return utf8.ValidString(s) && n >= min && n <= max
	}
	object := func(raw json.RawMessage) bool {
		var o map[string]any
		return json.Unmarshal(raw, &o) == nil && o != nil
	}
	ok := true
	switch m.Type {
	case "join":
		ok = runes(m.Name, 0, MaxNameRunes) && runes(m.Password, 0, MaxPasswordRunes)
	case "chat":
		ok = runes(m.Text, 1, MaxChatRunes) && len(m.To) <= MaxIDBytes
	case "lock":
		ok = runes(m.Password, 0, MaxPasswordRunes)
	case "admit", "refuse", "grant", "mute", "kick":
		ok = m.ID != "" && len(m.ID) <= MaxIDBytes
	case "stats":
		ok = len(m.ID) <= MaxIDBytes
	case "notes-edit":
		var items []any
		ok = m.Rev >= 0 && json.Unmarshal(m.Op, &items) == nil && items != nil
	case "signal":
		ok = object(m.Signal)
	case "p2p":
		ok = m.To != "" && len(m.To) <= MaxIDBytes && object(m.Signal)
	case "screen":
		ok = m.Track != "" && len(m.Track) <= MaxTrackBytes
	case "layer":
		ok = m.Max == "q" || m.Max == "h" || m.Max == "f"
	case "unlock", "lobby", "hand", "end", "invite", "notes-reload", "audio-only", "ping":
	default:
		ok = false
	}
	if !ok {
		t.Fatalf("accepted out of range: %+v", m)
	}
}
