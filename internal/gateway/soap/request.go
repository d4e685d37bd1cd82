package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Errors of ReadRequest, each wrapped with what is wrong; CodeOf maps them to a fault code.
var (
	ErrNotSOAP          = errors.New("not a SOAP request")
	ErrVersionMismatch  = errors.New("SOAP version mismatch")
	ErrUnknownOperation = errors.New("unknown operation")
)

// Request is what the gateway knows of a SOAP request before it forwards it.
type Request struct {
	Version   Version
	Action    string     // the SOAPAction header (1.1) or the action parameter (1.2); "" if none
	Body      QName      // the Body's first child
	Operation *Operation // the operation of the Description it calls; nil without a Description
}

// ReadRequest classifies r, whose body is body: its SOAP version from its Content-Type
// (SOAP 1.1 §6.1.1: text/xml with a SOAPAction header; SOAP 1.2 part 2 §7.1.4:
// application/soap+xml with an optional action parameter), its action, the first child of
// its Body, and, with d, the operation it calls: by action first, then by that child. It
// reads the envelope only up to that child; the caller screens body beforehand (with
// xmlsafe.Limits, the API's threat protection).
func ReadRequest(r *http.Request, body []byte, d *Description) (Request, error) {
	var req Request
	if r.Method != http.MethodPost {
		return req, fmt.Errorf("%w: method %s, not POST", ErrNotSOAP, r.Method)
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return req, fmt.Errorf("%w: Content-Type %q: %v", ErrNotSOAP, ct, err)
	}
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return req, fmt.Errorf("%w: charset %q, not UTF-8", ErrNotSOAP, cs)
	}
	switch mt {
	case "text/xml":
		req.Version = V11
		// SOAP 1.1 §6.1.1: "An HTTP client MUST use this header field", its value a quoted URI
		// or "" (the request URI); clients that forget the quotes are tolerated.
		actions, ok := r.Header[http.CanonicalHeaderKey("SOAPAction")]
		if !ok || len(actions) != 1 {
			return req, fmt.Errorf("%w: a SOAP 1.1 request carries one SOAPAction header (SOAP 1.1 §6.1.1)", ErrNotSOAP)
		}
		a := strings.TrimSpace(actions[0])
		if len(a) >= 2 && a[0] == '"' && a[len(a)-1] == '"' {
			a = a[1 : len(a)-1]
		}
		req.Action = a
	case "application/soap+xml":
		req.Version = V12
		req.Action = params["action"] // RFC 3902 §1
	default:
		return req, fmt.Errorf("%w: Content-Type %q, neither text/xml (SOAP 1.1) nor application/soap+xml (SOAP 1.2)", ErrNotSOAP, mt)
	}
	if req.Body, err = firstBodyChild(body, req.Version); err != nil {
		return req, err
	}
	if d != nil {
		req.Operation, err = d.route(req)
	}
	return req, err
}

// envelopeNS is the namespace of a version's envelope.
func envelopeNS(v Version) string {
	if v == V12 {
		return NSEnv12
	}
	return NSEnv11
}

