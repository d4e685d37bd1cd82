package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkAccepted re-derives, independently of Verify, what an accepted proof must satisfy.
func checkAccepted(t *testing.T, v *DPoPVerifier, c *testClock, proof string, req DPoPRequest, p *DPoPProof) {
	t.Helper()
	parts := strings.Split(proof, ".")
	if len(parts) != 3 {
		t.Fatalf("accepted a proof of %d parts", len(parts))
	}
	hb, err1 := b64.DecodeString(parts[0])
	cb, err2 := b64.DecodeString(parts[1])
	var h map[string]any
	var cl map[string]any
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &cl) != nil {
		t.Fatal("accepted a proof whose parts are not base64url JSON objects")
	}
	if typ, _ := h["typ"].(string); !strings.EqualFold(typ, DPoPType) {
		t.Fatalf("accepted typ %v", h["typ"])
	}
	if alg, _ := h["alg"].(string); !slices.Contains(v.Algorithms(), alg) {
		t.Fatalf("accepted alg %v", h["alg"])
	}
	jwk, _ := h["jwk"].(map[string]any)
	for _, m := range privateMembers {
		if _, ok := jwk[m]; ok {
			t.Fatalf("accepted a jwk with %q", m)
		}
	}
	if cl["htm"] != req.Method {
		t.Fatalf("accepted htm %v", cl["htm"])
	}
	htu, _ := cl["htu"].(string)
	got, err := NormalizeHTU(htu)
	want, _ := NormalizeHTU(req.URL)
	if err != nil || got != want {
		t.Fatalf("accepted htu %q", htu)
	}
	if p.IssuedAt.Before(c.t.Add(-5*time.Minute)) || p.IssuedAt.After(c.t.Add(30*time.Second)) {
		t.Fatalf("accepted iat %v", p.IssuedAt)
	}
	if jti, _ := cl["jti"].(string); jti == "" {
		t.Fatal("accepted an empty jti")
	}
	if req.AccessToken != "" && cl["ath"] != AccessTokenHash(req.AccessToken) {
		t.Fatalf("accepted ath %v", cl["ath"])
	}
	if tp, err := Thumbprint(p.Key); err != nil || tp != p.JKT {
		t.Fatal("jkt is not the key's thumbprint")
	}
	if _, err := v.Verify(context.Background(), proof, req); err == nil {
		t.Fatal("the same proof accepted twice")
	}
}

// FuzzDPoPProof feeds arbitrary proofs: Verify never panics, and what it accepts holds.
func FuzzDPoPProof(f *testing.F) {
	c := newTestClock()
	w := newWallet(f)
	f.Add(w.proof(c, "POST", resourceURL, nil))
	f.Add(w.proof(c, "POST", resourceURL, func(_, cl map[string]any) { cl["ath"] = AccessTokenHash("t") }))
	f.Add(w.proof(c, "POST", resourceURL, func(h, _ map[string]any) { h["alg"] = "none" }))
	f.Add("e30.e30.e30")
	f.Add("..")
	f.Fuzz(func(t *testing.T, proof string) {
		c := newTestClock()
		v := newVerifier(t, c, nil)
		for _, req := range []DPoPRequest{{Method: "POST", URL: resourceURL}, {Method: "POST", URL: resourceURL, AccessToken: "t"}} {
			if p, err := v.Verify(context.Background(), proof, req); err == nil {
				checkAccepted(t, v, c, proof, req, p)
			}
		}
	})
}

// FuzzDPoPSignedClaims signs arbitrary headers and claims with a real key, so that the
// checks after the signature's are reached.
func FuzzDPoPSignedClaims(f *testing.F) {
	w := newWallet(f)
	jwk, _ := json.Marshal(w.jwk())
	f.Add(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+string(jwk)+`}`, `{"jti":"1","htm":"POST","htu":"`+resourceURL+`","iat":1772366400}`)
	f.Add(`{"typ":"DPoP+JWT","alg":"ES256","jwk":`+string(jwk)+`}`, `{"jti":"1","htm":"POST","htu":"https://ISSUER.example.fr:443/./credential?a","iat":1772366400.5,"ath":"x"}`)
	f.Fuzz(func(t *testing.T, header, claims string) {
		c := newTestClock()
		v := newVerifier(t, c, nil)
		input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(claims))
		proof := input + "." + signRaw(t, w.key, input)
		req := DPoPRequest{Method: "POST", URL: resourceURL}
		if p, err := v.Verify(context.Background(), proof, req); err == nil {
			checkAccepted(t, v, c, proof, req, p)
		}
	})
}

func signRaw(t *testing.T, key *ecdsa.PrivateKey, input string) string {
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return b64.EncodeToString(sig)
}
