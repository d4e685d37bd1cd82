package sdjwt

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Issuer signs SD-JWTs with one key.
type Issuer struct {
	Key   crypto.Signer       // the issuer's private key
	Alg   string              // JWS algorithm: "ES256" (HAIP), "ES384", "EdDSA"...
	KeyID string              // optional kid header
	Chain []*x509.Certificate // optional x5c header: the key's certificate first (RFC 7515 §4.1.6)
	Type  string              // typ header: "dc+sd-jwt" for SD-JWT VC, "example+sd-jwt"...
	// HashAlg is the _sd_alg (§4.1.1); empty means sha-256.
	HashAlg string
	// Decoys is how many decoy digests go into every _sd array, and how many decoy elements
	// into every array with a disclosable element (§4.2.5), so that the number of digests
	// does not tell how many claims an object or an array holds.
	Decoys int
}

// Credential is what one SD-JWT says.
type Credential struct {
	// Claims is the payload as the holder will see it with every disclosure; any value that
	// encoding/json can write. iss, iat, exp and the like are ordinary members here.
	Claims map[string]any
	// Disclosable names the claims the holder may show or withhold, object members and array
	// elements alike. Naming both a claim and claims inside it makes recursive disclosures
	// (§4.2.6): the inner Disclosures are only reachable once the outer one is shown.
	Disclosable []Path
	// HolderKey, when set, becomes cnf.jwk (§4.1.2), the key the holder must prove with a
	// Key Binding JWT.
	HolderKey crypto.PublicKey
}

// issuance carries one Issue call's state.
type issuance struct {
	alg         string
	decoys      int
	disclosable []Path
	out         []*Disclosure
}

// Issue builds and signs the SD-JWT and returns its compact serialization
// <JWT>~<D1>~...~<Dn>~ (§4).
func (is *Issuer) Issue(c Credential) (string, error) {
	sd, err := is.issue(c)
	if err != nil {
		return "", err
	}
	return sd.String(), nil
}

func (is *Issuer) issue(c Credential) (*SDJWT, error) {
	if is.Key == nil {
		return nil, fmt.Errorf("sdjwt: issuer has no key")
	}
	alg := is.HashAlg
	if alg == "" {
		alg = DefaultHashAlg
	}
	if _, ok := hashAlgs[alg]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedHashAlg, alg)
	}
	if is.Type == TypeVC {
		if err := checkVCDisclosable(c.Disclosable); err != nil {
			return nil, err
		}
	}
	claims, err := normalise(c.Claims)
	if err != nil {
		return nil, err
	}
	if err := checkReserved(claims, nil); err != nil {
		return nil, err
	}
	if c.HolderKey != nil {
		if _, ok := claims["cnf"]; ok {
			return nil, fmt.Errorf("sdjwt: both HolderKey and a cnf claim given")
		}
		jwk, err := publicJWK(c.HolderKey)
		if err != nil {
			return nil, err
		}
		claims["cnf"] = map[string]any{"jwk": jwk}
	}
	st := &issuance{alg: alg, decoys: is.Decoys, disclosable: c.Disclosable}
	for _, p := range c.Disclosable {
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: the empty path names the whole payload", ErrNotDisclosable)
		}
		if len(p) == 1 && p[0] == "_sd_alg" {
			return nil, fmt.Errorf("%w: _sd_alg", ErrNotDisclosable)
		}
		if _, ok := lookup(claims, p); !ok {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchClaim, p)
		}
	}
	payload, err := st.object(claims, nil)
	if err != nil {
		return nil, err
	}
	payload["_sd_alg"] = alg
	body, err := marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: payload: %w", err)
	}
	jwt, err := signJWT(is.Key, is.Alg, header{Typ: is.Type, Kid: is.KeyID, X5C: is.Chain}, body)
	if err != nil {
		return nil, err
	}
	return &SDJWT{JWT: jwt, Disclosures: st.out, hashAlg: alg}, nil
}

// normalise turns any encodable claims into the generic JSON shapes the rest of the package
// walks (map[string]any, []any, json.Number...).
func normalise(claims map[string]any) (map[string]any, error) {
	raw, err := marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: claims: %w", err)
	}
	var m map[string]any
	if err := decodeJSON(raw, &m); err != nil {
		return nil, fmt.Errorf("sdjwt: claims: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// checkReserved refuses claim names the format gives a meaning to (§4.2.4: _sd and ...),
// and _sd_alg, which the issuer sets itself.
func checkReserved(v any, at Path) error {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "_sd" || k == "..." || (k == "_sd_alg" && at == nil) {
				return fmt.Errorf("%w: %s", ErrReservedName, at.child(k))
			}
			if err := checkReserved(e, at.child(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range t {
			if err := checkReserved(e, at.child(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (st *issuance) isDisclosable(p Path) bool {
	return slices.ContainsFunc(st.disclosable, p.Equal)
}

// value replaces, inside v, every disclosable claim by its digest; claims deepest first, so
// that a disclosable object carries the digests of its own disclosable members (§4.2.6).
func (st *issuance) value(v any, at Path) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		return st.object(t, at)
	case []any:
		out := make([]any, len(t))
		hidden := 0
		for i, e := range t {
			pv, err := st.value(e, at.child(i))
			if err != nil {
				return nil, err
			}
			if !st.isDisclosable(at.child(i)) {
				out[i] = pv
				continue
			}
			d, err := newDisclosure(st.alg, "", true, pv)
			if err != nil {
				return nil, err
			}
			st.out = append(st.out, d)
			out[i] = map[string]any{"...": d.Digest} // §4.2.4.2
			hidden++
		}
		if hidden == 0 {
			return out, nil
		}
		// §4.2.5 allows decoys in arrays too: {"...": decoy} elements at random places, which
		// the holder and the verifier drop like any undisclosed element.
		for range st.decoys {
			dg, err := st.decoy()
			if err != nil {
				return nil, err
			}
			at, err := rand.Int(rand.Reader, big.NewInt(int64(len(out)+1)))
			if err != nil {
				return nil, fmt.Errorf("sdjwt: decoy: %w", err)
			}
			out = slices.Insert(out, int(at.Int64()), any(map[string]any{"...": dg}))
		}
		return out, nil
	default:
		return v, nil
	}
}

func (st *issuance) object(in map[string]any, at Path) (map[string]any, error) {
	out := make(map[string]any, len(in))
	var digests []string
	// Walk members in name order so that the disclosures come out in a stable order.
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		pv, err := st.value(in[k], at.child(k))
		if err != nil {
			return nil, err
		}
		if !st.isDisclosable(at.child(k)) {
			out[k] = pv
			continue
		}
		d, err := newDisclosure(st.alg, k, false, pv)
		if err != nil {
			return nil, err
		}
		st.out = append(st.out, d)
		digests = append(digests, d.Digest)
	}
	if len(digests) == 0 {
		return out, nil
	}
	for range st.decoys {
		dg, err := st.decoy()
		if err != nil {
			return nil, err
		}
		digests = append(digests, dg)
	}
	// §4.2.4.1: the order of the digests must not reveal the order of the claims; sorted,
	// decoys and real digests are indistinguishable.
	slices.SortFunc(digests, strings.Compare)
	out["_sd"] = toAny(digests)
	return out, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// decoy is the digest of a random value (§4.2.5), indistinguishable from a real one.
func (st *issuance) decoy() (string, error) {
	salt, err := newSalt()
	if err != nil {
		return "", err
	}
	return digest(st.alg, salt)
}
