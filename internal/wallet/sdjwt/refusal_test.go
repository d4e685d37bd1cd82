package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"strings"
	"testing"
	"time"
)

// Every refusal of RFC 9901 §7, each shown to fail with the error a caller can test for.
func TestVerifierRefuses(t *testing.T) {
	issuer, holder, stranger := newKey(t), newKey(t), newKey(t)
	sd := issuePID(t, issuer, holder)
	other := issuePID(t, issuer, holder)
	kb := KeyBinding{Key: holder, Alg: "ES256", Audience: "https://verifier.socle.test", Nonce: "nonce-1", IssuedAt: now}
	expect := Expect{Audience: kb.Audience, Nonce: kb.Nonce}
	present := func(kb KeyBinding, paths ...Path) string {
		t.Helper()
		p, err := sd.Present(kb, paths...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	given, _ := sd.Select(Path{"given_name"})
	family, _ := sd.Select(Path{"family_name"})
	g := given.Disclosures[0].Encoded

	dGiven, hGiven := disclose(t, "c2FsdHNhbHRzYWx0c2FsdA", "given_name", "Camille")
	dElem, hElem := disclose(t, "c2FsdHNhbHRzYWx0c2FsdA", "FR")
	dSD, hSD := disclose(t, "c2FsdHNhbHRzYWx0c2FsdA", "_sd", []any{})
	dDots, hDots := disclose(t, "c2FsdHNhbHRzYWx0c2FsdA", "...", "x")
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"iss": "https://issuer.socle.test", "_sd_alg": "sha-256"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	tests := []struct {
		name         string
		presentation string
		verifier     func(*Verifier)
		expect       Expect
		want         error
	}{
		{"a tampered disclosure (its digest is nowhere in the payload)",
			given.JWT + "~" + tamper(g) + "~", nil, Expect{}, ErrUnreferenced},
		{"a disclosure that is not base64url JSON",
			given.JWT + "~" + g + "x~", nil, Expect{}, ErrMalformedDisclosure},
		{"a disclosure from another SD-JWT of the same issuer",
			sd.JWT + "~" + other.Disclosures[0].Encoded + "~", nil, Expect{}, ErrUnreferenced},
		{"the same disclosure presented twice",
			sd.JWT + "~" + g + "~" + g + "~", nil, Expect{}, ErrDuplicateDigest},
		{"a digest that appears twice in the payload",
			craft(t, issuer, base(map[string]any{"_sd": []any{hGiven}, "a": map[string]any{"_sd": []any{hGiven}}}), dGiven), nil, Expect{}, ErrDuplicateDigest},
		{"a digest in both an _sd and an array",
			craft(t, issuer, base(map[string]any{"_sd": []any{hElem}, "n": []any{map[string]any{"...": hElem}}}), dElem), nil, Expect{}, ErrDuplicateDigest},
		{"a disclosure that would overwrite a plain claim",
			craft(t, issuer, base(map[string]any{"given_name": "Mallory", "_sd": []any{hGiven}}), dGiven), nil, Expect{}, ErrClaimConflict},
		{"_sd as a disclosed claim name",
			craft(t, issuer, base(map[string]any{"_sd": []any{hSD}}), dSD), nil, Expect{}, ErrMalformedDisclosure},
		{"... as a disclosed claim name",
			craft(t, issuer, base(map[string]any{"_sd": []any{hDots}}), dDots), nil, Expect{}, ErrMalformedDisclosure},
		{"... as a plain claim name",
			craft(t, issuer, base(map[string]any{"...": "x", "y": 1})), nil, Expect{}, ErrReservedName},
		{"an array-element disclosure referenced from _sd",
			craft(t, issuer, base(map[string]any{"_sd": []any{hElem}}), dElem), nil, Expect{}, ErrMalformedDisclosure},
		{"an _sd that is not an array",
			craft(t, issuer, base(map[string]any{"_sd": hGiven}), dGiven), nil, Expect{}, ErrMalformed},
		{"an unsupported _sd_alg",
			craft(t, issuer, map[string]any{"_sd_alg": "md5", "_sd": []any{hGiven}}, dGiven), nil, Expect{}, ErrUnsupportedHashAlg},
		{"a signature by another key",
			craft(t, stranger, base(map[string]any{"_sd": []any{hGiven}}), dGiven), nil, Expect{}, ErrSignature},
		{"alg none",
			unsigned(sd.JWT) + "~" + g + "~", nil, Expect{}, ErrAlgorithm},
		{"an algorithm the verifier does not accept",
			sd.String(), func(v *Verifier) { v.Algorithms = []string{"EdDSA"} }, Expect{}, ErrAlgorithm},
		{"an unexpected typ",
			sd.String(), func(v *Verifier) { v.Type = TypeVC }, Expect{}, ErrType},
		{"an expired SD-JWT",
			sd.String(), func(v *Verifier) { v.Now = func() time.Time { return now.Add(48 * time.Hour) } }, Expect{}, ErrExpired},
		{"an SD-JWT not yet valid",
			craft(t, issuer, base(map[string]any{"nbf": now.Add(time.Hour).Unix()})), nil, Expect{}, ErrExpired},
		{"no KB-JWT when one is required",
			given.String(), func(v *Verifier) { v.RequireKeyBinding = true }, expect, ErrKeyBindingMissing},
		{"a KB-JWT whose sd_hash covers other disclosures",
			swapDisclosures(present(kb, Path{"given_name"}), family), nil, expect, ErrKeyBinding},
		{"a KB-JWT for another nonce",
			present(kb, Path{"given_name"}), nil, Expect{Audience: kb.Audience, Nonce: "nonce-2"}, ErrKeyBinding},
		{"a KB-JWT for another audience",
			present(kb, Path{"given_name"}), nil, Expect{Audience: "https://elsewhere.test", Nonce: kb.Nonce}, ErrKeyBinding},
		{"a KB-JWT issued too long ago",
			present(withIAT(kb, now.Add(-time.Hour)), Path{"given_name"}), nil, expect, ErrKeyBinding},
		{"a KB-JWT issued in the future",
			present(withIAT(kb, now.Add(time.Hour)), Path{"given_name"}), nil, expect, ErrKeyBinding},
		{"a KB-JWT signed by a key other than cnf.jwk",
			present(KeyBinding{Key: stranger, Alg: "ES256", Audience: kb.Audience, Nonce: kb.Nonce, IssuedAt: now}, Path{"given_name"}), nil, expect, ErrKeyBinding},
		{"a KB-JWT with the wrong typ",
			retypeKB(t, holder, present(kb, Path{"given_name"})), nil, expect, ErrKeyBinding},
		{"a KB-JWT when the SD-JWT has no cnf",
			bindWithoutCnf(t, issuer, holder, kb), nil, expect, ErrKeyBinding},
		{"no ~ at all", sd.JWT, nil, Expect{}, ErrMalformed},
		{"an empty disclosure", sd.JWT + "~~", nil, Expect{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(issuer.Public())
			if tt.verifier != nil {
				tt.verifier(v)
			}
			res, err := v.Verify(context.Background(), tt.presentation, tt.expect)
			if err == nil {
				t.Fatalf("accepted, claims %v", res.Claims)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// tamper changes the claim value inside an encoded disclosure, keeping it well formed.
func tamper(encoded string) string {
	raw, _ := b64.DecodeString(encoded)
	return b64.EncodeToString([]byte(strings.Replace(string(raw), "Camille", "Mallory", 1)))
}

func unsigned(jwt string) string {
	parts := strings.Split(jwt, ".")
	return b64.EncodeToString([]byte(`{"alg":"none","typ":"example+sd-jwt"}`)) + "." + parts[1] + "."
}

func withIAT(kb KeyBinding, t time.Time) KeyBinding {
	kb.IssuedAt = t
	return kb
}

// swapDisclosures keeps p's JWT and KB-JWT but replaces its disclosures by sel's.
func swapDisclosures(p string, sel *SDJWT) string {
	parts := strings.Split(p, "~")
	return sel.String() + parts[len(parts)-1]
}

// retypeKB re-signs p's KB-JWT payload with typ JWT instead of kb+jwt.
func retypeKB(t *testing.T, holder *ecdsa.PrivateKey, p string) string {
	t.Helper()
	i := strings.LastIndex(p, "~")
	parts := strings.Split(p[i+1:], ".")
	body, _ := b64.DecodeString(parts[1])
	jwt, err := signJWT(holder, "ES256", header{Typ: "JWT"}, body)
	if err != nil {
		t.Fatal(err)
	}
	return p[:i+1] + jwt
}

// bindWithoutCnf issues an SD-JWT with no holder key and binds it all the same.
func bindWithoutCnf(t *testing.T, issuer, holder *ecdsa.PrivateKey, kb KeyBinding) string {
	t.Helper()
	is := &Issuer{Key: issuer, Alg: "ES256"}
	s, err := is.Issue(Credential{Claims: pid(), Disclosable: pidDisclosable})
	if err != nil {
		t.Fatal(err)
	}
	sd, _ := Parse(s)
	p, err := sd.Present(kb, Path{"given_name"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}
