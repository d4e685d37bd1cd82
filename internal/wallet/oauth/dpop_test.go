package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// testClock is a clock the test moves by hand.
type testClock struct{ t time.Time }

func newTestClock() *testClock               { return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *testClock) Clock() Clock            { return func() time.Time { return c.t } }
func (c *testClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// wallet is a DPoP key pair, as a wallet holds one.
type wallet struct {
	key *ecdsa.PrivateKey
}

func newWallet(t testing.TB) *wallet {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &wallet{key: k}
}

func (w *wallet) jwk() map[string]any {
	pub, _ := w.key.PublicKey.Bytes() // 0x04 || X || Y
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}
}

// jkt computes the RFC 7638 thumbprint by hand: the required members in lexicographic order,
// no whitespace.
func (w *wallet) jkt() string {
	j := w.jwk()
	canonical := `{"crv":"P-256","kty":"EC","x":"` + j["x"].(string) + `","y":"` + j["y"].(string) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

func encodeJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b64.EncodeToString(b)
}

// signES256 makes a compact JWS from header and claims, signed with the wallet's key.
func (w *wallet) signES256(header, claims map[string]any) string {
	input := encodeJSON(header) + "." + encodeJSON(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, w.key, sum[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// proof makes a well-formed proof for req at clock time, then lets edit change its header
// and claims before signing.
func (w *wallet) proof(c *testClock, method, url string, edit func(h, cl map[string]any)) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": w.jwk()}
	cl := map[string]any{"jti": randomString(12), "htm": method, "htu": url, "iat": c.t.Unix()}
	if edit != nil {
		edit(h, cl)
	}
	return w.signES256(h, cl)
}

const resourceURL = "https://issuer.example.fr/credential"

func newVerifier(t testing.TB, c *testClock, nonces NonceSource) *DPoPVerifier {
	v, err := NewDPoPVerifier(DPoPConfig{Replay: NewMemoryReplay(100, c.Clock()), Nonces: nonces, Clock: c.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// refusedWith asserts err is a DPoP refusal with that code.
func refusedWith(t *testing.T, err error, code string) *DPoPError {
	t.Helper()
	var d *DPoPError
	if !errors.As(err, &d) {
		t.Fatalf("want a %s refusal, got %v", code, err)
	}
	if d.Code != code {
		t.Fatalf("want %s, got %s (%s)", code, d.Code, d.Description)
	}
	return d
}

func TestDPoPAcceptsAWellFormedProofAndBindsItsKeyThumbprint(t *testing.T) {
	c := newTestClock()
	w := newWallet(t)
	p, err := newVerifier(t, c, nil).Verify(context.Background(), w.proof(c, "POST", resourceURL, nil), DPoPRequest{Method: "POST", URL: resourceURL})
	if err != nil {
		t.Fatal(err)
	}
	if p.JKT != w.jkt() {
		t.Errorf("jkt = %s, want the RFC 7638 thumbprint %s", p.JKT, w.jkt())
	}
	if !p.IssuedAt.Equal(c.t) || p.Algorithm != "ES256" {
		t.Errorf("proof = %+v", p)
	}
}

func TestDPoPRefusals(t *testing.T) {
	w := newWallet(t)
	other := newWallet(t)
	const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	cases := []struct {
		name  string
		req   DPoPRequest
		proof func(c *testClock) string
	}{
		{"wrong htm", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "GET", resourceURL, nil)
		}},
		{"htm in lower case", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "post", resourceURL, nil)
		}},
		{"wrong htu path", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", "https://issuer.example.fr/token", nil)
		}},
		{"wrong htu host", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", "https://evil.example.fr/credential", nil)
		}},
		{"htu over http for an https request", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", "http://issuer.example.fr/credential", nil)
		}},
		{"iat too old", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["iat"] = c.t.Add(-6 * time.Minute).Unix() })
		}},
		{"iat in the future", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["iat"] = c.t.Add(time.Minute).Unix() })
		}},
		{"iat as a string", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["iat"] = "1772366400" })
		}},
		{"no jti", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { delete(cl, "jti") })
		}},
		{"typ JWT", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["typ"] = "JWT" })
		}},
		{"no jwk", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { delete(h, "jwk") })
		}},
		{"private key in jwk", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) {
				j := w.jwk()
				j["d"] = b64.EncodeToString(w.key.D.FillBytes(make([]byte, 32)))
				h["jwk"] = j
			})
		}},
		{"jwk of another key", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["jwk"] = other.jwk() })
		}},
		{"symmetric jwk", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"} })
		}},
		{"alg none", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			h := map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": w.jwk()}
			cl := map[string]any{"jti": "a", "htm": "POST", "htu": resourceURL, "iat": c.t.Unix()}
			return encodeJSON(h) + "." + encodeJSON(cl) + ".c2ln"
		}},
		{"alg HS256 keyed with the public key", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			h := map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": w.jwk()}
			cl := map[string]any{"jti": "a", "htm": "POST", "htu": resourceURL, "iat": c.t.Unix()}
			input := encodeJSON(h) + "." + encodeJSON(cl)
			pub, _ := w.key.PublicKey.Bytes()
			mac := hmac.New(sha256.New, pub)
			mac.Write([]byte(input))
			return input + "." + b64.EncodeToString(mac.Sum(nil))
		}},
		{"alg ES384 with a P-256 key", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["alg"] = "ES384" })
		}},
		{"crit header", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["crit"] = []string{"exp"}; h["exp"] = 1 })
		}},
		{"tampered claims", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			p := strings.Split(w.proof(c, "GET", resourceURL, nil), ".")
			return p[0] + "." + encodeJSON(map[string]any{"jti": "x", "htm": "POST", "htu": resourceURL, "iat": c.t.Unix()}) + "." + p[2]
		}},
		{"no ath with an access token", DPoPRequest{Method: "POST", URL: resourceURL, AccessToken: token}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, nil)
		}},
		{"ath of another token", DPoPRequest{Method: "POST", URL: resourceURL, AccessToken: token}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["ath"] = AccessTokenHash("another") })
		}},
		{"key not the one the token is bound to", DPoPRequest{Method: "POST", URL: resourceURL, AccessToken: token, JKT: other.jkt()}, func(c *testClock) string {
			return w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["ath"] = AccessTokenHash(token) })
		}},
		{"two JWS parts", DPoPRequest{Method: "POST", URL: resourceURL}, func(c *testClock) string {
			p := strings.Split(w.proof(c, "POST", resourceURL, nil), ".")
			return p[0] + "." + p[1]
		}},
	}
	// The reason each proof is refused: the first check of RFC 9449 §4.3 it fails.
	why := map[string]string{
		"wrong htm":                             "htm does not match the request method",
		"htm in lower case":                     "htm does not match the request method",
		"wrong htu path":                        "htu does not match the request URL",
		"wrong htu host":                        "htu does not match the request URL",
		"htu over http for an https request":    "htu does not match the request URL",
		"iat too old":                           "iat is too old",
		"iat in the future":                     "iat is in the future",
		"iat as a string":                       "iat is not a NumericDate",
		"no jti":                                "jti, htm, htu and iat are required",
		"typ JWT":                               "typ is not dpop+jwt",
		"no jwk":                                "jwk header is required",
		"private key in jwk":                    "jwk contains private key material",
		"jwk of another key":                    "signature does not verify with jwk",
		"symmetric jwk":                         "jwk contains private key material",
		"alg none":                              "alg not supported",
		"alg HS256 keyed with the public key":   "alg not supported",
		"alg ES384 with a P-256 key":            "signature does not verify with jwk",
		"crit header":                           "crit and b64 are not supported",
		"tampered claims":                       "signature does not verify with jwk",
		"no ath with an access token":           "ath is required with an access token",
		"ath of another token":                  "ath does not match the access token",
		"key not the one the token is bound to": "the proof's key is not the one the token is bound to",
		"two JWS parts":                         "not a compact JWS",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClock()
			_, err := newVerifier(t, c, nil).Verify(context.Background(), tc.proof(c), tc.req)
			d := refusedWith(t, err, CodeInvalidDPoPProof)
			if d.Description != why[tc.name] {
				t.Errorf("refused because %q, want %q", d.Description, why[tc.name])
			}
			if got := d.WWWAuthenticate(); !strings.HasPrefix(got, `DPoP error="invalid_dpop_proof", error_description="`) || !strings.Contains(got, `algs="ES256 `) {
				t.Errorf("WWW-Authenticate: %s", got)
			}
		})
	}
}

