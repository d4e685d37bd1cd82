package statuslist

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// TokenType is the JWT `typ` of a Status List Token (§5.1) and MediaType the
// media type it is served with (§8.1, §8.2).
const (
	TokenType = "statuslist+jwt"
	MediaType = "application/statuslist+jwt"
)

// Errors about Status List Tokens; match them with errors.Is.
var (
	ErrMalformed       = errors.New("statuslist: malformed status list token")
	ErrType            = errors.New("statuslist: token typ is not statuslist+jwt")
	ErrSignature       = errors.New("statuslist: bad status list token signature")
	ErrSubject         = errors.New("statuslist: token sub differs from the referenced uri")
	ErrExpired         = errors.New("statuslist: status list token expired")
	ErrNotYetValid     = errors.New("statuslist: status list token not yet valid")
	ErrUnexpectedBits  = errors.New("statuslist: unexpected bits")
	ErrUnsupportedSign = errors.New("statuslist: unsupported signing key")
)

// Token is the content of a Status List Token in JWT format (§5.1).
type Token struct {
	Subject        string        // sub: the URI the token is served at
	IssuedAt       time.Time     // iat, required
	Expiry         time.Time     // exp, zero when absent
	TTL            time.Duration // ttl, zero when absent
	List           *List         // status_list.bits and status_list.lst
	AggregationURI string        // status_list.aggregation_uri, optional (§9)
}

// Signer signs Status List Tokens. Alg defaults to ES256. KeyID and Certs,
// when set, go into the protected header as `kid` and `x5c` (§11.3): Certs
// starts with the certificate of Key.
type Signer struct {
	Alg   jwa.SignatureAlgorithm
	Key   any // a crypto.Signer, a private key or a jwk.Key accepted by jwx
	KeyID string
	Certs []*x509.Certificate
}

type statusListJSON struct {
	Bits           int    `json:"bits"`
	Lst            string `json:"lst"`
	AggregationURI string `json:"aggregation_uri,omitempty"`
}

type claimsOut struct {
	Sub        string         `json:"sub"`
	Iat        int64          `json:"iat"`
	Exp        int64          `json:"exp,omitempty"`
	TTL        int64          `json:"ttl,omitempty"`
	StatusList statusListJSON `json:"status_list"`
}

