package registrysim

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"socle/internal/platform/nrn"
)

// The civil-status register speaks SOAP 1.1 and 1.2, document/literal, at /civil-status.
const (
	soap11NS = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS = "http://www.w3.org/2003/05/soap-envelope"
	// CivilStatusNS is the namespace of the civil-status register's messages; an operation's
	// SOAP action is CivilStatusNS + ":" + its name.
	CivilStatusNS = "urn:socle:civilstatus"
	// maxSOAPRequest bounds a request's body.
	maxSOAPRequest = 64 << 10
)

// Operations are the civil-status register's operations, as the WSDL lists them.
var Operations = []string{"GetBirthCertificate", "GetMarriageCertificate", "ListCivilStatusEvents"}

// SOAPAction is the SOAP action of an operation.
func SOAPAction(op string) string { return CivilStatusNS + ":" + op }

// soapRequest is a request the reader accepted.
type soapRequest struct {
	version int // 11 or 12
	op      string
	nrn     string // 11 digits, checked
}

// faultKind is the SOAP fault code: whose fault it is.
type faultKind int

const (
	sender   faultKind = iota // SOAP 1.1 Client, 1.2 Sender
	receiver                  // SOAP 1.1 Server, 1.2 Receiver
	versionMismatch
)

// soapFault is a refusal; code, field and reason go in the fault's detail.
type soapFault struct {
	kind   faultKind
	code   string // InvalidNrn, PersonNotFound, NoMarriageRecord, UnknownOperation, MalformedRequest, RequestTooLarge, UnsupportedMediaType
	field  string
	reason string
	status int // HTTP status, when not SOAP's own
}

func (f *soapFault) Error() string { return f.code + ": " + f.reason }

func refuse(code, reason string) *soapFault {
	return &soapFault{kind: sender, code: code, reason: reason}
}

// readSOAP reads a request: its SOAP version from the media type, its operation from the
// action (SOAPAction header in 1.1, action parameter of the media type in 1.2) or else from
// the Body's first element, and its national register number. It refuses bodies over 64 KiB,
// DOCTYPEs (and so entity declarations), and anything that is not one of the Operations on a
// well-formed number.
func readSOAP(body io.Reader, contentType, soapActionHeader string) (soapRequest, *soapFault) {
	req := soapRequest{version: 11}
	media, params, err := mime.ParseMediaType(contentType)
	action := strings.Trim(strings.TrimSpace(soapActionHeader), `"`)
	switch {
	case err != nil:
		return req, &soapFault{kind: sender, code: "UnsupportedMediaType", reason: "no readable Content-Type", status: http.StatusUnsupportedMediaType}
	case media == "text/xml":
	case media == "application/soap+xml":
		req.version, action = 12, params["action"]
	default:
		return req, &soapFault{kind: sender, code: "UnsupportedMediaType", status: http.StatusUnsupportedMediaType,
			reason: "the Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2), not " + media}
	}
	b, err := io.ReadAll(io.LimitReader(body, maxSOAPRequest+1))
	if err != nil {
		return req, refuse("MalformedRequest", "the request could not be read")
	}
	if len(b) > maxSOAPRequest {
		return req, &soapFault{kind: sender, code: "RequestTooLarge", status: http.StatusRequestEntityTooLarge,
			reason: fmt.Sprintf("requests are limited to %d KiB", maxSOAPRequest>>10)}
	}
	if f := checkXML(b); f != nil {
		return req, f
	}
	op, number, f := envelope(b, req.version)
	if f != nil {
		return req, f
	}
	switch {
	case action != "" && !knownAction(action):
		return req, refuse("UnknownOperation", "no operation has the action "+action)
	case op.Space != CivilStatusNS || !knownAction(SOAPAction(op.Local)):
		return req, refuse("UnknownOperation", fmt.Sprintf("no operation is called {%s}%s", op.Space, op.Local))
	case action != "" && action != SOAPAction(op.Local):
		return req, refuse("UnknownOperation", fmt.Sprintf("the action %s does not match the Body's %s", action, op.Local))
	}
	req.op = op.Local
	if number == "" {
		return req, &soapFault{kind: sender, code: "InvalidNrn", field: "nrn", reason: op.Local + " takes an nrn element"}
	}
	if req.nrn, err = nrn.Parse(strings.TrimSpace(number)); err != nil {
		var e *nrn.Error
		errors.As(err, &e)
		return req, &soapFault{kind: sender, code: "InvalidNrn", field: "nrn", reason: e.Reason}
	}
	return req, nil
}

func knownAction(a string) bool {
	for _, op := range Operations {
		if a == SOAPAction(op) {
			return true
		}
	}
	return false
}

// checkXML reads every token once: the document must be well-formed, with no DOCTYPE.
func checkXML(b []byte) *soapFault {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return refuse("MalformedRequest", "not well-formed XML: "+err.Error())
		}
		if _, ok := tok.(xml.Directive); ok {
			return refuse("MalformedRequest", "DOCTYPE and entity declarations are refused")
		}
	}
}

