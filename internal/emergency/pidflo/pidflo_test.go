package pidflo

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var at = time.Date(2026, 11, 24, 14, 19, 57, 0, time.UTC)

func alt(f float64) *float64 { return &f }

var documents = map[string]Document{
	"circle": {Entity: "tel:+33612345678", DeviceID: "urn:gsma:imei:35-693803-564380-9", Timestamp: at,
		Locations: []Location{{Shape: Circle{Lat: 48.85837, Lon: 2.294481, Radius: 12.5}, Confidence: 68, Method: "GPS"}}},
	"point": {Entity: "tel:+33612345678", Timestamp: at, RetentionExpiry: at.Add(24 * time.Hour),
		Locations: []Location{{Shape: Point{Lat: 43.2951, Lon: 5.374, Alt: alt(35.2)}, Method: "802.11"}}},
	"ellipse": {Entity: "tel:+33612345678", Timestamp: at,
		Locations: []Location{{Shape: Ellipse{Lat: 45.7578, Lon: 4.832, SemiMajor: 1200, SemiMinor: 400, Orientation: 35}, Confidence: 95, Method: "Cell"}}},
	"polygon": {Entity: "tel:+33612345678", Timestamp: at,
		Locations: []Location{{Shape: Polygon{Points: [][2]float64{{48.85, 2.29}, {48.86, 2.29}, {48.86, 2.30}, {48.85, 2.30}, {48.85, 2.29}}}, Method: "Cell"}}},
	"civic": {Entity: "tel:+33140000000", Timestamp: at, RetransmissionAllowed: true,
		Locations: []Location{{Civic: &Civic{Country: "FR", A1: "Île-de-France", A2: "75", A3: "Paris", A6: "Avenue Anatole France",
			HNO: "5", PC: "75007", NAM: "Tour Eiffel & Champ-de-Mars"}, Method: "Manual", ProvidedBy: "Opérateur fixe"}}},
}

func TestGoldenEncodings(t *testing.T) {
	for name, d := range documents {
		got, err := Encode(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name+".xml")
		if *update {
			os.WriteFile(path, got, 0o644)
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if string(want) != string(got) {
			t.Errorf("%s differs from %s:\n%s", name, path, got)
		}
	}
}

func TestEveryShapeSurvivesARoundTrip(t *testing.T) {
	for name, d := range documents {
		b, _ := Encode(d)
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Errorf("%s: decoded %+v, want %+v", name, back, d)
		}
	}
}

// A document with other prefixes and the RFC 4119 tuple form, as an operator might send.
const tupleForm = `<?xml version="1.0"?>
<p:presence xmlns:p="urn:ietf:params:xml:ns:pidf" xmlns:geo="urn:ietf:params:xml:ns:pidf:geopriv10"
  xmlns:g="http://www.opengis.net/gml" xmlns:shape="http://www.opengis.net/pidflo/1.0" entity="pres:+33612345678@example.net">
 <p:tuple id="sg89ae">
  <p:status>
   <geo:geopriv>
    <geo:location-info>
     <shape:Circle srsName="urn:ogc:def:crs:EPSG::4326"><g:pos>48.8 2.3</g:pos><shape:radius uom="urn:ogc:def:uom:EPSG::9001">850</shape:radius></shape:Circle>
    </geo:location-info>
    <geo:usage-rules/>
    <geo:method>Cell</geo:method>
   </geo:geopriv>
  </p:status>
  <p:timestamp>2026-11-24T14:19:57Z</p:timestamp>
 </p:tuple>
</p:presence>`

func TestPrefixesDoNotMatterAndTheTupleFormIsRead(t *testing.T) {
	d, err := Decode([]byte(tupleForm))
	if err != nil {
		t.Fatal(err)
	}
	want := Circle{Lat: 48.8, Lon: 2.3, Radius: 850}
	if len(d.Locations) != 1 || d.Locations[0].Shape != want || d.Locations[0].Method != "Cell" || !d.Timestamp.Equal(at) {
		t.Fatalf("decoded %+v", d)
	}
}

func TestHostileDocumentsAreRefused(t *testing.T) {
	xxe := `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="&x;"/>`
	laughs := `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><presence xmlns="urn:ietf:params:xml:ns:pidf">&b;</presence>`
	deep := `<presence xmlns="urn:ietf:params:xml:ns:pidf">` + strings.Repeat("<x>", 40) + strings.Repeat("</x>", 40) + `</presence>`
	big := `<presence xmlns="urn:ietf:params:xml:ns:pidf">` + strings.Repeat(" ", MaxSize) + `</presence>`
	for name, doc := range map[string]string{"XXE": xxe, "billion laughs": laughs, "deep": deep, "oversize": big} {
		if _, err := Decode([]byte(doc)); !errors.Is(err, ErrUnsafeXML) {
			t.Errorf("%s: %v, want ErrUnsafeXML", name, err)
		}
	}
	for name, doc := range map[string]string{
		"not xml":     "hello",
		"other root":  `<html/>`,
		"no location": `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="tel:+33612345678"/>`,
	} {
		if _, err := Decode([]byte(doc)); !errors.Is(err, ErrNotPIDFLO) {
			t.Errorf("%s: %v, want ErrNotPIDFLO", name, err)
		}
	}
}

func TestEncodeRefusesWhatIsNotALocation(t *testing.T) {
	for name, d := range map[string]Document{
		"no entity":   {Locations: documents["circle"].Locations},
		"no location": {Entity: "tel:+33612345678"},
		"bad lat":     {Entity: "tel:+1", Locations: []Location{{Shape: Point{Lat: 91}}}},
		"open ring":   {Entity: "tel:+1", Locations: []Location{{Shape: Polygon{Points: [][2]float64{{1, 1}, {1, 2}, {2, 2}, {2, 1}}}}}},
	} {
		if _, err := Encode(d); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}
