package held

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/pidflo"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var at = time.Date(2026, 11, 24, 14, 19, 57, 0, time.UTC)

func alt(f float64) *float64 { return &f }

// documents are the shapes an operator's location server answers with: geodetic for mobile
// lines, civic for fixed lines.
var documents = map[string]pidflo.Document{
	"point":   {Entity: "tel:+33612345678", Timestamp: at, Locations: []pidflo.Location{{Shape: pidflo.Point{Lat: 48.8584, Lon: 2.2945, Alt: alt(35)}, Method: "GPS"}}},
	"circle":  {Entity: "tel:+33612345678", Timestamp: at, Locations: []pidflo.Location{{Shape: pidflo.Circle{Lat: 48.8584, Lon: 2.2945, Radius: 850}, Confidence: 95, Method: "Cell"}}},
	"ellipse": {Entity: "tel:+33612345678", Timestamp: at, Locations: []pidflo.Location{{Shape: pidflo.Ellipse{Lat: 43.2951, Lon: 5.374, SemiMajor: 1500, SemiMinor: 600, Orientation: 40}, Confidence: 95, Method: "Cell"}}},
	"polygon": {Entity: "tel:+33612345678", Timestamp: at, Locations: []pidflo.Location{{Shape: pidflo.Polygon{Points: [][2]float64{{45.75, 4.82}, {45.75, 4.85}, {45.77, 4.85}, {45.77, 4.82}, {45.75, 4.82}}}, Method: "Cell"}}},
	"civic": {Entity: "tel:+33140000000", Timestamp: at, Locations: []pidflo.Location{{Civic: &pidflo.Civic{Country: "FR", A1: "Île-de-France",
		A3: "Paris", A6: "Rue de Rivoli", HNO: "1", PC: "75001"}, Method: "Wiremap"}}},
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.WriteFile(path, got, 0o644)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs:\n%s", path, got)
	}
}

