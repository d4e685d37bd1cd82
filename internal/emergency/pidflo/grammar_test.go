package pidflo

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/xmlgrammar"
)

// The grammar of the documents socle writes, stated in our own words from the schemas of
// RFC 3863 (PIDF), RFC 4479 (data model), RFC 4119 (geopriv10, basicPolicy), RFC 5139 (civic
// address), RFC 7459 (confidence) and OGC 06-142r1 (the GML shapes RFC 5491 uses). The
// schemas themselves are other people's text and are not in the repository; each Encode
// output was also validated with xmllint against the official pidf.xsd, data-model.xsd and
// GML-pidf-lo-shape.xsd 0.1.0 (docs/emergency-held.md says how).

const (
	nsPIDF = "urn:ietf:params:xml:ns:pidf"
	nsDM   = "urn:ietf:params:xml:ns:pidf:data-model"
	nsGP   = "urn:ietf:params:xml:ns:pidf:geopriv10"
	nsGML  = "http://www.opengis.net/gml"
	nsGS   = "http://www.opengis.net/pidflo/1.0"
	nsCA   = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
	nsCon  = "urn:ietf:params:xml:ns:geopriv:conf"
	nsGBP  = "urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
)

// RFC 5139 §4's schema: the civic address elements, in this order, each at most once.
var civicOrder = []string{"country", "A1", "A2", "A3", "A4", "A5", "A6", "PRM", "PRD", "RD", "STS", "POD", "POM",
	"RDSEC", "RDBR", "RDSUBBR", "HNO", "HNS", "LMK", "LOC", "FLR", "NAM", "PC", "BLD", "UNIT", "ROOM", "SEAT", "PLC",
	"PCN", "POBOX", "ADDCODE"}

var (
	country   = regexp.MustCompile(`^[A-Z]{2}$`) // RFC 5139: ISO 3166 alpha-2, upper case
	double    = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	srs2D     = "urn:ogc:def:crs:EPSG::4326" // RFC 5491 §3: 2D shapes
	srs3D     = "urn:ogc:def:crs:EPSG::4979" // RFC 5491 §3: 3D shapes
	uomMetre  = "urn:ogc:def:uom:EPSG::9001" // RFC 5491 §5.2: lengths in metres
	uomDegree = "urn:ogc:def:uom:EPSG::9102" // RFC 5491 §5.2: angles in degrees
)

