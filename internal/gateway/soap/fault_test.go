package soap

import (
	"encoding/xml"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFaultsHaveTheStatusAndContentTypeOfTheirVersion(t *testing.T) {
	for _, tc := range []struct {
		v      Version
		code   Code
		status int
		ct     string
		wire   string // the code as written
		seen   string // what DetectFault reads back
	}{
		{V11, Sender, 500, "text/xml; charset=utf-8", "soap:Client", "Client"},
		{V11, Receiver, 500, "text/xml; charset=utf-8", "soap:Server", "Server"},
		{V11, VersionMismatch, 500, "text/xml; charset=utf-8", "soap:VersionMismatch", "VersionMismatch"},
		{V12, Sender, 400, "application/soap+xml; charset=utf-8", "env:Sender", "Sender"},
		{V12, Receiver, 500, "application/soap+xml; charset=utf-8", "env:Receiver", "Receiver"},
		{V12, VersionMismatch, 500, "application/soap+xml; charset=utf-8", "env:VersionMismatch", "VersionMismatch"},
		{V12, "Unheard", 500, "application/soap+xml; charset=utf-8", "env:Receiver", "Receiver"},
	} {
		w := httptest.NewRecorder()
		if err := WriteFault(w, tc.v, Fault{Code: tc.code, Reason: "quota <exceeded> & more", Type: "urn:socle:problem:quota", RequestID: "r-1"}); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if w.Code != tc.status || w.Header().Get("Content-Type") != tc.ct || !strings.Contains(body, ">"+tc.wire+"<") {
			t.Errorf("SOAP %s %s: %d %q %s", tc.v, tc.code, w.Code, w.Header().Get("Content-Type"), body)
		}
		if fault, code := DetectFault(w.Body.Bytes()); !fault || code != tc.seen {
			t.Errorf("SOAP %s %s read back as %v %q", tc.v, tc.code, fault, code)
		}
	}
}

// Everything is escaped: the reason, the language, the detail's type and request id.
func TestAFaultEscapesWhatItCarries(t *testing.T) {
	for _, v := range []Version{V11, V12} {
		f := Fault{Code: Sender, Reason: `</faultstring><x a="1">&`, Lang: `fr"`, Type: "urn:a&b", RequestID: "<id>"}
		b := MarshalFault(v, f)
		var env struct {
			Body struct {
				Fault struct {
					String string `xml:"faultstring"`
					Reason string `xml:"Reason>Text"`
					Detail struct {
						Problem struct {
							Type      string `xml:"type"`
							RequestID string `xml:"requestId"`
						} `xml:"urn:socle:gateway:fault problem"`
					} `xml:",any"`
				}
			}
		}
		if err := xml.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s: %v\n%s", v, err, b)
		}
		fl := env.Body.Fault
		if fl.String+fl.Reason != f.Reason || fl.Detail.Problem.Type != f.Type || fl.Detail.Problem.RequestID != f.RequestID {
			t.Errorf("SOAP %s: %+v\n%s", v, fl, b)
		}
	}
}

func TestAVersionMismatchFaultTellsTheSupportedEnvelopes(t *testing.T) {
	b := string(MarshalFault(V12, Fault{Code: VersionMismatch, Reason: "x"}))
	if !strings.Contains(b, "<env:Upgrade>") || strings.Count(b, "SupportedEnvelope") != 2 {
		t.Error(b)
	}
}

func TestDetectFaultReadsTheFirstBytesOnly(t *testing.T) {
	whole := string(MarshalFault(V11, Fault{Code: Receiver, Reason: "upstream down"}))
	cut := strings.Index(whole, "Server") + len("Server</faultcode>")
	if fault, code := DetectFault([]byte(whole[:cut])); !fault || code != "Server" {
		t.Errorf("cut after the code: %v %q", fault, code)
	}
	if fault, code := DetectFault([]byte(whole[:strings.Index(whole, "<faultcode>")])); !fault || code != "" {
		t.Errorf("cut before the code: %v %q", fault, code)
	}
	for name, doc := range map[string]string{
		"a response":            `<s:Envelope xmlns:s="` + NSEnv11 + `"><s:Body><r:Ok xmlns:r="urn:r"><Fault/></r:Ok></s:Body></s:Envelope>`,
		"a Fault in the Header": `<s:Envelope xmlns:s="` + NSEnv11 + `"><s:Header><s:Fault/></s:Header><s:Body><Ok/></s:Body></s:Envelope>`,
		"a 1.1 Fault in 1.2":    `<e:Envelope xmlns:e="` + NSEnv12 + `"><e:Body><s:Fault xmlns:s="` + NSEnv11 + `"/></e:Body></e:Envelope>`,
		"not SOAP":              `<html><body>Bad gateway</body></html>`,
		"not XML":               `{"error":"x"}`,
		"empty":                 ``,
	} {
		if fault, _ := DetectFault([]byte(doc)); fault {
			t.Errorf("%s taken for a fault", name)
		}
	}
	// A Header before the Body, a SOAP 1.2 subcode, prefixes other than the writer's.
	doc := `<?xml version="1.0"?><E:Envelope xmlns:E="` + NSEnv12 + `"><E:Header><h/></E:Header><E:Body><E:Fault>` +
		`<E:Code><E:Value>E:Sender</E:Value><E:Subcode><E:Value>x:Quota</E:Value></E:Subcode></E:Code></E:Fault></E:Body></E:Envelope>`
	if fault, code := DetectFault([]byte(doc)); !fault || code != "Sender" {
		t.Errorf("%v %q", fault, code)
	}
}
