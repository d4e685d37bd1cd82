package oauth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Attestation-based client authentication (draft-ietf-oauth-attestation-based-client-auth,
// as HAIP 1.0 §4.3 asks of wallets): a wallet instance authenticates with two JWTs in headers.
// The Client Attestation, signed by its wallet provider, names the client (sub) and binds the
// instance's key (cnf.jwk); the Client Attestation PoP, signed with that key for this server
// (aud), proves the instance holds it. The authorisation server trusts wallet providers, not
// each wallet: an attested wallet is authenticated as the attestation's sub.

// The headers and JOSE types (draft §6.1, §5.1, §5.2).
const (
	HeaderClientAttestation    = "OAuth-Client-Attestation"
	HeaderClientAttestationPoP = "OAuth-Client-Attestation-PoP"
	ClientAttestationType      = "oauth-client-attestation+jwt"
	ClientAttestationPoPType   = "oauth-client-attestation-pop+jwt"
	// AuthMethodAttestation is the token_endpoint_auth_method of the draft (§13.4).
	AuthMethodAttestation = "attest_jwt_client_auth"
)

// ProviderKeys finds the key of the wallet provider that signed an attestation, from its
// protected header (kid, x5c), or refuses it as untrusted.
type ProviderKeys func(ctx context.Context, h AttestationHeader) (jwk.Key, error)

// AttestationHeader is what of an attestation's header finds its signer.
type AttestationHeader struct {
	Alg string          `json:"alg"`
	Typ string          `json:"typ"`
	Kid string          `json:"kid"`
	X5C []string        `json:"x5c"`
	JWK json.RawMessage `json:"jwk"`
}

// TrustedJWKS trusts the wallet providers whose public keys are in set: named by kid, or
// given whole in the header's jwk (RFC 7515 §4.1.3), then trusted when its RFC 7638
// thumbprint is one of the set's — the key verified is always the set's.
func TrustedJWKS(set jwk.Set) ProviderKeys {
	return func(_ context.Context, h AttestationHeader) (jwk.Key, error) {
		switch {
		case h.Kid != "":
			k, ok := set.LookupKeyID(h.Kid)
			if !ok {
				return nil, fmt.Errorf("kid %q is no trusted wallet provider's", h.Kid)
			}
			return k, nil
		case h.JWK != nil:
			given, err := publicJWK(h.JWK)
			if err != nil {
				return nil, fmt.Errorf("jwk: %w", err)
			}
			want, err := Thumbprint(given)
			if err != nil {
				return nil, errors.New("jwk has no thumbprint")
			}
			for i := range set.Len() {
				k, _ := set.Key(i)
				if tp, err := Thumbprint(k); err == nil && tp == want {
					return k, nil
				}
			}
			return nil, errors.New("the attestation's jwk is no trusted wallet provider's")
		}
		return nil, errors.New("the attestation names its provider's key neither by kid nor by jwk")
	}
}

// TrustedCAs trusts the wallet providers whose certificate (x5c, leaf first; RFC 7515
// §4.1.6) chains to roots.
func TrustedCAs(roots *x509.CertPool, now func() time.Time) ProviderKeys {
	return func(_ context.Context, h AttestationHeader) (jwk.Key, error) {
		if len(h.X5C) == 0 {
			return nil, errors.New("the attestation has no x5c")
		}
		var chain []*x509.Certificate
		for i, b := range h.X5C {
			der, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, fmt.Errorf("x5c[%d] is not base64", i)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("x5c[%d]: %w", i, err)
			}
			chain = append(chain, c)
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, fmt.Errorf("the attestation's certificate is no trusted wallet provider's: %w", err)
		}
		return jwk.Import(chain[0].PublicKey)
	}
}