// firstBodyChild reads body's envelope up to the first child of its Body.
func firstBodyChild(body []byte, v Version) (QName, error) {
	ns := envelopeNS(v)
	dec := xml.NewDecoder(bytes.NewReader(body))
	depth := 0 // 1 in the Envelope, 2 in the Header or Body
	inBody, sawBody := false, false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return QName{}, fmt.Errorf("%w: the document ends before the Body's content", ErrNotSOAP)
		}
		if err != nil {
			return QName{}, fmt.Errorf("%w: %v", ErrNotSOAP, err)
		}
		switch tok := tok.(type) {
		case xml.Directive:
			return QName{}, fmt.Errorf("%w: a declaration (DOCTYPE, ENTITY) is refused", ErrNotSOAP)
		case xml.StartElement:
			depth++
			switch {
			case depth == 1 && tok.Name.Local == "Envelope" && (tok.Name.Space == NSEnv11 || tok.Name.Space == NSEnv12) && tok.Name.Space != ns:
				// SOAP 1.2 part 1 §5.4.7, SOAP 1.1 §4.4.1: the envelope of another version.
				return QName{}, fmt.Errorf("%w: a SOAP %s envelope sent as SOAP %s (Content-Type)", ErrVersionMismatch, other(v), v)
			case depth == 1 && tok.Name != QName{Space: ns, Local: "Envelope"}:
				return QName{}, fmt.Errorf("%w: the root element is {%s}%s, not a SOAP %s Envelope", ErrNotSOAP, tok.Name.Space, tok.Name.Local, v)
			case depth == 2 && tok.Name == QName{Space: ns, Local: "Header"} && !sawBody:
				if err := dec.Skip(); err != nil {
					return QName{}, fmt.Errorf("%w: %v", ErrNotSOAP, err)
				}
				depth--
			case depth == 2 && tok.Name == QName{Space: ns, Local: "Body"} && !sawBody:
				inBody, sawBody = true, true
			case depth == 2:
				return QName{}, fmt.Errorf("%w: {%s}%s in the Envelope, where the Header or the Body is expected", ErrNotSOAP, tok.Name.Space, tok.Name.Local)
			case depth == 3 && inBody:
				return tok.Name, nil
			}
		case xml.EndElement:
			if depth--; inBody {
				return QName{}, fmt.Errorf("%w: the Body is empty", ErrNotSOAP)
			}
		case xml.CharData:
			if depth >= 1 && len(bytes.TrimSpace(tok)) > 0 {
				return QName{}, fmt.Errorf("%w: text in the Envelope", ErrNotSOAP)
			}
		}
	}
}

func other(v Version) Version {
	if v == V12 {
		return V11
	}
	return V12
}

// route finds the operation req calls: the one whose binding of req's version declares its
// action, or else the one whose input is the Body's first child (document style: the part's
// element; rpc style: the wrapper named after the operation, WSDL 1.1 §3.5).
func (d *Description) route(req Request) (*Operation, error) {
	var byAction, byBody *Operation
	for i := range d.Operations {
		o := &d.Operations[i]
		b, ok := o.Binding(req.Version)
		if !ok {
			continue
		}
		if req.Action != "" && b.Action == req.Action && byAction == nil {
			byAction = o
		}
		if want, known := o.inputElement(b); known && want == req.Body && byBody == nil {
			byBody = o
		}
	}
	switch {
	case byAction != nil:
		b, _ := byAction.Binding(req.Version)
		if want, known := byAction.inputElement(b); known && want != req.Body {
			return nil, fmt.Errorf("%w: the action %q is operation %s's, which expects {%s}%s in the Body, not {%s}%s",
				ErrUnknownOperation, req.Action, byAction.Name, want.Space, want.Local, req.Body.Space, req.Body.Local)
		}
		return byAction, nil
	case byBody != nil:
		if b, _ := byBody.Binding(req.Version); req.Action != "" && b.Action != "" {
			return nil, fmt.Errorf("%w: the action %q is not operation %s's (%q)", ErrUnknownOperation, req.Action, byBody.Name, b.Action)
		}
		return byBody, nil
	case req.Action != "":
		return nil, fmt.Errorf("%w: no SOAP %s operation has the action %q or the input {%s}%s", ErrUnknownOperation, req.Version, req.Action, req.Body.Space, req.Body.Local)
	default:
		return nil, fmt.Errorf("%w: no SOAP %s operation has the input {%s}%s", ErrUnknownOperation, req.Version, req.Body.Space, req.Body.Local)
	}
}

// inputElement is the Body's first child of a request for o through b, when the description
// tells it.
func (o *Operation) inputElement(b OperationBinding) (QName, bool) {
	if b.Style == "rpc" {
		return QName{Space: b.Namespace, Local: o.Name}, true
	}
	if o.Input == nil || len(o.Input.Parts) == 0 || o.Input.Parts[0].Element == (QName{}) {
		return QName{}, false
	}
	return o.Input.Parts[0].Element, true
}

// CodeOf is the fault code that answers err, an error of ReadRequest.
func CodeOf(err error) Code {
	if errors.Is(err, ErrVersionMismatch) {
		return VersionMismatch
	}
	return Sender
}
