package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func pidVC(holder *ecdsa.PrivateKey) VC {
	return VC{
		VCT: "urn:eudi:pid:1", Issuer: "https://issuer.socle.test",
		IssuedAt: now.Add(-time.Hour), Expiry: now.Add(365 * 24 * time.Hour),
		HolderKey: holder.Public(),
		Status:    &StatusListRef{Index: 4711, URI: "https://issuer.socle.test/status/1"},
		Claims: map[string]any{
			"given_name": "Camille", "family_name": "Durand", "birthdate": "1984-02-29",
			"address": map[string]any{"locality": "Nantes", "country": "FR"},
		},
		Disclosable: []Path{{"given_name"}, {"family_name"}, {"birthdate"}, {"address", "locality"}, {"address", "country"}},
	}
}

func TestSDJWTVCRoundTrip(t *testing.T) {
	issuer, holder := newKey(t), newKey(t)
	is := &Issuer{Key: issuer, Alg: "ES256", KeyID: "k1"}
	s, err := is.IssueVC(pidVC(holder))
	if err != nil {
		t.Fatal(err)
	}
	h, payload, _ := parseJWT(strings.SplitN(s, "~", 2)[0])
	if h.Typ != TypeVC {
		t.Errorf("typ = %q, want %q", h.Typ, TypeVC)
	}
	for _, name := range []string{"vct", "iss", "iat", "exp", "cnf", "status"} {
		if _, ok := payload[name]; !ok {
			t.Errorf("%s is not in the clear", name)
		}
	}
	sd, _ := Parse(s)
	kb := KeyBinding{Key: holder, Alg: "ES256", Audience: "x509_san_dns:verifier.socle.test", Nonce: "abc", IssuedAt: now}
	p, err := sd.Present(kb, Path{"birthdate"})
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(issuer.Public())
	v.RequireKeyBinding = true
	res, vc, err := v.VerifyVC(context.Background(), p, Expect{Audience: kb.Audience, Nonce: kb.Nonce})
	if err != nil {
		t.Fatal(err)
	}
	if vc.VCT != "urn:eudi:pid:1" || vc.Issuer != "https://issuer.socle.test" || !vc.Expiry.Equal(now.Add(365*24*time.Hour)) {
		t.Errorf("vc = %+v", vc)
	}
	if !reflect.DeepEqual(vc.Status, &StatusListRef{Index: 4711, URI: "https://issuer.socle.test/status/1"}) {
		t.Errorf("status = %+v", vc.Status)
	}
	if pub, ok := vc.HolderKey.(*ecdsa.PublicKey); !ok || !pub.Equal(holder.Public()) {
		t.Errorf("holder key = %T %v", vc.HolderKey, vc.HolderKey)
	}
	want := jsonRoundTrip(t, map[string]any{"birthdate": "1984-02-29", "address": map[string]any{}})
	if !reflect.DeepEqual(any(vc.Claims), want) {
		t.Errorf("claims = %v, want %v", vc.Claims, want)
	}
	if len(res.Disclosed) != 1 || res.Disclosed[0].String() != "birthdate" {
		t.Errorf("disclosed = %v", res.Disclosed)
	}
}

func TestSDJWTVCKeepsRegisteredClaimsVisible(t *testing.T) {
	is := &Issuer{Key: newKey(t), Alg: "ES256"}
	for _, p := range []Path{{"iss"}, {"exp"}, {"nbf"}, {"cnf"}, {"cnf", "jwk"}, {"vct"}, {"status"}, {"status", "status_list", "idx"}} {
		vc := pidVC(newKey(t))
		vc.NotBefore = now.Add(-time.Hour)
		vc.Disclosable = append(vc.Disclosable, p)
		if _, err := is.IssueVC(vc); !errors.Is(err, ErrNotDisclosable) {
			t.Errorf("disclosable %s: err = %v, want ErrNotDisclosable (draft-ietf-oauth-sd-jwt-vc-26 §3.2.2)", p, err)
		}
	}
	// The rule holds for a plain Issue with typ dc+sd-jwt too.
	vcIs := &Issuer{Key: newKey(t), Alg: "ES256", Type: TypeVC}
	if _, err := vcIs.Issue(Credential{Claims: map[string]any{"vct": "x", "iss": "y"}, Disclosable: []Path{{"iss"}}}); !errors.Is(err, ErrNotDisclosable) {
		t.Errorf("Issue with typ %s: err = %v", TypeVC, err)
	}
	// iat and sub may be disclosable.
	vc := pidVC(newKey(t))
	vc.Subject = "user-42"
	vc.Disclosable = append(vc.Disclosable, Path{"iat"}, Path{"sub"})
	if _, err := is.IssueVC(vc); err != nil {
		t.Errorf("iat and sub disclosable: %v", err)
	}
}

func TestSDJWTVCNeedsVCT(t *testing.T) {
	issuer := newKey(t)
	is := &Issuer{Key: issuer, Alg: "ES256"}
	if _, err := is.IssueVC(VC{Issuer: "x"}); err == nil {
		t.Error("issued an SD-JWT VC without vct")
	}
	noVCT := &Issuer{Key: issuer, Alg: "ES256", Type: TypeVC}
	s, _ := noVCT.Issue(Credential{Claims: map[string]any{"iss": "x"}})
	if _, _, err := verifier(issuer.Public()).VerifyVC(context.Background(), s, Expect{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed", err)
	}
	plain := &Issuer{Key: issuer, Alg: "ES256", Type: "example+sd-jwt"}
	s, _ = plain.Issue(Credential{Claims: map[string]any{"vct": "x"}})
	if _, _, err := verifier(issuer.Public()).VerifyVC(context.Background(), s, Expect{}); !errors.Is(err, ErrType) {
		t.Errorf("err = %v, want ErrType", err)
	}
}

func TestIssuerRefuses(t *testing.T) {
	is := &Issuer{Key: newKey(t), Alg: "ES256"}
	tests := []struct {
		name string
		c    Credential
		want error
	}{
		{"_sd as a claim name", Credential{Claims: map[string]any{"a": map[string]any{"_sd": 1}}}, ErrReservedName},
		{"... as a claim name", Credential{Claims: map[string]any{"...": 1}}, ErrReservedName},
		{"_sd_alg set by the caller", Credential{Claims: map[string]any{"_sd_alg": "sha-256"}}, ErrReservedName},
		{"a disclosable path that names nothing", Credential{Claims: map[string]any{"a": 1}, Disclosable: []Path{{"b"}}}, ErrNoSuchClaim},
		{"an index past the array", Credential{Claims: map[string]any{"a": []any{1}}, Disclosable: []Path{{"a", 1}}}, ErrNoSuchClaim},
		{"the whole payload", Credential{Claims: map[string]any{"a": 1}, Disclosable: []Path{{}}}, ErrNotDisclosable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := is.Issue(tt.c); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, alg := range []string{"none", "HS256", "XX"} {
		bad := &Issuer{Key: newKey(t), Alg: alg}
		if _, err := bad.Issue(Credential{Claims: map[string]any{"a": 1}}); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("alg %s: err = %v, want ErrAlgorithm", alg, err)
		}
	}
}

func TestPathString(t *testing.T) {
	for p, want := range map[string]string{
		Path{"address", "locality"}.String(): "address.locality",
		Path{"nationalities", 1}.String():    "nationalities[1]",
		Path{"a", 0, "b"}.String():           "a[0].b",
		Path{"given name"}.String():          `["given name"]`,
	} {
		if p != want {
			t.Errorf("got %s, want %s", p, want)
		}
	}
}
