package statuslist

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

const listURI = "https://wallet.example.be/statuslists/1"

func sampleToken(now time.Time, l *List) *Token {
	return &Token{
		Subject:  listURI,
		IssuedAt: now,
		Expiry:   now.Add(24 * time.Hour),
		TTL:      5 * time.Minute,
		List:     l,
	}
}

// signRaw signs any payload with any typ, to build tokens Sign refuses to.
func signRaw(t *testing.T, key *ecdsa.PrivateKey, typ string, payload string) []byte {
	t.Helper()
	h := jws.NewHeaders()
	if typ != "" {
		h.Set(jws.TypeKey, typ)
	}
	out, err := jws.Sign([]byte(payload), jws.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTokenSignAndParse(t *testing.T) {
	key := newKey(t)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	l := listOf(t, 2, Valid, Invalid, Suspended, Valid)
	tok := sampleToken(now, l)
	tok.AggregationURI = "https://wallet.example.be/statuslists"
	compact, err := tok.Sign(Signer{Key: key, KeyID: "status-2026"})
	if err != nil {
		t.Fatal(err)
	}

	msg, err := jws.Parse(compact)
	if err != nil {
		t.Fatal(err)
	}
	ph := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := ph.Type(); typ != "statuslist+jwt" {
		t.Errorf("typ = %q", typ)
	}
	if kid, _ := ph.KeyID(); kid != "status-2026" {
		t.Errorf("kid = %q", kid)
	}
	if alg, _ := ph.Algorithm(); alg != jwa.ES256() {
		t.Errorf("alg = %s", alg)
	}
	var claims map[string]any
	if err := json.Unmarshal(msg.Payload(), &claims); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sub", "iat", "exp", "ttl", "status_list"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing from %v", name, claims)
		}
	}
	if claims["ttl"] != float64(300) {
		t.Errorf("ttl = %v, want 300", claims["ttl"])
	}

	var gotKID string
	resolver := KeyResolverFunc(func(_ context.Context, h Header) (VerificationKey, error) {
		gotKID = h.KeyID
		return VerificationKey{Alg: jwa.ES256(), Key: &key.PublicKey}, nil
	})
	got, err := ParseToken(context.Background(), compact, VerifyOptions{
		URI: listURI, Keys: resolver, Now: func() time.Time { return now.Add(time.Minute) }, Bits: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if gotKID != "status-2026" {
		t.Errorf("resolver saw kid %q", gotKID)
	}
	if !got.IssuedAt.Equal(now) || !got.Expiry.Equal(tok.Expiry) || got.TTL != 5*time.Minute ||
		got.Subject != listURI || got.AggregationURI != tok.AggregationURI {
		t.Errorf("parsed %+v", got)
	}
	for i, want := range []Status{Valid, Invalid, Suspended, Valid} {
		if s, _ := got.List.Get(i); s != want {
			t.Errorf("entry %d = %s, want %s", i, s, want)
		}
	}
}

// selfSigned returns a CA and a leaf certificate for key signed by it.
func selfSigned(t *testing.T, leafKey *ecdsa.PrivateKey) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	caKey := newKey(t)
	notBefore := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "socle test CA"},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(2, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "socle status issuer"},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return ca, leaf
}