// AttestationConfig configures the verifier.
type AttestationConfig struct {
	// Audience is this authorisation server's issuer identifier: the PoP's aud (§5.2).
	Audience string
	// Providers finds a trusted provider's key.
	Providers ProviderKeys
	// Replay records the PoPs' jti values, as DPoP's (§5.2: the server SHOULD).
	Replay ReplayStore
	// MaxAge bounds a PoP's age (5 min) and Leeway a clock ahead (30 s).
	MaxAge, Leeway time.Duration
	Clock          Clock
}

// AttestationVerifier checks the two headers.
type AttestationVerifier struct {
	cfg AttestationConfig
}

// NewAttestationVerifier returns a verifier; Audience, Providers and Replay are required.
func NewAttestationVerifier(cfg AttestationConfig) (*AttestationVerifier, error) {
	if cfg.Audience == "" || cfg.Providers == nil || cfg.Replay == nil {
		return nil, errors.New("oauth: attestation: Audience, Providers and Replay are required")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 5 * time.Minute
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	return &AttestationVerifier{cfg: cfg}, nil
}

// attestationAlgorithms: asymmetric only, as for DPoP (draft §5.1: "MUST NOT be none").
var attestationAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512"}

type attestationClaims struct {
	Iss *string         `json:"iss"`
	Sub *string         `json:"sub"`
	Exp json.RawMessage `json:"exp"`
	Cnf *struct {
		JWK json.RawMessage `json:"jwk"`
	} `json:"cnf"`
}

type popClaims struct {
	Iss       *string         `json:"iss"`
	Aud       json.RawMessage `json:"aud"`
	JTI       *string         `json:"jti"`
	Iat       json.RawMessage `json:"iat"`
	Exp       json.RawMessage `json:"exp"`
	Nonce     *string         `json:"nonce"`
	Challenge *string         `json:"challenge"`
}

// Authenticate finds who the client is: the attestation's sub when the request carries the
// headers (and formClientID, when given, must be it), else formClientID, a public client's
// word. required refuses a request without them. A refusal is invalid_client (RFC 6749 §5.2),
// as the draft §6.2 says.
func (v *AttestationVerifier) Authenticate(ctx context.Context, h http.Header, formClientID string, required bool) (string, error) {
	att, pop := h.Values(HeaderClientAttestation), h.Values(HeaderClientAttestationPoP)
	if len(att) == 0 && len(pop) == 0 {
		if required {
			return "", refusal(CodeInvalidClient, "a wallet attestation is required: send OAuth-Client-Attestation and OAuth-Client-Attestation-PoP")
		}
		return formClientID, nil
	}
	if len(att) != 1 || len(pop) != 1 {
		return "", refusal(CodeInvalidClient, "exactly one OAuth-Client-Attestation and one OAuth-Client-Attestation-PoP header are required")
	}
	id, err := v.Verify(ctx, att[0], pop[0])
	if err != nil {
		return "", err
	}
	if formClientID != "" && formClientID != id {
		return "", refusal(CodeInvalidClient, "client_id is not the attested client")
	}
	return id, nil
}

// Verify checks an attestation and its PoP (draft §5.1, §5.2, §6.2) and returns the client
// identifier. Refusals are *Error invalid_client; other errors are the replay store's.
func (v *AttestationVerifier) Verify(ctx context.Context, attestation, pop string) (string, error) {
	now := v.cfg.Clock.now()
	var ah AttestationHeader
	payload, err := v.verifyJWS(attestation, ClientAttestationType, &ah, func(h AttestationHeader) (jwk.Key, error) {
		return v.cfg.Providers(ctx, h)
	})
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation: "+err.Error())
	}
	var a attestationClaims
	if err := strictJSON(payload, &a); err != nil {
		return "", refusal(CodeInvalidClient, "client attestation: claims are not a JSON object")
	}
	switch {
	case a.Sub == nil || *a.Sub == "" || len(*a.Sub) > 512:
		return "", refusal(CodeInvalidClient, "client attestation: sub (the client_id) is required")
	case a.Exp == nil:
		return "", refusal(CodeInvalidClient, "client attestation: exp is required")
	case a.Cnf == nil || a.Cnf.JWK == nil:
		return "", refusal(CodeInvalidClient, "client attestation: cnf.jwk is required")
	}
	exp, err := numericDate(a.Exp)
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation: exp is not a NumericDate")
	}
	if !now.Before(exp.Add(v.cfg.Leeway)) {
		return "", refusal(CodeInvalidClient, "client attestation: expired")
	}
	instance, err := publicJWK(a.Cnf.JWK)
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation: cnf.jwk: "+err.Error())
	}

	var ph AttestationHeader
	payload, err = v.verifyJWS(pop, ClientAttestationPoPType, &ph, func(AttestationHeader) (jwk.Key, error) { return instance, nil })
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation PoP: "+err.Error())
	}
	var p popClaims
	if err := strictJSON(payload, &p); err != nil {
		return "", refusal(CodeInvalidClient, "client attestation PoP: claims are not a JSON object")
	}
	if p.JTI == nil || *p.JTI == "" || len(*p.JTI) > maxJTILen || p.Iat == nil || p.Aud == nil {
		return "", refusal(CodeInvalidClient, "client attestation PoP: aud, jti and iat are required")
	}
	if p.Iss != nil && *p.Iss != *a.Sub {
		return "", refusal(CodeInvalidClient, "client attestation PoP: iss is not the attestation's sub")
	}
	if !audienceIncludes(p.Aud, v.cfg.Audience) {
		return "", refusal(CodeInvalidClient, "client attestation PoP: aud is not this authorisation server's issuer identifier")
	}
	iat, err := numericDate(p.Iat)
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation PoP: iat is not a NumericDate")
	}
	if iat.Before(now.Add(-v.cfg.MaxAge)) || iat.After(now.Add(v.cfg.Leeway)) {
		return "", refusal(CodeInvalidClient, "client attestation PoP: iat is too old or in the future")
	}
	if p.Exp != nil {
		if e, err := numericDate(p.Exp); err != nil || !now.Before(e.Add(v.cfg.Leeway)) {
			return "", refusal(CodeInvalidClient, "client attestation PoP: expired")
		}
	}
	jkt, err := Thumbprint(instance)
	if err != nil {
		return "", refusal(CodeInvalidClient, "client attestation: cnf.jwk has no thumbprint")
	}
	seen, err := v.cfg.Replay.Seen(ctx, "attestation-pop."+jkt+"."+Hash(*p.JTI), iat.Add(v.cfg.MaxAge))
	if err != nil {
		return "", fmt.Errorf("oauth: attestation: replay store: %w", err)
	}
	if seen {
		return "", refusal(CodeInvalidClient, "client attestation PoP: jti already used")
	}
	return *a.Sub, nil
}

// verifyJWS checks a compact JWS of type typ, with the key key finds from its header, and
// returns its payload.
func (v *AttestationVerifier) verifyJWS(compact, typ string, h *AttestationHeader, key func(AttestationHeader) (jwk.Key, error)) ([]byte, error) {
	if len(compact) > 16<<10 {
		return nil, errors.New("too long")
	}
	if err := protectedHeader(compact, h); err != nil {
		return nil, err
	}
	if !strings.EqualFold(h.Typ, typ) {
		return nil, fmt.Errorf("typ is not %s", typ)
	}
	if !slices.Contains(attestationAlgorithms, h.Alg) {
		return nil, errors.New("alg not supported")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
	if !ok {
		return nil, errors.New("alg not supported")
	}
	k, err := key(*h)
	if err != nil {
		return nil, err
	}
	payload, err := jws.VerifyCompactFast(k, []byte(compact), alg)
	if err != nil {
		return nil, errors.New("signature does not verify")
	}
	return payload, nil
}

// audienceIncludes: aud is a string or an array of strings (RFC 7519 §4.1.3).
func audienceIncludes(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, want)
}
