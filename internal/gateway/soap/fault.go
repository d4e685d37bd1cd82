package soap

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

// Code is a fault code, named as in SOAP 1.2 (part 1 §5.4.6); WriteFault writes SOAP 1.1's
// names for the first two (SOAP 1.1 §4.4.1: Client, Server).
type Code string

// The fault codes the gateway answers with.
const (
	Sender          Code = "Sender"   // the request is at fault; SOAP 1.1's Client
	Receiver        Code = "Receiver" // the gateway or the upstream is; SOAP 1.1's Server
	VersionMismatch Code = "VersionMismatch"
	MustUnderstand  Code = "MustUnderstand"
)

// NSSocle is the namespace of the detail element socle adds to its faults.
const NSSocle = "urn:socle:gateway:fault"

// Fault is a fault of the gateway's own: the code and the reason, in Lang ("en" if empty),
// and a detail for the caller's support: the problem type URI (as in problem+json) and the
// request id that is also in the gateway's log.
type Fault struct {
	Code      Code
	Reason    string
	Lang      string
	Type      string
	RequestID string
}

// WriteFault writes f as a SOAP v fault, with its Content-Type and HTTP status: 500 for
// every SOAP 1.1 fault (SOAP 1.1 §6.2); for SOAP 1.2, 400 for Sender and 500 for the others
// (SOAP 1.2 part 2 §7.5.1, table 23).
func WriteFault(w http.ResponseWriter, v Version, f Fault) error {
	status := http.StatusInternalServerError
	ct := "text/xml; charset=utf-8"
	if v == V12 {
		ct = "application/soap+xml; charset=utf-8"
		if f.Code == Sender {
			status = http.StatusBadRequest
		}
	}
	b := MarshalFault(v, f)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err := w.Write(b)
	return err
}