func TestTokenWithX5CVerifiesAgainstRoots(t *testing.T) {
	key := newKey(t)
	ca, leaf := selfSigned(t, key)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	compact, err := sampleToken(now, listOf(t, 1, Invalid)).Sign(Signer{Key: key, Certs: []*x509.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	clock := func() time.Time { return now }
	if _, err := ParseToken(context.Background(), compact, VerifyOptions{
		URI: listURI, Keys: X5CResolver(roots, clock), Now: clock,
	}); err != nil {
		t.Fatalf("trusted chain: %v", err)
	}
	otherCA, _ := selfSigned(t, newKey(t))
	others := x509.NewCertPool()
	others.AddCert(otherCA)
	if _, err := ParseToken(context.Background(), compact, VerifyOptions{
		URI: listURI, Keys: X5CResolver(others, clock), Now: clock,
	}); !errors.Is(err, ErrSignature) {
		t.Fatalf("untrusted chain: %v", err)
	}
}

func TestParseTokenRefusals(t *testing.T) {
	key := newKey(t)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	good := func(mod func(*Token)) []byte {
		tok := sampleToken(now, listOf(t, 1, Valid, Invalid))
		if mod != nil {
			mod(tok)
		}
		b, err := tok.Sign(Signer{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lst, _ := listOf(t, 1, Invalid).Encode()
	iat := now.Unix()
	payload := func(extra string) string {
		return `{"sub":"` + listURI + `","iat":` + itoa(iat) + `,"status_list":{"bits":1,"lst":"` + lst + `"}` + extra + `}`
	}
	tampered := good(nil)
	parts := strings.Split(string(tampered), ".")
	parts[1] = parts[1][:len(parts[1])-2] + "AA"
	cases := []struct {
		name  string
		token []byte
		opts  func(*VerifyOptions)
		want  error
	}{
		{"typ JWT", signRaw(t, key, "JWT", payload("")), nil, ErrType},
		{"no typ", signRaw(t, key, "", payload("")), nil, ErrType},
		{"sub of another list", good(func(tk *Token) { tk.Subject = listURI + "0" }), nil, ErrSubject},
		{"expired", good(func(tk *Token) { tk.Expiry = now.Add(-time.Second) }), nil, ErrExpired},
		{"expires now", good(func(tk *Token) { tk.Expiry = now }), nil, ErrExpired},
		{"issued in the future", good(func(tk *Token) { tk.IssuedAt = now.Add(time.Hour) }), nil, ErrNotYetValid},
		{"not before later", signRaw(t, key, TokenType, payload(`,"nbf":`+itoa(iat+60))), nil, ErrNotYetValid},
		{"signed by another key", good(nil), func(o *VerifyOptions) { o.Keys = StaticKey(jwa.ES256(), &newKey(t).PublicKey) }, ErrSignature},
		{"payload changed after signing", []byte(strings.Join(parts, ".")), nil, ErrSignature},
		{"header alg differs from the key's", good(nil), func(o *VerifyOptions) { o.Keys = StaticKey(jwa.ES384(), &key.PublicKey) }, ErrSignature},
		{"resolver refuses", good(nil), func(o *VerifyOptions) {
			o.Keys = KeyResolverFunc(func(context.Context, Header) (VerificationKey, error) {
				return VerificationKey{}, errors.New("unknown kid")
			})
		}, ErrSignature},
		{"unexpected bits", good(nil), func(o *VerifyOptions) { o.Bits = 2 }, ErrUnexpectedBits},
		{"bits 3", signRaw(t, key, TokenType, strings.Replace(payload(""), `"bits":1`, `"bits":3`, 1)), nil, ErrBits},
		{"no iat", signRaw(t, key, TokenType, strings.Replace(payload(""), `"iat":`+itoa(iat)+`,`, ``, 1)), nil, ErrMalformed},
		{"no status_list", signRaw(t, key, TokenType, `{"sub":"`+listURI+`","iat":`+itoa(iat)+`}`), nil, ErrMalformed},
		{"iat as a string", signRaw(t, key, TokenType, strings.Replace(payload(""), `"iat":`+itoa(iat), `"iat":"`+itoa(iat)+`"`, 1)), nil, ErrMalformed},
		{"ttl zero", signRaw(t, key, TokenType, payload(`,"ttl":0`)), nil, ErrMalformed},
		{"ttl negative", signRaw(t, key, TokenType, payload(`,"ttl":-5`)), nil, ErrMalformed},
		{"lst a zip bomb", good(func(tk *Token) { tk.List, _ = NewList(1, 8<<20) }), func(o *VerifyOptions) { o.MaxListBytes = 1 << 16 }, ErrTooLarge},
		{"not a JWS", []byte("eyJ.eyJ"), nil, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := VerifyOptions{URI: listURI, Keys: StaticKey(jwa.ES256(), &key.PublicKey), Now: func() time.Time { return now }}
			if c.opts != nil {
				c.opts(&opts)
			}
			if _, err := ParseToken(context.Background(), c.token, opts); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	// The same raw payload with the right typ is accepted: the refusals
	// above are about what they change, not the way the tokens were made.
	if _, err := ParseToken(context.Background(), signRaw(t, key, "application/statuslist+JWT", payload(`,"ttl":1.5`)), VerifyOptions{
		URI: listURI, Keys: StaticKey(jwa.ES256(), &key.PublicKey), Now: func() time.Time { return now },
	}); err != nil {
		t.Fatalf("control token: %v", err)
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }
