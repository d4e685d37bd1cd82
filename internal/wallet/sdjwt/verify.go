package sdjwt

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// IssuerKeyInfo is what the issuer-signed JWT says about the key that signed it; the
// signature is not yet checked when a KeyFunc sees it.
type IssuerKeyInfo struct {
	Alg    string
	KeyID  string              // kid header, if any
	Chain  []*x509.Certificate // x5c header, if any, leaf first, not validated
	Issuer string              // iss claim, if any
	Type   string              // typ header
}

// KeyFunc finds the public key that must have signed an SD-JWT: by kid in the issuer's JWKS,
// by validating the x5c chain against trust anchors (see X5CKeyFunc), or by iss metadata.
// It returns a crypto.PublicKey or a jwk.Key.
type KeyFunc func(ctx context.Context, info IssuerKeyInfo) (any, error)

// X5CKeyFunc trusts an SD-JWT whose x5c chain leads to one of roots at the time now()
// returns, and returns its leaf's public key. Checking that the leaf belongs to iss (its
// subjectAltName) is left to the caller's policy.
func X5CKeyFunc(roots *x509.CertPool, now func() time.Time) KeyFunc {
	return func(_ context.Context, info IssuerKeyInfo) (any, error) {
		if len(info.Chain) == 0 {
			return nil, errors.New("sdjwt: no x5c header")
		}
		inter := x509.NewCertPool()
		for _, c := range info.Chain[1:] {
			inter.AddCert(c)
		}
		_, err := info.Chain[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return nil, fmt.Errorf("sdjwt: x5c: %w", err)
		}
		return info.Chain[0].PublicKey, nil
	}
}

// Verifier checks presented SD-JWTs (§7). Its zero value is not usable: IssuerKey is
// required.
type Verifier struct {
	IssuerKey KeyFunc
	// Algorithms accepted for both the issuer-signed JWT and the KB-JWT; nil means
	// DefaultAlgorithms. "none" and symmetric algorithms are refused whatever this says.
	Algorithms []string
	// Type, when set, is the typ the issuer-signed JWT must carry (e.g. "dc+sd-jwt").
	Type string
	// RequireKeyBinding refuses a presentation without a KB-JWT (§7.3: the verifier's
	// policy decides whether Key Binding is required).
	RequireKeyBinding bool
	// KeyBindingMaxAge is how old a KB-JWT's iat may be; zero means 5 minutes.
	KeyBindingMaxAge time.Duration
	// Skew tolerated on exp, nbf and iat; zero means 1 minute.
	Skew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Expect is what one presentation's KB-JWT must say: the audience the verifier goes by and
// the nonce it handed out for this presentation (§7.3 step 5).
type Expect struct {
	Audience string
	Nonce    string
}

// Result is a verified presentation.
type Result struct {
	// Claims is the processed payload (§7.1 step 3): always-visible claims and the
	// disclosed ones, without _sd, _sd_alg or digests.
	Claims map[string]any
	// Disclosed lists the paths of the claims revealed by a Disclosure, in Claims'
	// coordinates: parents before their members, plain members in name order. Claims that
	// the issuer left in the clear are in Claims but not here.
	Disclosed []Path
	// Disclosures are the presented Disclosures, each with its Path.
	Disclosures []*Disclosure
	// Header is the issuer-signed JWT's header.
	Header map[string]any
	// KeyBound is true when a KB-JWT was present and verified.
	KeyBound bool
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) skew() time.Duration {
	if v.Skew > 0 {
		return v.Skew
	}
	return time.Minute
}

func (v *Verifier) algorithms() []string {
	if v.Algorithms != nil {
		return v.Algorithms
	}
	return DefaultAlgorithms
}

// Verify checks a presented SD-JWT or SD-JWT+KB and returns what it discloses.
//
// Issuer-signed JWT (§7.1 step 2): alg accepted and not none, typ as configured, signature by
// the key IssuerKey returns, exp and nbf within Skew. Disclosures (§7.1 step 3): _sd_alg
// supported, every digest met once, every Disclosure referenced, no claim overwritten, no
// _sd or ... as a claim name. Key Binding (§7.3): when a KB-JWT is present it is verified
// even if not required: typ kb+jwt, signature by cnf.jwk, iat not older than
// KeyBindingMaxAge nor in the future, aud and nonce as expected, sd_hash over the presented
// SD-JWT. A KB-JWT presented to a verifier that expects no audience and nonce is refused:
// without them it proves nothing against replay.
func (v *Verifier) Verify(ctx context.Context, presentation string, expect Expect) (*Result, error) {
	if v.IssuerKey == nil {
		return nil, errors.New("sdjwt: verifier has no IssuerKey")
	}
	jwt, encoded, kb, err := splitCompact(presentation)
	if err != nil {
		return nil, err
	}
	h, payload, err := parseJWT(jwt)
	if err != nil {
		return nil, err
	}
	if h.Alg == "none" || !slices.Contains(v.algorithms(), h.Alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	if v.Type != "" && h.Typ != v.Type {
		return nil, fmt.Errorf("%w: %q, want %q", ErrType, h.Typ, v.Type)
	}
	info := IssuerKeyInfo{Alg: h.Alg, KeyID: h.Kid, Chain: h.X5C, Type: h.Typ}
	info.Issuer, _ = payload["iss"].(string)
	key, err := v.IssuerKey(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: issuer key: %w", err)
	}
	if err := verifyJWT(jwt, h, key, v.algorithms()); err != nil {
		return nil, err
	}
	now := v.now()
	if err := v.checkTimes(payload, now); err != nil {
		return nil, err
	}
	alg, ds, err := readDisclosures(payload, encoded)
	if err != nil {
		return nil, err
	}
	claims, used, err := process(payload, ds)
	if err != nil {
		return nil, err
	}
	res := &Result{Claims: claims, Disclosures: used, Header: h.Raw}
	for _, d := range used {
		res.Disclosed = append(res.Disclosed, d.Path)
	}
	if kb == "" {
		if v.RequireKeyBinding {
			return nil, ErrKeyBindingMissing
		}
		return res, nil
	}
	presented := presentation[:len(presentation)-len(kb)]
	if err := v.verifyKeyBinding(kb, presented, alg, payload, expect, now); err != nil {
		return nil, err
	}
	res.KeyBound = true
	return res, nil
}

// numericDate reads a JWT NumericDate (RFC 7519 §2); present is false when the claim is
// absent.
func numericDate(payload map[string]any, name string) (t time.Time, present bool, err error) {
	raw, ok := payload[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return time.Time{}, true, fmt.Errorf("%w: %s is not a number", ErrMalformed, name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return time.Time{}, true, fmt.Errorf("%w: %s is not a usable date", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func (v *Verifier) checkTimes(payload map[string]any, now time.Time) error {
	exp, ok, err := numericDate(payload, "exp")
	if err != nil {
		return err
	}
	if ok && !now.Before(exp.Add(v.skew())) {
		return fmt.Errorf("%w: expired at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	nbf, ok, err := numericDate(payload, "nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(v.skew()).Before(nbf) {
		return fmt.Errorf("%w: not before %s", ErrExpired, nbf.UTC().Format(time.RFC3339))
	}
	return nil
}

func (v *Verifier) verifyKeyBinding(kb, presented, alg string, payload map[string]any, expect Expect, now time.Time) error {
	refuse := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrKeyBinding}, a...)...)
	}
	h, claims, err := parseJWT(kb)
	if err != nil {
		return refuse("%v", err)
	}
	if h.Typ != "kb+jwt" { // §4.3 and §7.3 step 5
		return refuse("typ %q, want kb+jwt", h.Typ)
	}
	cnf, _ := payload["cnf"].(map[string]any)
	rawJWK, ok := cnf["jwk"].(map[string]any)
	if !ok {
		return refuse("the issuer-signed JWT has no cnf.jwk to check it with")
	}
	if _, private := rawJWK["d"]; private || rawJWK["kty"] == "oct" {
		return refuse("cnf.jwk is not a public key")
	}
	jb, err := json.Marshal(rawJWK)
	if err != nil {
		return refuse("cnf.jwk: %v", err)
	}
	holder, err := jwk.ParseKey(jb)
	if err != nil {
		return refuse("cnf.jwk: %v", err)
	}
	if err := verifyJWT(kb, h, holder, v.algorithms()); err != nil {
		return refuse("%v", err)
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil || !ok {
		return refuse("no usable iat")
	}
	maxAge := v.KeyBindingMaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	if iat.After(now.Add(v.skew())) {
		return refuse("iat is in the future")
	}
	if now.Sub(iat) > maxAge+v.skew() {
		return refuse("iat is older than %s", maxAge)
	}
	if expect.Audience == "" || !audienceIs(claims["aud"], expect.Audience) {
		return refuse("aud is not %q", expect.Audience)
	}
	if nonce, _ := claims["nonce"].(string); expect.Nonce == "" || nonce != expect.Nonce {
		return refuse("nonce does not match")
	}
	want, err := digest(alg, presented)
	if err != nil {
		return refuse("%v", err)
	}
	if got, _ := claims["sd_hash"].(string); got != want {
		return refuse("sd_hash does not match the presented SD-JWT")
	}
	return nil
}

// audienceIs accepts aud as a string or as an array of strings (RFC 7519 §4.1.3).
func audienceIs(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		return slices.Contains(a, any(want))
	}
	return false
}

// readDisclosures decodes the disclosures of an SD-JWT whose payload names their digests'
// algorithm (_sd_alg).
func readDisclosures(payload map[string]any, encoded []string) (string, []*Disclosure, error) {
	alg, err := hashAlgOf(payload)
	if err != nil {
		return "", nil, err
	}
	ds := make([]*Disclosure, len(encoded))
	for i, e := range encoded {
		if ds[i], err = ParseDisclosure(e, alg); err != nil {
			return "", nil, err
		}
	}
	return alg, ds, nil
}
