package nrn

import (
	"errors"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, want string
		checksum bool // refused for its check digits only
	}{
		{in: "85031412401", want: "85031412401"},
		{in: "85.03.14-124.01", want: "85031412401"},
		{in: "01020915329", want: "01020915329"}, // born 2001: the check digits count a leading 2
		{in: "01.02.09-153.29", want: "01020915329"},
		{in: "85031412402", checksum: true},
		{in: "0102091534", want: ""},      // 10 digits
		{in: "8503141240a", want: ""},     // not a digit
		{in: "85-03-14.124.01", want: ""}, // separators misplaced
		{in: "85133412401", want: ""},     // month 13
		{in: "85033212401", want: ""},     // day 32
		{in: "", want: ""},
	} {
		got, err := Parse(c.in)
		var e *Error
		switch {
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("Parse(%q) = %q, %v; want %q", c.in, got, err, c.want)
		case c.want == "" && err == nil:
			t.Errorf("Parse(%q) = %q, accepted; want refused", c.in, got)
		case c.want == "" && (!errors.As(err, &e) || e.Checksum != c.checksum):
			t.Errorf("Parse(%q): %v; want an Error with Checksum %v", c.in, err, c.checksum)
		}
	}
}

func TestParseRefusesImpossibleDates(t *testing.T) {
	// 1985-02-30 does not exist, even with right check digits.
	nrn := "850230124" + checkDigits("850230124", false)
	if _, err := Parse(nrn); err == nil {
		t.Fatalf("Parse(%q) accepted February 30th", nrn)
	}
}

func TestMake(t *testing.T) {
	// Check digits: 97 − (850314124 mod 97) = 1; from 2000, 97 − (2010209153 mod 97) = 29.
	if got := Make(time.Date(1985, 3, 14, 0, 0, 0, 0, time.UTC), 124); got != "85031412401" {
		t.Errorf("Make(1985-03-14, 124) = %s, want 85031412401", got)
	}
	if got := Make(time.Date(2001, 2, 9, 0, 0, 0, 0, time.UTC), 153); got != "01020915329" {
		t.Errorf("Make(2001-02-09, 153) = %s, want 01020915329", got)
	}
	if got := Format("85031412401"); got != "85.03.14-124.01" {
		t.Errorf("Format = %s", got)
	}
}

// FuzzParse: whatever Parse accepts has right check digits, and writing it back in
// the form it was given gives the input again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"85031412401", "85.03.14-124.01", "01020915329", "00000000097", "99.99.99-999.99", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		digits, err := Parse(s)
		if err != nil {
			return
		}
		if _, ok := nrnCentury(digits); !ok {
			t.Fatalf("Parse(%q) = %q with wrong check digits", s, digits)
		}
		if s != digits && s != Format(digits) {
			t.Fatalf("Parse(%q) = %q, which writes as %q", s, digits, Format(digits))
		}
		if again, err := Parse(Format(digits)); err != nil || again != digits {
			t.Fatalf("the formatted %q reads as %q, %v", Format(digits), again, err)
		}
	})
}
