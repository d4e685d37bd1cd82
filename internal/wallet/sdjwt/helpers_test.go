package sdjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// now is the clock every test verifier reads, so that no test depends on the wall clock.
var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyFunc answers every issuer with pub.
func keyFunc(pub crypto.PublicKey) KeyFunc {
	return func(context.Context, IssuerKeyInfo) (any, error) { return pub, nil }
}

func verifier(pub crypto.PublicKey) *Verifier {
	return &Verifier{IssuerKey: keyFunc(pub), Now: func() time.Time { return now }}
}

// pid is a person identification data set in the spirit of the EU PID, with made-up values.
func pid() map[string]any {
	return map[string]any{
		"iss":         "https://issuer.socle.test",
		"iat":         now.Add(-time.Hour).Unix(),
		"exp":         now.Add(24 * time.Hour).Unix(),
		"given_name":  "Camille",
		"family_name": "Durand",
		"birthdate":   "1984-02-29",
		"address": map[string]any{
			"street_address": "12 rue des Lilas",
			"locality":       "Nantes",
			"country":        "FR",
		},
		"nationalities": []any{"FR", "BE"},
	}
}

// pidDisclosable makes every personal claim disclosable: flat (given_name...), structured
// and recursive (address and each of its members, §4.2.6), and per element (nationalities).
var pidDisclosable = []Path{
	{"given_name"}, {"family_name"}, {"birthdate"},
	{"address"}, {"address", "street_address"}, {"address", "locality"}, {"address", "country"},
	{"nationalities", 0}, {"nationalities", 1},
}

// jsonRoundTrip writes v as JSON and reads it back as the verifier would, numbers as
// json.Number, so that expected claims compare with reflect.DeepEqual.
func jsonRoundTrip(t testing.TB, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := decodeJSON(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// craft signs an arbitrary issuer payload, for the refusals an honest Issuer cannot produce.
func craft(t testing.TB, key crypto.Signer, payload map[string]any, disclosures ...string) string {
	t.Helper()
	body, err := marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := signJWT(key, "ES256", header{Typ: "example+sd-jwt"}, body)
	if err != nil {
		t.Fatal(err)
	}
	s := jwt + "~"
	for _, d := range disclosures {
		s += d + "~"
	}
	return s
}

// disclose encodes a hand-made Disclosure array and returns it with its sha-256 digest.
func disclose(t testing.TB, arr ...any) (encoded, dg string) {
	t.Helper()
	raw, err := marshal(arr)
	if err != nil {
		t.Fatal(err)
	}
	encoded = b64.EncodeToString(raw)
	dg, err = digest("sha-256", encoded)
	if err != nil {
		t.Fatal(err)
	}
	return encoded, dg
}

// newCA makes a self-signed P-256 certificate authority valid around now.
func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "socle test IACA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

// newLeaf certifies key under ca for signing.
func newLeaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "issuer.socle.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
