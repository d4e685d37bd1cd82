package sdjwt

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// DefaultAlgorithms are the JWS algorithms a Verifier accepts when told none: ES256, which
// HAIP requires, its larger siblings and EdDSA. Symmetric algorithms and "none" are never
// accepted (RFC 9901 §7.1 step 2.2, §7.3 step 5).
var DefaultAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "Ed25519"}

// asymmetric lists every algorithm this package will sign or verify with.
var asymmetric = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "Ed25519": true,
	"PS256": true, "PS384": true, "PS512": true, "RS256": true, "RS384": true, "RS512": true,
}

func algorithm(name string) (jwa.SignatureAlgorithm, error) {
	if !asymmetric[name] {
		return jwa.EmptySignatureAlgorithm(), fmt.Errorf("%w: %q", ErrAlgorithm, name)
	}
	a, ok := jwa.LookupSignatureAlgorithm(name)
	if !ok {
		return jwa.EmptySignatureAlgorithm(), fmt.Errorf("%w: %q", ErrAlgorithm, name)
	}
	return a, nil
}

// header holds the JOSE header members this package reads or writes.
type header struct {
	Alg string
	Typ string
	Kid string
	X5C []*x509.Certificate
	Raw map[string]any
}

// signJWT signs payload as a compact JWS with the given protected header members.
func signJWT(key crypto.Signer, alg string, h header, payload []byte) (string, error) {
	a, err := algorithm(alg)
	if err != nil {
		return "", err
	}
	hs := jws.NewHeaders()
	if h.Typ != "" {
		if err := hs.Set(jws.TypeKey, h.Typ); err != nil {
			return "", err
		}
	}
	if h.Kid != "" {
		if err := hs.Set(jws.KeyIDKey, h.Kid); err != nil {
			return "", err
		}
	}
	if len(h.X5C) > 0 {
		var chain cert.Chain
		for _, c := range h.X5C {
			if err := chain.Add([]byte(base64.StdEncoding.EncodeToString(c.Raw))); err != nil {
				return "", fmt.Errorf("sdjwt: x5c: %w", err)
			}
		}
		if err := hs.Set(jws.X509CertChainKey, &chain); err != nil {
			return "", err
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(a, key, jws.WithProtectedHeaders(hs)))
	if err != nil {
		return "", fmt.Errorf("sdjwt: sign: %w", err)
	}
	return string(out), nil
}

// parseJWT decodes a compact JWS's header and payload without checking the signature.
func parseJWT(compact string) (header, map[string]any, error) {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return header{}, nil, fmt.Errorf("%w: a compact JWS has three parts", ErrMalformed)
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return header{}, nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h header
	if err := decodeJSON(hb, &h.Raw); err != nil || h.Raw == nil {
		return header{}, nil, fmt.Errorf("%w: header is not a JSON object", ErrMalformed)
	}
	var ok bool
	if h.Alg, ok = h.Raw["alg"].(string); !ok {
		return header{}, nil, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	h.Typ, _ = h.Raw["typ"].(string)
	h.Kid, _ = h.Raw["kid"].(string)
	if x, present := h.Raw["x5c"]; present {
		list, ok := x.([]any)
		if !ok || len(list) == 0 {
			return header{}, nil, fmt.Errorf("%w: x5c is not a non-empty array", ErrMalformed)
		}
		for _, e := range list {
			s, _ := e.(string)
			der, err := base64.StdEncoding.DecodeString(s) // RFC 7515 §4.1.6: base64, not base64url
			if err != nil {
				return header{}, nil, fmt.Errorf("%w: x5c: %v", ErrMalformed, err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return header{}, nil, fmt.Errorf("%w: x5c: %v", ErrMalformed, err)
			}
			h.X5C = append(h.X5C, c)
		}
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return header{}, nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var payload map[string]any
	if err := decodeJSON(pb, &payload); err != nil || payload == nil {
		return header{}, nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	return h, payload, nil
}

// verifyJWT checks a compact JWS's signature with key, under alg, which must be the
// header's and in allowed.
func verifyJWT(compact string, h header, key any, allowed []string) error {
	if h.Alg == "none" || !slices.Contains(allowed, h.Alg) {
		return fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	a, err := algorithm(h.Alg)
	if err != nil {
		return err
	}
	if _, err := jws.Verify([]byte(compact), jws.WithKey(a, key)); err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return nil
}

// publicJWK encodes a public key as a JWK object for cnf (RFC 7800 §3.2).
func publicJWK(pub crypto.PublicKey) (map[string]any, error) {
	k, err := jwk.PublicKeyOf(pub)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: holder key: %w", err)
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: holder key: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}
