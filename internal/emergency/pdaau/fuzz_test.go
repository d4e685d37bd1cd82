package pdaau_test

import (
	"strings"
	"testing"

	"socle/internal/emergency/pdaau"
)

// FuzzParseAndValidate: an uploaded file never crashes the parser or the validator, and
// every problem names a rule and words it.
func FuzzParseAndValidate(f *testing.F) {
	f.Add(table(nil))
	f.Add("insee;number;routing_number\n2A004;15;0400000015\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, ps := pdaau.ParseCSV(strings.NewReader(in))
		ps = append(ps, pdaau.Validate("69", rows, ref)...)
		for _, p := range ps {
			if p.Code == "" || p.Message("fr") == "" {
				t.Fatalf("problem without a rule: %+v", p)
			}
		}
	})
}