// Sign encodes t as a JWT signed by s, with `typ: statuslist+jwt`.
func (t *Token) Sign(s Signer) ([]byte, error) {
	if t.Subject == "" || t.IssuedAt.IsZero() || t.List == nil {
		return nil, errors.New("statuslist: token needs a subject, an issue time and a list")
	}
	if t.TTL < 0 || (t.TTL > 0 && t.TTL < time.Second) {
		return nil, errors.New("statuslist: ttl must be at least one second when set")
	}
	lst, err := t.List.Encode()
	if err != nil {
		return nil, err
	}
	c := claimsOut{
		Sub: t.Subject,
		Iat: t.IssuedAt.Unix(),
		TTL: int64(t.TTL / time.Second),
		StatusList: statusListJSON{
			Bits: t.List.Bits(), Lst: lst, AggregationURI: t.AggregationURI,
		},
	}
	if !t.Expiry.IsZero() {
		c.Exp = t.Expiry.Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("statuslist: claims: %w", err)
	}
	alg := s.Alg
	if alg == (jwa.SignatureAlgorithm{}) {
		alg = jwa.ES256()
	}
	if s.Key == nil {
		return nil, ErrUnsupportedSign
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.TypeKey, TokenType); err != nil {
		return nil, fmt.Errorf("statuslist: header: %w", err)
	}
	if s.KeyID != "" {
		if err := h.Set(jws.KeyIDKey, s.KeyID); err != nil {
			return nil, fmt.Errorf("statuslist: header: %w", err)
		}
	}
	if len(s.Certs) > 0 {
		var chain cert.Chain
		for _, c := range s.Certs {
			if err := chain.AddString(base64.StdEncoding.EncodeToString(c.Raw)); err != nil {
				return nil, fmt.Errorf("statuslist: x5c: %w", err)
			}
		}
		if err := h.Set(jws.X509CertChainKey, &chain); err != nil {
			return nil, fmt.Errorf("statuslist: header: %w", err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, s.Key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedSign, err)
	}
	return out, nil
}

// Header is what a [KeyResolver] learns from a token's protected header.
type Header struct {
	Alg   string
	KeyID string
	Certs []*x509.Certificate // parsed x5c, leaf first; not yet verified
}

// VerificationKey is a public key with the one algorithm it may verify.
type VerificationKey struct {
	Alg jwa.SignatureAlgorithm
	Key any
}

// KeyResolver finds the key that must have signed a Status List Token (§11.3
// leaves the method to the ecosystem). It returns an error to refuse the token.
type KeyResolver interface {
	ResolveKey(ctx context.Context, h Header) (VerificationKey, error)
}

// KeyResolverFunc adapts a function to [KeyResolver].
type KeyResolverFunc func(ctx context.Context, h Header) (VerificationKey, error)

// ResolveKey calls f.
func (f KeyResolverFunc) ResolveKey(ctx context.Context, h Header) (VerificationKey, error) {
	return f(ctx, h)
}

// StaticKey returns a resolver that always answers with one key.
func StaticKey(alg jwa.SignatureAlgorithm, pub any) KeyResolver {
	return KeyResolverFunc(func(context.Context, Header) (VerificationKey, error) {
		return VerificationKey{Alg: alg, Key: pub}, nil
	})
}

// X5CResolver returns a resolver that accepts a token whose x5c chain leads
// to one of roots at the time now returns, and verifies it with the leaf's
// public key under the header's algorithm (which must be an asymmetric one).
func X5CResolver(roots *x509.CertPool, now func() time.Time) KeyResolver {
	if now == nil {
		now = time.Now
	}
	return KeyResolverFunc(func(_ context.Context, h Header) (VerificationKey, error) {
		if len(h.Certs) == 0 {
			return VerificationKey{}, errors.New("statuslist: no x5c in the token header")
		}
		inter := x509.NewCertPool()
		for _, c := range h.Certs[1:] {
			inter.AddCert(c)
		}
		_, err := h.Certs[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err != nil {
			return VerificationKey{}, fmt.Errorf("statuslist: x5c: %w", err)
		}
		alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
		if !ok || strings.HasPrefix(h.Alg, "HS") || h.Alg == "none" {
			return VerificationKey{}, fmt.Errorf("statuslist: x5c with alg %q", h.Alg)
		}
		return VerificationKey{Alg: alg, Key: h.Certs[0].PublicKey}, nil
	})
}

// VerifyOptions say what [ParseToken] must check.
type VerifyOptions struct {
	// URI is the `uri` of the Referenced Token's status_list; the token's sub
	// must equal it (§5.1, §8.3 step 4a). Required.
	URI string
	// Keys resolves the verification key. Required.
	Keys KeyResolver
	// Now is the clock (time.Now when nil); Leeway the clock skew tolerated
	// on exp, iat and nbf.
	Now    func() time.Time
	Leeway time.Duration
	// Bits, when not zero, is the bits value the verifier expects.
	Bits int
	// MaxListBytes bounds the decompressed list (DefaultMaxListBytes when 0).
	MaxListBytes int
}

// maxNumericDate keeps NumericDates within what time.Unix handles exactly.
const maxNumericDate = 1 << 53

// maxTTLSeconds keeps a ttl within a time.Duration (about 31 years).
const maxTTLSeconds = 1e9

// ParseToken verifies a Status List Token in JWS compact serialization and
// returns its content. It checks, per §5.1 and §8.3: the typ, the signature
// with the key the resolver gives (the header's alg must be that key's), the
// required claims, sub against opts.URI, exp, nbf and a future iat, a
// positive ttl, the bits value and the list's encoding.
func ParseToken(ctx context.Context, compact []byte, opts VerifyOptions) (*Token, error) {
	if opts.Keys == nil {
		return nil, errors.New("statuslist: no key resolver")
	}
	compact = bytes.TrimSpace(compact)
	msg, err := jws.Parse(compact, jws.WithCompact())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(sigs))
	}
	ph := sigs[0].ProtectedHeaders()
	typ, _ := ph.Type()
	// RFC 7515 §4.1.9: typ is a media type, compared case-insensitively, and
	// may omit the "application/" prefix.
	if !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, MediaType) {
		return nil, fmt.Errorf("%w: %q", ErrType, typ)
	}
	alg, ok := ph.Algorithm()
	if !ok {
		return nil, fmt.Errorf("%w: no alg", ErrMalformed)
	}
	h := Header{Alg: alg.String()}
	h.KeyID, _ = ph.KeyID()
	if chain, ok := ph.X509CertChain(); ok && chain != nil {
		for i := range chain.Len() {
			b64, _ := chain.Get(i)
			der, err := base64.StdEncoding.DecodeString(string(b64))
			if err != nil {
				return nil, fmt.Errorf("%w: x5c: %v", ErrMalformed, err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("%w: x5c: %v", ErrMalformed, err)
			}
			h.Certs = append(h.Certs, c)
		}
	}
	vk, err := opts.Keys.ResolveKey(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("%w: no key: %v", ErrSignature, err)
	}
	if vk.Alg.String() != alg.String() || alg.String() == "none" {
		return nil, fmt.Errorf("%w: alg %s, key is for %s", ErrSignature, alg, vk.Alg)
	}
	payload, err := jws.Verify(compact, jws.WithKey(vk.Alg, vk.Key))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	return parseClaims(payload, opts, now())
}

