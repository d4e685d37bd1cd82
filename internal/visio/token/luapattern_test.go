package token

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// context.room.regex: Jitsi runs room_name:match(room_claim), a Lua pattern, and lets the
// person in when what it returns (the match, or the first capture) is the whole room name.
// Source: jitsi-meet resources/prosody-plugins/token/util.lib.lua, verify_room (the
// jitsi_meet_context_room.regex branch); Lua 5.4 reference manual §6.4.1, Patterns.
func TestARoomPatternOpensTheRoomsItMatchesWhole(t *testing.T) {
	for _, tc := range []struct {
		pattern, room string
		want          bool
	}{
		{"point%-%a+", "point-hebdo", true},
		{"^point%-%a+$", "point-hebdo", true},
		{"point%-%a+", "point-42", false},
		{"point%-%w+", "point-42", true},
		// Unanchored, but what matches must be the whole name: a part is not enough.
		{"hebdo", "point-hebdo", false},
		{"point", "point-hebdo", false},
		{".*hebdo", "point-hebdo", true},
		// In a Lua pattern, - after a character is the lazy *: "point-hebdo" as a pattern
		// means "poin", any number of t, "hebdo", and does not match the room point-hebdo.
		{"point-hebdo", "point-hebdo", false},
		{"point-hebdo", "poinhebdo", true},
		{"point%-hebdo", "point-hebdo", true},
		// Sets, ranges and complements.
		{"[a-z]+%-[0-9][0-9]", "salle-12", true},
		{"[a-z]+%-[0-9][0-9]", "salle-123", false},
		{"[^_]+", "salle_12", false},
		{"[%l%d%-]+", "salle-12", true},
		{"%D+", "salle-", true},
		{"%D+", "salle-1", false},
		// ? and + and -.
		{"salles?%-%d+", "salle-1", true},
		{"salles?%-%d+", "salles-1", true},
		{"s%a-%-1", "salle-1", true},
		// The first capture is what Lua returns: the whole name must be captured.
		{"(salle%-%d+)", "salle-12", true},
		{"salle%-(%d+)", "salle-12", false},
		{"^(.-)$", "salle-12", true},
		// Anchors only at the ends; elsewhere, characters.
		{"a^b", "a^b", true},
		{"a$b", "a$b", true},
		// Quantifiers where no character precedes them are characters, as in Lua.
		{"*a", "*a", true},
		// A ] right after [ belongs to the set.
		{"[]a]+", "a]a", true},
	} {
		got, err := matchRoomPattern(tc.pattern, tc.room)
		if err != nil || got != tc.want {
			t.Errorf("%q on %q: %v, %v; want %v", tc.pattern, tc.room, got, err, tc.want)
		}
	}
}

// What cannot be run in linear time, or what Lua itself refuses, is refused with
// ErrPattern, never approximated.
func TestRoomPatternsSocleDoesNotRunAreRefused(t *testing.T) {
	for _, p := range []string{
		"(%a)%1",      // back-reference
		"%b()",        // balanced match
		"%f[%a]salle", // frontier
		"()salle",     // position capture
		"%q",          // no such class
		"salle%",      // ends with %
		"[a-z",        // unclosed set
		"(salle",      // unfinished capture
		"salle)",      // closes nothing
		"[z-a]",       // reversed range
		"sall\u00e9",  // not ASCII: Lua matches bytes
		strings.Repeat("a", maxPatternLen+1),
		strings.Repeat("(a)", maxCaptures+1),
	} {
		if _, err := compileLuaPattern(p); !errors.Is(err, ErrPattern) {
			t.Errorf("%q: %v, want %v", p, err, ErrPattern)
		}
	}
}

func TestATokenWithARoomPattern(t *testing.T) {
	secret := "a shared secret of enough length"
	tok := func(room string, regex any) string {
		return hs256(t, jitsi(func(c jwt.MapClaims) {
			c["room"] = room
			c["context"].(map[string]any)["room"] = map[string]any{"regex": regex}
		}), secret)
	}
	v := verifier(nil)
	if c, err := v.Verify(tok("point%-%a+", true), "point-hebdo"); err != nil || !c.RoomRegex {
		t.Errorf("regex true: %+v, %v", c, err)
	}
	// Jitsi reads true or "true".
	if _, err := v.Verify(tok("point%-%a+", "true"), "point-hebdo"); err != nil {
		t.Errorf(`regex "true": %v`, err)
	}
	// Without regex, the claim is a name, compared whole.
	if _, err := v.Verify(tok("point%-%a+", false), "point-hebdo"); !errors.Is(err, ErrRoom) {
		t.Errorf("regex false: %v, want %v", err, ErrRoom)
	}
	if _, err := v.Verify(tok("point%-%a+", true), "conseil"); !errors.Is(err, ErrRoom) {
		t.Errorf("no match: %v, want %v", err, ErrRoom)
	}
	// A tenant's room: the pattern is matched against the room's name, the tenant aside.
	tenant := hs256(t, jitsi(func(c jwt.MapClaims) {
		c["sub"] = "dinum"
		c["room"] = "point%-%a+"
		c["context"].(map[string]any)["room"] = map[string]any{"regex": true}
	}), secret)
	if _, err := v.Verify(tenant, "[dinum]point-hebdo"); err != nil {
		t.Errorf("tenant's room: %v", err)
	}
	// A pattern socle does not run refuses the token, saying why.
	_, err := v.Verify(tok("(%a+)%1", true), "salsa")
	if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrPattern) || !strings.Contains(err.Error(), "back-reference") {
		t.Errorf("back-reference: %v", err)
	}
	// Other things under context.room (Jitsi's lobby, password) do not spoil the token.
	other := hs256(t, jitsi(func(c jwt.MapClaims) { c["context"].(map[string]any)["room"] = "not an object" }), secret)
	if _, err := v.Verify(other, "point-hebdo"); err != nil {
		t.Errorf("context.room a string: %v", err)
	}
}

// FuzzLuaPattern: a pattern comes from whoever signs tokens. It is refused with ErrPattern,
// or it compiles and runs on any room name without panicking.
func FuzzLuaPattern(f *testing.F) {
	for _, p := range []string{"point%-%a+", "^(.-)$", "[]a]+", "[^%d%-]*", "%b()", "(", "a$b", "[%", "%"} {
		f.Add(p, "point-hebdo")
	}
	f.Fuzz(func(t *testing.T, pattern, room string) {
		if _, err := matchRoomPattern(pattern, room); err != nil && !errors.Is(err, ErrPattern) {
			t.Fatalf("%q: %v", pattern, err)
		}
	})
}