// MarshalFault is the envelope WriteFault writes.
func MarshalFault(v Version, f Fault) []byte {
	lang := f.Lang
	if lang == "" {
		lang = "en"
	}
	var b bytes.Buffer
	esc := func(s string) { xml.EscapeText(&b, []byte(s)) }
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	if v == V12 {
		// SOAP 1.2 part 1 §5.4: Code/Value, Reason/Text with xml:lang, Detail.
		b.WriteString(`<env:Envelope xmlns:env="` + NSEnv12 + `">`)
		if f.Code == VersionMismatch {
			// Part 1 §5.4.7: the envelopes this node supports.
			b.WriteString(`<env:Header><env:Upgrade><env:SupportedEnvelope qname="ns1:Envelope" xmlns:ns1="` + NSEnv12 +
				`"/><env:SupportedEnvelope qname="ns2:Envelope" xmlns:ns2="` + NSEnv11 + `"/></env:Upgrade></env:Header>`)
		}
		b.WriteString(`<env:Body><env:Fault><env:Code><env:Value>env:`)
		esc(string(code12(f.Code)))
		b.WriteString(`</env:Value></env:Code><env:Reason><env:Text xml:lang="`)
		esc(lang)
		b.WriteString(`">`)
		esc(f.Reason)
		b.WriteString(`</env:Text></env:Reason><env:Detail>`)
		detail(&b, f)
		b.WriteString(`</env:Detail></env:Fault></env:Body></env:Envelope>`)
		return b.Bytes()
	}
	// SOAP 1.1 §4.4: faultcode, faultstring, detail, unqualified.
	b.WriteString(`<soap:Envelope xmlns:soap="` + NSEnv11 + `"><soap:Body><soap:Fault><faultcode>soap:`)
	esc(string(code11(f.Code)))
	b.WriteString(`</faultcode><faultstring xml:lang="`)
	esc(lang)
	b.WriteString(`">`)
	esc(f.Reason)
	b.WriteString(`</faultstring><detail>`)
	detail(&b, f)
	b.WriteString(`</detail></soap:Fault></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

func detail(b *bytes.Buffer, f Fault) {
	b.WriteString(`<socle:problem xmlns:socle="` + NSSocle + `">`)
	if f.Type != "" {
		b.WriteString(`<socle:type>`)
		xml.EscapeText(b, []byte(f.Type))
		b.WriteString(`</socle:type>`)
	}
	if f.RequestID != "" {
		b.WriteString(`<socle:requestId>`)
		xml.EscapeText(b, []byte(f.RequestID))
		b.WriteString(`</socle:requestId>`)
	}
	b.WriteString(`</socle:problem>`)
}

// code12 keeps a code to one of SOAP 1.2's (part 1 §5.4.6), Receiver otherwise.
func code12(c Code) Code {
	switch c {
	case Sender, Receiver, VersionMismatch, MustUnderstand, "DataEncodingUnknown":
		return c
	}
	return Receiver
}

// code11 is SOAP 1.1's name of c (§4.4.1), Server for an unknown one.
func code11(c Code) Code {
	switch c {
	case Sender:
		return "Client"
	case VersionMismatch, MustUnderstand:
		return c
	}
	return "Server"
}

// DetectFault tells, from the first bytes of a response body (prefix may be cut anywhere),
// whether it is a SOAP fault: an Envelope (1.1 or 1.2) whose first element is the Body, or a
// Header and then the Body, and whose Body's first element is its version's Fault. code is
// the local part of the fault's code, as far as prefix reaches it (the text of the Fault's
// first faultcode in SOAP 1.1, of the first Value of its first Code in SOAP 1.2): Client or
// Server, Sender or Receiver (subcodes are not read), VersionMismatch, MustUnderstand, or a
// service's own; "" when prefix ends before it. A Header longer than prefix hides a fault:
// give it a few kilobytes.
func DetectFault(prefix []byte) (fault bool, code string) {
	dec := xml.NewDecoder(bytes.NewReader(prefix))
	var path []QName // the open elements that matter
	ns, header := "", false
	var text []byte
	for {
		tok, err := dec.Token()
		if err != nil {
			return fault, ""
		}
		switch tok := tok.(type) {
		case xml.Directive:
			return fault, "" // a declaration ends the reading, as a cut would
		case xml.StartElement:
			n := tok.Name
			switch len(path) {
			case 0:
				if n.Local != "Envelope" || (n.Space != NSEnv11 && n.Space != NSEnv12) {
					return false, ""
				}
				ns = n.Space
			case 1:
				switch {
				case n == QName{Space: ns, Local: "Header"} && !header:
					header = true
					if dec.Skip() != nil {
						return false, ""
					}
					continue
				case n != QName{Space: ns, Local: "Body"}:
					return false, ""
				}
			case 2:
				if n != (QName{Space: ns, Local: "Fault"}) {
					return false, ""
				}
				fault = true
			default:
				if !codePath(append(path, n), ns) {
					if dec.Skip() != nil {
						return fault, ""
					}
					continue
				}
			}
			path = append(path, n)
		case xml.CharData:
			if codeAt(path, ns) {
				text = append(text, tok...)
			}
		case xml.EndElement:
			switch {
			case codeAt(path, ns):
				c := strings.TrimSpace(string(text))
				if i := strings.LastIndexByte(c, ':'); i >= 0 {
					c = c[i+1:]
				}
				return true, c
			case len(path) <= 4:
				// The Envelope, Body or Fault closes, or a SOAP 1.2 Code without a Value.
				return fault, ""
			}
			path = path[:len(path)-1]
		}
	}
}

// codePath tells whether path leads toward the fault's code: Envelope/Body/Fault then
// faultcode in SOAP 1.1 (§4.4, unqualified), Code then Code/Value in SOAP 1.2 (part 1 §5.4.6).
func codePath(path []QName, ns string) bool {
	if ns == NSEnv11 {
		return len(path) == 4 && path[3] == QName{Local: "faultcode"}
	}
	return (len(path) == 4 || len(path) == 5) && path[3] == QName{Space: ns, Local: "Code"} &&
		(len(path) == 4 || path[4] == QName{Space: ns, Local: "Value"})
}

// codeAt tells whether path ends at the element whose text is the code.
func codeAt(path []QName, ns string) bool {
	return codePath(path, ns) && (ns == NSEnv11 || len(path) == 5)
}
