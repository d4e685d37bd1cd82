package notes

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what a meeting's notes may hold.
const (
	// MaxTextSize is the longest the text may grow, in bytes of UTF-8.
	MaxTextSize = 1 << 20
	// MaxOpSize is the largest operation accepted, counted as the bytes of UTF-8 it inserts
	// plus one per component (the browser client counts alike and splits a large paste).
	MaxOpSize = 64 << 10
	// maxWireSize is the longest JSON ParseOp reads: an op within MaxOpSize, written with
	// every character escaped (\u001f for one byte) and every number at its longest, takes
	// less than 9 bytes of JSON per unit of size.
	maxWireSize = 10 * MaxOpSize
)

// Errors a refused operation wraps.
var (
	ErrInvalid   = errors.New("notes: invalid operation")
	ErrLength    = errors.New("notes: the operation does not fit the text")
	ErrTooLarge  = errors.New("notes: too large")
	ErrStale     = errors.New("notes: the revision is too old, reload the notes")
	ErrRevision  = errors.New("notes: unknown revision")
	ErrDestroyed = errors.New("notes: the meeting has ended, the notes are gone")
)

// A Component is one step of an operation: exactly one of its fields is set.
type Component struct {
	Retain int    // keep this many code points
	Insert string // insert this text
	Delete int    // remove this many code points
}

// An Op walks the whole text, from its first code point to its last, keeping, inserting
// and deleting. Lengths count Unicode code points, not bytes, as the browser client does.
//
// In JSON it is an array where a positive integer n retains n code points, a string
// inserts itself and a negative integer -n deletes n code points, as in ot.js:
// [5, "abc", -3] keeps 5, inserts "abc", deletes 3; an op on a text of 8 code points.
//
// Transform and Compose return ops in canonical form: no empty component, no two adjacent
// components of one kind, and an insert before, never after, an adjacent delete.
type Op []Component

func (c Component) kind() byte {
	switch {
	case c.Retain != 0 && c.Insert == "" && c.Delete == 0:
		return 'r'
	case c.Retain == 0 && c.Insert != "" && c.Delete == 0:
		return 'i'
	case c.Retain == 0 && c.Insert == "" && c.Delete != 0:
		return 'd'
	}
	return 0
}

func (c Component) String() string {
	switch c.kind() {
	case 'r':
		return strconv.Itoa(c.Retain)
	case 'i':
		return strconv.Quote(c.Insert)
	case 'd':
		return strconv.Itoa(-c.Delete)
	}
	return fmt.Sprintf("{invalid %d %q %d}", c.Retain, c.Insert, c.Delete)
}

