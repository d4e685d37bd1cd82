package pull

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/delivery"
)

// eiffel is the README's example call: the demo operator's caller at the Eiffel Tower.
func eiffel() CallEvent {
	at := time.Date(2026, 11, 24, 14, 19, 30, 0, time.UTC)
	acc, conf, src := 12.0, 68, "gps"
	return CallEvent{Node: "node-a", Fix: &delivery.Job{ID: "0193a1f4-5c1e-7d2b-9a3e-4f5b6c7d8e9f", Attempt: 1,
		ExpiresAt: at.Add(time.Hour), ReceivedAt: at, Device: "+33612345678", Number: "18",
		Lat: 48.85837, Lon: 2.29448, Accuracy: &acc, Confidence: &conf, LocatedAt: &at, Source: &src}}
}

func TestAnEventRoundTripsThroughTheBus(t *testing.T) {
	for _, e := range []CallEvent{eiffel(),
		{Node: "node-a", Routed: &RoutedCall{Device: "+33612345678", PSAP: "bspp", At: time.Date(2026, 11, 24, 14, 19, 30, 0, time.UTC)}}} {
		b, err := EncodeCallEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeCallEvent(b, heard)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := EncodeCallEvent(got)
		if !bytes.Equal(again, b) {
			t.Errorf("re-encoded as\n%s\nwant\n%s", again, b)
		}
	}
}

func TestAnUnusableEventIsDroppedWithItsReason(t *testing.T) {
	outOfRange := eiffel()
	outOfRange.Fix.Lat = 148.85837
	for name, c := range map[string]struct{ json, reason string }{
		"not JSON":          {`{"node":`, "not JSON"},
		"wrong type":        {`{"node":"a","fix":{"Lat":"48.8"}}`, "Lat"},
		"no node":           {`{"routed":{"device":"+33612345678","psap":"bspp","at":"2026-11-24T14:19:30Z"}}`, "node missing"},
		"neither":           {`{"node":"a"}`, "exactly one"},
		"both":              {`{"node":"a","fix":{},"routed":{}}`, "exactly one"},
		"latitude":          {`{"node":"a","fix":{"ID":"x","Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":148.8,"Lon":2.3}}`, "fix.Lat"},
		"longitude":         {`{"node":"a","fix":{"ID":"x","Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":48.8,"Lon":-200}}`, "fix.Lon"},
		"national number":   {`{"node":"a","fix":{"ID":"x","Device":"0612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":48.8,"Lon":2.3}}`, "fix.Device"},
		"no message id":     {`{"node":"a","fix":{"Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":48.8,"Lon":2.3}}`, "fix.ID"},
		"no time":           {`{"node":"a","fix":{"ID":"x","Device":"+33612345678","Lat":48.8,"Lon":2.3}}`, "fix.ReceivedAt"},
		"confidence":        {`{"node":"a","fix":{"ID":"x","Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":48.8,"Lon":2.3,"Confidence":101}}`, "fix.Confidence"},
		"negative accuracy": {`{"node":"a","fix":{"ID":"x","Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":48.8,"Lon":2.3,"Accuracy":-1}}`, "fix.Accuracy"},
		"PSAP id":           {`{"node":"a","routed":{"device":"+33612345678","psap":"BSPP!","at":"2026-11-24T14:19:30Z"}}`, "routed.psap"},
	} {
		_, err := DecodeCallEvent([]byte(c.json), heard)
		if err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, want a reason with %q", name, err, c.reason)
		}
		if err != nil && strings.Contains(err.Error(), "33612345678") {
			t.Errorf("%s: the reason %q quotes the caller's number", name, err)
		}
	}
	if _, err := EncodeCallEvent(outOfRange); err == nil {
		t.Error("an event with a latitude out of range was encoded")
	}
}

// heard is when the tests' events reach this node: a few seconds after the README's call.
var heard = time.Date(2026, 11, 24, 14, 19, 35, 0, time.UTC)

func TestAFixFromTheFutureIsDropped(t *testing.T) {
	e := eiffel()
	e.Fix.ReceivedAt = heard.Add(MaxClockSkew + time.Second)
	b, _ := EncodeCallEvent(e)
	if _, err := DecodeCallEvent(b, heard); err == nil || !strings.Contains(err.Error(), "clocks disagree") {
		t.Fatalf("a fix dated after now plus the skew: %v", err)
	}
	e.Fix.ReceivedAt = heard.Add(MaxClockSkew)
	b, _ = EncodeCallEvent(e)
	if _, err := DecodeCallEvent(b, heard); err != nil {
		t.Fatalf("a fix within the skew: %v", err)
	}
}

