package csvfile

import (
	"strings"
	"testing"
)

func read(t *testing.T, in string) (rows []string, bad []string, err error) {
	t.Helper()
	err = Read(strings.NewReader(in), []string{"a", "b"}, func(line int, rec []string) {
		rows = append(rows, strings.Join(append([]string{string(rune('0' + line))}, rec...), "|"))
	}, func(e *Error) { bad = append(bad, e.Error()) })
	return
}

func TestRecordsComeWithTheirLineTrimmed(t *testing.T) {
	rows, bad, err := read(t, "\ufeffa,b\n 1 , 2\n\n3,4\n")
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	if got := strings.Join(rows, " "); got != "2|1|2 4|3|4" {
		t.Errorf("rows = %q", got)
	}
}

func TestSemicolonsWhenTheHeaderUsesThem(t *testing.T) {
	rows, _, err := read(t, "a;b\n1;2\n")
	if err != nil || len(rows) != 1 || rows[0] != "2|1|2" {
		t.Fatal(rows, err)
	}
}

func TestWrongWidthIsReportedAndSkipped(t *testing.T) {
	rows, bad, err := read(t, "a,b\n1\n2,3\n")
	if err != nil || len(rows) != 1 || len(bad) != 1 || bad[0] != "line 2: want 2 fields (a,b), got 1" {
		t.Fatal(rows, bad, err)
	}
}

func TestBadHeaderOrEmptyFileOrBrokenQuotesStop(t *testing.T) {
	for in, want := range map[string]string{
		"x,y\n1,2\n":      "line 1: header must be a,b",
		"":                "line 1: empty file: want the header a,b",
		"a,b\n\"1,2\n3,4": "line 2: extraneous or missing \" in quoted-field",
	} {
		if _, _, err := read(t, in); err == nil || err.Error() != want {
			t.Errorf("%q: err = %v, want %s", in, err, want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("a,b\n1,2\n")
	f.Add("a;b\n\"x\";y\n1\n")
	f.Fuzz(func(t *testing.T, in string) {
		Read(strings.NewReader(in), []string{"a", "b"}, func(line int, rec []string) {
			if line < 2 || len(rec) != 2 {
				t.Fatalf("record %v at line %d", rec, line)
			}
		}, func(*Error) {})
	})
}
