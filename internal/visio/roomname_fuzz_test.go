package visio

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRoomName: a room name comes from the URL or a form. It is refused with a reason, or
// it is 1 to 64 of a-z, 0-9, - and _, starting with a letter or a digit, with no hyphen
// twice in a row nor at its end, not reserved, and its own name (asking again changes
// nothing: every node and every link agree on it).
func FuzzRoomName(f *testing.F) {
	for _, s := range []string{"point-hebdo", " Point-Hebdo ", "static", "-x", "a_b", "\u212aey", "ünïcode",
		"Réunion préfecture", "cœur", "--", "\xff\xfe", strings.Repeat("é", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := RoomSlug(s)
		if err != nil {
			var re *RoomNameError
			if !errors.As(err, &re) || !errors.Is(err, ErrRoomEmpty) && !errors.Is(err, ErrRoomTooLong) && !errors.Is(err, ErrRoomReserved) {
				t.Fatalf("%q: refused without a reason: %v", s, err)
			}
			return
		}
		if len(name) < 1 || len(name) > 64 || reserved[name] || !roomPattern.MatchString(name) ||
			strings.Contains(name, "--") || strings.HasSuffix(name, "-") {
			t.Fatalf("%q accepted as %q", s, name)
		}
		for i, c := range []byte(name) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')) {
				t.Fatalf("%q accepted as %q", s, name)
			}
		}
		if again, err := RoomSlug(name); err != nil || again != name {
			t.Fatalf("%q: %q, then %q %v", s, name, again, err)
		}
		// Programs name rooms by their slug: RoomName takes it (in any case), and nothing else.
		if n, ok := RoomName(name); !ok || n != name {
			t.Fatalf("%q: RoomName(%q) %q %v", s, name, n, ok)
		}
		if n, ok := RoomName(s); ok && (n != name || strings.ToLower(s) != name) {
			t.Fatalf("%q: RoomName %q, its slug is %q", s, n, name)
		}
	})
}

// Names as people type them become readable room names, or are refused with the reason.
func TestRoomNamesAsPeopleTypeThem(t *testing.T) {
	for typed, want := range map[string]string{
		"Réunion préfecture":                "reunion-prefecture",
		"  Point hebdo — équipe SI (Lyon) ": "point-hebdo-equipe-si-lyon",
		"Cœur de métier":                    "coeur-de-metier",
		"point-hebdo":                       "point-hebdo",
		"ÉTÉ 2027 !!!":                      "ete-2027",
		"_a_b_":                             "a_b_",
		"\u212aelvin":                       "kelvin",
		"ﬁnances":                           "finances",
	} {
		if got, err := RoomSlug(typed); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", typed, got, err, want)
		}
	}
	for typed, want := range map[string]error{
		"":                        ErrRoomEmpty,
		"!!! ---":                 ErrRoomEmpty,
		"Совещание":               ErrRoomEmpty,
		"Static":                  ErrRoomReserved,
		strings.Repeat("é", 65):   ErrRoomTooLong,
		strings.Repeat("ab ", 22): ErrRoomTooLong, // 65 once the spaces are hyphens
	} {
		if got, err := RoomSlug(typed); !errors.Is(err, want) {
			t.Errorf("%q: %q %v, want %v", typed, got, err, want)
		}
	}
	if _, err := RoomSlug(strings.Repeat("é", 64)); err != nil {
		t.Errorf("64 folded characters: %v", err)
	}
}
