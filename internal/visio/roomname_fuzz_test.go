package visio

import "testing"

// FuzzRoomName: a room name comes from the URL. It is refused, or it is 1 to 64 of a-z,
// 0-9, - and _, starting with a letter or a digit, not reserved, and its own name (asking
// again changes nothing: every node and every link agree on it).
func FuzzRoomName(f *testing.F) {
	for _, s := range []string{"point-hebdo", " Point-Hebdo ", "static", "-x", "a_b", "\u212aey", "ünïcode"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ok := RoomName(s)
		if !ok {
			return
		}
		if len(name) < 1 || len(name) > 64 || reserved[name] || !roomPattern.MatchString(name) {
			t.Fatalf("%q accepted as %q", s, name)
		}
		for i, c := range []byte(name) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')) {
				t.Fatalf("%q accepted as %q", s, name)
			}
		}
		if again, ok := RoomName(name); !ok || again != name {
			t.Fatalf("%q: %q, then %q %v", s, name, again, ok)
		}
	})
}
