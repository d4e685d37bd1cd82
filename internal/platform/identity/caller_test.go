package identity

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"testing"

	"socle/internal/platform/pki"
)

// resolverFunc is a service's registry of organisations, in a test.
type resolverFunc func(string) (Organisation, bool)

func (f resolverFunc) Organisation(fp string) (Organisation, bool) { return f(fp) }

// The interconnect's middleware says who calls from the client certificate, as the service
// that registered it knows it; identity knows no operator nor PSAP itself.
func TestTheCallerOfTheInterconnectIsTheOrganisationOfItsCertificate(t *testing.T) {
	known := &x509.Certificate{Raw: []byte("the operator's certificate")}
	unknown := &x509.Certificate{Raw: []byte("someone else's")}
	resolvers := func() []CertResolver {
		return []CertResolver{resolverFunc(func(fp string) (Organisation, bool) {
			if fp == pki.Fingerprint(known) {
				return Organisation{Kind: "operator", ID: "orange", Name: "Orange"}, true
			}
			return Organisation{}, false
		})}
	}
	var got Caller
	h := Organisations(resolvers)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = CallerFrom(r.Context()) }))
	for name, c := range map[string]struct {
		cert    *x509.Certificate
		org     string
		hasCert bool
	}{
		"a registered certificate":   {known, "orange", true},
		"a certificate of no one":    {unknown, "", true},
		"no certificate (plain TLS)": {nil, "", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.cert != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.cert}}
		}
		got = Caller{}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if (got.Certificate != nil) != c.hasCert || (c.org == "") != (got.Org == nil) || (got.Org != nil && got.Org.ID != c.org) {
			t.Errorf("%s: caller %+v", name, got)
		}
	}
}