func numericDate(name string, v *float64) (time.Time, error) {
	if math.IsNaN(*v) || *v < 0 || *v > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: %s out of range", ErrMalformed, name)
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// parseClaims checks the claims of a verified token.
func parseClaims(payload []byte, opts VerifyOptions, now time.Time) (*Token, error) {
	var c struct {
		Sub        *string  `json:"sub"`
		Iat        *float64 `json:"iat"`
		Exp        *float64 `json:"exp"`
		Nbf        *float64 `json:"nbf"`
		TTL        *float64 `json:"ttl"`
		StatusList *struct {
			Bits           *int    `json:"bits"`
			Lst            *string `json:"lst"`
			AggregationURI *string `json:"aggregation_uri"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if c.Sub == nil || c.Iat == nil || c.StatusList == nil ||
		c.StatusList.Bits == nil || c.StatusList.Lst == nil {
		return nil, fmt.Errorf("%w: sub, iat and status_list.{bits,lst} are required", ErrMalformed)
	}
	if *c.Sub != opts.URI || opts.URI == "" {
		return nil, fmt.Errorf("%w: sub %q, uri %q", ErrSubject, *c.Sub, opts.URI)
	}
	t := &Token{Subject: *c.Sub}
	var err error
	if t.IssuedAt, err = numericDate("iat", c.Iat); err != nil {
		return nil, err
	}
	if t.IssuedAt.After(now.Add(opts.Leeway)) {
		return nil, fmt.Errorf("%w: issued at %s", ErrNotYetValid, t.IssuedAt.UTC())
	}
	if c.Nbf != nil {
		nbf, err := numericDate("nbf", c.Nbf)
		if err != nil {
			return nil, err
		}
		if nbf.After(now.Add(opts.Leeway)) {
			return nil, fmt.Errorf("%w: not before %s", ErrNotYetValid, nbf.UTC())
		}
	}
	if c.Exp != nil {
		if t.Expiry, err = numericDate("exp", c.Exp); err != nil {
			return nil, err
		}
		if !now.Add(-opts.Leeway).Before(t.Expiry) {
			return nil, fmt.Errorf("%w at %s", ErrExpired, t.Expiry.UTC())
		}
	}
	if c.TTL != nil {
		// §5.1: a positive number of seconds.
		if !(*c.TTL > 0) || *c.TTL > maxTTLSeconds {
			return nil, fmt.Errorf("%w: ttl must be a positive number of seconds", ErrMalformed)
		}
		t.TTL = time.Duration(*c.TTL * float64(time.Second))
		if t.TTL <= 0 {
			t.TTL = time.Nanosecond
		}
	}
	bits := *c.StatusList.Bits
	if !validBits(bits) {
		return nil, fmt.Errorf("%w: %d", ErrBits, bits)
	}
	if opts.Bits != 0 && bits != opts.Bits {
		return nil, fmt.Errorf("%w: %d, want %d", ErrUnexpectedBits, bits, opts.Bits)
	}
	if t.List, err = DecodeList(bits, *c.StatusList.Lst, opts.MaxListBytes); err != nil {
		return nil, err
	}
	if c.StatusList.AggregationURI != nil {
		t.AggregationURI = *c.StatusList.AggregationURI
	}
	return t, nil
}
