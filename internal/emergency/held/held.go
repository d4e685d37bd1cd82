// Package held reads and writes HELD messages (HTTP-Enabled Location Delivery, RFC 5985): the
// locationRequest a PSAP sends to learn where a caller is, the locationResponse carrying a
// PIDF-LO document, and the error. Devices are named as in RFC 6155 (here a tel: URI). The
// media type is application/held+xml (RFC 5985 §11.2).
package held

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"socle/internal/emergency/pidflo"
	"socle/internal/platform/xmlsafe"
)

// Namespaces and media type.
const (
	NS        = "urn:ietf:params:xml:ns:geopriv:held"
	NSID      = "urn:ietf:params:xml:ns:geopriv:held:id" // RFC 6155 device identity
	MediaType = "application/held+xml"
)

// Limits of what is read from outside.
const (
	MaxSize  = 64 << 10
	MaxDepth = 32
)

// Error codes of RFC 5985 §4.3.2 (and §6.3).
const (
	RequestError        = "requestError"
	XMLError            = "xmlError"
	GeneralLisError     = "generalLisError"
	LocationUnknown     = "locationUnknown"
	UnsupportedMessage  = "unsupportedMessage"
	Timeout             = "timeout"
	CannotProvideLiType = "cannotProvideLiType"
	NotLocatable        = "notLocatable"
)

// KnownCode reports whether code is one of RFC 5985 §4.3.2's: a code a LIS invents means
// nothing to a PSAP, which is told generalLisError instead.
func KnownCode(code string) bool {
	switch code {
	case RequestError, XMLError, GeneralLisError, LocationUnknown, UnsupportedMessage, Timeout,
		CannotProvideLiType, NotLocatable:
		return true
	}
	return false
}

// Error is a HELD error message; it is also a Go error.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return "held " + e.Code + ": " + e.Message }

// Location types a request may ask for (RFC 5985 §6.1).
const (
	TypeAny         = "any"
	TypeGeodetic    = "geodetic"
	TypeCivic       = "civic"
	TypeLocationURI = "locationURI"
)

// Request is a locationRequest.
type Request struct {
	// Device is the target's tel: URI (RFC 6155 §3.5 uri element).
	Device string
	// ResponseTime is how long the requester will wait (RFC 5985 §6.1: milliseconds);
	// zero when not given or given as a token.
	ResponseTime time.Duration
	// ResponseTimeToken is "emergencyRouting" or "emergencyDispatch" when given so.
	ResponseTimeToken string
	LocationTypes     []string
	Exact             bool
}

type xRequest struct {
	XMLName      xml.Name
	ResponseTime string `xml:"responseTime,attr"`
	LocationType *struct {
		Exact string `xml:"exact,attr"`
		Types string `xml:",chardata"`
	} `xml:"urn:ietf:params:xml:ns:geopriv:held locationType"`
	Device *struct {
		URI    []string `xml:"urn:ietf:params:xml:ns:geopriv:held:id uri"`
		Tel    []string `xml:"urn:ietf:params:xml:ns:geopriv:held:id tel"`
		MSISDN []string `xml:"urn:ietf:params:xml:ns:geopriv:held:id msisdn"`
	} `xml:"urn:ietf:params:xml:ns:geopriv:held:id device"`
}

// ParseRequest reads a locationRequest. Every failure is a HELD error a server can send
// back as it is: xmlError for what is not a well-formed, safe HELD document, requestError for
// a request that cannot be served as asked.
func ParseRequest(b []byte) (Request, *Error) { return parseRequest(b, true) }

// ParseDereferenceRequest reads a locationRequest sent to a location URI (RFC 6753 §3): the
// URI names the target, so the request needs no device, and a device it names is not used —
// it must not be able to turn a reference to one person into a query about another.
func ParseDereferenceRequest(b []byte) (Request, *Error) {
	r, herr := parseRequest(b, false)
	r.Device = ""
	return r, herr
}

