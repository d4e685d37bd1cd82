package held

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/xmlgrammar"
)

// The grammar of the HELD messages socle writes, stated in our own words from the schema of
// RFC 5985 §7 and the device identity of RFC 6155 §4. The schemas are other people's text
// and are not in the repository. The PIDF-LO inside a locationResponse is pidflo.Encode's,
// whose grammar pidflo's tests check.

const (
	nsHELD = "urn:ietf:params:xml:ns:geopriv:held"
	nsID   = "urn:ietf:params:xml:ns:geopriv:held:id"
)

var (
	locationTypes = []string{"any", "civic", "geodetic", "locationURI"} // RFC 5985 §6.1 code list
	telURI        = regexp.MustCompile(`^tel:\+[0-9]{6,15}$`)
)

func checkHELD(b []byte) error {
	root, err := xmlgrammar.Parse(b)
	if err != nil {
		return err
	}
	if root.Name.Space != nsHELD {
		return fmt.Errorf("root %v is not in the HELD namespace", root.Name)
	}
	if err := root.ElementOnly(); err != nil && root.Name.Local != "error" {
		return err
	}
	switch root.Name.Local {
	case "locationRequest":
		return checkRequest(root)
	case "locationResponse":
		return checkResponse(root)
	case "error":
		return checkError(root)
	}
	return fmt.Errorf("%s is not a HELD message", root.Name.Local)
}

// checkRequest: locationType first, if any, then elements of other namespaces (the device
// of RFC 6155); responseTime a non-negative integer of milliseconds or one of two tokens.
func checkRequest(r *xmlgrammar.Node) error {
	if rt, ok := r.Attr("responseTime"); ok {
		if _, err := strconv.ParseUint(rt, 10, 64); err != nil && rt != "emergencyRouting" && rt != "emergencyDispatch" {
			return fmt.Errorf("responseTime %q: milliseconds, emergencyRouting or emergencyDispatch", rt)
		}
	}
	if _, err := r.InOrder(nsHELD, "locationType"); err != nil {
		return err
	}
	seenOther := false
	for _, c := range r.Children {
		if c.Name.Space != nsHELD {
			seenOther = true
			continue
		}
		if seenOther {
			return fmt.Errorf("locationType after an extension element")
		}
		if exact, ok := c.Attr("exact"); ok && exact != "true" && exact != "false" {
			return fmt.Errorf("exact %q is not an xs:boolean", exact)
		}
		types := strings.Fields(c.Text)
		if len(types) == 0 {
			return fmt.Errorf("an empty locationType")
		}
		for _, t := range types {
			if !slices.Contains(locationTypes, t) {
				return fmt.Errorf("location type %q is not in RFC 5985's list", t)
			}
		}
		if slices.Contains(types, "any") && len(types) > 1 {
			return fmt.Errorf("any stands alone in a locationType")
		}
	}
	for _, c := range r.Children {
		if c.Is(nsID, "device") {
			if len(c.Children) == 0 {
				return fmt.Errorf("a device names at least one identifier")
			}
			for _, id := range c.Children {
				if id.Is(nsID, "uri") && !telURI.MatchString(id.Text) {
					return fmt.Errorf("device uri %q is not a global tel: URI", id.Text)
				}
			}
		}
	}
	return nil
}

// checkResponse: locationUriSet first, if any, with its required expires and at least one
// locationURI, then the location (a presence) and extensions, never in the HELD namespace.
func checkResponse(r *xmlgrammar.Node) error {
	if _, err := r.InOrder(nsHELD, "locationUriSet"); err != nil {
		return err
	}
	for i, c := range r.Children {
		if !c.Is(nsHELD, "locationUriSet") {
			continue
		}
		if i != 0 {
			return fmt.Errorf("locationUriSet comes first")
		}
		exp, ok := c.Attr("expires")
		if _, err := time.Parse(time.RFC3339, exp); !ok || err != nil {
			return fmt.Errorf("locationUriSet expires %q: a required xs:dateTime", exp)
		}
		if err := c.ElementOnly(); err != nil {
			return err
		}
		if got := c.Own(nsHELD); len(got) == 0 || len(got) != len(c.Children) || slices.ContainsFunc(got, func(s string) bool { return s != "locationURI" }) {
			return fmt.Errorf("locationUriSet holds %v: one locationURI or more", got)
		}
	}
	if len(r.Children) == 0 {
		return fmt.Errorf("a locationResponse with nothing in it")
	}
	return nil
}

