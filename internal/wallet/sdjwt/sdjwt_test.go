package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func issuePID(t *testing.T, issuer, holder *ecdsa.PrivateKey) *SDJWT {
	t.Helper()
	is := &Issuer{Key: issuer, Alg: "ES256", KeyID: "issuer-1", Type: "example+sd-jwt"}
	s, err := is.Issue(Credential{Claims: pid(), Disclosable: pidDisclosable, HolderKey: holder.Public()})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func TestIssuedSDJWTHasTheShapeOfSection4(t *testing.T) {
	issuer, holder := newKey(t), newKey(t)
	is := &Issuer{Key: issuer, Alg: "ES256", KeyID: "issuer-1", Type: "example+sd-jwt", Decoys: 2}
	s, err := is.Issue(Credential{Claims: pid(), Disclosable: pidDisclosable, HolderKey: holder.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(s, "~") || strings.Count(s, "~") != len(pidDisclosable)+1 {
		t.Fatalf("want <JWT>~ and %d disclosures each followed by ~, got %q", len(pidDisclosable), s)
	}
	h, payload, err := parseJWT(strings.SplitN(s, "~", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if h.Typ != "example+sd-jwt" || h.Kid != "issuer-1" || h.Alg != "ES256" {
		t.Errorf("header = %v", h.Raw)
	}
	if payload["_sd_alg"] != "sha-256" {
		t.Errorf("_sd_alg = %v", payload["_sd_alg"])
	}
	for _, name := range []string{"given_name", "family_name", "birthdate", "address"} {
		if _, visible := payload[name]; visible {
			t.Errorf("%s is disclosable yet in the clear", name)
		}
	}
	for _, name := range []string{"iss", "iat", "exp", "cnf"} {
		if _, visible := payload[name]; !visible {
			t.Errorf("%s should stay in the clear", name)
		}
	}
	top := payload["_sd"].([]any)
	if len(top) != 4+2 { // given_name, family_name, birthdate, address, and two decoys (§4.2.5)
		t.Errorf("top-level _sd has %d digests, want 6", len(top))
	}
	if !slices.IsSortedFunc(top, func(a, b any) int { return strings.Compare(a.(string), b.(string)) }) {
		t.Error("_sd is not sorted: its order could reveal the claims' order (§4.2.4.1)")
	}
	nat := payload["nationalities"].([]any)
	if len(nat) != 2+2 {
		t.Errorf("nationalities has %d elements, want its two and two decoys", len(nat))
	}
	for _, e := range nat {
		if _, ok := elementDigest(e); !ok {
			t.Errorf("nationalities element %v is not in the {\"...\": digest} form (§4.2.4.2)", e)
		}
	}
	cnf := payload["cnf"].(map[string]any)["jwk"].(map[string]any)
	if cnf["kty"] != "EC" || cnf["crv"] != "P-256" || cnf["d"] != nil {
		t.Errorf("cnf.jwk = %v, want the holder's public P-256 key", cnf)
	}
	sd, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range sd.Disclosures {
		salt, err := b64.DecodeString(d.Salt)
		if err != nil || len(salt) != 16 {
			t.Errorf("salt %q is not 128 bits of base64url (§4.2.1)", d.Salt)
		}
	}
	if !reflect.DeepEqual(withoutCnf(sd.Claims), jsonRoundTrip(t, pid())) {
		t.Errorf("the holder's view with every disclosure\n%v\nis not the issued claims\n%v", sd.Claims, pid())
	}
}

func withoutCnf(m map[string]any) any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		if k != "cnf" {
			c[k] = v
		}
	}
	return c
}

func TestHolderListsDisclosuresWithTheirPaths(t *testing.T) {
	sd := issuePID(t, newKey(t), newKey(t))
	var got []string
	for _, d := range sd.Disclosures {
		got = append(got, d.Path.String())
	}
	slices.Sort(got)
	want := []string{"address", "address.country", "address.locality", "address.street_address",
		"birthdate", "family_name", "given_name", "nationalities[0]", "nationalities[1]"}
	if !slices.Equal(got, want) {
		t.Errorf("paths = %v, want %v", got, want)
	}
}

func TestPresentedSubsetIsExactlyWhatTheVerifierSees(t *testing.T) {
	issuer, holder := newKey(t), newKey(t)
	sd := issuePID(t, issuer, holder)
	plain := map[string]any{"iss": "https://issuer.socle.test", "iat": now.Add(-time.Hour).Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		// The array itself is in the clear; its undisclosed elements are dropped (§7.1).
		"nationalities": []any{}}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range plain {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name      string
		select_   []Path
		claims    map[string]any
		disclosed []string
	}{
		{"nothing", nil, with(nil), nil},
		{"given name only", []Path{{"given_name"}}, with(map[string]any{"given_name": "Camille"}), []string{"given_name"}},
		{"a nested claim brings its parent's disclosure, not its siblings", []Path{{"address", "locality"}},
			with(map[string]any{"address": map[string]any{"locality": "Nantes"}}), []string{"address", "address.locality"}},
		{"a whole object brings every member", []Path{{"address"}},
			with(map[string]any{"address": map[string]any{"street_address": "12 rue des Lilas", "locality": "Nantes", "country": "FR"}}),
			[]string{"address", "address.country", "address.locality", "address.street_address"}},
		{"one array element", []Path{{"nationalities", 1}},
			with(map[string]any{"nationalities": []any{"BE"}}), []string{"nationalities[0]"}},
		{"several claims", []Path{{"family_name"}, {"birthdate"}, {"nationalities", 0}},
			with(map[string]any{"family_name": "Durand", "birthdate": "1984-02-29", "nationalities": []any{"FR"}}),
			[]string{"birthdate", "family_name", "nationalities[0]"}},
	}
	v := verifier(issuer.Public())
	v.RequireKeyBinding = true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kb := KeyBinding{Key: holder, Alg: "ES256", Audience: "https://verifier.socle.test", Nonce: "n-0S6_WzA2Mj", IssuedAt: now}
			p, err := sd.Present(kb, tt.select_...)
			if err != nil {
				t.Fatal(err)
			}
			res, err := v.Verify(context.Background(), p, Expect{Audience: kb.Audience, Nonce: kb.Nonce})
			if err != nil {
				t.Fatal(err)
			}
			if !res.KeyBound {
				t.Error("KeyBound = false")
			}
			if got := withoutCnf(res.Claims); !reflect.DeepEqual(got, jsonRoundTrip(t, tt.claims)) {
				t.Errorf("claims = %v\nwant %v", got, tt.claims)
			}
			var paths []string
			for _, p := range res.Disclosed {
				paths = append(paths, p.String())
				if _, ok := lookup(res.Claims, p); !ok {
					t.Errorf("disclosed path %s is not in the claims", p)
				}
			}
			slices.Sort(paths)
			if !slices.Equal(paths, tt.disclosed) {
				t.Errorf("disclosed = %v, want %v", paths, tt.disclosed)
			}
		})
	}
}