func TestGoldenResponsesRoundTrip(t *testing.T) {
	for name, d := range documents {
		b, err := EncodeResponse(d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		golden(t, "response-"+name+".xml", b)
		back, err := ParseResponse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(back.Location, d) {
			t.Errorf("%s: decoded %+v, want %+v", name, back.Location, d)
		}
	}
}

func TestGoldenRequestAndError(t *testing.T) {
	b, err := EncodeRequest(Request{Device: "tel:+33-6-12-34-56-78", ResponseTime: 3 * time.Second,
		LocationTypes: []string{TypeGeodetic, TypeCivic}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "request.xml", b)
	r, herr := ParseRequest(b)
	if herr != nil || r.Device != "tel:+33612345678" || r.ResponseTime != 3*time.Second || len(r.LocationTypes) != 2 {
		t.Fatalf("round trip: %+v %v", r, herr)
	}
	e := EncodeError(&Error{Code: LocationUnknown, Message: "no location for tel:+33612345678 <now>"})
	golden(t, "error.xml", e)
	_, err = ParseResponse(e)
	var he *Error
	if !errors.As(err, &he) || he.Code != LocationUnknown || he.Message != "no location for tel:+33612345678 <now>" {
		t.Fatalf("error round trip: %v", err)
	}
}

// A request as another implementation writes it: other prefixes, a token response time.
const foreignRequest = `<?xml version="1.0"?>
<h:locationRequest xmlns:h="urn:ietf:params:xml:ns:geopriv:held" xmlns:id="urn:ietf:params:xml:ns:geopriv:held:id" responseTime="emergencyDispatch">
  <h:locationType exact="false">any</h:locationType>
  <id:device><id:uri>TEL:+33.6.98.76.54.32</id:uri></id:device>
</h:locationRequest>`

// A response whose PIDF-LO prefixes are declared on the HELD root, after a locationUriSet.
const foreignResponse = `<?xml version="1.0"?>
<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held" xmlns:p="urn:ietf:params:xml:ns:pidf"
  xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model">
 <locationUriSet expires="2026-11-24T15:00:00Z"><locationURI>https://ls.example/loc/1</locationURI></locationUriSet>
 <p:presence entity="pres:+33698765432@operator.example">
  <dm:device id="d"><gp:geopriv><gp:location-info>
   <gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>43.2951 5.3740</gml:pos></gml:Point>
  </gp:location-info><gp:usage-rules/><gp:method>Cell</gp:method></gp:geopriv>
  <dm:timestamp>2026-11-24T14:19:57Z</dm:timestamp></dm:device>
 </p:presence>
</locationResponse>`

func TestOtherImplementationsAreUnderstood(t *testing.T) {
	r, herr := ParseRequest([]byte(foreignRequest))
	if herr != nil || r.Device != "tel:+33698765432" || r.ResponseTimeToken != "emergencyDispatch" || r.LocationTypes[0] != TypeAny {
		t.Fatalf("request: %+v %v", r, herr)
	}
	resp, err := ParseResponse([]byte(foreignResponse))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := resp.Location.Locations[0].Shape.(pidflo.Point); !ok || p.Lat != 43.2951 || resp.Location.Locations[0].Method != "Cell" {
		t.Fatalf("response: %+v", resp.Location)
	}
}

func TestBadRequestsGetTheRightHELDError(t *testing.T) {
	deep := `<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held">` + strings.Repeat("<x>", 40) + strings.Repeat("</x>", 40) + `</locationRequest>`
	for name, c := range map[string]struct{ doc, code string }{
		"XXE":                {`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held">&x;</locationRequest>`, XMLError},
		"billion laughs":     {`<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held">&b;</locationRequest>`, XMLError},
		"too deep":           {deep, XMLError},
		"oversize":           {`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held">` + strings.Repeat(" ", MaxSize) + `</locationRequest>`, XMLError},
		"not xml":            {`where is +33612345678?`, XMLError},
		"other message":      {`<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held"/>`, UnsupportedMessage},
		"no device":          {`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held"/>`, RequestError},
		"national number":    {`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held"><device xmlns="urn:ietf:params:xml:ns:geopriv:held:id"><uri>tel:0612345678</uri></device></locationRequest>`, RequestError},
		"bad responseTime":   {`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held" responseTime="soon"><device xmlns="urn:ietf:params:xml:ns:geopriv:held:id"><uri>tel:+33612345678</uri></device></locationRequest>`, RequestError},
		"exact unknown type": {`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held"><locationType exact="true">geodetic hologram</locationType><device xmlns="urn:ietf:params:xml:ns:geopriv:held:id"><uri>tel:+33612345678</uri></device></locationRequest>`, CannotProvideLiType},
	} {
		_, herr := ParseRequest([]byte(c.doc))
		if herr == nil || herr.Code != c.code {
			t.Errorf("%s: %v, want %s", name, herr, c.code)
		}
	}
}

// A location by reference, in the shape of RFC 5985 §10's examples (values our own): a
// locationUriSet (§6.2.1) with an https and a sip URI, its expiry with a fraction of a second.
const referenceResponse = `<?xml version="1.0"?>
<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held">
  <locationUriSet expires="2026-11-24T15:00:00.0Z">
    <locationURI>https://lis.operateur.example:9768/ref/8c2f1e</locationURI>
    <locationURI>sip:9769+8c2f1e@lis.operateur.example</locationURI>
  </locationUriSet>
</locationResponse>`

func TestALocationByReferenceIsReadWithItsExpiry(t *testing.T) {
	r, err := ParseResponse([]byte(referenceResponse))
	if err != nil {
		t.Fatal(err)
	}
	if r.HasLocation || len(r.URIs) != 2 || r.URIs[0] != "https://lis.operateur.example:9768/ref/8c2f1e" ||
		!r.Expires.Equal(time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("read %+v", r)
	}
	// And it writes back the same: socle's operator simulator answers so.
	back, err := ParseResponse(EncodeReference(r.URIs, r.Expires))
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestAResponseMustCarryALocationOrAReference(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":                               `<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held"/>`,
		"extension only":                      `<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held"><x:ext xmlns:x="urn:example"/></locationResponse>`,
		"expiry not a date":                   `<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held"><locationUriSet expires="tomorrow"><locationURI>https://a.example/1</locationURI></locationUriSet></locationResponse>`,
		"expiry missing (§6.2.1 requires it)": `<locationResponse xmlns="urn:ietf:params:xml:ns:geopriv:held"><locationUriSet><locationURI>https://a.example/1</locationURI></locationUriSet></locationResponse>`,
	} {
		if _, err := ParseResponse([]byte(doc)); !errors.Is(err, ErrNotHELD) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
}

// RFC 6753 §3: the location URI names the target, so a dereference request carries no device;
// the request of RFC 5985 §10's first example, which lets the LIS find the device by its IP
// address, is not one a PSAP can make of socle, which must be told whom it is asked about.
func TestADereferenceRequestNamesNoDevice(t *testing.T) {
	b, err := EncodeRequest(Request{ResponseTime: 2 * time.Second, LocationTypes: []string{TypeGeodetic}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "device") {
		t.Errorf("a dereference request names a device:\n%s", b)
	}
	r, herr := ParseDereferenceRequest(b)
	if herr != nil || r.ResponseTime != 2*time.Second || r.Device != "" {
		t.Errorf("dereference request read as %+v %v", r, herr)
	}
	if _, herr := ParseRequest(b); herr == nil || herr.Code != RequestError {
		t.Errorf("as a location request: %v, want requestError", herr)
	}
	// A device in a dereference is not used: it must not turn a reference into a query
	// about someone else.
	r, herr = ParseDereferenceRequest([]byte(foreignRequest))
	if herr != nil || r.Device != "" {
		t.Errorf("device in a dereference: %+v %v", r, herr)
	}
}
