package notes

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// Shorthands for ops in tables.
func r(n int) Component    { return Component{Retain: n} }
func i(s string) Component { return Component{Insert: s} }
func d(n int) Component    { return Component{Delete: n} }

func TestApplyEditsCodePointsNotBytes(t *testing.T) {
	for _, c := range []struct {
		name, text string
		op         Op
		want       string
	}{
		{"keep everything", "héllo", Op{r(5)}, "héllo"},
		{"an empty op on an empty text", "", Op{}, ""},
		{"type into an empty text", "", Op{i("salut")}, "salut"},
		{"insert at the start", "monde", Op{i("le "), r(5)}, "le monde"},
		{"insert after an accent", "é!", Op{r(1), i("té"), r(1)}, "été!"},
		{"delete an accented letter", "café!", Op{r(3), d(1), r(1)}, "caf!"},
		{"an emoji is one code point", "a😀b", Op{r(1), d(1), r(1)}, "ab"},
		{"insert an emoji after one", "😀", Op{r(1), i("🎉")}, "😀🎉"},
		{"a flag is two code points", "🇫🇷x", Op{d(2), r(1)}, "x"},
		{"replace everything", "ancien", Op{i("nouveau"), d(6)}, "nouveau"},
		{"delete before insert works too", "ab", Op{d(1), i("x"), r(1)}, "xb"},
		{"lines", "un\ndeux\n", Op{r(3), i("un et demi\n"), r(5)}, "un\nun et demi\ndeux\n"},
	} {
		got, err := c.op.Apply(c.text)
		if err != nil || got != c.want {
			t.Errorf("%s: %v on %q = %q, %v; want %q", c.name, c.op, c.text, got, err, c.want)
		}
		if err == nil && utf8.RuneCountInString(got) != c.op.TargetLen() {
			t.Errorf("%s: TargetLen %d, the text has %d code points", c.name, c.op.TargetLen(), utf8.RuneCountInString(got))
		}
	}
}

func TestApplyRefusesOpsThatDoNotFit(t *testing.T) {
	for _, c := range []struct {
		name, text string
		op         Op
		want       error
	}{
		{"too short", "abc", Op{r(2)}, ErrLength},
		{"too long", "abc", Op{r(4)}, ErrLength},
		{"counts bytes, not code points", "é", Op{r(2)}, ErrLength},
		{"nothing on a text", "a", Op{}, ErrLength},
		{"two fields in one component", "ab", Op{{Retain: 1, Insert: "x"}, r(1)}, ErrInvalid},
		{"an empty component", "ab", Op{{}, r(2)}, ErrInvalid},
		{"a negative retain", "ab", Op{r(-1), r(3)}, ErrInvalid},
		{"a negative delete", "ab", Op{d(-1), r(3)}, ErrInvalid},
		{"invalid UTF-8", "ab", Op{i("\xff"), r(2)}, ErrInvalid},
	} {
		if got, err := c.op.Apply(c.text); !errors.Is(err, c.want) {
			t.Errorf("%s: %v on %q = %q, %v; want %v", c.name, c.op, c.text, got, err, c.want)
		}
	}
}

// transformCases are concurrent edits of one text and how they are reconciled: a then b2
// and b then a2 both give want.
var transformCases = []struct {
	name, text string
	a, b       Op
	a2, b2     Op
	want       string
}{
	{"inserts at different places", "ac",
		Op{r(1), i("b"), r(1)}, Op{r(2), i("d")},
		Op{r(1), i("b"), r(2)}, Op{r(3), i("d")}, "abcd"},
	{"inserts at one place: a's comes first", "",
		Op{i("a")}, Op{i("b")},
		Op{i("a"), r(1)}, Op{r(1), i("b")}, "ab"},
	{"one deletes what the other keeps", "abc",
		Op{d(1), r(2)}, Op{r(3), i("!")},
		Op{d(1), r(3)}, Op{r(2), i("!")}, "bc!"},
	{"both delete the same letter", "abc",
		Op{r(1), d(1), r(1)}, Op{r(1), d(1), r(1)},
		Op{r(2)}, Op{r(2)}, "ac"},
	{"overlapping deletes", "abcdef",
		Op{r(1), d(3), r(2)}, Op{r(2), d(3), r(1)},
		Op{r(1), d(1), r(1)}, Op{r(1), d(1), r(1)}, "af"},
	{"an insert inside a deleted range survives", "abcd",
		Op{r(2), i("X"), r(2)}, Op{d(4)},
		Op{i("X")}, Op{d(2), r(1), d(2)}, "X"},
	{"accents and emoji count one each", "café😀",
		Op{r(3), d(1), i("e"), r(1)}, Op{r(4), i("🎉"), r(1)},
		Op{r(3), i("e"), d(1), r(2)}, Op{r(4), i("🎉"), r(1)}, "cafe🎉😀"},
}

