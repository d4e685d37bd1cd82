package aml

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// now is the clock of the golden files, so that time-based findings do not drift.
var now = time.Date(2026, 11, 24, 14, 20, 5, 0, time.UTC)

type golden struct {
	Message  Message   `json:"message"`
	Findings []Finding `json:"findings"`
	Usable   bool      `json:"usable"`
}

func parseFile(t *testing.T, name string) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	var f []Finding
	if strings.HasSuffix(name, ".form") {
		m, f = parseHTTPS(b, now)
	} else {
		m, f = parseSMS(b, "+33612345678", now)
	}
	if f == nil {
		f = []Finding{}
	}
	return golden{Message: m, Findings: f, Usable: Usable(m, f)}
}

// TestGolden parses every input of testdata and compares with its .golden.json; run with
// -update to rewrite them after a deliberate change, then read the diff.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.txt")
	forms, _ := filepath.Glob("testdata/*.form")
	for _, path := range append(inputs, forms...) {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			got, _ := json.MarshalIndent(parseFile(t, name), "", "  ")
			gf := filepath.Join("testdata", strings.TrimSuffix(name, filepath.Ext(name))+".golden.json")
			if *update {
				os.WriteFile(gf, append(got, '\n'), 0o644)
				return
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if strings.TrimSpace(string(want)) != strings.TrimSpace(string(got)) {
				t.Errorf("%s differs from %s:\n%s", name, gf, got)
			}
		})
	}
}

func has(fs []Finding, field string, sev Severity) bool {
	for _, f := range fs {
		if f.Field == field && f.Severity == sev {
			return true
		}
	}
	return false
}

func TestWhatMakesAMessageUnusable(t *testing.T) {
	for _, c := range []struct {
		file, field string
	}{
		{"sms-v1-no-location.txt", "lt"},
		{"sms-v1-bad-values.txt", "lt"},
		{"sms-v3.txt", `A"ML`},
		{"sms-garbage.txt", "body"},
		{"https-bad.form", "location_latitude"},
		{"https-bad.form", "device_number"},
	} {
		g := parseFile(t, c.file)
		if g.Usable || !has(g.Findings, c.field, Error) {
			t.Errorf("%s: usable=%v findings=%v, want an error on %s", c.file, g.Usable, g.Findings, c.field)
		}
	}
}

func TestWhatIsOnlyWorthAWarning(t *testing.T) {
	for _, c := range []struct {
		file, field string
	}{
		{"sms-v1-ml-mismatch.txt", "ml"},
		{"sms-v1-bad-values.txt", "zz"},
		{"https-bad.form", "mystery"},
		{"https-bad.form", "cell_network_mcc"},
		{"https.form", "location_time"}, // 3 s before the call: no warning expected below
	} {
		g := parseFile(t, c.file)
		if c.file == "https.form" {
			if has(g.Findings, c.field, Warning) {
				t.Errorf("%s: unexpected warning on %s", c.file, c.field)
			}
			continue
		}
		if !has(g.Findings, c.field, Warning) {
			t.Errorf("%s: findings %v, want a warning on %s", c.file, g.Findings, c.field)
		}
	}
	if g := parseFile(t, "sms-v1-ml-mismatch.txt"); !g.Usable {
		t.Error("an ml mismatch made the message unusable")
	}
}

func TestSMSNeedsTheCallerNumberFromTheOperator(t *testing.T) {
	b, _ := os.ReadFile("testdata/sms-v1.txt")
	for number, ok := range map[string]bool{"+33612345678": true, "0033612345678": true, "": false, "0612345678": false, "+33 6 12": false} {
		m, f := parseSMS(b, number, now)
		if Usable(m, f) != ok {
			t.Errorf("Device-Number %q: usable=%v, want %v (%v)", number, Usable(m, f), ok, f)
		}
	}
}

func TestParseDispatchesOnTheMediaType(t *testing.T) {
	b, _ := os.ReadFile("testdata/https.form")
	if m, _ := Parse("application/x-www-form-urlencoded; charset=utf-8", b, ""); m.Format != FormatHTTPS {
		t.Errorf("form read as %s", m.Format)
	}
	if _, f := Parse("application/json", b, ""); !has(f, "Content-Type", Error) {
		t.Errorf("json accepted: %v", f)
	}
	if _, f := Parse("text/plain", []byte(strings.Repeat("x", MaxSize+1)), ""); !has(f, "body", Error) {
		t.Errorf("oversize accepted: %v", f)
	}
	if _, f := Parse("text/plain", []byte{'A', 0xff}, ""); !has(f, "body", Error) {
		t.Errorf("invalid UTF-8 accepted: %v", f)
	}
}

func TestEncodersWriteWhatTheParsersReadBack(t *testing.T) {
	g := parseFile(t, "https.form")
	for name, enc := range map[string]func(Message) []byte{"https": EncodeHTTPS, "sms-v1": EncodeSMSv1, "sms-v2": EncodeSMSv2} {
		b := enc(g.Message)
		var m Message
		var f []Finding
		if name == "https" {
			m, f = parseHTTPS(b, now)
		} else {
			m, f = parseSMS(b, g.Message.DeviceNumber, now)
		}
		if !Usable(m, f) {
			t.Fatalf("%s: %s is not usable: %v", name, b, f)
		}
		for _, x := range f {
			if x.Field == "ml" {
				t.Errorf("%s: ml finding on our own output %s: %v", name, b, x)
			}
		}
		if d := m.Location.Latitude - g.Message.Location.Latitude; d > 1e-5 || d < -1e-5 {
			t.Errorf("%s: latitude %v became %v", name, g.Message.Location.Latitude, m.Location.Latitude)
		}
	}
}
