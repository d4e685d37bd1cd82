package registrysim

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"socle/internal/platform/nrn"
)

// The WSDL as far as the tests read it.
type wsdlDoc struct {
	PortType struct {
		Operations []struct {
			Name string `xml:"name,attr"`
		} `xml:"operation"`
	} `xml:"portType"`
	Bindings []struct {
		Name       string `xml:"name,attr"`
		Operations []struct {
			Name   string `xml:"name,attr"`
			Action []struct {
				XMLName    xml.Name
				SOAPAction string `xml:"soapAction,attr"`
			} `xml:"operation"`
		} `xml:"operation"`
	} `xml:"binding"`
	Ports []struct {
		Name    string `xml:"name,attr"`
		Address struct {
			XMLName  xml.Name
			Location string `xml:"location,attr"`
		} `xml:"address"`
	} `xml:"service>port"`
}

func readWSDL(t *testing.T, b []byte) wsdlDoc {
	t.Helper()
	var w wsdlDoc
	if err := checkXML(b); err != nil {
		t.Fatalf("the WSDL is not well-formed: %v", err)
	}
	if err := xml.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWSDLListsWhatTheServerDispatches: both bindings have the three operations, with the
// SOAP actions the server dispatches on.
func TestWSDLListsWhatTheServerDispatches(t *testing.T) {
	w := readWSDL(t, WSDL())
	var ops []string
	for _, o := range w.PortType.Operations {
		ops = append(ops, o.Name)
	}
	if !slices.Equal(ops, Operations) {
		t.Errorf("portType operations %v, want %v", ops, Operations)
	}
	namespaces := map[string]bool{}
	for _, b := range w.Bindings {
		var got []string
		for _, o := range b.Operations {
			got = append(got, o.Name)
			if len(o.Action) != 1 || o.Action[0].SOAPAction != SOAPAction(o.Name) || !knownAction(o.Action[0].SOAPAction) {
				t.Errorf("binding %s, %s: soapAction %v, want %s", b.Name, o.Name, o.Action, SOAPAction(o.Name))
			} else {
				namespaces[o.Action[0].XMLName.Space] = true
			}
		}
		if !slices.Equal(got, Operations) {
			t.Errorf("binding %s: operations %v, want %v", b.Name, got, Operations)
		}
	}
	if len(w.Bindings) != 2 || !namespaces["http://schemas.xmlsoap.org/wsdl/soap/"] || !namespaces["http://schemas.xmlsoap.org/wsdl/soap12/"] {
		t.Errorf("bindings %d, of %v: want one SOAP 1.1 and one SOAP 1.2", len(w.Bindings), namespaces)
	}
}

func TestWSDLAddressIsTheOneTheClientUsed(t *testing.T) {
	s, c := start(t, nil)
	for _, tc := range []struct {
		header http.Header
		want   string
	}{
		{nil, s.URL() + "/civil-status"},
		{http.Header{"X-Forwarded-Host": {"api.example.be"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Prefix": {"/apis/civil-status"}},
			"https://api.example.be/apis/civil-status/civil-status"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/civil-status?wsdl", nil)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		w := readWSDL(t, b)
		if len(w.Ports) != 2 {
			t.Fatalf("%d ports, want 2", len(w.Ports))
		}
		for _, p := range w.Ports {
			if p.Address.Location != tc.want {
				t.Errorf("port %s at %s, want %s", p.Name, p.Address.Location, tc.want)
			}
		}
	}
}

func envelope11(op, nrn string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><soap:Envelope xmlns:soap="%s"><soap:Header/><soap:Body><cs:%s xmlns:cs="urn:socle:civilstatus"><cs:nrn>%s</cs:nrn></cs:%s></soap:Body></soap:Envelope>`,
		soap11NS, op, nrn, op)
}

func envelope12(op, nrn string) string {
	return fmt.Sprintf(`<env:Envelope xmlns:env="%s"><env:Body><%s xmlns="urn:socle:civilstatus"><nrn>%s</nrn></%s></env:Body></env:Envelope>`,
		soap12NS, op, nrn, op)
}

func post(t *testing.T, c *http.Client, url, contentType, action, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if action != "" {
		req.Header.Set("SOAPAction", `"`+action+`"`)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// texts collects the text of every element of an XML document by local name.
func texts(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			stack = append(stack, v.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if s := strings.TrimSpace(string(v)); s != "" && len(stack) > 0 {
				out[stack[len(stack)-1]] = append(out[stack[len(stack)-1]], s)
			}
		}
	}
}

func TestSOAPRoundTrips(t *testing.T) {
	s, c := start(t, nil)
	url := s.URL() + "/civil-status"
	for _, tc := range []struct {
		name, contentType, action, body string
		want                            map[string]string // element: its first text
	}{
		{"1.1, birth certificate with parents", "text/xml; charset=utf-8", SOAPAction("GetBirthCertificate"),
			envelope11("GetBirthCertificate", "15.09.08-062.08"),
			map[string]string{"nrn": NRNEmmaRenard, "birthDate": "2015-09-08", "nisCode": "92094", "familyName": "Renard"}},
		{"1.2, marriage certificate, action in the media type", `application/soap+xml; charset=utf-8; action="` + SOAPAction("GetMarriageCertificate") + `"`, "",
			envelope12("GetMarriageCertificate", NRNSophieLambert),
			map[string]string{"date": "2012-06-16", "municipality": "Namur", "nrn": NRNSophieLambert}},
		{"1.1, no action: by the Body's element", "text/xml", "",
			envelope11("ListCivilStatusEvents", NRNThomasRenard),
			map[string]string{"nrn": NRNThomasRenard, "type": "birth", "relatedPerson": NRNSophieLambert}},
		{"1.2, no action: by the Body's element", "application/soap+xml", "",
			envelope12("ListCivilStatusEvents", NRNJonasSchmitz),
			map[string]string{"type": "birth", "municipality": "Eupen"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := post(t, c, url, tc.contentType, tc.action, tc.body)
			if status != http.StatusOK {
				t.Fatalf("%d: %s", status, b)
			}
			got := texts(t, b)
			for el, want := range tc.want {
				if len(got[el]) == 0 || got[el][0] != want {
					t.Errorf("%s = %v, want %s first\n%s", el, got[el], want, b)
				}
			}
		})
	}
}

func TestSOAPFaults(t *testing.T) {
	s, c := start(t, nil)
	url := s.URL() + "/civil-status"
	const soap12 = "application/soap+xml; charset=utf-8"
	doctype := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>` + envelope11("GetBirthCertificate", "&a;")[len(`<?xml version="1.0"?>`):]
	for _, tc := range []struct {
		name, contentType, action, body string
		status                          int
		code, detail                    string
	}{
		{"1.1 unknown person", "text/xml", "", envelope11("GetBirthCertificate", "85031412696"), 500, "soap:Client", "PersonNotFound"},
		{"1.2 unknown person", soap12, "", envelope12("GetBirthCertificate", "85031412696"), 400, "env:Sender", "PersonNotFound"},
		{"1.1 bad check digits", "text/xml", "", envelope11("GetBirthCertificate", "85031412402"), 500, "soap:Client", "InvalidNrn"},
		{"1.2 malformed nrn", soap12, "", envelope12("ListCivilStatusEvents", "85-03-14"), 400, "env:Sender", "InvalidNrn"},
		{"1.2 never married", soap12, "", envelope12("GetMarriageCertificate", NRNLottePeeters), 400, "env:Sender", "NoMarriageRecord"},
		{"1.1 unknown action", "text/xml", "urn:socle:civilstatus:GetDeathCertificate", envelope11("GetBirthCertificate", NRNEmmaRenard), 500, "soap:Client", "UnknownOperation"},
		{"1.2 unknown element", soap12, "", envelope12("GetDeathCertificate", NRNEmmaRenard), 400, "env:Sender", "UnknownOperation"},
		{"1.1 action and Body disagree", "text/xml", SOAPAction("GetMarriageCertificate"), envelope11("GetBirthCertificate", NRNEmmaRenard), 500, "soap:Client", "UnknownOperation"},
		{"1.1 DOCTYPE", "text/xml", "", doctype, 500, "soap:Client", "MalformedRequest"},
		{"1.2 DOCTYPE", soap12, "", `<!DOCTYPE env:Envelope SYSTEM "file:///etc/passwd">` + envelope12("GetBirthCertificate", NRNEmmaRenard), 400, "env:Sender", "MalformedRequest"},
		{"1.2 envelope of SOAP 1.1", soap12, "", envelope11("GetBirthCertificate", NRNEmmaRenard), 500, "env:VersionMismatch", "MalformedRequest"},
		{"1.1 not XML", "text/xml", "", "<soap:Envelope", 500, "soap:Client", "MalformedRequest"},
		{"1.1 over 64 KiB", "text/xml", "", envelope11("GetBirthCertificate", NRNEmmaRenard+strings.Repeat(" ", 64<<10)), 413, "soap:Client", "RequestTooLarge"},
		{"JSON", "application/json", "", "{}", 415, "soap:Client", "UnsupportedMediaType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, b := post(t, c, url, tc.contentType, tc.action, tc.body)
			got := texts(t, b)
			code := got["faultcode"]
			if strings.HasPrefix(tc.code, "env:") {
				code = got["Value"]
			}
			if status != tc.status || len(code) == 0 || code[0] != tc.code || len(got["code"]) == 0 || got["code"][0] != tc.detail {
				t.Errorf("%d %v, detail %v; want %d %s %s\n%s", status, code, got["code"], tc.status, tc.code, tc.detail, b)
			}
		})
	}
}

// FuzzReadSOAP: the reader never panics, and what it does not refuse is an operation of the
// WSDL on a valid national register number.
func FuzzReadSOAP(f *testing.F) {
	for _, op := range Operations {
		f.Add(envelope11(op, NRNEmmaRenard), "text/xml", SOAPAction(op))
		f.Add(envelope12(op, "85.03.14-124.01"), "application/soap+xml", "")
	}
	f.Add(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`, "text/xml", "")
	f.Add("<soap:Envelope", `application/soap+xml; action="x"`, "")
	f.Fuzz(func(t *testing.T, body, contentType, action string) {
		req, fault := readSOAP(strings.NewReader(body), contentType, action)
		if fault != nil {
			return
		}
		if !slices.Contains(Operations, req.op) {
			t.Fatalf("accepted an operation not in the WSDL: %q", req.op)
		}
		if _, err := nrn.Parse(req.nrn); err != nil {
			t.Fatalf("accepted %q: %v", req.nrn, err)
		}
	})
}

// syncBuffer is a bytes.Buffer the server's goroutines may write while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
