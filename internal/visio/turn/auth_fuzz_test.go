package turn

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseUsername: a TURN username comes from anyone who reaches the relay. It is refused,
// or it is exactly "<expiry>:<user>" as Credentials mints it — digits of a time not yet
// passed, and a user — and the user it yields is the one minted.
func FuzzParseUsername(f *testing.F) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	f.Add(strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + ":point-hebdo#1")
	f.Add(strconv.FormatInt(now.Add(-time.Hour).Unix(), 10) + ":expired")
	f.Add("+1798000000:x")
	f.Add("00000000001798000000:a:b")
	f.Add("9223372036854775808:overflow")
	f.Add(":nobody")
	f.Fuzz(func(t *testing.T, username string) {
		user, err := parseUsername(username, now)
		switch {
		case errors.Is(err, errMalformedUsername):
			return
		case err != nil && !errors.Is(err, errExpired):
			t.Fatalf("refusal of an unknown kind: %v", err)
		}
		expiry, rest, ok := strings.Cut(username, ":")
		exp, perr := strconv.ParseInt(expiry, 10, 64)
		if !ok || user == "" || rest != user || perr != nil || exp <= 0 || strings.Trim(expiry, "0123456789") != "" {
			t.Fatalf("%q accepted as user %q", username, user)
		}
		if (err == nil) != (now.Unix() <= exp) {
			t.Fatalf("%q: expired %v at %d", username, err, now.Unix())
		}
	})
}