func TestDPoPRefusesAReplayedJTI(t *testing.T) {
	c := newTestClock()
	v := newVerifier(t, c, nil)
	w := newWallet(t)
	p := w.proof(c, "POST", resourceURL, nil)
	req := DPoPRequest{Method: "POST", URL: resourceURL}
	if _, err := v.Verify(context.Background(), p, req); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Minute)
	_, err := v.Verify(context.Background(), p, req)
	if d := refusedWith(t, err, CodeInvalidDPoPProof); d.Description != "jti already used" {
		t.Errorf("description %q", d.Description)
	}
}

func TestDPoPAcceptsAnAccessTokenBoundProof(t *testing.T) {
	c := newTestClock()
	w := newWallet(t)
	const token = "opaque-token"
	p := w.proof(c, "GET", resourceURL, func(_, cl map[string]any) { cl["ath"] = AccessTokenHash(token) })
	if _, err := newVerifier(t, c, nil).Verify(context.Background(), p, DPoPRequest{Method: "GET", URL: resourceURL, AccessToken: token, JKT: w.jkt()}); err != nil {
		t.Fatal(err)
	}
}

func TestDPoPAthIsTheBase64urlSHA256OfTheToken(t *testing.T) {
	// RFC 9449 §4.2 and the example of §7.1: the token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	// hashes to "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
	if got := AccessTokenHash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"); got != "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo" {
		t.Errorf("ath = %s", got)
	}
}

