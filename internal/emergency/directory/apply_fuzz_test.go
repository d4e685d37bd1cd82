package directory

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/geo"
	"socle/internal/platform/pki"
)

// The directory file of `socle apply` comes from an administrator's hands: parsePlan, the
// part of apply that writes nothing, must refuse it with errors that say where, or hand
// the database step only entities that keep the rules of docs/emergency-directory-file.md.

// applyFiles are the files a fuzzed directory document may name, as `socle apply` would
// find them beside it: the demo's communes and PDAAU rows, a numbering plan, certificates.
func applyFiles(f testing.TB) map[string][]byte {
	ca, err := pki.NewCA("fuzz CA", 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	op, err := ca.Issue(pki.Request{Name: "operator", Usage: pki.Client})
	if err != nil {
		f.Fatal(err)
	}
	psap, err := ca.Issue(pki.Request{Name: "psap", Usage: pki.Client})
	if err != nil {
		f.Fatal(err)
	}
	communes, err := os.ReadFile("../demo/communes.geojson")
	if err != nil {
		f.Fatal(err)
	}
	rows, err := os.ReadFile("../demo/pdaau.csv")
	if err != nil {
		f.Fatal(err)
	}
	return map[string][]byte{
		"pki/operator.crt": op.CertPEM,
		"pki/psap.crt":     psap.CertPEM,
		"pki/ca.crt":       ca.CertPEM,
		"pki/bundle.crt":   append(append([]byte{}, op.CertPEM...), psap.CertPEM...),
		"pki/key.pem":      op.KeyPEM, // no certificate in it
		"communes.geojson": communes,
		"pdaau.csv":        rows,
		"numbering.csv":    []byte("prefix,operator,kind\n33612,orange-mobile,mobile\n33140,orange-fixe,fixed\n"),
	}
}

// docExample is the example of docs/emergency-directory-file.md, with the files above.
const docExample = `operators:
  - id: orange-mobile              # lower-case letters, digits, dashes
    name: Orange France
    mcc_mnc: ["208-01", "208-02"]  # networks it runs: MCC-MNC
    certificates: [pki/operator.crt] # PEM; the client certificates it pushes with
    location_endpoint: https://held.orange.example/location   # optional: its HELD server
    location_ca: pki/ca.crt        # optional: CA of that server (default: socle's CA)
    tnaau_departements: ["75", "92", "93", "94"]
    tnaau_webhook: https://tnaau.orange.example/hook

psaps:
  - id: samu-75
    name: SAMU de Paris (centre 15)
    routing_number: "0100000015"   # the centre's 10-digit number, as in the PDAAU
    endpoint: https://samu75.example.fr/aml   # where locations are pushed (https only)
    ca: pki/ca.crt
    certificates: [pki/psap.crt]

communes: communes.geojson
pdaau: [pdaau.csv]
numbering: [numbering.csv]
`

func FuzzParsePlan(f *testing.F) {
	files := applyFiles(f)
	beside := func(rel string) ([]byte, error) {
		if b, ok := files[rel]; ok {
			return b, nil
		}
		return nil, &fs.PathError{Op: "open", Path: rel, Err: fs.ErrNotExist}
	}
	numbering := string(files["numbering.csv"])
	f.Add(docExample, numbering)
	f.Add("", numbering)
	f.Add("operators:\n  - ~\n  - id: a\n", numbering) // an empty entry
	f.Add("psaps: [{id: x, name: X, routing_number: \"0100000015\", endpoint: \"https://x.example\"}, {id: x}]\n", numbering)
	f.Add("operators: [{id: orange-mobile, name: O, mcc_mnc: [\"20801\"], certificates: [pki/key.pem, pki/none.crt]}]\n", numbering)
	f.Add("operators:\n  - id: o\n    nmae: typo\n", numbering)
	f.Add("communes: pdaau.csv\n", numbering)
	f.Add("numbering: [numbering.csv, numbering.csv]\n", "prefix,operator,kind\n3361a,o,mobile\n33612,o,satellite\n")
	f.Add("psaps: &a [*a]\n", numbering)
	f.Add("operators: {id: x}\n\tpsaps: 1\n", numbering)
	now := time.Now()
	f.Fuzz(func(t *testing.T, doc, numbering string) {
		files := map[string][]byte{"numbering.csv": []byte(numbering)}
		read := func(rel string) ([]byte, error) {
			if b, ok := files[rel]; ok {
				return b, nil
			}
			return beside(rel)
		}
		p, errs := parsePlan("directory.yaml", []byte(doc), read, now)
		again, errsAgain := parsePlan("directory.yaml", []byte(doc), read, now)
		if !reflect.DeepEqual(p, again) || !reflect.DeepEqual(errs, errsAgain) {
			t.Fatalf("two parses of the same file differ:\n%v\n%v", errs, errsAgain)
		}
		if len(errs) > 0 {
			refusedWithPlaces(t, doc, errs, numbering)
			return
		}
		if p == nil {
			t.Fatal("neither a plan nor an error")
		}
		keepsTheRules(t, p, now)
	})
}

var (
	docPlace = regexp.MustCompile(`^directory\.yaml:(\d+): `)
	lineIn   = regexp.MustCompile(`\bline (\d+)\b`)
	csvPlace = regexp.MustCompile(`^(pdaau\.csv|numbering\.csv):(\d+): `)
	// A communes file that is not GeoJSON, whichever of the files it is, or not there.
	communesPlace = regexp.MustCompile(`^(communes\.geojson|pdaau\.csv|numbering\.csv|pki/[a-z]+\.(crt|pem)): communes: |^directory\.yaml: communes: open `)
	notThere      = regexp.MustCompile(`^(pdaau: )?[^\n]*: open `)
)

// refusedWithPlaces: every error names its file, and the line in it; a GeoJSON file of
// communes has features, not lines, and its errors name the feature (geo's own fuzz target
// checks them), and a file that cannot be read is named.
func refusedWithPlaces(t *testing.T, doc string, errs Errors, numbering string) {
	t.Helper()
	// YAML breaks lines at \r, \n, \r\n and three Unicode breaks: count each as one, an
	// upper bound.
	lines := 1
	for _, r := range doc {
		if strings.ContainsRune("\r\n\u0085\u2028\u2029", r) {
			lines++
		}
	}
	for _, e := range errs {
		var line int
		switch {
		case docPlace.MatchString(e):
			line, _ = strconv.Atoi(docPlace.FindStringSubmatch(e)[1])
		case communesPlace.MatchString(e):
			continue
		case strings.HasPrefix(e, "directory.yaml: "):
			m := lineIn.FindStringSubmatch(e)
			if m == nil {
				t.Fatalf("error %q does not name its line", e)
			}
			line, _ = strconv.Atoi(m[1])
		case csvPlace.MatchString(e):
			m := csvPlace.FindStringSubmatch(e)
			line, _ = strconv.Atoi(m[2])
			lines = strings.Count(numbering, "\n") + 1
			if m[1] == "pdaau.csv" {
				lines = 1 << 20 // the demo's rows, fixed
			}
		case notThere.MatchString(e):
			continue // a file the document names and that is not there: named
		default:
			t.Fatalf("error %q names no file", e)
		}
		if line < 1 || line > lines {
			t.Fatalf("error %q: line %d, the file has %d", e, line, lines)
		}
	}
}

// keepsTheRules restates the rules of docs/emergency-directory-file.md that need no
// database, for a plan accepted without an error.
func keepsTheRules(t *testing.T, p *plan, now time.Time) {
	t.Helper()
	https := func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && u.Scheme == "https" && u.Host != ""
	}
	ids, networks := map[string]bool{}, map[string]bool{}
	for _, o := range p.file.Operators {
		what := fmt.Sprintf("operator %q", o.ID)
		if !idPattern.MatchString(o.ID) || ids["o:"+o.ID] || strings.TrimSpace(o.Name) == "" {
			t.Fatalf("%s accepted with a bad or repeated id, or no name", what)
		}
		ids["o:"+o.ID] = true
		if len(o.MCCMNC) == 0 || len(p.opCerts[o.ID]) == 0 {
			t.Fatalf("%s accepted without a network or a certificate", what)
		}
		for _, n := range o.MCCMNC {
			if !mccmncPattern.MatchString(n) || networks[n] {
				t.Fatalf("%s accepted with network %q, bad or already run", what, n)
			}
			networks[n] = true
		}
		for _, c := range p.opCerts[o.ID] {
			if now.After(c.notAfter) || c.fingerprint == "" {
				t.Fatalf("%s accepted with an expired or unreadable certificate", what)
			}
		}
		if (o.LocationEndpoint != "" && !https(o.LocationEndpoint)) || (o.TNAAUWebhook != "" && !https(o.TNAAUWebhook)) {
			t.Fatalf("%s accepted with a URL that is not https", what)
		}
		for _, d := range o.TNAAUDepartements {
			if d != "*" && !geo.ValidDepartement(d) {
				t.Fatalf("%s accepted with département %q", what, d)
			}
		}
		if (o.LocationCA == "") != (p.opLocCA[o.ID] == "") {
			t.Fatalf("%s: its location CA was not kept", what)
		}
	}
	routing := map[string]bool{}
	for _, ps := range p.file.PSAPs {
		what := fmt.Sprintf("PSAP %q", ps.ID)
		if !idPattern.MatchString(ps.ID) || ids["p:"+ps.ID] || strings.TrimSpace(ps.Name) == "" {
			t.Fatalf("%s accepted with a bad or repeated id, or no name", what)
		}
		ids["p:"+ps.ID] = true
		if !routingPattern.MatchString(ps.RoutingNumber) || routing[ps.RoutingNumber] {
			t.Fatalf("%s accepted with routing number %q, bad or already used", what, ps.RoutingNumber)
		}
		routing[ps.RoutingNumber] = true
		if !https(ps.Endpoint) {
			t.Fatalf("%s accepted with endpoint %q", what, ps.Endpoint)
		}
		if (ps.CA == "") != (p.psapCA[ps.ID] == "") {
			t.Fatalf("%s: its CA was not kept", what)
		}
	}
	codes := map[string]bool{}
	for _, c := range p.communes {
		if !geo.ValidINSEE(c.Code) || codes[c.Code] || len(c.Geometry) == 0 {
			t.Fatalf("commune %q accepted twice, with a bad code or without a boundary", c.Code)
		}
		codes[c.Code] = true
		for _, poly := range c.Geometry {
			for _, ring := range poly {
				for _, pt := range ring {
					if !(pt.Lat >= -90 && pt.Lat <= 90 && pt.Lon >= -180 && pt.Lon <= 180) {
						t.Fatalf("commune %s accepted with position %v", c.Code, pt)
					}
				}
			}
		}
	}
	prefixes := map[string]bool{}
	for _, b := range p.blocks {
		if !prefixPattern.MatchString(b.prefix) || prefixes[b.prefix] || (b.kind != "mobile" && b.kind != "fixed") {
			t.Fatalf("number block %+v accepted with a bad or repeated prefix, or a bad kind", b)
		}
		prefixes[b.prefix] = true
	}
	for _, r := range p.rows {
		if !csvPlace.MatchString(r.where + ": ") {
			t.Fatalf("PDAAU row %+v does not know its line", r)
		}
	}
}

