package pidflo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var at = time.Date(2026, 11, 24, 14, 19, 57, 0, time.UTC)

func ptr(f float64) *float64 { return &f }

const imei = "urn:gsma:imei:35-209900-176148-1"

// documents are written to testdata/<name>.xml by Encode. They are already normalised, so
// that decoding their encoding gives them back unchanged.
var documents = map[string]Document{
	// A handset whose IMEI is known: dm:device (RFC 5491 Rule #8).
	"circle": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{{Shape: Circle{Lat: 48.85837, Lon: 2.294481, Radius: 12.5}, Confidence: 68, Method: "GPS"}}},
	// Without a device ID: tuple (RFC 4479 requires a deviceID in dm:device).
	"point": {Entity: "tel:+33612345678", Timestamp: at, RetentionExpiry: at.Add(24 * time.Hour),
		Locations: []Location{{Shape: Point{Lat: 43.2951, Lon: 5.374, Alt: ptr(35.2)}, Method: "802.11"}}},
	"ellipse": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{{Shape: Ellipse{Lat: 45.7578, Lon: 4.832, SemiMajor: 1200, SemiMinor: 400, Orientation: 35},
			Confidence: 95, Method: "Cell"}}},
	"polygon": {Entity: "tel:+33612345678", Timestamp: at,
		Locations: []Location{{Shape: Polygon{Points: [][2]float64{{48.85, 2.29}, {48.85, 2.3}, {48.86, 2.3}, {48.86, 2.29}, {48.85, 2.29}}},
			Confidence: 90, PDF: PDFRectangular, Method: "Cell"}}},
	"civic": {Entity: "tel:+33140000000", Timestamp: at, RetransmissionAllowed: true,
		Locations: []Location{{Civic: &Civic{Lang: "fr", Country: "FR", A1: "Île-de-France", A2: "75", A3: "Paris",
			RD: "Avenue Anatole France", HNO: "5", NAM: "Tour Eiffel & Champ-de-Mars", PC: "75007"}, Method: "Manual"}}},
	"arcband": {Entity: "tel:+33698765432", Timestamp: at,
		Locations: []Location{{Shape: ArcBand{Lat: 47.218371, Lon: -1.553621, InnerRadius: 3594, OuterRadius: 4148,
			StartAngle: 20, OpeningAngle: 120}, Confidence: ConfidenceUnknown, PDF: PDFUnknown, Method: "Cell"}}},
	"sphere": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{{Shape: Sphere{Lat: 48.8584, Lon: 2.2945, Alt: 57.3, Radius: 15}, Confidence: 95, Method: "A-GPS"}}},
	"ellipsoid": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{{Shape: Ellipsoid{Lat: 48.8584, Lon: 2.2945, Alt: 57.3, SemiMajor: 7.716, SemiMinor: 3.31,
			Vertical: 28.7, Orientation: 90}, Confidence: 95, Method: "GPS"}}},
	"prism": {Entity: "pres:etage-3@immeuble.example", Timestamp: at,
		Locations: []Location{{Shape: Prism{Points: [][2]float64{{50.63, 3.06}, {50.63, 3.07}, {50.64, 3.07}, {50.64, 3.06}, {50.63, 3.06}},
			Alt: 42.5, Height: 3.2}, Confidence: 95, Method: "Wiremap"}}},
	// A compound location (RFC 5491 Rules #6, #7): the point, then the floor.
	"compound": {Entity: "pres:poste-12@mairie.example", DeviceID: "mac:00005e0053af", Timestamp: at,
		Locations: []Location{{Shape: Point{Lat: 45.76404, Lon: 4.83566}, Civic: &Civic{FLR: "2"}, Method: "Wiremap"}}},
	// Two descriptions of the same place, each in its own device (RFC 5491 Rule #2).
	"multiple": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at, RetentionExpiry: at.Add(time.Hour),
		Locations: []Location{
			{Shape: Circle{Lat: 48.8584, Lon: 2.2945, Radius: 850}, Confidence: 95, Method: "Cell"},
			{Civic: &Civic{Country: "FR", A3: "Paris", PC: "75007"}, Method: "Cell"},
		}},
}

func TestGoldenEncodings(t *testing.T) {
	for name, d := range documents {
		t.Run(name, func(t *testing.T) {
			got, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("Encode differs from %s:\n%s", path, got)
			}
			if again, _ := Encode(d); !bytes.Equal(again, got) {
				t.Error("Encode is not deterministic")
			}
			if err := xml.Unmarshal(got, new(struct{})); err != nil {
				t.Errorf("not well-formed: %v", err)
			}
		})
	}
}

