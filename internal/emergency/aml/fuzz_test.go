package aml

import (
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