func parseRequest(b []byte, needDevice bool) (Request, *Error) {
	if err := xmlsafe.Check(b, MaxSize, MaxDepth); err != nil {
		return Request{}, &Error{Code: XMLError, Message: err.Error()}
	}
	var x xRequest
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&x); err != nil {
		return Request{}, &Error{Code: XMLError, Message: "not well-formed XML: " + err.Error()}
	}
	if x.XMLName.Space != NS || x.XMLName.Local != "locationRequest" {
		return Request{}, &Error{Code: UnsupportedMessage,
			Message: fmt.Sprintf("root element {%s}%s is not a HELD locationRequest", x.XMLName.Space, x.XMLName.Local)}
	}
	var r Request
	switch rt := strings.TrimSpace(x.ResponseTime); rt {
	case "":
	case "emergencyRouting", "emergencyDispatch":
		r.ResponseTimeToken = rt
	default:
		ms, err := strconv.ParseUint(rt, 10, 32)
		if err != nil {
			return Request{}, &Error{Code: RequestError,
				Message: "responseTime must be milliseconds, emergencyRouting or emergencyDispatch"}
		}
		r.ResponseTime = time.Duration(ms) * time.Millisecond
	}
	if x.LocationType != nil {
		exact := strings.TrimSpace(x.LocationType.Exact)
		r.Exact = exact == "true" || exact == "1"
		for _, t := range strings.Fields(x.LocationType.Types) {
			switch t {
			case TypeAny, TypeGeodetic, TypeCivic, TypeLocationURI:
				r.LocationTypes = append(r.LocationTypes, t)
			default:
				if r.Exact {
					return Request{}, &Error{Code: CannotProvideLiType, Message: "unknown location type " + strconv.Quote(t)}
				}
			}
		}
	}
	if !needDevice {
		return r, nil
	}
	if x.Device == nil {
		return Request{}, &Error{Code: RequestError, Message: "a device (RFC 6155) is required: <device><uri>tel:+33...</uri></device>"}
	}
	var ids []string
	ids = append(ids, x.Device.URI...)
	for _, t := range append(x.Device.Tel, x.Device.MSISDN...) {
		ids = append(ids, "tel:+"+strings.TrimPrefix(strings.TrimSpace(t), "+"))
	}
	if len(ids) != 1 {
		return Request{}, &Error{Code: RequestError, Message: "exactly one device identifier is supported, a tel: URI"}
	}
	tel, ok := NormaliseTel(ids[0])
	if !ok {
		return Request{}, &Error{Code: RequestError, Message: "device uri must be a global tel: URI such as tel:+33612345678"}
	}
	r.Device = tel
	return r, nil
}

// NormaliseTel returns a global tel: URI (RFC 3966) with visual separators removed.
func NormaliseTel(s string) (string, bool) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(strings.ToLower(s[:min(4, len(s))])+s[min(4, len(s)):], "tel:")
	if !ok || !strings.HasPrefix(rest, "+") {
		return "", false
	}
	rest, _, _ = strings.Cut(rest, ";") // parameters (;phone-context...) are not needed for a global number
	var b strings.Builder
	b.WriteString("tel:+")
	for _, c := range rest[1:] {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '-' || c == '.' || c == '(' || c == ')': // RFC 3966 visual separators
		default:
			return "", false
		}
	}
	if n := b.Len() - len("tel:+"); n < 6 || n > 15 {
		return "", false
	}
	return b.String(), true
}