func TestEveryShapeSurvivesARoundTrip(t *testing.T) {
	for name, d := range documents {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(back, d) {
				t.Errorf("decoded %#v\nwant    %#v", back, d)
			}
		})
	}
}

func TestTheCircleLooksLikeRFC5491(t *testing.T) {
	b, err := Encode(documents["circle"])
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`<?xml version="1.0" encoding="UTF-8"?>` + "\n<presence ",
		`xmlns="urn:ietf:params:xml:ns:pidf"`, `entity="tel:+33612345678">`,
		`<dm:device id="target">`, `<gp:geopriv>`, `<gp:location-info>`,
		`<gs:Circle srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>48.85837 2.294481</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9001">12.5</gs:radius></gs:Circle>`,
		`<con:confidence pdf="normal">68</con:confidence>` + "\n   </gp:location-info>",
		"</gp:location-info>\n   <gp:usage-rules>", "</gp:usage-rules>\n   <gp:method>GPS</gp:method>\n  </gp:geopriv>",
		"</gp:geopriv>\n  <dm:deviceID>" + imei + "</dm:deviceID>\n  <dm:timestamp>2026-11-24T14:19:57Z</dm:timestamp>\n </dm:device>",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
}

// foreign are documents written by hand after the examples of RFC 5491 (testdata/foreign),
// with the Document each must decode to.
var foreign = map[string]Document{
	"tuple-circle.xml": {Entity: "pres:+33612345678@operateur.example",
		Timestamp: time.Date(2026, 11, 24, 14, 19, 57, 250e6, time.UTC), RetentionExpiry: at.Add(24 * time.Hour), RetransmissionAllowed: true,
		Locations: []Location{{Shape: Circle{Lat: 43.604652, Lon: 1.444209, Radius: 850.24}, Confidence: 90, PDF: PDFUnknown, Method: "Cell"}}},
	"compound-device.xml": {Entity: "pres:poste-12@mairie.example", DeviceID: "mac:00005e0053af", Timestamp: at,
		Locations: []Location{{Shape: Point{Lat: 45.76404, Lon: 4.83566}, Civic: &Civic{Lang: "fr", FLR: "2"}, Method: "Wiremap"}}},
	"person-then-device.xml": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{
			{Civic: &Civic{Lang: "fr", Country: "FR", A1: "Auvergne-Rhône-Alpes", A3: "Lyon", RD: "Rue de la République", HNO: "12", PC: "69002"},
				Method: "GPS", ProvidedBy: "Opérateur Démo"},
			{Shape: Circle{Lat: 48.8566, Lon: 2.3522, Radius: 30}, Method: "Manual"},
		}},
	"polygon-pos-clockwise.xml": {Entity: "pres:secteur@operateur.example", Timestamp: at,
		Locations: []Location{{Shape: Polygon{Points: [][2]float64{{43.30, 5.36}, {43.29, 5.37}, {43.30, 5.38}, {43.31, 5.37}, {43.30, 5.36}}},
			Method: "Cell"}}},
	"arcband-radians.xml": {Entity: "tel:+33698765432",
		Locations: []Location{{Shape: ArcBand{Lat: 47.218371, Lon: -1.553621, InnerRadius: 3594, OuterRadius: 4148, StartAngle: 30, OpeningAngle: 120},
			Confidence: 67, PDF: PDFRectangular, Method: "Cell"}}},
	"prism.xml": {Entity: "pres:etage-3@immeuble.example", Timestamp: at,
		Locations: []Location{{Shape: Prism{Points: [][2]float64{{50.63, 3.06}, {50.63, 3.07}, {50.64, 3.07}, {50.64, 3.06}, {50.63, 3.06}},
			Alt: 42.5, Height: 3.2}, Method: "Wiremap"}}},
	"extensions.xml": {Entity: "tel:+33612345678", DeviceID: imei, Timestamp: at,
		Locations: []Location{
			// The axes were given the wrong way round: swapped, the orientation turned by 90°.
			{Shape: Ellipsoid{Lat: 48.8584, Lon: 2.2945, Alt: 57.3, SemiMajor: 12.31, SemiMinor: 7.716, Vertical: 28.7, Orientation: 45},
				Confidence: 95, Method: "A-GPS"},
			{Shape: Sphere{Lat: 48.8584, Lon: 2.2945, Alt: 57.3, Radius: 40}, Confidence: ConfidenceUnknown, PDF: PDFUnknown, Method: "Hybrid"},
		}},
}

