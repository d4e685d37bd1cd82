package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"socle/internal/gateway/registrysim"
)

const (
	soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12 = "http://www.w3.org/2003/05/soap-envelope"
)

func envelope11(op, nrn string) string {
	return fmt.Sprintf(`<?xml version="1.0"?><soap:Envelope xmlns:soap="%s"><soap:Body><cs:%s xmlns:cs="urn:socle:civilstatus"><cs:nrn>%s</cs:nrn></cs:%s></soap:Body></soap:Envelope>`,
		soap11, op, nrn, op)
}

// civilStatus publishes the simulated civil-status register (SOAP) and counts the calls that
// reach it.
func civilStatus(t *testing.T) (*world, *instance, string, *atomic.Int64) {
	w := newWorld(t)
	var reached atomic.Int64
	reg := registrysim.Handler(registrysim.NewRegistry(0, 0))
	up := w.upstream(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		reg.ServeHTTP(rw, r)
	}))
	w.mustApply(fmt.Sprintf(`
gateway:
  apis:
    - name: etat-civil
      kind: soap
      upstreams: [%s/civil-status]
      auth: [key]
      wsdl: civil-status.wsdl
      max_request_bytes: 64KiB
  plans:
    - name: bronze
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: etat-civil, plan: bronze}]
`, up), map[string]string{"civil-status.wsdl": string(registrysim.WSDL())})
	gw := w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), gw)
	return w, gw, key, &reached
}

func TestASOAPCallIsRoutedByItsActionAndAnUpstreamFaultCountsAsItsError(t *testing.T) {
	w, gw, key, _ := civilStatus(t)
	c := w.client()
	url := gw.web.URL + "/apis/etat-civil"
	res, body := get(t, c, "POST", url, strings.NewReader(envelope11("GetBirthCertificate", registrysim.NRNEmmaRenard)),
		"X-API-Key", key, "Content-Type", "text/xml; charset=utf-8", "SOAPAction", registrysim.SOAPAction("GetBirthCertificate"))
	if res.StatusCode != 200 || !strings.Contains(body, "2015-09-08") {
		t.Fatalf("a birth certificate: %d %s", res.StatusCode, body)
	}
	res, body = get(t, c, "POST", url, strings.NewReader(envelope11("GetMarriageCertificate", "85031412696")),
		"X-API-Key", key, "Content-Type", "text/xml", "SOAPAction", registrysim.SOAPAction("GetMarriageCertificate"))
	if res.StatusCode != 500 || !strings.Contains(body, "PersonNotFound") || res.Header.Get("X-Socle-Error-Origin") != OriginUpstream {
		t.Fatalf("the register's fault passes through, marked as the upstream's: %d %v %s", res.StatusCode, res.Header, body)
	}
	rs := w.records(2)
	if rs[0].Operation != "GetBirthCertificate" || rs[0].Origin != "" || rs[1].Operation != "GetMarriageCertificate" ||
		rs[1].Origin != OriginUpstream || !strings.Contains(rs[1].Error, "SOAP fault") {
		t.Fatalf("records: %+v", rs)
	}
}

func TestXMLAttacksAreRefusedWithASOAPFaultBeforeTheUpstream(t *testing.T) {
	w, gw, key, reached := civilStatus(t)
	c := w.client()
	url := gw.web.URL + "/apis/etat-civil"
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>` +
		strings.Replace(envelope11("GetBirthCertificate", "&lol2;"), `<?xml version="1.0"?>`, "", 1)
	deep := envelope11("GetBirthCertificate", strings.Repeat("<a>", 200)+strings.Repeat("</a>", 200))
	wide := envelope11("GetBirthCertificate", strings.Repeat("<a/>", 12000))
	long := envelope11("GetBirthCertificate", "<"+strings.Repeat("n", 1000)+"/>")
	huge := envelope11("GetBirthCertificate", strings.Repeat("x", 70<<10))
	for name, c2 := range map[string]struct {
		body   string
		status int
		says   string
	}{
		"entity expansion": {laughs, 500, "declaration"},
		"deep nesting":     {deep, 500, "deeper"},
		"many elements":    {wide, 500, "elements"},
		"a long name":      {long, 500, "name"},
		"too large":        {huge, 413, "larger than the 65536 bytes"},
	} {
		res, body := get(t, c, "POST", url, strings.NewReader(c2.body), "X-API-Key", key, "Content-Type", "text/xml",
			"SOAPAction", registrysim.SOAPAction("GetBirthCertificate"))
		if res.StatusCode != c2.status || !strings.Contains(body, "<soap:Fault>") || !strings.Contains(body, c2.says) ||
			res.Header.Get("X-Socle-Error-Origin") != OriginGateway {
			t.Errorf("%s: %d %s", name, res.StatusCode, body)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d attacks reached the register", n)
	}
	res, body := get(t, c, "POST", url, strings.NewReader(envelope11("GetBirthCertificate", registrysim.NRNEmmaRenard)), "Content-Type", "text/xml")
	if res.StatusCode != 401 || !strings.Contains(body, "<soap:Fault>") || !strings.Contains(body, "no credential") {
		t.Fatalf("a SOAP call without a key is refused in SOAP: %d %s", res.StatusCode, body)
	}
}

func TestTheWSDLIsServedWithTheGatewaysAddress(t *testing.T) {
	w, gw, _, _ := civilStatus(t)
	res, body := get(t, w.client(), "GET", gw.web.URL+"/apis/etat-civil?wsdl", nil)
	want := `location="` + gw.web.URL + `/apis/etat-civil"`
	if res.StatusCode != 200 || strings.Count(body, want) != 2 {
		t.Fatalf("%d: want both ports at %s\n%s", res.StatusCode, want, body)
	}
}