func TestSelectRefusesAPathThatNamesNoClaim(t *testing.T) {
	sd := issuePID(t, newKey(t), newKey(t))
	if _, err := sd.Select(Path{"address", "postal_code"}); !errors.Is(err, ErrNoSuchClaim) {
		t.Errorf("err = %v, want ErrNoSuchClaim", err)
	}
}

// The structure of RFC 9901 Appendix A.1 (a simple structured SD-JWT): the address object
// stays in the clear while each of its members is disclosable on its own, and the array of
// nationalities discloses element by element. Values are ours, not the RFC's.
func TestRFC9901AppendixA1Structure(t *testing.T) {
	issuer := newKey(t)
	claims := map[string]any{
		"iss": "https://issuer.socle.test", "iat": 1764000000, "exp": 1893456000, "sub": "6c5c0a49-b589-431d-bae7-219122a9ec2c",
		"address":       map[string]any{"street_address": "Schulstr. 12", "locality": "Schulpforta", "region": "Sachsen-Anhalt", "country": "DE"},
		"nationalities": []any{"DE", "US"},
	}
	is := &Issuer{Key: issuer, Alg: "ES256", Type: "example+sd-jwt"}
	s, err := is.Issue(Credential{Claims: claims, Disclosable: []Path{
		{"address", "street_address"}, {"address", "locality"}, {"address", "region"}, {"address", "country"},
		{"nationalities", 0}, {"nationalities", 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := parseJWT(strings.SplitN(s, "~", 2)[0])
	addr := payload["address"].(map[string]any)
	if len(addr) != 1 || len(addr["_sd"].([]any)) != 4 {
		t.Errorf("signed address = %v, want only an _sd of four digests", addr)
	}
	if _, ok := payload["_sd"]; ok {
		t.Error("no top-level claim is disclosable, so there is no top-level _sd")
	}
	sd, _ := Parse(s)
	p, err := sd.Select(Path{"address", "region"}, Path{"address", "country"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier(issuer.Public()).Verify(context.Background(), p.String(), Expect{})
	if err != nil {
		t.Fatal(err)
	}
	want := jsonRoundTrip(t, map[string]any{"region": "Sachsen-Anhalt", "country": "DE"})
	if !reflect.DeepEqual(res.Claims["address"], want) || len(res.Claims["nationalities"].([]any)) != 0 {
		t.Errorf("claims = %v", res.Claims)
	}
}

func TestOtherAlgorithmsAndX5C(t *testing.T) {
	holder := newKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ca, caKey := newCA(t)
	leafKey := newKey(t)
	leaf := newLeaf(t, ca, caKey, leafKey)
	roots := poolOf(ca)
	tests := []struct {
		name string
		is   *Issuer
		keys KeyFunc
	}{
		{"ES384", &Issuer{Key: p384, Alg: "ES384"}, keyFunc(p384.Public())},
		{"EdDSA", &Issuer{Key: ed, Alg: "EdDSA"}, keyFunc(ed.Public())},
		{"ES256 with an x5c chain", &Issuer{Key: leafKey, Alg: "ES256", Chain: []*x509.Certificate{leaf, ca}}, X5CKeyFunc(roots, func() time.Time { return now })},
		{"sha-384 digests", &Issuer{Key: leafKey, Alg: "ES256", HashAlg: "sha-384"}, keyFunc(leafKey.Public())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.is.Issue(Credential{Claims: pid(), Disclosable: pidDisclosable, HolderKey: holder.Public()})
			if err != nil {
				t.Fatal(err)
			}
			sd, _ := Parse(s)
			kb := KeyBinding{Key: holder, Alg: "ES256", Audience: "aud", Nonce: "nonce", IssuedAt: now}
			p, err := sd.Present(kb, Path{"given_name"})
			if err != nil {
				t.Fatal(err)
			}
			v := &Verifier{IssuerKey: tt.keys, Now: func() time.Time { return now }}
			res, err := v.Verify(context.Background(), p, Expect{Audience: "aud", Nonce: "nonce"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Claims["given_name"] != "Camille" || res.Claims["family_name"] != nil {
				t.Errorf("claims = %v", res.Claims)
			}
		})
	}
	t.Run("x5c chain to an untrusted root", func(t *testing.T) {
		other, _ := newCA(t)
		is := &Issuer{Key: leafKey, Alg: "ES256", Chain: []*x509.Certificate{leaf, ca}}
		s, _ := is.Issue(Credential{Claims: pid()})
		v := &Verifier{IssuerKey: X5CKeyFunc(poolOf(other), func() time.Time { return now }), Now: func() time.Time { return now }}
		if _, err := v.Verify(context.Background(), s, Expect{}); err == nil {
			t.Error("accepted a chain to a root it does not trust")
		}
	})
}

func TestEd25519FullySpecifiedAlgorithm(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	is := &Issuer{Key: ed, Alg: "Ed25519"}
	s, err := is.Issue(Credential{Claims: map[string]any{"a": 1}, Disclosable: []Path{{"a"}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := verifier(ed.Public()).Verify(context.Background(), s, Expect{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Claims["a"] == nil {
		t.Errorf("claims = %v", res.Claims)
	}
}

func TestAKeyBindingJWTWithoutExpectationsIsRefused(t *testing.T) {
	issuer, holder := newKey(t), newKey(t)
	sd := issuePID(t, issuer, holder)
	p, err := sd.Present(KeyBinding{Key: holder, Alg: "ES256", Audience: "a", Nonce: "n", IssuedAt: now}, Path{"given_name"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier(issuer.Public()).Verify(context.Background(), p, Expect{}); !errors.Is(err, ErrKeyBinding) {
		t.Errorf("err = %v, want ErrKeyBinding", err)
	}
}
