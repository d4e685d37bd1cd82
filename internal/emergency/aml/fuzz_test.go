package aml

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func seeds(f *testing.F, pattern string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
}

// invariants hold for every input: no panic, usable messages have what routing needs, and
// re-encoding a usable message gives a usable message.
func invariants(t *testing.T, m Message, fs []Finding, reencode func(Message) (Message, []Finding)) {
	for _, f := range fs {
		if f.Field == "" || f.Reason == "" || (f.Severity != Warning && f.Severity != Error) {
			t.Fatalf("malformed finding %+v", f)
		}
	}
	inRange(t, m)
	if m.NoLocation && m.Location != nil {
		t.Fatalf("a message without location got one: %+v", m.Location)
	}
	if !Usable(m, fs) {
		return
	}
	if m.Location == nil || m.DeviceNumber == "" {
		t.Fatalf("usable without location or number: %+v", m)
	}
	m2, f2 := reencode(m)
	if !Usable(m2, f2) {
		t.Fatalf("re-encoded message unusable: %v", f2)
	}
}

func FuzzParseHTTPS(f *testing.F) {
	seeds(f, "*.form")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, fs := ParseHTTPS(b)
		invariants(t, m, fs, func(m Message) (Message, []Finding) { return ParseHTTPS(EncodeHTTPS(m)) })
	})
}

func FuzzParseSMS(f *testing.F) {
	seeds(f, "*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, fs := ParseSMS(b, "+33612345678")
		invariants(t, m, fs, func(m Message) (Message, []Finding) {
			if m.Format == FormatSMSv2 {
				return ParseSMS(EncodeSMSv2(m), m.DeviceNumber)
			}
			return ParseSMS(EncodeSMSv1(m), m.DeviceNumber)
		})
	})
}

// inRange: whatever the message, usable or not, every figure it carries on is in its range,
// never NaN nor infinite: a position on Earth, an accuracy of 0 to 1,000 km, a confidence
// in percent, a number in E.164.
func inRange(t *testing.T, m Message) {
	t.Helper()
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if m.DeviceNumber != "" {
		if n, ok := normaliseE164(m.DeviceNumber); !ok || n != m.DeviceNumber {
			t.Fatalf("device number %q is not E.164", m.DeviceNumber)
		}
	}
	l := m.Location
	if l == nil {
		return
	}
	if !(l.Latitude >= -90 && l.Latitude <= 90) || !(l.Longitude >= -180 && l.Longitude <= 180) {
		t.Fatalf("position (%v, %v) out of range", l.Latitude, l.Longitude)
	}
	if !(l.Accuracy >= 0 && l.Accuracy <= 1_000_000) || l.Confidence < 0 || l.Confidence > 100 {
		t.Fatalf("accuracy %v m or confidence %d%% out of range", l.Accuracy, l.Confidence)
	}
	if l.Altitude != nil && !finite(*l.Altitude) {
		t.Fatalf("altitude %v", *l.Altitude)
	}
	if l.VerticalAccuracy != nil && !(finite(*l.VerticalAccuracy) && *l.VerticalAccuracy >= 0) {
		t.Fatalf("vertical accuracy %v", *l.VerticalAccuracy)
	}
}

// FuzzParse: the push endpoint's whole input — Content-Type, body and the Device-Number
// header, all the operator's — gives a message whose figures are in range, and a usable
// message has a caller number in E.164 whatever the header said.
func FuzzParse(f *testing.F) {
	readme := `A"ML=1;lt=+48.85837;lg=+002.29448;rd=12;top=20261124141930;lc=68;pm=G;si=001010123456789;ei=356938035643809;mcc=001;mnc=01;ml=129`
	f.Add("text/plain", []byte(readme), "+33612345678")
	f.Add("text/plain; charset=utf-8", []byte(readme), "0033612345678")
	f.Add("text/plain", []byte(readme), "0612345678")
	f.Add("TEXT/PLAIN", []byte(readme), " +33 6 12 34 56 78 ")
	https, _ := os.ReadFile("testdata/https.form")
	f.Add("application/x-www-form-urlencoded", https, "")
	f.Add("application/json", []byte(`{}`), "+33612345678")
	f.Fuzz(func(t *testing.T, contentType string, body []byte, device string) {
		m, fs := Parse(contentType, body, device)
		invariants(t, m, fs, func(m Message) (Message, []Finding) {
			switch m.Format {
			case FormatSMSv1:
				return ParseSMS(EncodeSMSv1(m), m.DeviceNumber)
			case FormatSMSv2:
				return ParseSMS(EncodeSMSv2(m), m.DeviceNumber)
			}
			return ParseHTTPS(EncodeHTTPS(m))
		})
	})
}