func TestDocumentsOfOtherImplementations(t *testing.T) {
	for name, want := range foreign {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "foreign", name))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d, want) {
				t.Errorf("decoded %#v\nwant    %#v", d, want)
			}
			// What was read is written again, and reads back the same.
			out, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := Decode(out); err != nil || !reflect.DeepEqual(again, d) {
				t.Errorf("re-encoded: %v\n%s", err, out)
			}
		})
	}
}

func TestDecodeElementReadsAPresenceInsideAnotherDocument(t *testing.T) {
	// Namespaces declared on the HELD root apply to the presence inside (RFC 5985 §6.2).
	const doc = `<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held" xmlns:p="urn:ietf:params:xml:ns:pidf"
  xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml">
 <p:presence entity="tel:+33612345678"><p:tuple id="x"><p:status><gp:geopriv><gp:location-info>
  <gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>43.2951 5.3740</gml:pos></gml:Point>
 </gp:location-info><gp:usage-rules/></gp:geopriv></p:status></p:tuple></p:presence>
</locationResponse>`
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := tok.(xml.StartElement); ok && s.Name.Local == "presence" {
			d, err := DecodeElement(dec, s)
			if err != nil {
				t.Fatal(err)
			}
			if p, ok := d.Locations[0].Shape.(Point); !ok || p.Lat != 43.2951 || p.Lon != 5.374 {
				t.Fatalf("decoded %+v", d)
			}
			return
		}
	}
}

func TestNormalisation(t *testing.T) {
	loc := func(l Location) Document { return Document{Entity: "tel:+33612345678", Locations: []Location{l}} }
	cases := []struct {
		name    string
		in, out Location
	}{
		{"clockwise polygon turned counter-clockwise and closed (RFC 5491 §5.1)",
			Location{Shape: Polygon{Points: [][2]float64{{45.75, 4.82}, {45.77, 4.82}, {45.77, 4.85}, {45.75, 4.85}}}},
			Location{Shape: Polygon{Points: [][2]float64{{45.75, 4.82}, {45.75, 4.85}, {45.77, 4.85}, {45.77, 4.82}, {45.75, 4.82}}}}},
		{"repeated vertices dropped",
			Location{Shape: Polygon{Points: [][2]float64{{1, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 2}, {1, 1}, {1, 1}}}},
			Location{Shape: Polygon{Points: [][2]float64{{1, 1}, {1, 2}, {2, 2}, {1, 1}}}}},
		{"coordinates without binary noise",
			Location{Shape: Circle{Lat: 48.82 + 0.08*0.375, Lon: 2.123456789, Radius: 800}, Confidence: 68},
			Location{Shape: Circle{Lat: 48.85, Lon: 2.1234568, Radius: 800}, Confidence: 68}},
		{"uncertainty rounded up to the millimetre (RFC 7459 §5)",
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 12.3451}, Confidence: 50},
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 12.346}, Confidence: 50}},
		{"a radius beyond the Earth cut",
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 1e12}, Confidence: 50},
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: MaxDistance}, Confidence: 50}},
		{"ellipse axes swapped, orientation turned and wrapped",
			Location{Shape: Ellipse{Lat: 1, Lon: 2, SemiMajor: 100, SemiMinor: 300, Orientation: 400}, Confidence: 95},
			Location{Shape: Ellipse{Lat: 1, Lon: 2, SemiMajor: 300, SemiMinor: 100, Orientation: 130}, Confidence: 95}},
		{"arc band angles wrapped, inner radius rounded down",
			Location{Shape: ArcBand{Lat: 1, Lon: 2, InnerRadius: 10.0009, OuterRadius: 20.0001, StartAngle: -90, OpeningAngle: 45}, Confidence: 95},
			Location{Shape: ArcBand{Lat: 1, Lon: 2, InnerRadius: 10, OuterRadius: 20.001, StartAngle: 270, OpeningAngle: 45}, Confidence: 95}},
		{"no confidence on a point (RFC 7459 §4.1)",
			Location{Shape: Point{Lat: 1, Lon: 2}, Confidence: 68, PDF: PDFRectangular},
			Location{Shape: Point{Lat: 1, Lon: 2}}},
		{"100% written 99% (RFC 7459 §7)",
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 3}, Confidence: 100},
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 3}, Confidence: 99}},
		{"no PDF without a confidence",
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 3}, PDF: PDFRectangular},
			Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 3}}},
		{"civic values are tokens, the country upper case",
			Location{Civic: &Civic{Country: " fr", A3: "  Saint-Denis ", RD: "Rue\tde  Paris"}, Method: " Manual ", ProvidedBy: " Opérateur\n fixe "},
			Location{Civic: &Civic{Country: "FR", A3: "Saint-Denis", RD: "Rue de Paris"}, Method: "Manual", ProvidedBy: "Opérateur fixe"}},
		{"an empty civic address dropped from a compound location",
			Location{Shape: Point{Lat: 1, Lon: 2}, Civic: &Civic{FLR: " "}},
			Location{Shape: Point{Lat: 1, Lon: 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Encode(loc(c.in))
			if err != nil {
				t.Fatal(err)
			}
			d, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := loc(c.out); !reflect.DeepEqual(d, want) {
				t.Errorf("got  %#v\nwant %#v\n%s", d.Locations[0], want.Locations[0], b)
			}
		})
	}
}