// envelope returns the name of the Body's first element and the text of its nrn child.
func envelope(b []byte, version int) (xml.Name, string, *soapFault) {
	d := xml.NewDecoder(bytes.NewReader(b))
	env, err := nextStart(d)
	if err != nil || env.Name.Local != "Envelope" || (env.Name.Space != soap11NS && env.Name.Space != soap12NS) {
		return xml.Name{}, "", refuse("MalformedRequest", "the document is not a SOAP envelope")
	}
	if want := map[int]string{11: soap11NS, 12: soap12NS}[version]; env.Name.Space != want {
		return xml.Name{}, "", &soapFault{kind: versionMismatch, code: "MalformedRequest",
			reason: fmt.Sprintf("a SOAP envelope of %s sent with the media type of SOAP 1.%d", env.Name.Space, version%10)}
	}
	for {
		el, err := nextStart(d)
		if err != nil {
			return xml.Name{}, "", refuse("MalformedRequest", "the envelope has no Body")
		}
		if el.Name.Space == env.Name.Space && el.Name.Local == "Header" {
			d.Skip()
			continue
		}
		if el.Name.Space != env.Name.Space || el.Name.Local != "Body" {
			return xml.Name{}, "", refuse("MalformedRequest", "the envelope holds "+el.Name.Local+", not a Body")
		}
		break
	}
	op, err := nextStart(d)
	if err != nil {
		return xml.Name{}, "", refuse("MalformedRequest", "the Body is empty")
	}
	var args struct {
		NRN string `xml:"nrn"`
	}
	if err := d.DecodeElement(&args, &op); err != nil {
		return xml.Name{}, "", refuse("MalformedRequest", "the Body's "+op.Name.Local+" cannot be read")
	}
	return op.Name, args.NRN, nil
}

// nextStart returns the next start element at the current level, failing at the end of the
// enclosing element.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, io.EOF
		}
	}
}

// The messages, as the WSDL's schema declares them.
type (
	xPerson struct {
		NRN        string   `xml:"nrn"`
		GivenNames []string `xml:"givenName"`
		FamilyName string   `xml:"familyName"`
	}
	xPlace struct {
		Municipality string `xml:"municipality"`
		NISCode      string `xml:"nisCode,omitempty"`
		Country      string `xml:"country"`
	}
	xBirthCertificate struct {
		XMLName     xml.Name `xml:"urn:socle:civilstatus GetBirthCertificateResponse"`
		Certificate struct {
			xPerson
			Gender     string   `xml:"gender"`
			BirthDate  string   `xml:"birthDate"`
			BirthPlace xPlace   `xml:"birthPlace"`
			Father     *xPerson `xml:"father"`
			Mother     *xPerson `xml:"mother"`
		} `xml:"birthCertificate"`
	}
	xMarriage struct {
		Date      string    `xml:"date"`
		Place     xPlace    `xml:"place"`
		Spouses   []xPerson `xml:"spouse"`
		EndDate   string    `xml:"endDate,omitempty"`
		EndReason string    `xml:"endReason,omitempty"`
	}
	xMarriageCertificates struct {
		XMLName      xml.Name    `xml:"urn:socle:civilstatus GetMarriageCertificateResponse"`
		Certificates []xMarriage `xml:"marriageCertificate"`
	}
	xEvent struct {
		Type    string `xml:"type"`
		Date    string `xml:"date"`
		Place   xPlace `xml:"place"`
		Related string `xml:"relatedPerson,omitempty"`
	}
	xEvents struct {
		XMLName xml.Name `xml:"urn:socle:civilstatus ListCivilStatusEventsResponse"`
		NRN     string   `xml:"nrn"`
		Events  []xEvent `xml:"event"`
	}
	xFaultDetail struct {
		XMLName xml.Name `xml:"urn:socle:civilstatus civilStatusFault"`
		Code    string   `xml:"code"`
		Field   string   `xml:"field,omitempty"`
		Reason  string   `xml:"reason"`
	}
)

func xPlaceOf(p Place) xPlace {
	return xPlace{Municipality: p.Municipality, NISCode: p.NISCode, Country: p.Country}
}

// civilStatus is the civil-status register's SOAP service.
type civilStatus struct{ reg *Registry }

func (c civilStatus) routes(mux *http.ServeMux) {
	mux.HandleFunc("/civil-status", c.serve)
}

func (c civilStatus) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		c.call(w, r)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("wsdl"):
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(wsdlFor(r))
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "POST a SOAP request, or GET ?wsdl for the service's description", http.StatusMethodNotAllowed)
	}
}

func (c civilStatus) call(w http.ResponseWriter, r *http.Request) {
	req, f := readSOAP(r.Body, r.Header.Get("Content-Type"), r.Header.Get("SOAPAction"))
	var answer any
	if f == nil {
		note(r, req.op)
		answer, f = c.answer(req)
	}
	if f != nil {
		note(r, cmp.Or(req.op, "fault")+" "+f.code)
		writeFault(w, req.version, f)
		return
	}
	writeEnvelope(w, req.version, http.StatusOK, answer)
}

