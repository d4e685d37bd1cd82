package collab

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseClamdReply(t *testing.T) {
	for in, want := range map[string]string{
		"stream: OK\x00": "",
		"stream: Socle.Test.EICAR.UNOFFICIAL FOUND\x00": "Socle.Test.EICAR.UNOFFICIAL",
	} {
		if got, err := parseClamdReply(in); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"INSTREAM size limit exceeded. ERROR\x00", "", "stream:  FOUND", "stream: maybe"} {
		if _, err := parseClamdReply(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzParseClamdReply(f *testing.F) {
	for _, s := range []string{"stream: OK\x00", "stream: Eicar-Signature FOUND\x00", "INSTREAM size limit exceeded. ERROR\x00", "stream:  FOUND"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		virus, err := parseClamdReply(s)
		if err == nil && virus != "" && (strings.TrimSpace(virus) != virus || strings.Contains(virus, "\x00")) {
			t.Fatalf("%q: signature %q", s, virus)
		}
	})
}

func TestClientNetwork(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.77:5000", nil, "192.0.2.0/24"},
		{"[2001:db8:1:2::5]:443", nil, "2001:db8:1::/48"},
		{"192.0.2.77:5000", []string{"198.51.100.9"}, "192.0.2.0/24"},          // not a trusted proxy: its header is ignored
		{"10.1.2.3:5000", []string{"203.0.113.5, 10.9.9.9"}, "203.0.113.0/24"}, // the rightmost untrusted hop
		{"10.1.2.3:5000", []string{"forged, 203.0.113.5"}, "203.0.113.0/24"},
		{"10.1.2.3:5000", []string{"junk"}, "10.1.2.0/24"},
		{"[::ffff:192.0.2.1]:1", nil, "192.0.2.0/24"},
		{"nonsense", nil, "unknown"},
	} {
		if got := clientNetwork(c.remote, c.xff, proxy); got != c.want {
			t.Errorf("%s %v: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

func FuzzClientNetwork(f *testing.F) {
	f.Add("10.1.2.3:5000", "203.0.113.5, 10.9.9.9")
	f.Add("[2001:db8::1]:443", "")
	f.Add("nonsense", "::1,,")
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientNetwork(remote, []string{xff}, proxy)
		if got == "unknown" {
			return
		}
		p, err := netip.ParsePrefix(got)
		if err != nil || p.Bits() != 24 && p.Bits() != 48 || p.Masked() != p {
			t.Fatalf("%q %q: %q is not a /24 or /48 network", remote, xff, got)
		}
	})
}

func FuzzParseTransferRequest(f *testing.F) {
	f.Add(`{"recipients":["a@example.org","A@example.org"],"message":"m","expiry_days":7,"password":"12345678"}`)
	f.Add(`{"recipients":["x"],"expiry_days":31}`)
	f.Add(`{"unknown":1}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, errs := parseTransferRequest(strings.NewReader(body), "application/json", 30, 7)
		if len(errs) > 0 {
			return
		}
		if req.ExpiryDays < 1 || req.ExpiryDays > 30 || len(req.Message) > 10000 {
			t.Fatalf("accepted %+v", req)
		}
		seen := map[string]bool{}
		for _, r := range req.Recipients {
			if seen[r] || r != strings.ToLower(r) || !strings.Contains(r, "@") {
				t.Fatalf("recipient %q in %v", r, req.Recipients)
			}
			seen[r] = true
		}
	})
}

func FuzzCheckFileName(f *testing.F) {
	for _, s := range []string{"dossier.pdf", "../etc/passwd", "a\x00b", "é.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkFileName(name) == "" && (strings.ContainsAny(name, "/\\\x00\r\n") || name == "") {
			t.Fatalf("accepted %q", name)
		}
	})
}