func TestEncodeLeavesItsArgumentAlone(t *testing.T) {
	pts := [][2]float64{{45.75, 4.82}, {45.77, 4.82}, {45.77, 4.85}, {45.75, 4.85}}
	alt := 12.3456
	d := Document{Entity: "tel:+33612345678", Timestamp: time.Date(2026, 11, 24, 15, 19, 57, 0, time.FixedZone("CET", 3600)),
		Locations: []Location{{Shape: Polygon{Points: pts, Alt: &alt}}}}
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if pts[1] != [2]float64{45.77, 4.82} || len(pts) != 4 || alt != 12.3456 {
		t.Errorf("Encode changed its argument: %v %v", pts, alt)
	}
	if !bytes.Contains(b, []byte("<timestamp>2026-11-24T14:19:57Z</timestamp>")) {
		t.Errorf("timestamp not in UTC:\n%s", b)
	}
}

func TestDecodePrefersDevicesThenTuplesThenPersons(t *testing.T) {
	// RFC 5491 §3 Rule #8, whatever the order of the document.
	chunk := func(lat string) string {
		return `<gp:geopriv><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>` + lat +
			` 2</gml:pos></gml:Point></gp:location-info><gp:usage-rules/></gp:geopriv>`
	}
	doc := `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
 xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" entity="tel:+33612345678">
 <dm:person id="p">` + chunk("3") + `<dm:timestamp>2026-01-03T00:00:00Z</dm:timestamp></dm:person>
 <tuple id="t"><status>` + chunk("2") + `</status><timestamp>2026-01-02T00:00:00Z</timestamp></tuple>
 <dm:device id="d">` + chunk("1") + `<dm:deviceID>mac:00005e0053af</dm:deviceID><dm:timestamp>2026-01-01T00:00:00Z</dm:timestamp></dm:device>
</presence>`
	d, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var lats []float64
	for _, l := range d.Locations {
		lats = append(lats, l.Shape.(Point).Lat)
	}
	if !reflect.DeepEqual(lats, []float64{1, 2, 3}) || d.DeviceID != "mac:00005e0053af" || d.Timestamp.Day() != 1 {
		t.Errorf("decoded %v %q %v", lats, d.DeviceID, d.Timestamp)
	}
}

func TestUsageRulesAreTheMostRestrictive(t *testing.T) {
	geopriv := func(allowed, expiry string) string {
		return `<gp:geopriv><gp:location-info><gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2</gml:pos></gml:Point></gp:location-info>
<gp:usage-rules><gbp:retransmission-allowed>` + allowed + `</gbp:retransmission-allowed><gbp:retention-expiry>` + expiry +
			`</gbp:retention-expiry></gp:usage-rules></gp:geopriv>`
	}
	doc := `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
 xmlns:gbp="urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy" xmlns:gml="http://www.opengis.net/gml" entity="tel:+33612345678">
 <tuple id="a"><status>` + geopriv("true", "2026-12-01T00:00:00Z") + `</status></tuple>
 <tuple id="b"><status>` + geopriv("false", "2026-11-30T00:00:00") + `</status></tuple>
</presence>`
	d, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d.RetransmissionAllowed || !d.RetentionExpiry.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("rules %v %v", d.RetransmissionAllowed, d.RetentionExpiry)
	}
}

const presenceOpen = `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"
 xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" entity="tel:+33612345678"><tuple id="t"><status><gp:geopriv><gp:location-info>`

