package sdjwt

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TypeVC is the typ header of an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-26 §3.2.1).
const TypeVC = "dc+sd-jwt"

// alwaysVisible are the SD-JWT VC claims that must not be selectively disclosed
// (draft-ietf-oauth-sd-jwt-vc-26 §3.2.2): the verifier needs them to judge the credential at
// all. Issue refuses to make them, or anything inside them, disclosable when typ is TypeVC.
var alwaysVisible = []string{"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"}

// VC is an SD-JWT VC's content: its registered claims as fields, the rest in Claims.
type VC struct {
	VCT       string    // vct: the credential type, e.g. "urn:eudi:pid:1"
	Issuer    string    // iss
	Subject   string    // sub, optional
	IssuedAt  time.Time // iat; zero leaves it out
	NotBefore time.Time // nbf; zero leaves it out
	Expiry    time.Time // exp; zero leaves it out
	// HolderKey becomes cnf.jwk at issuance; after verification it is the cnf key.
	HolderKey crypto.PublicKey
	// Status points into a Token Status List (draft-ietf-oauth-status-list); carried here,
	// checked elsewhere.
	Status *StatusListRef
	// Claims are the credential's other claims (given_name, address...).
	Claims map[string]any
	// Disclosable names the claims the holder may withhold; used at issuance only.
	Disclosable []Path
}

// StatusListRef is the status claim's status_list member: the credential's index in the
// list published at URI.
type StatusListRef struct {
	Index int    `json:"idx"`
	URI   string `json:"uri"`
}

var vcClaimNames = []string{"vct", "iss", "sub", "iat", "nbf", "exp", "cnf", "status"}

// IssueVC issues vc as an SD-JWT VC: typ dc+sd-jwt whatever is.Type says, vct required, and
// the claims of draft -26 §3.2.2 that must stay visible refused as disclosable.
func (is *Issuer) IssueVC(vc VC) (string, error) {
	if vc.VCT == "" {
		return "", fmt.Errorf("sdjwt: an SD-JWT VC needs a vct")
	}
	claims := maps.Clone(vc.Claims)
	if claims == nil {
		claims = map[string]any{}
	}
	for _, n := range vcClaimNames {
		if _, ok := claims[n]; ok {
			return "", fmt.Errorf("sdjwt: %s goes in its VC field, not in Claims", n)
		}
	}
	claims["vct"] = vc.VCT
	set := func(name string, v string) {
		if v != "" {
			claims[name] = v
		}
	}
	set("iss", vc.Issuer)
	set("sub", vc.Subject)
	for name, t := range map[string]time.Time{"iat": vc.IssuedAt, "nbf": vc.NotBefore, "exp": vc.Expiry} {
		if !t.IsZero() {
			claims[name] = t.Unix()
		}
	}
	if vc.Status != nil {
		claims["status"] = map[string]any{"status_list": vc.Status}
	}
	vcIssuer := *is
	vcIssuer.Type = TypeVC
	return vcIssuer.Issue(Credential{Claims: claims, Disclosable: vc.Disclosable, HolderKey: vc.HolderKey})
}

// checkVCDisclosable refuses a disclosable path at or under an always-visible claim.
func checkVCDisclosable(paths []Path) error {
	for _, p := range paths {
		if len(p) == 0 {
			continue
		}
		for _, n := range alwaysVisible {
			if p[0] == n {
				return fmt.Errorf("%w: %s in an SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-26 §3.2.2)", ErrNotDisclosable, p)
			}
		}
	}
	return nil
}

// VerifyVC verifies an SD-JWT VC presentation as Verify does, with typ dc+sd-jwt required
// whatever v.Type says, and reads its registered claims into a VC whose Claims are the rest
// of the processed payload.
func (v *Verifier) VerifyVC(ctx context.Context, presentation string, expect Expect) (*Result, *VC, error) {
	vv := *v
	vv.Type = TypeVC
	res, err := vv.Verify(ctx, presentation, expect)
	if err != nil {
		return nil, nil, err
	}
	vc, err := readVC(res.Claims)
	if err != nil {
		return nil, nil, err
	}
	return res, vc, nil
}

func readVC(claims map[string]any) (*VC, error) {
	vc := &VC{Claims: maps.Clone(claims)}
	var ok bool
	if vc.VCT, ok = claims["vct"].(string); !ok || vc.VCT == "" {
		return nil, fmt.Errorf("%w: an SD-JWT VC needs a string vct", ErrMalformed)
	}
	str := func(name string) (string, error) {
		raw, present := claims[name]
		if !present {
			return "", nil
		}
		s, ok := raw.(string)
		if !ok {
			return "", fmt.Errorf("%w: %s is not a string", ErrMalformed, name)
		}
		return s, nil
	}
	var err error
	if vc.Issuer, err = str("iss"); err != nil {
		return nil, err
	}
	if vc.Subject, err = str("sub"); err != nil {
		return nil, err
	}
	for name, dst := range map[string]*time.Time{"iat": &vc.IssuedAt, "nbf": &vc.NotBefore, "exp": &vc.Expiry} {
		t, _, err := numericDate(claims, name)
		if err != nil {
			return nil, err
		}
		*dst = t
	}
	if cnf, ok := claims["cnf"].(map[string]any); ok {
		if raw, ok := cnf["jwk"].(map[string]any); ok {
			jb, _ := json.Marshal(raw)
			k, err := jwk.ParseKey(jb)
			if err != nil {
				return nil, fmt.Errorf("%w: cnf.jwk: %v", ErrMalformed, err)
			}
			var pub any
			if err := jwk.Export(k, &pub); err != nil {
				return nil, fmt.Errorf("%w: cnf.jwk: %v", ErrMalformed, err)
			}
			vc.HolderKey = pub
		}
	}
	if st, ok := claims["status"].(map[string]any); ok {
		if sl, ok := st["status_list"].(map[string]any); ok {
			idx, okIdx := sl["idx"].(json.Number)
			uri, okURI := sl["uri"].(string)
			n, err := idx.Int64()
			if !okIdx || !okURI || err != nil || n < 0 {
				return nil, fmt.Errorf("%w: status.status_list needs a non-negative idx and a uri", ErrMalformed)
			}
			vc.Status = &StatusListRef{Index: int(n), URI: uri}
		}
	}
	for _, n := range vcClaimNames {
		delete(vc.Claims, n)
	}
	return vc, nil
}
