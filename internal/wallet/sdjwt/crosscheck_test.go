package sdjwt

import (
	"context"
	"crypto"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestCrossCheck exchanges SD-JWT VCs with an independent implementation, the OpenWallet
// Foundation's @sd-jwt/sd-jwt-vc, driven by testdata/crosscheck.mjs. It runs only when
// SDJWT_CROSSCHECK_DIR names a folder:
//
//	SDJWT_CROSSCHECK_DIR=/tmp/xc go test -run TestCrossCheck ./internal/wallet/sdjwt/  # writes go-issued.json
//	SDJWT_NODE_DIR=/tmp/sdjwt-node node internal/wallet/sdjwt/testdata/crosscheck.mjs /tmp/xc
//	SDJWT_CROSSCHECK_DIR=/tmp/xc go test -run TestCrossCheck ./internal/wallet/sdjwt/  # verifies node-issued.json
//
// The Node script verifies what Go issued and presented, presents Go's credential itself,
// and issues and presents one of its own; the second Go run verifies those.
func TestCrossCheck(t *testing.T) {
	dir := os.Getenv("SDJWT_CROSSCHECK_DIR")
	if dir == "" {
		t.Skip("SDJWT_CROSSCHECK_DIR not set: no cross-check with the Node implementation")
	}
	t.Run("write go-issued.json", func(t *testing.T) { writeGoIssued(t, dir) })
	t.Run("verify node-issued.json", func(t *testing.T) { verifyNodeIssued(t, dir) })
}

type goIssued struct {
	IssuerJWK        json.RawMessage `json:"issuer_jwk"`
	HolderPrivateJWK json.RawMessage `json:"holder_private_jwk"`
	SDJWT            string          `json:"sd_jwt"`
	Presentation     string          `json:"presentation"`
	Audience         string          `json:"aud"`
	Nonce            string          `json:"nonce"`
	Full             map[string]any  `json:"full_claims"`
	Disclosed        map[string]any  `json:"presented_claims"`
}

func jwkJSON(t *testing.T, key any) json.RawMessage {
	t.Helper()
	k, err := jwk.Import(key)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func writeGoIssued(t *testing.T, dir string) {
	issuer, holder := newKey(t), newKey(t)
	vc := VC{
		VCT: "urn:eudi:pid:1", Issuer: "https://issuer.socle.test",
		IssuedAt: time.Now().Add(-time.Minute), Expiry: time.Now().Add(24 * time.Hour),
		HolderKey: holder.Public(),
		Status:    &StatusListRef{Index: 3, URI: "https://issuer.socle.test/status/1"},
		Claims: map[string]any{
			"given_name": "Camille", "family_name": "Durand", "birthdate": "1984-02-29",
			"address":       map[string]any{"street_address": "12 rue des Lilas", "locality": "Nantes", "country": "FR"},
			"nationalities": []any{"FR", "BE"},
		},
		Disclosable: []Path{{"given_name"}, {"family_name"}, {"birthdate"},
			{"address"}, {"address", "street_address"}, {"address", "locality"}, {"address", "country"},
			{"nationalities", 0}, {"nationalities", 1}},
	}
	is := &Issuer{Key: issuer, Alg: "ES256", KeyID: "go-issuer", Decoys: 2}
	s, err := is.IssueVC(vc)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	out := goIssued{
		IssuerJWK: jwkJSON(t, issuer.Public()), HolderPrivateJWK: jwkJSON(t, holder),
		SDJWT: s, Audience: "https://verifier.node.test", Nonce: "go-nonce-42", Full: sd.Claims,
	}
	out.Presentation, err = sd.Present(KeyBinding{Key: holder, Alg: "ES256", Audience: out.Audience, Nonce: out.Nonce},
		Path{"given_name"}, Path{"address", "locality"}, Path{"nationalities", 1})
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := Parse(out.Presentation)
	out.Disclosed = sel.Claims
	raw, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "go-issued.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", filepath.Join(dir, "go-issued.json"))
}

type nodeIssued struct {
	IssuerJWK       json.RawMessage `json:"issuer_jwk"`
	GoIssuerJWK     json.RawMessage `json:"go_issuer_jwk"`
	SDJWT           string          `json:"sd_jwt"`
	Presentation    string          `json:"presentation"`
	GoPresentedByJS string          `json:"go_credential_presented_by_node"`
	Audience        string          `json:"aud"`
	Nonce           string          `json:"nonce"`
	GoVerified      bool            `json:"go_verified_by_node"`
}

func publicKeyOf(t *testing.T, raw json.RawMessage) crypto.PublicKey {
	t.Helper()
	k, err := jwk.ParseKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	var pub any
	if err := jwk.Export(k, &pub); err != nil {
		t.Fatal(err)
	}
	return pub
}

func verifyNodeIssued(t *testing.T, dir string) {
	raw, err := os.ReadFile(filepath.Join(dir, "node-issued.json"))
	if os.IsNotExist(err) {
		t.Skip("no node-issued.json yet: run testdata/crosscheck.mjs, then this test again")
	}
	if err != nil {
		t.Fatal(err)
	}
	var in nodeIssued
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	v := &Verifier{IssuerKey: keyFunc(publicKeyOf(t, in.IssuerJWK)), RequireKeyBinding: true}
	expect := Expect{Audience: in.Audience, Nonce: in.Nonce}

	res, vc, err := v.VerifyVC(context.Background(), in.Presentation, expect)
	if err != nil {
		t.Fatalf("Go refuses the Node presentation: %v", err)
	}
	t.Logf("Node presentation: vct %s, claims %v, disclosed %v", vc.VCT, vc.Claims, res.Disclosed)
	want := map[string]any{"given_name": "Erika", "address": map[string]any{"locality": "Berlin"}, "nationalities": []any{"DE"}}
	if !reflect.DeepEqual(any(vc.Claims), jsonRoundTrip(t, want)) {
		t.Errorf("claims from Node = %v, want %v", vc.Claims, want)
	}
	var paths []string
	for _, p := range res.Disclosed {
		paths = append(paths, p.String())
	}
	slices.Sort(paths)
	// The script's frame makes address and nationalities disclosable themselves as well as
	// their members and elements (recursive disclosures, RFC 9901 §4.2.6).
	if wantPaths := []string{"address", "address.locality", "given_name", "nationalities", "nationalities[0]"}; !slices.Equal(paths, wantPaths) {
		t.Errorf("disclosed = %v, want %v", paths, wantPaths)
	}

	// The Node-issued SD-JWT with every disclosure and no KB-JWT: the holder view.
	full, _, err := (&Verifier{IssuerKey: v.IssuerKey}).VerifyVC(context.Background(), in.SDJWT, Expect{})
	if err != nil {
		t.Fatalf("Go refuses the Node SD-JWT: %v", err)
	}
	t.Logf("Node SD-JWT, all disclosed: %v", full.Claims)

	// Go's credential, presented by the Node holder with a KB-JWT of its making.
	gv := &Verifier{IssuerKey: keyFunc(publicKeyOf(t, in.GoIssuerJWK)), RequireKeyBinding: true}
	gres, gvc, err := gv.VerifyVC(context.Background(), in.GoPresentedByJS, expect)
	if err != nil {
		t.Fatalf("Go refuses its own credential as the Node holder presented it: %v", err)
	}
	t.Logf("Go credential presented by Node: claims %v, disclosed %v, status %+v", gvc.Claims, gres.Disclosed, gvc.Status)
	if !in.GoVerified {
		t.Error("the Node script did not report verifying the Go credential")
	}
}