const presenceClose = `</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>`

func inPresence(info string) string { return presenceOpen + info + presenceClose }

func TestHostileDocumentsAreRefused(t *testing.T) {
	valid := inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`)
	cases := map[string]string{
		"XXE": `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
			`<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&x;"/>`,
		"billion laughs": `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
			`<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><presence xmlns="urn:ietf:params:xml:ns:pidf">&c;</presence>`,
		"a DOCTYPE in lower case":  `<!doctype presence><presence xmlns="urn:ietf:params:xml:ns:pidf"/>`,
		"an internal subset alone": `<!DOCTYPE presence [<!ATTLIST presence entity CDATA "tel:+1">]>` + valid,
		"too deep": `<presence xmlns="urn:ietf:params:xml:ns:pidf">` + strings.Repeat("<x>", MaxDepth) +
			strings.Repeat("</x>", MaxDepth) + `</presence>`,
		"oversize": valid + "<!--" + strings.Repeat(" ", MaxSize) + "-->",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(doc)); !errors.Is(err, ErrUnsafeXML) {
				t.Errorf("%v, want ErrUnsafeXML", err)
			}
		})
	}
	// Just within the limits: accepted.
	deep := inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point><x:e xmlns:x="urn:x">` +
		strings.Repeat("<x:e>", MaxDepth-6) + strings.Repeat("</x:e>", MaxDepth-6) + `</x:e>`)
	if _, err := Decode([]byte(deep)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	big := valid + strings.Repeat(" ", MaxSize-len(valid))
	if _, err := Decode([]byte(big)); err != nil {
		t.Errorf("%d bytes: %v", len(big), err)
	}
}

