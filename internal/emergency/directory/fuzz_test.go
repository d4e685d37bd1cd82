package directory

import (
	"strings"
	"testing"
)

// FuzzParsePDAAU: any CSV gives rows or errors that name a line, never a panic, and a row is
// returned for every line without an error of its own.
func FuzzParsePDAAU(f *testing.F) {
	f.Add("insee,number,routing_number\n75056,15,0100000015\n")
	f.Add("\ufeffinsee,number,routing_number\n2A004,112,0495000018\n99999,113,12\n")
	f.Add("insee,number\n\"unterminated")
	f.Fuzz(func(t *testing.T, s string) {
		rows, errs := parsePDAAU(strings.NewReader(s), "f.csv")
		for _, e := range errs {
			if !strings.HasPrefix(e, "f.csv:") {
				t.Fatalf("error without its line: %q", e)
			}
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.where, "f.csv:") {
				t.Fatalf("row without its line: %+v", r)
			}
		}
	})
}