func TestDPoPHtuIsComparedWithoutQueryAndAfterNormalisation(t *testing.T) {
	for _, htu := range []string{
		"https://issuer.example.fr/credential",
		"HTTPS://Issuer.Example.FR:443/credential",
		"https://issuer.example.fr/credential?x=1#frag",
		"https://issuer.example.fr/a/../credential",
		"https://issuer.example.fr/%63redential",
	} {
		c := newTestClock()
		p := newWallet(t).proof(c, "POST", htu, nil)
		if _, err := newVerifier(t, c, nil).Verify(context.Background(), p, DPoPRequest{Method: "POST", URL: resourceURL + "?q=2"}); err != nil {
			t.Errorf("htu %s: %v", htu, err)
		}
	}
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://EXAMPLE.fr":                  "https://example.fr/",
		"http://example.fr:80/a/./b/../c":     "http://example.fr/a/c",
		"https://example.fr:8443/%7euser/%2f": "https://example.fr:8443/~user/%2F",
		"https://[::1]:443/x":                 "https://[::1]/x",
	} {
		if got, err := NormalizeHTU(in); err != nil || got != want {
			t.Errorf("NormalizeHTU(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/token", "ftp://example.fr/", "https://user@example.fr/", "https:///x", "urn:x:y"} {
		if got, err := NormalizeHTU(bad); err == nil {
			t.Errorf("NormalizeHTU(%q) = %s, want an error", bad, got)
		}
	}
}

func TestDPoPServerNonce(t *testing.T) {
	c := newTestClock()
	nonces, err := NewHMACNonces(make([]byte, 32), time.Minute, c.Clock())
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, c, nonces)
	w := newWallet(t)
	req := DPoPRequest{Method: "POST", URL: resourceURL}

	// Without a nonce, the refusal is use_dpop_nonce and carries one for the DPoP-Nonce header.
	_, err = v.Verify(context.Background(), w.proof(c, "POST", resourceURL, nil), req)
	d := refusedWith(t, err, CodeUseDPoPNonce)
	if d.Nonce == "" || !nonces.CheckNonce(d.Nonce) {
		t.Fatalf("refusal without a fresh nonce: %+v", d)
	}
	// With it, accepted.
	withNonce := func(n string) func(h, cl map[string]any) { return func(_, cl map[string]any) { cl["nonce"] = n } }
	if _, err := v.Verify(context.Background(), w.proof(c, "POST", resourceURL, withNonce(d.Nonce)), req); err != nil {
		t.Fatal(err)
	}
	// A forged nonce, or one past its lifetime, is refused with a new one.
	_, err = v.Verify(context.Background(), w.proof(c, "POST", resourceURL, withNonce(b64.EncodeToString(make([]byte, 24)))), req)
	refusedWith(t, err, CodeUseDPoPNonce)
	c.advance(2 * time.Minute)
	_, err = v.Verify(context.Background(), w.proof(c, "POST", resourceURL, withNonce(d.Nonce)), req)
	if d2 := refusedWith(t, err, CodeUseDPoPNonce); d2.Nonce == d.Nonce {
		t.Error("the same nonce handed out again after it expired")
	}
}

func TestDPoPAcceptsEdDSA(t *testing.T) {
	c := newTestClock()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	h := map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)}}
	cl := map[string]any{"jti": "1", "htm": "POST", "htu": resourceURL, "iat": c.t.Unix()}
	input := encodeJSON(h) + "." + encodeJSON(cl)
	proof := input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
	if _, err := newVerifier(t, c, nil).Verify(context.Background(), proof, DPoPRequest{Method: "POST", URL: resourceURL}); err != nil {
		t.Fatal(err)
	}
}

func TestDPoPVerifierRefusesSymmetricAlgorithmsInItsConfiguration(t *testing.T) {
	for _, alg := range []string{"none", "HS256"} {
		if _, err := NewDPoPVerifier(DPoPConfig{Replay: NewMemoryReplay(1, nil), Algorithms: []string{"ES256", alg}}); err == nil {
			t.Errorf("%s accepted", alg)
		}
	}
}

func TestDPoPHeaderMustBeSingle(t *testing.T) {
	h := http.Header{}
	if _, err := DPoPHeader(h); err == nil {
		t.Error("no header accepted")
	}
	h.Add("DPoP", "a")
	h.Add("DPoP", "b")
	if _, err := DPoPHeader(h); err == nil {
		t.Error("two headers accepted")
	}
}

func TestMemoryReplayIsBoundedAndForgetsExpiredEntries(t *testing.T) {
	c := newTestClock()
	r := NewMemoryReplay(2, c.Clock())
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if seen, err := r.Seen(ctx, k, c.t.Add(time.Minute)); seen || err != nil {
			t.Fatal(seen, err)
		}
	}
	if seen, _ := r.Seen(ctx, "a", c.t.Add(time.Minute)); !seen {
		t.Error("a not remembered")
	}
	if _, err := r.Seen(ctx, "c", c.t.Add(time.Minute)); !errors.Is(err, ErrReplayStoreFull) {
		t.Errorf("full store: %v", err)
	}
	c.advance(time.Minute)
	if seen, err := r.Seen(ctx, "c", c.t.Add(time.Minute)); seen || err != nil {
		t.Errorf("after expiry: %v %v", seen, err)
	}
	if r.Len() != 1 {
		t.Errorf("len %d after sweep", r.Len())
	}
}
