package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

const testAS = "https://socle.example"

// provider is a wallet provider: it signs its wallet instances' attestations.
type provider struct{ *wallet }

func (p provider) attest(c *testClock, sub string, instance *wallet, edit func(h, cl map[string]any)) string {
	h := map[string]any{"typ": ClientAttestationType, "alg": "ES256", "kid": "provider-1"}
	cl := map[string]any{"iss": "https://wallet-provider.example", "sub": sub, "iat": c.t.Unix(),
		"exp": c.t.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": instance.jwk()}}
	if edit != nil {
		edit(h, cl)
	}
	return p.signES256(h, cl)
}

func pop(c *testClock, sub string, instance *wallet, edit func(h, cl map[string]any)) string {
	h := map[string]any{"typ": ClientAttestationPoPType, "alg": "ES256"}
	cl := map[string]any{"iss": sub, "aud": testAS, "jti": b64.EncodeToString([]byte(c.t.String() + sub)), "iat": c.t.Unix(), "exp": c.t.Add(time.Minute).Unix()}
	if edit != nil {
		edit(h, cl)
	}
	return instance.signES256(h, cl)
}

func newAttestationVerifier(t *testing.T, c *testClock, p provider) *AttestationVerifier {
	t.Helper()
	k, err := jwk.Import(&p.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k.Set(jwk.KeyIDKey, "provider-1")
	set := jwk.NewSet()
	set.AddKey(k)
	v, err := NewAttestationVerifier(AttestationConfig{Audience: testAS, Providers: TrustedJWKS(set),
		Replay: NewMemoryReplay(1000, c.Clock()), Clock: c.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func headers(att, pop string) http.Header {
	h := http.Header{}
	h.Set(HeaderClientAttestation, att)
	h.Set(HeaderClientAttestationPoP, pop)
	return h
}

func TestAnAttestedWalletIsAuthenticatedAsTheAttestationsSubject(t *testing.T) {
	c, p, instance := newTestClock(), provider{newWallet(t)}, newWallet(t)
	v := newAttestationVerifier(t, c, p)
	h := headers(p.attest(c, "eudi-wallet", instance, nil), pop(c, "eudi-wallet", instance, nil))
	id, err := v.Authenticate(context.Background(), h, "", true)
	if err != nil || id != "eudi-wallet" {
		t.Fatalf("got %q, %v", id, err)
	}
	// The same PoP a second time is a replay (draft §5.2).
	if _, err := v.Authenticate(context.Background(), h, "", true); !isInvalidClient(err, "jti already used") {
		t.Fatalf("replayed PoP: %v", err)
	}
	// Without the headers, a public client is its client_id, unless attestation is required.
	if id, err := v.Authenticate(context.Background(), http.Header{}, "socle-node-holder", false); err != nil || id != "socle-node-holder" {
		t.Fatalf("public client: %q %v", id, err)
	}
	if _, err := v.Authenticate(context.Background(), http.Header{}, "socle-node-holder", true); !isInvalidClient(err, "attestation is required") {
		t.Fatalf("required: %v", err)
	}
}

func TestAttestationChecks(t *testing.T) {
	c, p, instance := newTestClock(), provider{newWallet(t)}, newWallet(t)
	stranger, other := provider{newWallet(t)}, newWallet(t)
	for _, tc := range []struct {
		name     string
		att, pop func() string
		clientID string
		says     string
	}{
		{"signed by an untrusted provider", func() string { return stranger.attest(c, "w", instance, nil) }, nil, "", "signature does not verify"},
		{"unknown kid", func() string {
			return p.attest(c, "w", instance, func(h, _ map[string]any) { h["kid"] = "provider-2" })
		}, nil, "", "no trusted wallet provider"},
		{"the provider's key given whole", func() string {
			return p.attest(c, "w", instance, func(h, _ map[string]any) { delete(h, "kid"); h["jwk"] = p.jwk() })
		}, nil, "", "<accepted>"},
		{"a stranger's key given whole", func() string {
			return stranger.attest(c, "w", instance, func(h, _ map[string]any) { delete(h, "kid"); h["jwk"] = stranger.jwk() })
		}, nil, "", "no trusted wallet provider"},
		{"wrong typ", func() string {
			return p.attest(c, "w", instance, func(h, _ map[string]any) { h["typ"] = "jwt" })
		}, nil, "", "typ is not oauth-client-attestation+jwt"},
		{"alg none", func() string {
			return p.attest(c, "w", instance, func(h, _ map[string]any) { h["alg"] = "none" })
		}, nil, "", "alg not supported"},
		{"expired attestation", func() string {
			return p.attest(c, "w", instance, func(_, cl map[string]any) { cl["exp"] = c.t.Add(-time.Hour).Unix() })
		}, nil, "", "expired"},
		{"no cnf", func() string {
			return p.attest(c, "w", instance, func(_, cl map[string]any) { delete(cl, "cnf") })
		}, nil, "", "cnf.jwk is required"},
		{"no sub", func() string {
			return p.attest(c, "w", instance, func(_, cl map[string]any) { delete(cl, "sub") })
		}, nil, "", "sub (the client_id) is required"},
		{"PoP signed by another key", nil, func() string { return pop(c, "w", other, nil) }, "", "PoP: signature does not verify"},
		{"PoP for another server", nil, func() string {
			return pop(c, "w", instance, func(_, cl map[string]any) { cl["aud"] = "https://elsewhere.example" })
		}, "", "aud is not"},
		{"PoP of another client", nil, func() string {
			return pop(c, "w", instance, func(_, cl map[string]any) { cl["iss"] = "other" })
		}, "", "iss is not the attestation's sub"},
		{"PoP too old", nil, func() string {
			return pop(c, "w", instance, func(_, cl map[string]any) { cl["iat"] = c.t.Add(-10 * time.Minute).Unix() })
		}, "", "too old"},
		{"PoP without jti", nil, func() string {
			return pop(c, "w", instance, func(_, cl map[string]any) { delete(cl, "jti") })
		}, "", "aud, jti and iat are required"},
		{"client_id of another client", nil, nil, "another", "client_id is not the attested client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newAttestationVerifier(t, c, p)
			att, pp := p.attest(c, "w", instance, nil), pop(c, "w", instance, nil)
			if tc.att != nil {
				att = tc.att()
			}
			if tc.pop != nil {
				pp = tc.pop()
			}
			_, err := v.Authenticate(context.Background(), headers(att, pp), tc.clientID, false)
			if tc.says == "<accepted>" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !isInvalidClient(err, tc.says) {
				t.Fatalf("want invalid_client saying %q, got %v", tc.says, err)
			}
		})
	}
	v := newAttestationVerifier(t, c, p)
	h := headers(p.attest(c, "w", instance, nil), pop(c, "w", instance, nil))
	h.Add(HeaderClientAttestationPoP, "x.y.z")
	if _, err := v.Authenticate(context.Background(), h, "", false); !isInvalidClient(err, "exactly one") {
		t.Fatalf("two PoPs: %v", err)
	}
}

func TestAProviderIsTrustedByItsCertificateChain(t *testing.T) {
	c, instance := newTestClock(), newWallet(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wallet providers' CA"},
		NotBefore: c.t.Add(-time.Hour), NotAfter: c.t.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	p := provider{newWallet(t)}
	leafDER, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2),
		Subject: pkix.Name{CommonName: "a wallet provider"}, NotBefore: c.t.Add(-time.Hour), NotAfter: c.t.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}, ca, &p.key.PublicKey, caKey)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	v, err := NewAttestationVerifier(AttestationConfig{Audience: testAS, Providers: TrustedCAs(roots, c.Clock()),
		Replay: NewMemoryReplay(10, c.Clock()), Clock: c.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	withChain := func(chain ...[]byte) string {
		return p.attest(c, "w", instance, func(h, _ map[string]any) {
			delete(h, "kid")
			var x5c []string
			for _, d := range chain {
				x5c = append(x5c, base64.StdEncoding.EncodeToString(d))
			}
			h["x5c"] = x5c
		})
	}
	if id, err := v.Authenticate(context.Background(), headers(withChain(leafDER), pop(c, "w", instance, nil)), "w", true); err != nil || id != "w" {
		t.Fatalf("chained to the CA: %q %v", id, err)
	}
	// A self-made certificate for the same key chains to nothing trusted.
	selfDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.key.PublicKey, p.key)
	c.advance(time.Second)
	if _, err := v.Authenticate(context.Background(), headers(withChain(selfDER), pop(c, "w", instance, nil)), "w", true); !isInvalidClient(err, "no trusted wallet provider") {
		t.Fatalf("self-signed: %v", err)
	}
}

func isInvalidClient(err error, says string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == CodeInvalidClient && e.Status == http.StatusUnauthorized && strings.Contains(e.Description, says)
}

// The two headers are outside input: any bytes give an answer, never a panic.
func FuzzAttestation(f *testing.F) {
	c, p, instance := newTestClock(), provider{&wallet{}}, &wallet{}
	p.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	instance.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Add(p.attest(c, "w", instance, nil), pop(c, "w", instance, nil))
	f.Add("a.b.c", "eyJ0eXAiOiJ4In0.e30.AA")
	k, _ := jwk.Import(&p.key.PublicKey)
	k.Set(jwk.KeyIDKey, "provider-1")
	set := jwk.NewSet()
	set.AddKey(k)
	v, _ := NewAttestationVerifier(AttestationConfig{Audience: testAS, Providers: TrustedJWKS(set),
		Replay: NewMemoryReplay(1000, c.Clock()), Clock: c.Clock()})
	f.Fuzz(func(t *testing.T, att, pp string) {
		id, err := v.Verify(context.Background(), att, pp)
		if err == nil && id == "" {
			t.Fatal("accepted with no client id")
		}
	})
}