// checkGeopriv states RFC 4119's geopriv grammar: location-info, usage-rules (both required),
// method, provided-by (optional), in that order, then only elements of other namespaces.
func checkGeopriv(g *xmlgrammar.Node) error {
	if err := g.ElementOnly(); err != nil {
		return err
	}
	names := g.Own(nsGP)
	if len(names) < 2 || names[0] != "location-info" || names[1] != "usage-rules" {
		return fmt.Errorf("geopriv starts with %v: location-info then usage-rules are required", names)
	}
	if _, err := g.InOrder(nsGP, "location-info", "usage-rules", "method", "provided-by"); err != nil {
		return err
	}
	for _, c := range g.Children {
		var err error
		switch c.Name.Local {
		case "location-info":
			err = checkLocationInfo(c)
		case "usage-rules":
			err = checkUsageRules(c)
		case "method":
			if len(c.Children) > 0 || strings.TrimSpace(c.Text) == "" {
				err = fmt.Errorf("method is a token of text, got %d elements and %q", len(c.Children), c.Text)
			}
		case "provided-by":
			// Element-only, at least one element of another namespace (RFC 4119 §2.2.4).
			if err = c.ElementOnly(); err == nil && (len(c.Children) == 0 || c.Children[0].Name.Space == nsGP) {
				err = fmt.Errorf("provided-by needs an element of another namespace")
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkUsageRules: RFC 4119 §2.2.5's basic policy, in order, with its types.
func checkUsageRules(u *xmlgrammar.Node) error {
	if err := u.ElementOnly(); err != nil {
		return err
	}
	if _, err := u.InOrder(nsGBP, "retransmission-allowed", "retention-expiry", "external-ruleset", "note-well"); err != nil {
		return err
	}
	for _, c := range u.Children {
		switch c.Name.Local {
		case "retransmission-allowed":
			if v := strings.TrimSpace(c.Text); v != "true" && v != "false" && v != "0" && v != "1" {
				return fmt.Errorf("retransmission-allowed %q is not an xs:boolean", v)
			}
		case "retention-expiry":
			if _, err := time.Parse(time.RFC3339, strings.TrimSpace(c.Text)); err != nil {
				return fmt.Errorf("retention-expiry %q is not an xs:dateTime", c.Text)
			}
		}
	}
	return nil
}

func checkLocationInfo(li *xmlgrammar.Node) error {
	if err := li.ElementOnly(); err != nil {
		return err
	}
	if len(li.Children) == 0 {
		return fmt.Errorf("location-info is empty")
	}
	for _, c := range li.Children {
		var err error
		switch {
		case c.Name.Space == nsGP:
			err = fmt.Errorf("location-info holds %s of geopriv10's own namespace: only other namespaces", c.Name.Local)
		case c.Is(nsCA, "civicAddress"):
			err = checkCivic(c)
		case c.Is(nsCon, "confidence"):
			err = checkConfidence(c)
		case c.Name.Space == nsGML || c.Name.Space == nsGS:
			err = checkShape(c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkCivic(c *xmlgrammar.Node) error {
	if err := c.ElementOnly(); err != nil {
		return err
	}
	if _, err := c.InOrder(nsCA, civicOrder...); err != nil {
		return err
	}
	for _, e := range c.Children {
		if len(e.Children) > 0 {
			return fmt.Errorf("civic %s holds elements: its content is text", e.Name.Local)
		}
		if e.Name.Local == "country" && !country.MatchString(e.Text) {
			return fmt.Errorf("country %q is not two upper-case letters", e.Text)
		}
	}
	return nil
}

// checkConfidence: RFC 7459 §5.1: a percentage strictly between 0 and 100, or "unknown",
// and a pdf of its code list.
func checkConfidence(c *xmlgrammar.Node) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(c.Text), 64)
	if strings.TrimSpace(c.Text) != "unknown" && (err != nil || v <= 0 || v >= 100) {
		return fmt.Errorf("confidence %q is not a percentage between 0 and 100", c.Text)
	}
	if pdf, ok := c.Attr("pdf"); ok && pdf != "unknown" && pdf != "normal" && pdf != "rectangular" {
		return fmt.Errorf("confidence pdf %q is not unknown, normal or rectangular", pdf)
	}
	return nil
}

// checkShape: RFC 5491 §5.2 and OGC 06-142r1: the coordinate system by dimension, positions
// of doubles, units of length and angle, closed polygon rings of at least four positions.
func checkShape(s *xmlgrammar.Node) error {
	srs, _ := s.Attr("srsName")
	dim := map[string]int{srs2D: 2, srs3D: 3}[srs]
	if dim == 0 {
		return fmt.Errorf("%s srsName %q: EPSG 4326 or 4979 only", s.Name.Local, srs)
	}
	want3D := map[string]bool{"Sphere": true, "Ellipsoid": true, "Prism": true}[s.Name.Local]
	if want3D && dim != 3 {
		return fmt.Errorf("%s is three-dimensional: srsName must be %s", s.Name.Local, srs3D)
	}
	var walk func(n *xmlgrammar.Node) error
	walk = func(n *xmlgrammar.Node) error {
		switch n.Name.Local {
		case "pos", "posList":
			f := strings.Fields(n.Text)
			if len(f) == 0 || len(f)%dim != 0 || (n.Name.Local == "pos" && len(f) != dim) {
				return fmt.Errorf("%s %q does not hold %d-dimensional positions", n.Name.Local, n.Text, dim)
			}
			for _, x := range f {
				if !double.MatchString(x) {
					return fmt.Errorf("%s: %q is not an xs:double", n.Name.Local, x)
				}
			}
			if n.Name.Local == "posList" && (len(f)/dim < 4 || !slices.Equal(f[:dim], f[len(f)-dim:])) {
				return fmt.Errorf("a ring of %d positions, first and last %v %v: closed, four at least", len(f)/dim, f[:dim], f[len(f)-dim:])
			}
		case "radius", "semiMajorAxis", "semiMinorAxis", "verticalAxis", "innerRadius", "outerRadius", "height":
			if u, _ := n.Attr("uom"); u != uomMetre {
				return fmt.Errorf("%s in %q: metres (%s) only", n.Name.Local, u, uomMetre)
			}
		case "orientation", "startAngle", "openingAngle":
			if u, _ := n.Attr("uom"); u != uomDegree {
				return fmt.Errorf("%s in %q: degrees (%s) only", n.Name.Local, u, uomDegree)
			}
		}
		for _, c := range n.Children {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(s)
}

// checkPresence: RFC 3863 / RFC 4479 / RFC 5491: a presence with an entity URI, whose
// tuples or devices carry the geopriv, the device its deviceID before its timestamp.
func checkPresence(p *xmlgrammar.Node) error {
	if !p.Is(nsPIDF, "presence") || !hasAttr(p, "entity") {
		return fmt.Errorf("root %v: a presence with an entity", p.Name)
	}
	found := 0
	var walk func(n *xmlgrammar.Node) error
	walk = func(n *xmlgrammar.Node) error {
		if n.Is(nsGP, "geopriv") {
			found++
			return checkGeopriv(n)
		}
		if n.Is(nsDM, "device") {
			names := n.Own(nsDM)
			if len(names) == 0 || names[0] != "deviceID" || slices.Index(names, "timestamp") >= 0 && names[len(names)-1] != "timestamp" {
				return fmt.Errorf("dm:device's own elements %v: deviceID required, timestamp last", names)
			}
		}
		for _, c := range n.Children {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(p); err != nil {
		return err
	}
	if found == 0 {
		return fmt.Errorf("no geopriv")
	}
	return nil
}

func parse(t *testing.T, b []byte) *xmlgrammar.Node {
	t.Helper()
	n, err := xmlgrammar.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkGrammar is the grammar checked on one encoded document.
func checkGrammar(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := checkPresence(parse(t, b)); err != nil {
		t.Errorf("%s: %v\n%s", name, err, b)
	}
}

func TestEveryDocumentSocleWritesFollowsTheGrammar(t *testing.T) {
	all := map[string]Document{}
	for k, v := range documents {
		all[k] = v
	}
	full := Civic{Lang: "fr", Country: "fr", A1: "Grand Est", A2: "67", A3: "Strasbourg", A4: "x", A5: "x", A6: "x",
		PRM: "x", PRD: "x", RD: "Rue du Dôme", STS: "x", POD: "x", POM: "x", RDSEC: "x", RDBR: "x", RDSUBBR: "x",
		HNO: "12", HNS: "bis", LMK: "x", LOC: "x", FLR: "3", NAM: "x", PC: "67000", BLD: "B", UNIT: "x", ROOM: "x",
		SEAT: "x", PLC: "x", PCN: "x", POBOX: "x", ADDCODE: "x"}
	all["every civic element"] = Document{Entity: "tel:+33388000000", Timestamp: at,
		Locations: []Location{{Civic: &full, Method: "Manual", ProvidedBy: "Opérateur fixe"}}}
	all["provided-by"] = Document{Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at, RetentionExpiry: at.Add(time.Hour),
		Locations: []Location{{Shape: Point{Lat: 1, Lon: 2}, Method: "GPS", ProvidedBy: "Orange & Cie <réseau>"}}}
	for name, d := range all {
		b, err := Encode(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkGrammar(t, name, b)
	}
}

// The checks themselves catch what the schemas refuse: each broken document below is one an
// earlier socle wrote or one the schemas name.
func TestTheGrammarCheckRefusesWhatTheSchemasRefuse(t *testing.T) {
	good, err := Encode(documents["circle"])
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"provided-by as text (socle before issue 10)": {`<gp:method>GPS</gp:method>`, `<gp:method>GPS</gp:method><gp:provided-by>Orange</gp:provided-by>`},
		"method before usage-rules":                   {`<gp:usage-rules>`, `<gp:method>GPS</gp:method><gp:usage-rules>`},
		"no usage-rules":                              {`<gbp:retransmission-allowed>false</gbp:retransmission-allowed>`, `</gp:usage-rules><gp:usage-rules>`},
		"radius in feet":                              {`uom="urn:ogc:def:uom:EPSG::9001"`, `uom="urn:ogc:def:uom:EPSG::9002"`},
		"confidence of 100":                           {`>68<`, `>100<`},
		"pdf outside the code list":                   {`pdf="normal"`, `pdf="gaussian"`},
		"a 3D position in a 2D shape":                 {`48.85837 2.294481`, `48.85837 2.294481 30`},
		"timestamp before deviceID":                   {`<dm:deviceID>`, `<dm:timestamp>2026-11-24T14:19:57Z</dm:timestamp><dm:deviceID>`},
	} {
		broken := bytes.Replace(good, []byte(edit[0]), []byte(edit[1]), 1)
		if bytes.Equal(broken, good) {
			t.Fatalf("%s: the edit does not apply", name)
		}
		if err := checkPresence(parse(t, broken)); err == nil {
			t.Errorf("%s: accepted\n%s", name, broken)
		}
	}
}

func hasAttr(n *xmlgrammar.Node, local string) bool {
	v, ok := n.Attr(local)
	return ok && v != ""
}