func TestTransformReconcilesConcurrentEdits(t *testing.T) {
	for _, c := range transformCases {
		a2, b2, err := Transform(c.a, c.b)
		if err != nil || !slices.Equal(a2, c.a2) || !slices.Equal(b2, c.b2) {
			t.Errorf("%s: Transform(%v, %v) = %v, %v, %v; want %v, %v", c.name, c.a, c.b, a2, b2, err, c.a2, c.b2)
			continue
		}
		if got := mustApply(t, mustApply(t, c.text, c.a), b2); got != c.want {
			t.Errorf("%s: a then b2 = %q, want %q", c.name, got, c.want)
		}
		if got := mustApply(t, mustApply(t, c.text, c.b), a2); got != c.want {
			t.Errorf("%s: b then a2 = %q, want %q", c.name, got, c.want)
		}
	}
	if _, _, err := Transform(Op{r(2)}, Op{r(3)}); !errors.Is(err, ErrLength) {
		t.Errorf("ops on texts of different lengths: %v", err)
	}
}

// composeCases are an edit a, then b on a's result, and the single op doing both.
var composeCases = []struct {
	name, text string
	a, b, ab   Op
	want       string
}{
	{"two keystrokes", "", Op{i("a")}, Op{r(1), i("b")}, Op{i("ab")}, "ab"},
	{"typed then erased", "x", Op{r(1), i("abc")}, Op{r(2), d(2)}, Op{r(1), i("a")}, "xa"},
	{"erased then typed", "abc", Op{d(3)}, Op{i("é")}, Op{i("é"), d(3)}, "é"},
	{"edits at both ends", "mid", Op{i("<"), r(3)}, Op{r(4), i(">")}, Op{i("<"), r(3), i(">")}, "<mid>"},
	{"an emoji typed then replaced", "ab", Op{r(1), i("😀"), r(1)}, Op{r(1), d(1), i("🎉"), r(1)}, Op{r(1), i("🎉"), r(1)}, "a🎉b"},
}

func TestComposeMakesOneOpOfTwo(t *testing.T) {
	for _, c := range composeCases {
		ab, err := Compose(c.a, c.b)
		if err != nil || !slices.Equal(ab, c.ab) {
			t.Errorf("%s: Compose(%v, %v) = %v, %v; want %v", c.name, c.a, c.b, ab, err, c.ab)
			continue
		}
		if got := mustApply(t, c.text, ab); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := Compose(Op{i("ab")}, Op{r(3)}); !errors.Is(err, ErrLength) {
		t.Errorf("b on a text of another length than a makes: %v", err)
	}
}

// jsonCases are ops as clients send them and as they are read.
var jsonCases = []struct {
	json string
	op   Op
	out  string // written back, when not json
}{
	{`[5,"abc",-3]`, Op{r(5), i("abc"), d(3)}, ""},
	{`[]`, Op{}, ""},
	{`["é😀"]`, Op{i("é😀")}, ""},
	{`[1, 2, -1, -2]`, Op{r(3), d(3)}, `[3,-3]`},
	{`[-1, "a", "b"]`, Op{i("ab"), d(1)}, `["ab",-1]`},
	{`[3.0, 1e1]`, Op{r(13)}, `[13]`},
	{"[ 2 ,\n\t\"a\" , -1 ]", Op{r(2), i("a"), d(1)}, `[2,"a",-1]`},
	{`["\ud83d\ude00\n\"<"]`, Op{i("😀\n\"<")}, `["😀\n\"\u003c"]`},
}

// invalidJSON are client ops refused before they come near the text.
var invalidJSON = []string{
	``, `null`, `{}`, `"abc"`, `5`, `[1,]`, `[1`,
	`[0]`, `[-0]`, `[""]`, `[1.5]`, `[-2.5]`, `[true]`, `[null]`, `[[1]]`, `[{"retain":1}]`,
	`[1048577]`, `[-1048577]`, `[1e400]`, `[1, 1048576]`, `[1] [2]`,
}

func TestOpJSONIsOtJSFormat(t *testing.T) {
	for _, c := range jsonCases {
		op, err := ParseOp([]byte(c.json))
		if err != nil || !slices.Equal(op, c.op) {
			t.Errorf("ParseOp(%s) = %v, %v; want %v", c.json, op, err, c.op)
			continue
		}
		want := c.out
		if want == "" {
			want = c.json
		}
		if b, err := json.Marshal(op); err != nil || string(b) != want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", op, b, err, want)
		}
	}
	for _, s := range invalidJSON {
		if op, err := ParseOp([]byte(s)); err == nil {
			t.Errorf("ParseOp(%s) = %v, want an error", s, op)
		}
	}
	for name, c := range map[string]struct {
		json string
		ok   bool
	}{
		"inserting MaxOpSize bytes in one component": {`["` + strings.Repeat("x", MaxOpSize) + `"]`, false},
		"MaxOpSize with its component":               {`["` + strings.Repeat("x", MaxOpSize-1) + `"]`, true},
		"escaped, twice as long in JSON":             {`["` + strings.Repeat(`\n`, MaxOpSize-1) + `"]`, true},
		"eleven times as long in JSON":               {`[` + strings.Repeat(" ", 11*MaxOpSize) + `1]`, false},
	} {
		if _, err := ParseOp([]byte(c.json)); c.ok != (err == nil) || err != nil && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var msg struct {
		Rev int `json:"rev"`
		Op  Op  `json:"op"`
	}
	if err := json.Unmarshal([]byte(`{"rev": 3, "op": [1, "x"]}`), &msg); err != nil || msg.Rev != 3 || msg.Op.String() != `[1,"x"]` {
		t.Errorf("in a message: %+v %v", msg, err)
	}
	if err := json.Unmarshal([]byte(`{"rev": 3, "op": [0]}`), &msg); err == nil {
		t.Errorf("a bad op in a message is accepted")
	}
	if _, err := json.Marshal(Op{{}}); err == nil {
		t.Errorf("an invalid op is written")
	}
}

// Properties on random ops over random texts.

// alphabet mixes one-byte, two-byte, three-byte and four-byte code points, and one that
// is two code points on screen.
var alphabet = []string{"a", "b", " ", "\n", "é", "中", "😀", "🇫🇷", "x"}

func randomText(rnd *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[rnd.IntN(len(alphabet))])
	}
	return b.String()
}

// randomOp is a random edit of a text of n code points, canonical.
func randomOp(rnd *rand.Rand, n int) Op {
	op := Op{}
	for left := n; left > 0 || rnd.IntN(4) == 0; {
		switch k := rnd.IntN(5); {
		case k < 2 && left > 0:
			m := 1 + rnd.IntN(min(left, 5))
			op, left = op.retain(m), left-m
		case k < 3 && left > 0:
			m := 1 + rnd.IntN(min(left, 5))
			op, left = op.delete(m), left-m
		case k >= 3:
			op = op.insert(randomText(rnd, 1+rnd.IntN(4)))
		}
		if left == 0 && rnd.IntN(2) == 0 {
			break
		}
	}
	return op
}

func canonical(op Op) bool {
	if op.check() != nil {
		return false
	}
	for k := 1; k < len(op); k++ {
		a, b := op[k-1].kind(), op[k].kind()
		if a == b || a == 'd' && b == 'i' {
			return false
		}
	}
	return true
}

func mustApply(t *testing.T, text string, op Op) string {
	t.Helper()
	s, err := op.Apply(text)
	if err != nil {
		t.Fatalf("%v on %q: %v", op, text, err)
	}
	return s
}

func TestConcurrentEditsConvergeTP1(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		text := randomText(rnd, rnd.IntN(12))
		n := utf8.RuneCountInString(text)
		a, b := randomOp(rnd, n), randomOp(rnd, n)
		a2, b2, err := Transform(a, b)
		if err != nil {
			t.Fatalf("Transform(%v, %v): %v", a, b, err)
		}
		if !canonical(a2) || !canonical(b2) {
			t.Fatalf("Transform(%v, %v) = %v, %v: not canonical", a, b, a2, b2)
		}
		ab2 := mustApply(t, mustApply(t, text, a), b2)
		ba2 := mustApply(t, mustApply(t, text, b), a2)
		if ab2 != ba2 {
			t.Fatalf("on %q, a=%v b=%v: a then b2=%v gives %q, b then a2=%v gives %q", text, a, b, b2, ab2, a2, ba2)
		}
		// And composed, as a client with a buffer and the server see them.
		x, _ := Compose(a, b2)
		y, _ := Compose(b, a2)
		if !slices.Equal(x, y) {
			t.Fatalf("on %q, a=%v b=%v: a·b2=%v, b·a2=%v", text, a, b, x, y)
		}
	}
}

func TestComposeIsApplyingInTurnAndAssociative(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		text := randomText(rnd, rnd.IntN(12))
		a := randomOp(rnd, utf8.RuneCountInString(text))
		b := randomOp(rnd, a.TargetLen())
		c := randomOp(rnd, b.TargetLen())
		ab, err := Compose(a, b)
		if err != nil || !canonical(ab) {
			t.Fatalf("Compose(%v, %v) = %v, %v", a, b, ab, err)
		}
		if got, want := mustApply(t, text, ab), mustApply(t, mustApply(t, text, a), b); got != want {
			t.Fatalf("on %q: a·b=%v gives %q, a then b %q", text, ab, got, want)
		}
		bc, _ := Compose(b, c)
		left, _ := Compose(ab, c)
		right, _ := Compose(a, bc)
		if !slices.Equal(left, right) {
			t.Fatalf("a=%v b=%v c=%v: (a·b)·c=%v, a·(b·c)=%v", a, b, c, left, right)
		}
	}
}

func TestOpJSONRoundTrips(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		op := randomOp(rnd, rnd.IntN(20))
		b, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseOp(b)
		if err != nil || !slices.Equal(back, op) {
			t.Fatalf("%v → %s → %v, %v", op, b, back, err)
		}
	}
}
