package identity

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"socle/internal/platform/pki"
)

// Organisation is an organisation that calls socle with its client certificate, as the
// service that registered it knows it: an operator, a PSAP...
type Organisation struct {
	Kind string // the service's word for it: "operator", "psap"
	ID   string
	Name string
}

// CertResolver names the organisation a client certificate belongs to, by the certificate's
// SHA-256 fingerprint (pki.Fingerprint). A service that registers organisations implements
// it; identity knows none.
type CertResolver interface {
	Organisation(fingerprint string) (Organisation, bool)
}

// Caller is who is calling: a person signed in (Person), an organisation by its certificate
// (Org), or nobody known (both nil). Certificate is the client certificate presented, known
// or not.
type Caller struct {
	Person      *User
	Org         *Organisation
	Certificate *x509.Certificate
	Fingerprint string
}

type callerKey struct{}

// CallerFrom returns who is calling, as the middleware found it.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if c.Person == nil {
		c.Person, _ = UserFrom(ctx)
	}
	return c
}

// Organisations returns the middleware of the interconnect listener: it puts the
// organisation of the connection's client certificate into the request's context, asking
// each resolver in turn (resolvers is called per request: services come and go with their
// lifecycle). Requests without a certificate, or with one no service knows, go on: the
// handler decides what to answer, in its protocol's words.
func Organisations(resolvers func() []CertResolver) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			c := Caller{Certificate: r.TLS.PeerCertificates[0]}
			c.Fingerprint = pki.Fingerprint(c.Certificate)
			for _, res := range resolvers() {
				if o, ok := res.Organisation(c.Fingerprint); ok {
					c.Org = &o
					break
				}
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
		})
	}
}

// KindSocle is the organisation kind of socle itself: a call made with socle's own client
// certificate, as the gateway makes when it forwards a consumer's call to a service this
// socle publishes (upstream socle://interconnect/...). Such a call says which consumer it
// carries in X-Socle-Consumer, which a handler may believe from socle only.
const KindSocle = "socle"

// Self resolves socle's own client certificate (cert) to the organisation socle.
func Self(cert tls.Certificate) CertResolver {
	s := selfResolver{}
	if len(cert.Certificate) > 0 {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil {
			s.fingerprint = pki.Fingerprint(leaf)
		}
	}
	return s
}

type selfResolver struct{ fingerprint string }

func (s selfResolver) Organisation(fingerprint string) (Organisation, bool) {
	if s.fingerprint == "" || fingerprint != s.fingerprint {
		return Organisation{}, false
	}
	return Organisation{Kind: KindSocle, ID: "socle", Name: "socle"}, true
}
