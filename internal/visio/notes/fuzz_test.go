package notes

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

// FuzzOpJSON feeds ParseOp what a client might send, and the op it accepts to Apply,
// Transform and Compose on a text: nothing may panic, and an op that does not span the
// text must be refused.
func FuzzOpJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c.json), "abcde")
	}
	for _, s := range invalidJSON {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`[2,"é",-1]`), "a😀b")
	f.Add([]byte(`[1,"😀",-1,"x"]`), "é\xff")
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		op, err := ParseOp(data)
		if err != nil {
			if op != nil {
				t.Fatalf("refused with an op: %v", op)
			}
			return
		}
		if !canonical(op) {
			t.Fatalf("%s read as %v, not canonical", data, op)
		}
		b, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := ParseOp(b); err != nil || !slices.Equal(back, op) {
			t.Fatalf("%v → %s → %v, %v", op, b, back, err)
		}
		got, err := op.Apply(text)
		if op.BaseLen() != utf8.RuneCountInString(text) {
			if !errors.Is(err, ErrLength) {
				t.Fatalf("%v on %q, of another length: %q, %v", op, text, got, err)
			}
			return
		}
		if err != nil || utf8.RuneCountInString(got) != op.TargetLen() {
			t.Fatalf("%v on %q: %q, %v", op, text, got, err)
		}
		// The same edit made twice at once converges too.
		a2, b2, err := Transform(op, op)
		if err != nil {
			t.Fatal(err)
		}
		if x, y := mustApply(t, got, b2), mustApply(t, got, a2); x != y {
			t.Fatalf("%v twice at once on %q: %q and %q", op, text, x, y)
		}
		if op.TargetLen() == op.BaseLen() {
			ab, err := Compose(op, op)
			if err != nil {
				t.Fatal(err)
			}
			if x, y := mustApply(t, text, ab), mustApply(t, got, op); x != y {
				t.Fatalf("%v twice on %q: %q composed, %q in turn", op, text, x, y)
			}
		}
	})
}