// checkError: a code of RFC 5985 §4.3.2 (socle writes no other), messages with a language.
func checkError(e *xmlgrammar.Node) error {
	code, ok := e.Attr("code")
	if !ok || !KnownCode(code) {
		return fmt.Errorf("error code %q is not one of RFC 5985 §4.3.2", code)
	}
	for _, c := range e.Children {
		if c.Is(nsHELD, "message") {
			if len(c.Children) > 0 {
				return fmt.Errorf("message holds elements")
			}
			if _, ok := c.Attrs[xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "lang"}]; !ok {
				return fmt.Errorf("message without xml:lang")
			}
		} else if c.Name.Space == nsHELD {
			return fmt.Errorf("error holds %s", c.Name.Local)
		}
	}
	return nil
}

func TestEveryHELDMessageSocleWritesFollowsTheGrammar(t *testing.T) {
	msgs := map[string][]byte{}
	for name, d := range documents {
		b, err := EncodeResponse(d)
		if err != nil {
			t.Fatal(err)
		}
		msgs["response "+name] = b
	}
	both, err := Encode(Response{URIs: []string{"https://lis.example/l?a=1&b=2"}, Expires: at,
		Location: documents["circle"], HasLocation: true})
	if err != nil {
		t.Fatal(err)
	}
	msgs["response by value and by reference"] = both
	msgs["response by reference"] = EncodeReference([]string{"https://lis.example/1", "https://lis.example/2"}, at)
	for _, code := range []string{RequestError, XMLError, GeneralLisError, LocationUnknown, UnsupportedMessage, Timeout,
		CannotProvideLiType, NotLocatable} {
		msgs["error "+code] = EncodeError(&Error{Code: code, Message: "why <exactly> & how"})
	}
	for name, r := range map[string]Request{
		"request":                       {Device: "tel:+33612345678", ResponseTime: 3 * time.Second, LocationTypes: []string{TypeGeodetic, TypeCivic}, Exact: true},
		"request with a token time":     {Device: "tel:+33612345678", ResponseTimeToken: "emergencyRouting", LocationTypes: []string{TypeAny}},
		"request with nothing optional": {Device: "tel:+33612345678"},
		"dereference request":           {ResponseTime: time.Second},
	} {
		b, err := EncodeRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		msgs[name] = b
	}
	for name, b := range msgs {
		if err := checkHELD(b); err != nil {
			t.Errorf("%s: %v\n%s", name, err, b)
		}
	}
}

func TestTheHELDGrammarCheckRefusesWhatTheSchemaRefuses(t *testing.T) {
	req, _ := EncodeRequest(Request{Device: "tel:+33612345678", ResponseTime: time.Second, LocationTypes: []string{TypeGeodetic}})
	ref := EncodeReference([]string{"https://lis.example/1"}, at)
	for name, c := range map[string]struct {
		doc      []byte
		from, to string
	}{
		"generalLocationError (socle before issue 10)": {EncodeError(&Error{Code: GeneralLisError}), "generalLisError", "generalLocationError"},
		"a location type of no list":                   {req, "geodetic", "geodetic hologram"},
		"responseTime in seconds":                      {req, `responseTime="1000"`, `responseTime="1s"`},
		"locationType after the device":                {req, ` <locationType exact="false">geodetic</locationType>` + "\n", ""},
		"a uriSet without expires":                     {ref, ` expires="2026-11-24T14:19:57Z"`, ""},
		"an empty uriSet":                              {ref, "  <locationURI>https://lis.example/1</locationURI>\n", ""},
	} {
		broken := bytes.Replace(c.doc, []byte(c.from), []byte(c.to), 1)
		if name == "locationType after the device" {
			broken = bytes.Replace(broken, []byte("</locationRequest>"), []byte(`<locationType>geodetic</locationType></locationRequest>`), 1)
		}
		if bytes.Equal(broken, c.doc) {
			t.Fatalf("%s: the edit does not apply to\n%s", name, c.doc)
		}
		if err := checkHELD(broken); err == nil {
			t.Errorf("%s: accepted\n%s", name, broken)
		}
	}
}