func (c civilStatus) answer(req soapRequest) (any, *soapFault) {
	p, ok := c.reg.Person(req.nrn)
	if !ok {
		return nil, &soapFault{kind: sender, code: "PersonNotFound", field: "nrn", reason: "no person has the national register number " + nrn.Format(req.nrn)}
	}
	switch req.op {
	case "GetBirthCertificate":
		var out xBirthCertificate
		bc := &out.Certificate
		bc.xPerson = c.person(p.NRN)
		bc.Gender, bc.BirthDate, bc.BirthPlace = p.Gender, p.BirthDate, xPlaceOf(p.BirthPlace)
		father, mother := c.reg.Parents(p.NRN)
		if father != "" {
			f := c.person(father)
			bc.Father = &f
		}
		if mother != "" {
			m := c.person(mother)
			bc.Mother = &m
		}
		return out, nil
	case "GetMarriageCertificate":
		var out xMarriageCertificates
		for _, m := range c.reg.Marriages(p.NRN) {
			out.Certificates = append(out.Certificates, xMarriage{Date: m.Date, Place: xPlaceOf(m.Place),
				Spouses: []xPerson{c.person(m.Spouses[0]), c.person(m.Spouses[1])}, EndDate: m.EndDate, EndReason: m.EndReason})
		}
		if len(out.Certificates) == 0 {
			return nil, &soapFault{kind: sender, code: "NoMarriageRecord", field: "nrn", reason: nrn.Format(p.NRN) + " was never married"}
		}
		return out, nil
	case "ListCivilStatusEvents":
		out := xEvents{NRN: p.NRN}
		for _, e := range c.reg.Events(p.NRN) {
			out.Events = append(out.Events, xEvent{Type: e.Type, Date: e.Date, Place: xPlaceOf(e.Place), Related: e.Related})
		}
		return out, nil
	}
	return nil, &soapFault{kind: receiver, code: "UnknownOperation", reason: req.op + " is not implemented"}
}

func (c civilStatus) person(nrn string) xPerson {
	p, _ := c.reg.Person(nrn)
	return xPerson{NRN: p.NRN, GivenNames: p.GivenNames, FamilyName: p.FamilyName}
}

// envelopeOf returns the envelope's namespace, the prefix written for it and the media type.
func envelopeOf(version int) (ns, prefix, media string) {
	if version == 12 {
		return soap12NS, "env", "application/soap+xml; charset=utf-8"
	}
	return soap11NS, "soap", "text/xml; charset=utf-8"
}

// writeEnvelope writes payload, an XML-marshallable value, as the Body of an envelope.
func writeEnvelope(w http.ResponseWriter, version, status int, payload any) {
	ns, p, media := envelopeOf(version)
	body, err := xml.Marshal(payload)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = xml.Marshal(faultBody(version, &soapFault{kind: receiver, code: "InternalError", reason: "the answer could not be written"}))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<%s:Envelope xmlns:%s="%s"><%s:Body>`, p, p, ns, p)
	b.Write(body)
	fmt.Fprintf(&b, "</%s:Body></%s:Envelope>\n", p, p)
	w.Header().Set("Content-Type", media)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// writeFault writes a fault. HTTP status: 500 in SOAP 1.1; in SOAP 1.2, 400 for the
// sender's fault and 500 otherwise (SOAP 1.2 part 2, §7.5.1); 413 and 415 for a request
// too large or not SOAP at all.
func writeFault(w http.ResponseWriter, version int, f *soapFault) {
	status := http.StatusInternalServerError
	if version == 12 && f.kind == sender {
		status = http.StatusBadRequest
	}
	if f.status != 0 {
		status = f.status
	}
	writeEnvelope(w, version, status, faultBody(version, f))
}

// faultBody is the Fault element, prefixed for the envelope writeEnvelope makes.
func faultBody(version int, f *soapFault) any {
	detail := xFaultDetail{Code: f.code, Field: f.field, Reason: f.reason}
	if version == 12 {
		value := map[faultKind]string{sender: "env:Sender", receiver: "env:Receiver", versionMismatch: "env:VersionMismatch"}[f.kind]
		type text struct {
			Lang string `xml:"xml:lang,attr"`
			Text string `xml:",chardata"`
		}
		return struct {
			XMLName xml.Name     `xml:"env:Fault"`
			Code    string       `xml:"env:Code>env:Value"`
			Reason  text         `xml:"env:Reason>env:Text"`
			Detail  xFaultDetail `xml:"env:Detail>civilStatusFault"`
		}{Code: value, Reason: text{Lang: "en", Text: f.reason}, Detail: detail}
	}
	code := map[faultKind]string{sender: "soap:Client", receiver: "soap:Server", versionMismatch: "soap:VersionMismatch"}[f.kind]
	return struct {
		XMLName xml.Name     `xml:"soap:Fault"`
		Code    string       `xml:"faultcode"`
		String  string       `xml:"faultstring"`
		Detail  xFaultDetail `xml:"detail>civilStatusFault"`
	}{Code: code, String: f.reason, Detail: detail}
}
