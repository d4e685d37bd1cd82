package invite

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestAnInvitationOpensItsRoomUntilItExpires(t *testing.T) {
	s, _ := New(key)
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	code := s.Code("Point-Hebdo", now.Add(24*time.Hour))
	if exp, err := s.Check(code, "point-hebdo", now); err != nil || !exp.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("%v %v", exp, err)
	}
	if _, err := s.Check(code, "point-hebdo", now.Add(24*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if _, err := s.Check(code, "conseil", now); !errors.Is(err, ErrRoom) {
		t.Fatalf("other room: %v", err)
	}
}

func TestForgedOrAlteredCodesAreRefused(t *testing.T) {
	s, _ := New(key)
	other, _ := New([]byte(strings.Repeat("x", 32)))
	now := time.Now()
	code := s.Code("salle", now.Add(time.Hour))
	b := []byte(code)
	b[3] ^= 1 // a later expiry, say
	for name, c := range map[string]string{
		"another key": other.Code("salle", now.Add(time.Hour)),
		"altered":     string(b),
		"truncated":   code[:20],
		"not base64":  "!!!",
		"empty":       "",
	} {
		if _, err := s.Check(c, "salle", now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New([]byte("short")); err == nil {
		t.Error("a short key is accepted")
	}
}

// FuzzCheck: a code passes only if it is exactly one socle would make for that room and
// expiry: nothing else is accepted.
func FuzzCheck(f *testing.F) {
	s, _ := New(key)
	f.Add(s.Code("salle", time.Now().Add(time.Hour)), "salle")
	f.Fuzz(func(t *testing.T, code, room string) {
		exp, err := s.Check(code, room, time.Unix(0, 0))
		if err == nil && code != s.Code(room, exp) {
			t.Fatalf("%q passed but is not socle's code for %q", code, room)
		}
	})
}