// EncodeRequest writes a locationRequest. A request without a Device is a dereference request
// (RFC 6753 §3.1): the location URI it is sent to names the target.
func EncodeRequest(r Request) ([]byte, error) {
	tel, ok := NormaliseTel(r.Device)
	if !ok && r.Device != "" {
		return nil, fmt.Errorf("held: device %q is not a global tel: URI", r.Device)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<locationRequest xmlns="` + NS + `"`)
	switch {
	case r.ResponseTimeToken != "":
		b.WriteString(` responseTime="` + r.ResponseTimeToken + `"`)
	case r.ResponseTime > 0:
		b.WriteString(` responseTime="` + strconv.FormatInt(r.ResponseTime.Milliseconds(), 10) + `"`)
	}
	b.WriteString(">\n")
	if len(r.LocationTypes) > 0 {
		b.WriteString(` <locationType exact="` + strconv.FormatBool(r.Exact) + `">` + strings.Join(r.LocationTypes, " ") + "</locationType>\n")
	}
	if tel != "" {
		b.WriteString(` <device xmlns="` + NSID + `"><uri>` + tel + "</uri></device>\n")
	}
	b.WriteString("</locationRequest>\n")
	return b.Bytes(), nil
}

// Response is a locationResponse: a location by value, by reference, or both (RFC 5985 §6.2).
type Response struct {
	// Location is the PIDF-LO document, when the answer carries one (HasLocation).
	Location    pidflo.Document
	HasLocation bool
	// URIs are the location URIs of a locationUriSet (RFC 5985 §6.2.1), valid until Expires.
	URIs    []string
	Expires time.Time
}

// EncodeResponse writes a locationResponse carrying d as PIDF-LO (RFC 5985 §6.2).
func EncodeResponse(d pidflo.Document) ([]byte, error) {
	return Encode(Response{Location: d, HasLocation: true})
}

// EncodeReference writes a locationResponse carrying only location URIs, valid until
// expires: a location by reference, to be dereferenced (RFC 6753).
func EncodeReference(uris []string, expires time.Time) []byte {
	b, _ := Encode(Response{URIs: uris, Expires: expires}) // no location: nothing to refuse
	return b
}

// Encode writes a locationResponse (RFC 5985 §6.2): the locationUriSet first, whose expires
// attribute is required (§6.2.1), then the location.
func Encode(r Response) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<locationResponse xmlns="` + NS + `">` + "\n")
	if r.URIs != nil {
		b.WriteString(` <locationUriSet expires="` + r.Expires.UTC().Format(time.RFC3339Nano) + `">` + "\n")
		for _, u := range r.URIs {
			b.WriteString("  <locationURI>")
			xml.EscapeText(&b, []byte(u))
			b.WriteString("</locationURI>\n")
		}
		b.WriteString(" </locationUriSet>\n")
	}
	if r.HasLocation {
		doc, err := pidflo.Encode(r.Location)
		if err != nil {
			return nil, fmt.Errorf("held: %w", err)
		}
		b.Write(bytes.TrimPrefix(doc, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n")))
	}
	b.WriteString("</locationResponse>\n")
	return b.Bytes(), nil
}

// EncodeError writes a HELD error message (RFC 5985 §6.3). The code is escaped too: an
// operator's error is passed on to the PSAP, code and all, and its code is its own text.
func EncodeError(e *Error) []byte {
	var code, msg strings.Builder
	xml.EscapeText(&code, []byte(e.Code))
	xml.EscapeText(&msg, []byte(e.Message))
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<error xmlns="` + NS + `" code="` + code.String() + `">` +
		`<message xml:lang="en">` + msg.String() + "</message></error>\n")
}

// ErrNotHELD is returned for a response that is neither a locationResponse nor an error.
var ErrNotHELD = errors.New("held: not a HELD response")

// ParseResponse reads what a location server answered: a locationResponse, or an error
// returned as *Error.
func ParseResponse(b []byte) (Response, error) {
	if err := xmlsafe.Check(b, MaxSize, MaxDepth); err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrNotHELD, err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	root, err := firstStart(dec)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %v", ErrNotHELD, err)
	}
	switch {
	case root.Name.Space == NS && root.Name.Local == "error":
		var x struct {
			Code    string `xml:"code,attr"`
			Message string `xml:"urn:ietf:params:xml:ns:geopriv:held message"`
		}
		if err := dec.DecodeElement(&x, &root); err != nil {
			return Response{}, fmt.Errorf("%w: %v", ErrNotHELD, err)
		}
		return Response{}, &Error{Code: strings.TrimSpace(x.Code), Message: strings.TrimSpace(x.Message)}
	case root.Name.Space == NS && root.Name.Local == "locationResponse":
		// RFC 5985 §6.2: a locationUriSet, then the location by value, either optional, at
		// least one of them there; extensions are skipped.
		var r Response
		for {
			tok, err := dec.Token()
			if err != nil {
				return Response{}, fmt.Errorf("%w: %v", ErrNotHELD, err)
			}
			if _, ok := tok.(xml.EndElement); ok { // of the locationResponse
				break
			}
			start, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			switch {
			case start.Name.Space == pidflo.NSPIDF && start.Name.Local == "presence" && !r.HasLocation:
				d, err := pidflo.DecodeElement(dec, start)
				if err != nil {
					return Response{}, err
				}
				r.Location, r.HasLocation = d, true
			case start.Name.Space == NS && start.Name.Local == "locationUriSet" && r.URIs == nil:
				var set struct {
					Expires string   `xml:"expires,attr"`
					URIs    []string `xml:"urn:ietf:params:xml:ns:geopriv:held locationURI"`
				}
				if err := dec.DecodeElement(&set, &start); err != nil {
					return Response{}, fmt.Errorf("%w: locationUriSet: %v", ErrNotHELD, err)
				}
				exp, err := time.Parse(time.RFC3339, strings.TrimSpace(set.Expires))
				if err != nil {
					return Response{}, fmt.Errorf("%w: locationUriSet expires %q is not a date-time", ErrNotHELD, set.Expires)
				}
				r.Expires = exp.UTC()
				r.URIs = []string{}
				for _, u := range set.URIs {
					if u = strings.TrimSpace(u); u != "" {
						r.URIs = append(r.URIs, u)
					}
				}
			default:
				if err := dec.Skip(); err != nil {
					return Response{}, fmt.Errorf("%w: %v", ErrNotHELD, err)
				}
			}
		}
		if !r.HasLocation && len(r.URIs) == 0 {
			return Response{}, fmt.Errorf("%w: locationResponse with neither a location nor a location URI", ErrNotHELD)
		}
		return r, nil
	}
	return Response{}, fmt.Errorf("%w: root {%s}%s", ErrNotHELD, root.Name.Space, root.Name.Local)
}

func firstStart(dec *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return s, nil
		}
	}
}