func TestWhatIsNotAUsablePIDFLOIsRefused(t *testing.T) {
	cases := map[string]struct {
		doc         string
		unsupported bool
	}{
		"not XML":                {doc: "where is +33612345678?"},
		"empty":                  {doc: ""},
		"truncated":              {doc: presenceOpen},
		"two roots":              {doc: inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`) + `<presence/>`},
		"text after the root":    {doc: inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`) + `garbage`},
		"undeclared entity":      {doc: inPresence(`<gml:Point><gml:pos>1 2&nbsp;</gml:pos></gml:Point>`)},
		"other root":             {doc: `<html xmlns="http://www.w3.org/1999/xhtml"/>`},
		"presence without ns":    {doc: `<presence entity="tel:+1"/>`},
		"no location":            {doc: `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="tel:+33612345678"/>`},
		"empty location-info":    {doc: inPresence(``)},
		"no entity":              {doc: strings.Replace(inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`), `entity="tel:+33612345678"`, "", 1)},
		"latitude out of range":  {doc: inPresence(`<gml:Point><gml:pos>91 2</gml:pos></gml:Point>`)},
		"not a number":           {doc: inPresence(`<gml:Point><gml:pos>1 two</gml:pos></gml:Point>`)},
		"NaN":                    {doc: inPresence(`<gml:Point><gml:pos>NaN 2</gml:pos></gml:Point>`)},
		"INF":                    {doc: inPresence(`<gs:Circle><gml:pos>1 2</gml:pos><gs:radius>INF</gs:radius></gs:Circle>`)},
		"hexadecimal":            {doc: inPresence(`<gml:Point><gml:pos>0x1p-2 2</gml:pos></gml:Point>`)},
		"2D point, 3 numbers":    {doc: inPresence(`<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>1 2 3</gml:pos></gml:Point>`)},
		"3D circle":              {doc: inPresence(`<gs:Circle srsName="urn:ogc:def:crs:EPSG::4979"><gml:pos>1 2 3</gml:pos><gs:radius>5</gs:radius></gs:Circle>`)},
		"circle without radius":  {doc: inPresence(`<gs:Circle><gml:pos>1 2</gml:pos></gs:Circle>`)},
		"negative radius":        {doc: inPresence(`<gs:Circle><gml:pos>1 2</gml:pos><gs:radius>-5</gs:radius></gs:Circle>`)},
		"confidence of 0":        {doc: inPresence(`<gs:Circle><gml:pos>1 2</gml:pos><gs:radius>5</gs:radius></gs:Circle><c:confidence xmlns:c="urn:ietf:params:xml:ns:geopriv:conf">0</c:confidence>`)},
		"self-crossing polygon":  {doc: inPresence(`<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 1 1 0 1 1 0 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>`)},
		"flat polygon":           {doc: inPresence(`<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 2 0 0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>`)},
		"3D polygon, two levels": {doc: inPresence(`<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4979"><gml:exterior><gml:LinearRing><gml:posList>0 0 1 0 1 1 1 1 2 0 0 1</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>`)},
		"bad timestamp":          {doc: strings.Replace(inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`), `</tuple>`, `<timestamp>yesterday</timestamp></tuple>`, 1)},
		"another CRS":            {doc: inPresence(`<gml:Point srsName="urn:ogc:def:crs:EPSG::4258"><gml:pos>1 2</gml:pos></gml:Point>`), unsupported: true},
		"radius in kilometres":   {doc: inPresence(`<gs:Circle><gml:pos>1 2</gml:pos><gs:radius uom="urn:ogc:def:uom:EPSG::9036">5</gs:radius></gs:Circle>`), unsupported: true},
		"polygon with a hole": {doc: inPresence(`<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 1 1 0 0</gml:posList></gml:LinearRing></gml:exterior>` +
			`<gml:interior><gml:LinearRing><gml:posList>0.1 0.1 0.1 0.2 0.2 0.2 0.1 0.1</gml:posList></gml:LinearRing></gml:interior></gml:Polygon>`), unsupported: true},
		"RFC 4119's old gml:location": {doc: inPresence(`<gml:location><gml:Point><gml:coordinates>37:46:30N 122:25:10W</gml:coordinates></gml:Point></gml:location>`), unsupported: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(c.doc))
			if !errors.Is(err, ErrNotPIDFLO) || errors.Is(err, ErrUnsafeXML) {
				t.Fatalf("%v, want ErrNotPIDFLO", err)
			}
			if errors.Is(err, ErrUnsupported) != c.unsupported {
				t.Errorf("%v: ErrUnsupported is %v, want %v", err, !c.unsupported, c.unsupported)
			}
		})
	}
}

func TestEncodeRefusesWhatIsNotALocation(t *testing.T) {
	ok := Location{Shape: Circle{Lat: 1, Lon: 2, Radius: 3}}
	doc := func(l Location) Document { return Document{Entity: "tel:+33612345678", Locations: []Location{l}} }
	cases := map[string]Document{
		"no entity":            {Locations: []Location{ok}},
		"entity not a URI":     {Entity: "+33 6 12 34 56 78", Locations: []Location{ok}},
		"device ID not a URI":  {Entity: "tel:+33612345678", DeviceID: "35 209900 176148 1", Locations: []Location{ok}},
		"no location":          {Entity: "tel:+33612345678"},
		"empty location":       doc(Location{Method: "GPS"}),
		"latitude 91":          doc(Location{Shape: Point{Lat: 91}}),
		"longitude NaN":        doc(Location{Shape: Point{Lon: math.NaN()}}),
		"negative radius":      doc(Location{Shape: Circle{Radius: -1}}),
		"infinite axis":        doc(Location{Shape: Ellipse{SemiMajor: math.Inf(1)}}),
		"altitude in space":    doc(Location{Shape: Point{Alt: ptr(1e9)}}),
		"two vertices":         doc(Location{Shape: Polygon{Points: [][2]float64{{1, 1}, {1, 2}}}}),
		"self-crossing":        doc(Location{Shape: Polygon{Points: [][2]float64{{0, 0}, {1, 1}, {0, 1}, {1, 0}}}}),
		"folded back":          doc(Location{Shape: Polygon{Points: [][2]float64{{0, 0}, {0, 2}, {1, 1}, {0, 1}}}}),
		"too many vertices":    doc(Location{Shape: Polygon{Points: circle(MaxPolygonPoints + 1)}}),
		"prism without height": doc(Location{Shape: Prism{Points: [][2]float64{{0, 0}, {0, 1}, {1, 1}}}}),
		"inner beyond outer":   doc(Location{Shape: ArcBand{InnerRadius: 10, OuterRadius: 5, OpeningAngle: 90}}),
		"no opening":           doc(Location{Shape: ArcBand{OuterRadius: 5}}),
		"confidence 150":       doc(Location{Shape: ok.Shape, Confidence: 150}),
		"confidence -2":        doc(Location{Shape: ok.Shape, Confidence: -2}),
		"bad PDF":              doc(Location{Shape: ok.Shape, Confidence: 50, PDF: "gaussian"}),
		"country FRA":          doc(Location{Civic: &Civic{Country: "FRA"}}),
		"bad language":         doc(Location{Civic: &Civic{Lang: "fr_FR", A3: "Paris"}}),
		"control character":    doc(Location{Shape: ok.Shape, Method: "GPS\x00"}),
		"invalid UTF-8":        doc(Location{Civic: &Civic{A3: "Par\xffis"}}),
		"year 10000":           {Entity: "tel:+33612345678", Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Locations: []Location{ok}},
		"too large":            {Entity: "tel:+33612345678", Locations: []Location{{Civic: &Civic{NAM: strings.Repeat("x", MaxSize)}}}},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Encode(d); !errors.Is(err, ErrInvalid) {
				t.Errorf("%v, want ErrInvalid", err)
			}
		})
	}
	// A polygon of exactly MaxPolygonPoints vertices is fine.
	if _, err := Encode(doc(Location{Shape: Polygon{Points: circle(MaxPolygonPoints)}})); err != nil {
		t.Error(err)
	}
}

// circle gives n vertices on a circle, counter-clockwise.
func circle(n int) [][2]float64 {
	pts := make([][2]float64, n)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / float64(n)
		pts[i] = [2]float64{45 + 0.01*math.Sin(a), 5 + 0.01*math.Cos(a)}
	}
	return pts
}

func TestSpecialCharactersSurvive(t *testing.T) {
	d := Document{Entity: "sip:a&b@example.com;user=phone", DeviceID: "imsi:208011234567890", Timestamp: at,
		Locations: []Location{{Civic: &Civic{NAM: `<Chez "Léon"> & fils`, LOC: "rue de l'Église"}, Method: "Manual\r\nfixe", ProvidedBy: "a < b"}}}
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("decoded %#v\nwant    %#v\n%s", back, d, b)
	}
}

func TestCenters(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	cases := []struct {
		s        Shape
		lat, lon float64
	}{
		{Circle{Lat: 48.85, Lon: 2.29, Radius: 10}, 48.85, 2.29},
		{Ellipsoid{Lat: -1, Lon: 179, Alt: 3}, -1, 179},
		{Polygon{Points: [][2]float64{{0, 0}, {0, 2}, {2, 2}, {2, 0}}}, 1, 1},
		{Prism{Points: [][2]float64{{10, 10}, {10, 12}, {12, 12}, {12, 10}, {10, 10}}, Height: 3}, 11, 11},
		// Across the antimeridian, the centroid stays there.
		{Polygon{Points: [][2]float64{{0, 179}, {0, -179}, {2, -179}, {2, 179}}}, 1, 180},
		// A half annulus opening east of north at 0°, for 180°: the centroid is due east
		// at 4·(R²+Rr+r²)/(3π(R+r)) = 424.413 m for r = 0, R = 1000 (RFC 7459 §5.1.1.1).
		{ArcBand{Lat: 0, Lon: 0, OuterRadius: 1000, OpeningAngle: 180}, 0, 424.413 / 111194.93},
	}
	for _, c := range cases {
		lat, lon := c.s.Center()
		if c.lon == 180 && lon == -180 {
			lon = 180
		}
		if !near(lat, c.lat) || math.Abs(lon-c.lon) > 1e-4 {
			t.Errorf("%#v: center %v, %v, want %v, %v", c.s, lat, lon, c.lat, c.lon)
		}
	}
}

func TestALatin1DocumentIsRead(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n" +
		inPresence(`<ca:civicAddress xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"><ca:A3>Orl`+"\xe9"+`ans</ca:A3></ca:civicAddress>`)
	d, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Locations[0].Civic.A3; got != "Orléans" {
		t.Errorf("A3 %q", got)
	}
	other := "<?xml version=\"1.0\" encoding=\"EBCDIC\"?>\n" + inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`)
	if _, err := Decode([]byte(other)); !errors.Is(err, ErrNotPIDFLO) {
		t.Errorf("EBCDIC: %v", err)
	}
}

// TestRandomDocumentsRoundTrip: whatever Encode accepts decodes to a document that encodes
// to the same bytes, and Decode(Encode(d)) is stable.
func TestRandomDocumentsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := func(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }
	shapes := []func() Shape{
		func() Shape { return Point{Lat: f(-90, 90), Lon: f(-180, 180)} },
		func() Shape { return Point{Lat: f(-90, 90), Lon: f(-180, 180), Alt: ptr(f(-500, 9000))} },
		func() Shape { return Circle{Lat: f(-90, 90), Lon: f(-180, 180), Radius: f(0, 5e4)} },
		func() Shape {
			return Ellipse{Lat: f(-90, 90), Lon: f(-180, 180), SemiMajor: f(0, 5e3), SemiMinor: f(0, 5e3), Orientation: f(-720, 720)}
		},
		func() Shape {
			in := f(0, 5e3)
			return ArcBand{Lat: f(-90, 90), Lon: f(-180, 180), InnerRadius: in, OuterRadius: in + f(0, 5e3), StartAngle: f(-720, 720), OpeningAngle: f(0.1, 360)}
		},
		func() Shape {
			return Sphere{Lat: f(-90, 90), Lon: f(-180, 180), Alt: f(-500, 9000), Radius: f(0, 100)}
		},
		func() Shape {
			return Ellipsoid{Lat: f(-90, 90), Lon: f(-180, 180), Alt: f(-500, 9000), SemiMajor: f(0, 100), SemiMinor: f(0, 100), Vertical: f(0, 100), Orientation: f(-360, 360)}
		},
		func() Shape { return Polygon{Points: randomRing(r, f)} },
		func() Shape { return Polygon{Points: randomRing(r, f), Alt: ptr(f(0, 100))} },
		func() Shape { return Prism{Points: randomRing(r, f), Alt: f(0, 100), Height: f(0.001, 50)} },
	}
	accepted := 0
	for i := 0; i < 3000; i++ {
		d := Document{Entity: "tel:+33612345678", Timestamp: at.Add(time.Duration(r.Int64N(1e15))), RetransmissionAllowed: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			d.DeviceID = imei
		}
		for n := 1 + r.IntN(3); n > 0; n-- {
			l := Location{Shape: shapes[r.IntN(len(shapes))](), Confidence: r.IntN(102) - 1, Method: "GPS"}
			if r.IntN(4) == 0 {
				l.Civic = &Civic{Country: "FR", A3: "Paris", FLR: strconv.Itoa(r.IntN(20))}
			}
			d.Locations = append(d.Locations, l)
		}
		b, err := Encode(d)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%v", err)
			}
			continue
		}
		accepted++
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		again, err := Encode(back)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("not stable: %v\n%s\n%s", err, b, again)
		}
		if back2, _ := Decode(again); !reflect.DeepEqual(back, back2) {
			t.Fatalf("decoding is not stable:\n%#v\n%#v", back, back2)
		}
	}
	if accepted < 2000 {
		t.Errorf("only %d of 3000 random documents encoded", accepted)
	}
}

// randomRing is a star-shaped ring around a random centre, in random turning direction.
func randomRing(r *rand.Rand, f func(lo, hi float64) float64) [][2]float64 {
	lat, lon, n := f(-80, 80), f(-180, 180), 3+r.IntN(12)
	pts := make([][2]float64, n)
	for i := range pts {
		a := 2 * math.Pi * (float64(i) + f(0, 0.5)) / float64(n)
		d := f(0.001, 0.05)
		pts[i] = [2]float64{lat + d*math.Sin(a), lon + d*math.Cos(a)}
	}
	if r.IntN(2) == 0 {
		slices.Reverse(pts)
	}
	return pts
}

// TestProvidedByHoldsElementsOnly states geopriv10's rule for provided-by (RFC 4119 §2.2.4,
// the schema's provInfoType: a sequence of elements of other namespaces): no text of its
// own, only child elements, none of the geopriv10 namespace. Socle wrote the name as text.
func TestProvidedByHoldsElementsOnly(t *testing.T) {
	doc := Document{Entity: "tel:+33612345678", Timestamp: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		Locations: []Location{{Shape: Point{Lat: 48.85, Lon: 2.29}, Method: "GPS", ProvidedBy: "Opérateur Démo"}}}
	b, err := Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth, inside := 0, -1
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if el.Name.Space == NSGP && el.Name.Local == "provided-by" {
				inside = depth
			} else if inside > 0 && depth == inside+1 && el.Name.Space == NSGP {
				t.Errorf("provided-by holds %s of geopriv10's own namespace", el.Name.Local)
			}
		case xml.EndElement:
			if depth == inside {
				inside = -1
			}
			depth--
		case xml.CharData:
			if inside > 0 && depth == inside && len(bytes.TrimSpace(el)) > 0 {
				t.Errorf("provided-by has text of its own: %q\n%s", el, b)
			}
		}
	}
	back, err := Decode(b)
	if err != nil || back.Locations[0].ProvidedBy != "Opérateur Démo" {
		t.Fatalf("read back %+v %v", back, err)
	}
}
