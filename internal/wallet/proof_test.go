package wallet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const testIssuer = "https://socle.example"

// signProof makes a proof of possession as a wallet does (OpenID4VCI 1.0 Appendix F.1), with
// edit changing what a test needs wrong.
func signProof(t testing.TB, edit func(h jws.Headers, tok jwt.Token) (key any, alg jwa.SignatureAlgorithm)) string {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, _ := jwk.Import(raw)
	pub, _ := priv.PublicKey()
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, proofType)
	h.Set(jws.JWKKey, pub)
	tok, _ := jwt.NewBuilder().Audience([]string{testIssuer}).IssuedAt(time.Now()).Claim("nonce", "n-1").Build()
	key, alg := any(raw), jwa.ES256()
	if edit != nil {
		if k, a := edit(h, tok); k != nil {
			key, alg = k, a
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestAProofBindsTheCredentialToTheWalletsKey(t *testing.T) {
	p, err := checkProof(signProof(t, nil), testIssuer, time.Now())
	if err != nil || p.nonce != "n-1" || p.key == nil {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestAProofIsRefusedWhenItDoesNotHold(t *testing.T) {
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, c := range map[string]struct {
		edit func(jws.Headers, jwt.Token) (any, jwa.SignatureAlgorithm)
		want error
		says string
	}{
		"another typ": {func(h jws.Headers, _ jwt.Token) (any, jwa.SignatureAlgorithm) {
			h.Set(jws.TypeKey, "JWT")
			return nil, jwa.ES256()
		}, errInvalidProof, "typ"},
		"no jwk": {func(h jws.Headers, _ jwt.Token) (any, jwa.SignatureAlgorithm) {
			h.Remove(jws.JWKKey)
			return nil, jwa.ES256()
		}, errInvalidProof, "no jwk"},
		"a private key in jwk": {func(h jws.Headers, _ jwt.Token) (any, jwa.SignatureAlgorithm) {
			k, _ := jwk.Import(other)
			h.Set(jws.JWKKey, k)
			return other, jwa.ES256()
		}, errInvalidProof, "private"},
		"signed by another key": {func(jws.Headers, jwt.Token) (any, jwa.SignatureAlgorithm) { return other, jwa.ES256() }, errInvalidProof, ""},
		"HS256": {func(jws.Headers, jwt.Token) (any, jwa.SignatureAlgorithm) {
			return []byte("0123456789abcdef0123456789abcdef"), jwa.HS256()
		}, errInvalidProof, "alg"},
		"another audience": {func(_ jws.Headers, tok jwt.Token) (any, jwa.SignatureAlgorithm) {
			tok.Set(jwt.AudienceKey, []string{"https://elsewhere.example"})
			return nil, jwa.ES256()
		}, errInvalidProof, "aud"},
		"an old iat": {func(_ jws.Headers, tok jwt.Token) (any, jwa.SignatureAlgorithm) {
			tok.Set(jwt.IssuedAtKey, time.Now().Add(-time.Hour))
			return nil, jwa.ES256()
		}, errInvalidProof, "iat"},
		"no nonce": {func(_ jws.Headers, tok jwt.Token) (any, jwa.SignatureAlgorithm) {
			tok.Remove("nonce")
			return nil, jwa.ES256()
		}, errInvalidNonce, "nonce"},
	} {
		_, err := checkProof(signProof(t, c.edit), testIssuer, time.Now())
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %v saying %q", name, err, c.want, c.says)
		}
	}
}

// FuzzCheckProof: whatever a wallet sends, checkProof refuses it or returns the key of a
// proof it verified, never a private key.
func FuzzCheckProof(f *testing.F) {
	f.Add(signProof(f, nil))
	f.Add("eyJhbGciOiJub25lIn0.eyJub25jZSI6Im4ifQ.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := checkProof(raw, testIssuer, time.Now())
		if err != nil {
			if !errors.Is(err, errInvalidProof) && !errors.Is(err, errInvalidNonce) {
				t.Fatalf("an error of no protocol code: %v", err)
			}
			return
		}
		if _, private := p.key.(*ecdsa.PrivateKey); private || p.nonce == "" {
			t.Fatalf("accepted %q: %+v", raw, p)
		}
	})
}