// String shows the op as its JSON, for messages and tests.
func (o Op) String() string {
	parts := make([]string, len(o))
	for i, c := range o {
		parts[i] = c.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// check refuses ops with a component that is not exactly one positive retain, one non-empty
// insert of valid UTF-8 or one positive delete.
func (o Op) check() error {
	for i, c := range o {
		switch c.kind() {
		case 'r':
			if c.Retain < 0 {
				return fmt.Errorf("%w: component %d retains %d", ErrInvalid, i, c.Retain)
			}
		case 'i':
			if !utf8.ValidString(c.Insert) {
				return fmt.Errorf("%w: component %d inserts invalid UTF-8", ErrInvalid, i)
			}
		case 'd':
			if c.Delete < 0 {
				return fmt.Errorf("%w: component %d deletes %d", ErrInvalid, i, c.Delete)
			}
		default:
			return fmt.Errorf("%w: component %d is not exactly one of retain, insert, delete", ErrInvalid, i)
		}
	}
	return nil
}

// BaseLen is the length, in code points, of the texts the op applies to.
func (o Op) BaseLen() int {
	n := 0
	for _, c := range o {
		n += c.Retain + c.Delete
	}
	return n
}

// TargetLen is the length, in code points, of the text the op makes.
func (o Op) TargetLen() int {
	n := 0
	for _, c := range o {
		n += c.Retain + utf8.RuneCountInString(c.Insert)
	}
	return n
}

// IsNoop says whether the op leaves every text it applies to unchanged.
func (o Op) IsNoop() bool {
	for _, c := range o {
		if c.Retain == 0 {
			return false
		}
	}
	return true
}

// size is how MaxOpSize measures an op built in Go.
func (o Op) size() int {
	n := len(o)
	for _, c := range o {
		n += len(c.Insert)
	}
	return n
}

// Apply returns text with the op applied; the op must span the whole text.
func (o Op) Apply(text string) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	if n, m := o.BaseLen(), utf8.RuneCountInString(text); n != m {
		return "", fmt.Errorf("%w: it spans %d code points, the text has %d", ErrLength, n, m)
	}
	var b strings.Builder
	grow := len(text)
	for _, c := range o {
		grow += len(c.Insert)
	}
	b.Grow(grow)
	pos := 0
	for _, c := range o {
		switch {
		case c.Retain > 0:
			end := advance(text, pos, c.Retain)
			b.WriteString(text[pos:end])
			pos = end
		case c.Delete > 0:
			pos = advance(text, pos, c.Delete)
		default:
			b.WriteString(c.Insert)
		}
	}
	return b.String(), nil
}

// advance returns the byte offset n code points after the offset pos of s.
func advance(s string, pos, n int) int {
	for ; n > 0 && pos < len(s); n-- {
		if s[pos] < utf8.RuneSelf {
			pos++
			continue
		}
		_, w := utf8.DecodeRuneInString(s[pos:])
		pos += w
	}
	return pos
}

// The builder methods append a component and keep the op canonical, as ot.js does.

func (o Op) retain(n int) Op {
	if n <= 0 {
		return o
	}
	if l := len(o) - 1; l >= 0 && o[l].Retain > 0 {
		o[l].Retain += n
		return o
	}
	return append(o, Component{Retain: n})
}

func (o Op) insert(s string) Op {
	if s == "" {
		return o
	}
	l := len(o) - 1
	if l >= 0 && o[l].Delete > 0 {
		// An insert goes before the delete it touches, so that equal edits look equal.
		if l >= 1 && o[l-1].Insert != "" {
			o[l-1].Insert += s
			return o
		}
		d := o[l]
		o[l] = Component{Insert: s}
		return append(o, d)
	}
	if l >= 0 && o[l].Insert != "" {
		o[l].Insert += s
		return o
	}
	return append(o, Component{Insert: s})
}

func (o Op) delete(n int) Op {
	if n <= 0 {
		return o
	}
	if l := len(o) - 1; l >= 0 && o[l].Delete > 0 {
		o[l].Delete += n
		return o
	}
	return append(o, Component{Delete: n})
}

// cursor walks an op component by component, handing out parts of them.
type cursor struct {
	op   Op
	i    int
	kind byte   // of the current component, 0 past the end
	n    int    // code points left in it
	s    string // the text left in it, for an insert
}

func newCursor(op Op) *cursor {
	c := &cursor{op: op, i: -1}
	c.next()
	return c
}

func (c *cursor) next() {
	c.i++
	if c.i >= len(c.op) {
		c.kind, c.n, c.s = 0, 0, ""
		return
	}
	x := c.op[c.i]
	c.kind = x.kind()
	switch c.kind {
	case 'r':
		c.n, c.s = x.Retain, ""
	case 'd':
		c.n, c.s = x.Delete, ""
	case 'i':
		c.n, c.s = utf8.RuneCountInString(x.Insert), x.Insert
	}
}

// take consumes n code points of the current component (n at most what is left) and
// returns the inserted text they stand for, if any.
func (c *cursor) take(n int) string {
	var s string
	if c.kind == 'i' {
		end := advance(c.s, 0, n)
		s, c.s = c.s[:end], c.s[end:]
	}
	c.n -= n
	if c.n == 0 {
		c.next()
	}
	return s
}

// Transform takes two ops made concurrently on the same text and returns a2 and b2 such
// that applying a then b2 gives the same text as applying b then a2. When both insert at
// the same place, a's text comes first.
func Transform(a, b Op) (a2, b2 Op, err error) {
	if err := a.check(); err != nil {
		return nil, nil, err
	}
	if err := b.check(); err != nil {
		return nil, nil, err
	}
	if a.BaseLen() != b.BaseLen() {
		return nil, nil, fmt.Errorf("%w: transforming ops on texts of %d and %d code points", ErrLength, a.BaseLen(), b.BaseLen())
	}
	a2, b2 = Op{}, Op{}
	x, y := newCursor(a), newCursor(b)
	for x.kind != 0 || y.kind != 0 {
		switch {
		case x.kind == 'i':
			n := x.n
			a2 = a2.insert(x.take(n))
			b2 = b2.retain(n)
			continue
		case y.kind == 'i':
			n := y.n
			a2 = a2.retain(n)
			b2 = b2.insert(y.take(n))
			continue
		}
		if x.kind == 0 || y.kind == 0 {
			return nil, nil, fmt.Errorf("%w: transforming ops of unequal lengths", ErrLength) // checked above
		}
		m := min(x.n, y.n) // both retain or delete
		switch {
		case x.kind == 'r' && y.kind == 'r':
			a2, b2 = a2.retain(m), b2.retain(m)
		case x.kind == 'd' && y.kind == 'r':
			a2 = a2.delete(m)
		case x.kind == 'r' && y.kind == 'd':
			b2 = b2.delete(m)
		}
		// Both deleting: the text is gone either way.
		x.take(m)
		y.take(m)
	}
	return a2, b2, nil
}

// Compose returns one op with the effect of applying a then b.
func Compose(a, b Op) (Op, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	if a.TargetLen() != b.BaseLen() {
		return nil, fmt.Errorf("%w: composing an op making %d code points with one on %d", ErrLength, a.TargetLen(), b.BaseLen())
	}
	out := Op{}
	x, y := newCursor(a), newCursor(b)
	for x.kind != 0 || y.kind != 0 {
		switch {
		case x.kind == 'd':
			out = out.delete(x.n)
			x.take(x.n)
			continue
		case y.kind == 'i':
			out = out.insert(y.take(y.n))
			continue
		}
		if x.kind == 0 || y.kind == 0 {
			return nil, fmt.Errorf("%w: composing ops of unmatched lengths", ErrLength) // checked above
		}
		m := min(x.n, y.n) // x retains or inserts what y retains or deletes
		switch {
		case x.kind == 'r' && y.kind == 'r':
			out = out.retain(m)
		case x.kind == 'r' && y.kind == 'd':
			out = out.delete(m)
		case x.kind == 'i' && y.kind == 'r':
			out = out.insert(x.s[:advance(x.s, 0, m)])
		}
		// An insert deleted at once leaves nothing.
		x.take(m)
		y.take(m)
	}
	return out, nil
}

// MarshalJSON writes the op as ot.js does: [5, "abc", -3].
func (o Op) MarshalJSON() ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	b := []byte{'['}
	for i, c := range o {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case c.Retain > 0:
			b = strconv.AppendInt(b, int64(c.Retain), 10)
		case c.Delete > 0:
			b = strconv.AppendInt(b, -int64(c.Delete), 10)
		default:
			s, err := json.Marshal(c.Insert)
			if err != nil {
				return nil, err
			}
			b = append(b, s...)
		}
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads an op as ParseOp does.
func (o *Op) UnmarshalJSON(data []byte) error {
	op, err := ParseOp(data)
	if err != nil {
		return err
	}
	*o = op
	return nil
}

// ParseOp decodes an op a client sent, refusing anything but an array whose items are
// non-zero integers of at most MaxTextSize or non-empty strings, and ops over MaxOpSize.
// The op comes back canonical. Whether it fits the text is for Apply or Submit to say.
func ParseOp(data []byte) (Op, error) {
	if len(data) > maxWireSize {
		return nil, fmt.Errorf("%w: the operation has %d bytes of JSON", ErrTooLarge, len(data))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if items == nil {
		return nil, fmt.Errorf("%w: not an array", ErrInvalid)
	}
	op := Op{}
	for i, raw := range items {
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%w: component %d: %v", ErrInvalid, i, err)
			}
			if s == "" {
				return nil, fmt.Errorf("%w: component %d inserts nothing", ErrInvalid, i)
			}
			op = op.insert(s)
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			// JSON numbers, as browsers read them: 3, 3.0 and 3e0 are one number.
			f, err := strconv.ParseFloat(string(raw), 64)
			if err != nil || f != math.Trunc(f) || f == 0 || math.Abs(f) > MaxTextSize {
				return nil, fmt.Errorf("%w: component %d is %s, not a non-zero integer of at most %d", ErrInvalid, i, raw, MaxTextSize)
			}
			if f > 0 {
				op = op.retain(int(f))
			} else {
				op = op.delete(int(-f))
			}
		default:
			return nil, fmt.Errorf("%w: component %d is %s, neither a number nor a string", ErrInvalid, i, raw)
		}
	}
	if n := op.BaseLen(); n > MaxTextSize {
		return nil, fmt.Errorf("%w: the operation spans %d code points", ErrTooLarge, n)
	}
	if n := op.size(); n > MaxOpSize {
		return nil, fmt.Errorf("%w: the operation has %d bytes, at most %d are accepted", ErrTooLarge, n, MaxOpSize)
	}
	return op, nil
}
