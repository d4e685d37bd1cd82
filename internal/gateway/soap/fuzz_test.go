package soap

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"socle/internal/platform/xmlsafe"
)

// FuzzParseWSDL: ParseWSDL never panics; what it accepts has named operations, and
// RewriteAddresses makes a document that parses again with
// every port at the new address and nothing else changed.
func FuzzParseWSDL(f *testing.F) {
	for _, name := range []string{"attestations.wsdl", "malformed.wsdl", "doctype.wsdl"} {
		f.Add(readFile(f, name))
	}
	const base = "https://gw.example/apis/x/?a=1&b=2"
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseWSDL(b)
		if err != nil {
			return
		}
		for _, o := range d.Operations {
			if o.Name == "" || o.PortType == "" {
				t.Fatalf("an operation without a name: %+v", o)
			}
		}
		out, err := d.RewriteAddresses(b, base)
		if err != nil {
			t.Fatalf("a parsed WSDL could not be rewritten: %v", err)
		}
		again, err := ParseWSDL(out)
		if err != nil {
			t.Fatalf("the rewritten WSDL does not parse: %v\n%s", err, out)
		}
		if len(again.Services) != len(d.Services) || len(again.Operations) != len(d.Operations) {
			t.Fatalf("rewriting changed the description")
		}
		for i, s := range again.Services {
			if len(s.Ports) != len(d.Services[i].Ports) {
				t.Fatalf("rewriting changed the ports")
			}
			for _, p := range s.Ports {
				if p.Location != base {
					t.Fatalf("port %q is at %q", p.Name, p.Location)
				}
			}
		}
	})
}

// FuzzScreen: the gateway's screen never panics, and what it lets through is within bounds
// for Go's tokenizer too (xmlsafe's own fuzz targets check each bound).
func FuzzScreen(f *testing.F) {
	f.Add([]byte(issue11))
	f.Add(readFile(f, "doctype.wsdl"))
	l := xmlsafe.Limits{MaxSize: 1 << 16, MaxDepth: 8, MaxElements: 64, MaxAttributes: 4,
		MaxNameLength: 32, MaxTextLength: 64, MaxAttrValueLength: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		if l.Check(b) != nil {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		depth := 0
		for {
			tok, err := dec.RawToken()
			if err != nil {
				return
			}
			switch tok := tok.(type) {
			case xml.Directive:
				t.Fatalf("a declaration passed")
			case xml.StartElement:
				if depth++; depth > 8 || len(tok.Attr) > 4 {
					t.Fatalf("an element past the bounds passed")
				}
			case xml.EndElement:
				depth--
			}
		}
	})
}

// FuzzReadRequest: ReadRequest never panics; a request it routes names an operation whose
// binding of the request's version exists.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(issue11), "text/xml", `"urn:socle:test:attestations#Issue"`)
	f.Add([]byte(revoke12), "application/soap+xml; action=x", "")
	d := attestations(f)
	f.Fuzz(func(t *testing.T, body []byte, ct, action string) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header["Content-Type"] = []string{ct}
		r.Header["Soapaction"] = []string{action}
		req, err := ReadRequest(r, body, d)
		if err != nil {
			return
		}
		if req.Version != V11 && req.Version != V12 {
			t.Fatalf("version %q", req.Version)
		}
		if _, ok := req.Operation.Binding(req.Version); !ok {
			t.Fatalf("operation %s has no SOAP %s binding", req.Operation.Name, req.Version)
		}
	})
}

// FuzzDetectFault: on a whole well-formed document, DetectFault agrees with a reading of the
// whole tree; on any prefix of a fault it finds, it finds a fault too, or nothing yet.
func FuzzDetectFault(f *testing.F) {
	f.Add(MarshalFault(V11, Fault{Code: Sender, Reason: "r"}))
	f.Add(MarshalFault(V12, Fault{Code: VersionMismatch, Reason: "r"}))
	f.Add([]byte(issue11))
	f.Fuzz(func(t *testing.T, b []byte) {
		fault, code := DetectFault(b)
		for _, cut := range []int{len(b) / 3, len(b) / 2} {
			if f, c := DetectFault(b[:cut]); (f || c != "") && (f != fault || (c != "" && c != code)) {
				t.Fatalf("the prefix of %d bytes says %v %q, the whole %v %q", cut, f, c, fault, code)
			}
		}
		root, ok := tree(b)
		if !ok {
			return
		}
		wantFault, wantCode := faultOf(root)
		if fault != wantFault || code != wantCode {
			t.Fatalf("DetectFault says %v %q, the tree %v %q: %q", fault, code, wantFault, wantCode, b)
		}
	})
}

// el is an element of a whole document, for FuzzDetectFault's reference reading.
type el struct {
	name QName
	kids []*el
	text string // its own character data
}

// tree reads a whole well-formed document without declarations.
func tree(b []byte) (*el, bool) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root *el
	var stack []*el
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return root, root != nil
		}
		if err != nil {
			return nil, false
		}
		switch tok := tok.(type) {
		case xml.Directive:
			return nil, false
		case xml.StartElement:
			e := &el{name: tok.Name}
			if len(stack) == 0 {
				if root != nil {
					return nil, false
				}
				root = e
			} else {
				stack[len(stack)-1].kids = append(stack[len(stack)-1].kids, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
}

// faultOf reads SOAP 1.1 §4.4 and SOAP 1.2 part 1 §5.4 on a whole tree.
func faultOf(env *el) (bool, string) {
	ns := env.name.Space
	if env.name.Local != "Envelope" || (ns != NSEnv11 && ns != NSEnv12) || len(env.kids) == 0 {
		return false, ""
	}
	body := env.kids[0]
	if body.name == (QName{Space: ns, Local: "Header"}) && len(env.kids) > 1 {
		body = env.kids[1]
	}
	if body.name != (QName{Space: ns, Local: "Body"}) || len(body.kids) == 0 || body.kids[0].name != (QName{Space: ns, Local: "Fault"}) {
		return false, ""
	}
	var code *el
	for _, k := range body.kids[0].kids {
		if ns == NSEnv11 && k.name == (QName{Local: "faultcode"}) {
			code = k
			break
		}
		if ns == NSEnv12 && k.name == (QName{Space: ns, Local: "Code"}) {
			for _, v := range k.kids {
				if v.name == (QName{Space: ns, Local: "Value"}) {
					code = v
					break
				}
			}
			if code == nil {
				return true, ""
			}
			break
		}
	}
	if code == nil {
		return true, ""
	}
	c := strings.TrimSpace(code.text)
	if i := strings.LastIndexByte(c, ':'); i >= 0 {
		c = c[i+1:]
	}
	return true, c
}
