package porting

import (
	"strings"
	"testing"
)

// The parsers never panic, and every number they accept is E.164 digits without '+'.
func FuzzParse(f *testing.F) {
	f.Add("number\n33612345678\n+33140000000\n")
	f.Add("action,number\nadd,33612345678\nremove,33140000000\n")
	f.Add("\ufeffnumber\r\n0612345678\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		nums, _ := ParseFull(strings.NewReader(s))
		changes, _ := ParseDelta(strings.NewReader(s))
		for _, c := range changes {
			nums = append(nums, c.Number)
		}
		for _, n := range nums {
			if !numberPattern.MatchString(n) || strings.HasPrefix(n, "+") {
				t.Fatalf("accepted %q", n)
			}
		}
	})
}
