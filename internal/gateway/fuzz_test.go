package gateway

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"socle/internal/gateway/catalog"
)

var validTraceparent = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

// FuzzTraceparent: whatever a caller sends, the upstream gets a well-formed traceparent of
// version 00, with a span of the gateway's; the caller's trace is kept exactly when its
// header was valid (W3C Trace Context §3.2).
func FuzzTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		out := traceparent(in)
		if !validTraceparent.MatchString(out) {
			t.Fatalf("%q gave %q", in, out)
		}
		kept := len(in) >= 55 && out[3:36] == in[3:36]
		valid := len(in) >= 55 && regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`).MatchString(in[:55]) &&
			in[:2] != "ff" && in[3:35] != strings.Repeat("0", 32) && in[36:52] != strings.Repeat("0", 16) &&
			(len(in) == 55 || in[:2] != "00" && in[55] == '-')
		if kept != valid {
			t.Fatalf("%q gave %q: the caller's trace kept %v", in, out, kept)
		}
		if kept && out[36:52] == in[36:52] {
			t.Fatalf("%q: the gateway's span must be its own", in)
		}
	})
}

// FuzzKeyShape: a text with the shape of a key is never taken for a JWT, and the other way
// round, so that a credential is checked by the one method it is.
func FuzzKeyShape(f *testing.F) {
	f.Add("socle_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig")
	f.Fuzz(func(t *testing.T, in string) {
		if catalog.LooksLikeKey(in) && len(in) != 66 {
			t.Fatalf("%q: a key is 66 characters", in)
		}
		_, err := catalog.Empty().ConsumerOfKey(in, time.Now())
		if err == nil {
			t.Fatalf("%q is a key of an empty catalogue", in)
		}
	})
}