var callerNumber = regexp.MustCompile(`[0-9]{6,}`)

// FuzzDecodeCallEvent: an event from the bus is dropped with a reason that quotes no
// number, or it is usable as it stands — a fix has a valid caller number, a message id, a
// time not ahead of the clock and a position in range, and a memory of calls fed with it
// answers with that position — and it re-encodes to bytes that decode to the same event.
func FuzzDecodeCallEvent(f *testing.F) {
	for _, e := range []CallEvent{eiffel(),
		{Node: "node-b", Routed: &RoutedCall{Device: "+33612345678", PSAP: "samu-75", At: time.Date(2026, 11, 24, 14, 19, 31, 0, time.UTC)}}} {
		b, _ := EncodeCallEvent(e)
		f.Add(b)
	}
	f.Add([]byte(`{"node":"n","fix":{"ID":"1","Device":"+262692123456","ReceivedAt":"2026-11-24T14:19:30+04:00","Lat":-21.1,"Lon":55.5}}`))
	f.Add([]byte(`{"node":"n","fix":{"ID":"1","Device":"+33612345678","ReceivedAt":"2026-11-24T14:19:30Z","Lat":90.0000001,"Lon":180}}`))
	f.Add([]byte(`{"node":"n","fix":{"id":"1","device":"+33612345678","receivedat":"2026-11-24T14:19:30Z","lat":1e400}}`))
	f.Add([]byte(`{"node":"n","routed":{"device":"+33612345678","psap":"bspp","at":"0001-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeCallEvent(b, heard)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "call event: ") {
				t.Fatalf("reason %q does not say what was dropped", err)
			}
			for _, n := range callerNumber.FindAllString(string(b), -1) {
				if strings.Contains(err.Error(), n) {
					t.Fatalf("reason %q quotes %q from the event", err, n)
				}
			}
			return
		}
		if e.Node == "" || (e.Fix == nil) == (e.Routed == nil) {
			t.Fatalf("accepted %+v: want a node and exactly one of fix and routed", e)
		}
		if j := e.Fix; j != nil {
			if !ValidDevice(j.Device) || j.ID == "" || j.ReceivedAt.IsZero() ||
				!(j.Lat >= -90 && j.Lat <= 90) || !(j.Lon >= -180 && j.Lon <= 180) {
				t.Fatalf("accepted an unusable fix %+v", j)
			}
			c := NewCalls(10 * time.Minute)
			c.Fixed(*j)
			got, ok := c.Fix(j.Device, j.ReceivedAt)
			if !ok || got.Lat != j.Lat || got.Lon != j.Lon {
				t.Fatalf("the memory of calls answers %+v %v for the fix %+v", got, ok, j)
			}
		}
		if at, _ := e.at(); at.After(heard.Add(MaxClockSkew)) {
			t.Fatalf("accepted an event from the future: %v", at)
		}
		if r := e.Routed; r != nil {
			if !ValidDevice(r.Device) || !psapID.MatchString(r.PSAP) || r.At.IsZero() {
				t.Fatalf("accepted an unusable routing %+v", r)
			}
		}
		b1, err := EncodeCallEvent(e)
		if err != nil {
			t.Fatalf("accepted %+v, which does not encode: %v", e, err)
		}
		e2, err := DecodeCallEvent(b1, heard)
		if err != nil {
			t.Fatalf("re-encoded as %s, which is refused: %v", b1, err)
		}
		if b2, _ := EncodeCallEvent(e2); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip changes the event:\n%s\n%s", b1, b2)
		}
	})
}

func TestCallerNumbers(t *testing.T) {
	for s, ok := range map[string]bool{"+33612345678": true, "+262692123456": true, "+123456": true,
		"+1234567890123456": false, "+12345": false, "33612345678": false, "+03612345678": false, "+3361234567a": false, "": false} {
		if ValidDevice(s) != ok {
			t.Errorf("ValidDevice(%q) = %v", s, !ok)
		}
	}
}
