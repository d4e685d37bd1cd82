package pdaau_test

import (
	"strings"
	"testing"

	"socle/internal/emergency/pdaau"
)

// FuzzParseAndValidate: an uploaded routing table is refused with problems that each name
// their rule and a line of the file (or the table as a whole), or every row of it routes a
// known commune of the département and a short number to a known centre, once, and no
// commune × number is left without a route.
func FuzzParseAndValidate(f *testing.F) {
	f.Add(table(nil))
	f.Add("insee;number;routing_number\n2A004;15;0400000015\n")
	f.Add(table(func(rows [][3]string) [][3]string { return append(rows, rows[0]) }))
	f.Add(table(func(rows [][3]string) [][3]string { return rows[1:] }))
	f.Add(strings.ReplaceAll(table(nil), "\n", "\r"))
	f.Fuzz(func(t *testing.T, in string) {
		rows, ps := pdaau.ParseCSV(strings.NewReader(in))
		ps = append(ps, pdaau.Validate("69", rows, ref)...)
		lines := strings.Count(in, "\n") + strings.Count(in, "\r") + 1
		for _, p := range ps {
			if p.Code == "" || p.Message("fr") == "" || p.Message("en") == "" {
				t.Fatalf("problem without a rule: %+v", p)
			}
			if p.Line < 0 || p.Line > lines {
				t.Fatalf("problem at line %d of %d: %+v", p.Line, lines, p)
			}
		}
		if len(ps) > 0 {
			return
		}
		seen := map[[2]string]bool{}
		for _, r := range rows {
			if _, ok := ref.Communes[r.INSEE]; !ok || r.Departement() != "69" || !pdaau.IsShortNumber(r.Number) || ref.PSAPs[r.RoutingNumber] == "" {
				t.Fatalf("accepted row %+v", r)
			}
			if seen[[2]string{r.INSEE, r.Number}] {
				t.Fatalf("accepted twice: %+v", r)
			}
			seen[[2]string{r.INSEE, r.Number}] = true
		}
		for insee := range ref.Communes {
			if !strings.HasPrefix(insee, "69") {
				continue
			}
			for _, n := range pdaau.ShortNumbers {
				if !seen[[2]string{insee, n}] {
					t.Fatalf("accepted a table without a route for %s × %s", insee, n)
				}
			}
		}
	})
}
