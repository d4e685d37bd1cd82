package sdjwt

import (
	"crypto"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SDJWT is a parsed SD-JWT, as the holder keeps it: the issuer-signed JWT, the Disclosures,
// and, once presented, a Key Binding JWT.
type SDJWT struct {
	JWT         string        // the issuer-signed JWT, compact
	Disclosures []*Disclosure // each with the Path of its claim in Claims
	KeyBinding  string        // the KB-JWT, compact; empty when absent
	// Claims is the payload with every Disclosure applied. Parse does not check the issuer's
	// signature: a holder that must know calls Verifier.Verify.
	Claims map[string]any

	hashAlg string
}

// Parse reads a compact SD-JWT or SD-JWT+KB (§4, §5) and applies its Disclosures, refusing
// the structural faults of §7.1 step 3 (duplicate or unreferenced digests, clashing names).
func Parse(s string) (*SDJWT, error) {
	jwt, encoded, kb, err := splitCompact(s)
	if err != nil {
		return nil, err
	}
	_, payload, err := parseJWT(jwt)
	if err != nil {
		return nil, err
	}
	alg, ds, err := readDisclosures(payload, encoded)
	if err != nil {
		return nil, err
	}
	claims, _, err := process(payload, ds)
	if err != nil {
		return nil, err
	}
	return &SDJWT{JWT: jwt, Disclosures: ds, KeyBinding: kb, Claims: claims, hashAlg: alg}, nil
}

// hashAlgOf reads _sd_alg (§4.1.1), sha-256 when absent.
func hashAlgOf(payload map[string]any) (string, error) {
	raw, present := payload["_sd_alg"]
	if !present {
		return DefaultHashAlg, nil
	}
	alg, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("%w: _sd_alg is not a string", ErrMalformed)
	}
	if _, ok := hashAlgs[alg]; !ok {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedHashAlg, alg)
	}
	return alg, nil
}

// String writes the compact serialization: <JWT>~<D1>~...~<Dn>~ followed by the KB-JWT if
// there is one (§4, §5).
func (s *SDJWT) String() string {
	var b strings.Builder
	b.WriteString(s.JWT)
	b.WriteByte('~')
	for _, d := range s.Disclosures {
		b.WriteString(d.Encoded)
		b.WriteByte('~')
	}
	b.WriteString(s.KeyBinding)
	return b.String()
}

// Select returns a copy of s, without Key Binding JWT, carrying only the Disclosures needed
// to show the claims at paths: for each path, the Disclosure of the claim itself, of every
// claim on the way to it (a nested claim is unreachable without its parent's Disclosure,
// §4.2.6), and of every claim inside it (selecting "address" shows the whole address).
// A path that names no claim of s.Claims is an error.
func (s *SDJWT) Select(paths ...Path) (*SDJWT, error) {
	for _, p := range paths {
		if _, ok := lookup(s.Claims, p); !ok {
			return nil, fmt.Errorf("%w: %s", ErrNoSuchClaim, p)
		}
	}
	out := &SDJWT{JWT: s.JWT, hashAlg: s.hashAlg}
	for _, d := range s.Disclosures {
		if slices.ContainsFunc(paths, func(p Path) bool { return p.HasPrefix(d.Path) || d.Path.HasPrefix(p) }) {
			out.Disclosures = append(out.Disclosures, d)
		}
	}
	// The copy's own view of its claims, with its array positions.
	fresh, err := Parse(out.String())
	if err != nil {
		return nil, err
	}
	return fresh, nil
}

// KeyBinding describes the Key Binding JWT a holder appends for one verifier (§4.3).
type KeyBinding struct {
	Key      crypto.Signer // the private half of the SD-JWT's cnf key
	Alg      string        // "ES256"...
	Audience string        // the verifier, e.g. its client_id
	Nonce    string        // the verifier's nonce for this presentation
	IssuedAt time.Time     // zero means now
}

// Bind returns the SD-JWT+KB: s without its former KB-JWT, followed by a new one over it
// (§4.3): header typ kb+jwt, payload iat, aud, nonce and sd_hash, the hash under _sd_alg of
// the presented <JWT>~<D1>~...~<Dn>~ (§4.3.1).
func (s *SDJWT) Bind(kb KeyBinding) (string, error) {
	if kb.Key == nil {
		return "", fmt.Errorf("sdjwt: key binding needs the holder key")
	}
	if kb.Audience == "" || kb.Nonce == "" {
		return "", fmt.Errorf("sdjwt: key binding needs an audience and a nonce")
	}
	bare := *s
	bare.KeyBinding = ""
	presented := bare.String()
	sdHash, err := digest(s.hashAlg, presented)
	if err != nil {
		return "", err
	}
	iat := kb.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	body, err := marshal(map[string]any{"iat": iat.Unix(), "aud": kb.Audience, "nonce": kb.Nonce, "sd_hash": sdHash})
	if err != nil {
		return "", err
	}
	jwt, err := signJWT(kb.Key, kb.Alg, header{Typ: "kb+jwt"}, body)
	if err != nil {
		return "", err
	}
	return presented + jwt, nil
}

// Present selects the claims at paths and binds the result for one verifier, in one step.
func (s *SDJWT) Present(kb KeyBinding, paths ...Path) (string, error) {
	sel, err := s.Select(paths...)
	if err != nil {
		return "", err
	}
	return sel.Bind(kb)
}