// The documentation's example, with its files beside it, is accepted whole; a YAML error
// on the first line, or a byte that is not text, is refused at its line.
func TestTheDocumentedExampleIsAcceptedAndEveryYAMLErrorHasItsLine(t *testing.T) {
	files := applyFiles(t)
	read := func(rel string) ([]byte, error) { return files[rel], nil }
	p, errs := parsePlan("directory.yaml", []byte(docExample), read, time.Now())
	if len(errs) > 0 || len(p.file.Operators) != 1 || len(p.file.PSAPs) != 1 || len(p.communes) == 0 || len(p.rows) == 0 || len(p.blocks) != 2 {
		t.Fatalf("the documented example: %v", errs)
	}
	for doc, want := range map[string]string{
		`"`:                             "directory.yaml:1: found unexpected end of stream",
		"psaps: []\ncommunes: a\x01b\n": "directory.yaml:2: control characters are not allowed",
		"psaps: []\n\n# \xff\n":         "directory.yaml:3: invalid leading UTF-8 octet",
		"psaps: [\n":                    "directory.yaml: line 1: did not find expected node content",
	} {
		_, errs := parsePlan("directory.yaml", []byte(doc), read, time.Now())
		if len(errs) != 1 || errs[0] != want {
			t.Errorf("%q: %q, want %q", doc, errs, want)
		}
	}
}
