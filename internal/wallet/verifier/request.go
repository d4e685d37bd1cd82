package verifier

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Response modes (OpenID4VP 1.0 §8.2, §8.3). HAIP 1.0 asks for direct_post.jwt: the
// presentation travels encrypted to the verifier.
const (
	ModeDirectPost    = "direct_post"
	ModeDirectPostJWT = "direct_post.jwt"
)

// RequestType is the request object's typ (RFC 9101 §10.8, OpenID4VP 1.0 §5).
const RequestType = "oauth-authz-req+jwt"

// SelfIssuedAudience is the aud of a request object sent to a wallet found by static
// discovery (OpenID4VP 1.0 §5.8, SIOPv2 §9).
const SelfIssuedAudience = "https://self-issued.me/v2"

// EncValues are the content encryption algorithms the verifier accepts for direct_post.jwt
// (§8.3: encrypted_response_enc_values_supported; A128GCM is the default when absent, HAIP
// 1.0 §5 adds A256GCM).
var EncValues = []string{"A128GCM", "A256GCM"}

// ClientID is the client identifier of a verifier whose request objects are signed with the
// key of leaf: the prefix x509_hash and the base64url SHA-256 of the certificate's DER
// (OpenID4VP 1.0 §5.9.3; HAIP 1.0 §5.1).
func ClientID(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.Raw)
	return "x509_hash:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Signer signs request objects: the relying party's access certificate (leaf first, then
// its CA) and its private key.
type Signer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// ClientID is the client_id its request objects carry.
func (s Signer) ClientID() string { return ClientID(s.Chain[0]) }

// Request is one presentation request.
type Request struct {
	ResponseURI  string
	ResponseMode string // ModeDirectPost or ModeDirectPostJWT
	Nonce        string // fresh, unguessable: the key binding's nonce (§14.1)
	State        string
	Query        json.RawMessage // the DCQL query, as validated by ParseQuery
	// EncryptionKey is the ephemeral ECDH-ES P-256 key the wallet encrypts to, for
	// direct_post.jwt (§8.3); nil otherwise.
	EncryptionKey *ecdh.PrivateKey
	IssuedAt      time.Time
	Expires       time.Time
	// WalletNonce, when the wallet fetched the request by POST with a wallet_nonce, is
	// returned in the request object (§5.10).
	WalletNonce string
}

// NewEncryptionKey makes an ephemeral key for one direct_post.jwt request.
func NewEncryptionKey() (*ecdh.PrivateKey, error) {
	return ecdh.P256().GenerateKey(rand.Reader)
}

// encryptionJWK is the public half of the request's key, as client_metadata.jwks carries it
// (§8.3: use enc, an alg the wallet uses for key agreement, a kid the JWE names).
func encryptionJWK(k *ecdh.PrivateKey) (jwk.Key, error) {
	pub, err := ecdhToECDSA(k.PublicKey())
	if err != nil {
		return nil, err
	}
	j, err := jwk.Import(pub)
	if err != nil {
		return nil, fmt.Errorf("verifier: encryption key: %w", err)
	}
	thumb, err := j.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	j.Set(jwk.KeyIDKey, base64.RawURLEncoding.EncodeToString(thumb))
	j.Set(jwk.KeyUsageKey, "enc")
	j.Set(jwk.AlgorithmKey, jwa.ECDH_ES())
	return j, nil
}

// ecdhToECDSA turns an ECDH P-256 public key into the ecdsa form JWKs are made of.
func ecdhToECDSA(pub *ecdh.PublicKey) (*ecdsa.PublicKey, error) {
	raw := pub.Bytes() // uncompressed point: 0x04 || X || Y
	if len(raw) != 65 || raw[0] != 4 {
		return nil, errors.New("verifier: not an uncompressed P-256 point")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	if err != nil {
		return nil, fmt.Errorf("verifier: encryption key: %w", err)
	}
	return k, nil
}

// ClientMetadata is the request's client_metadata (§5.1, §11): the formats and algorithms
// the verifier accepts, and for direct_post.jwt the key to encrypt the response to.
func (r Request) ClientMetadata() (map[string]any, error) {
	md := map[string]any{
		// Appendix B.3.4: the algorithms of the issuer-signed JWT and of the KB-JWT; HAIP
		// 1.0 §7 makes ES256 the one everyone supports.
		"vp_formats_supported": map[string]any{FormatSDJWT: map[string]any{
			"sd-jwt_alg_values": []string{"ES256"}, "kb-jwt_alg_values": []string{"ES256"}}},
	}
	if r.ResponseMode == ModeDirectPostJWT {
		if r.EncryptionKey == nil {
			return nil, errors.New("verifier: direct_post.jwt needs an encryption key")
		}
		j, err := encryptionJWK(r.EncryptionKey)
		if err != nil {
			return nil, err
		}
		set := jwk.NewSet()
		set.AddKey(j)
		md["jwks"] = set
		md["encrypted_response_enc_values_supported"] = EncValues
	}
	return md, nil
}

// Sign makes the request object (RFC 9101 §4, OpenID4VP 1.0 §5): a JWT of typ
// oauth-authz-req+jwt signed ES256 by s, with s's chain in x5c (required by the x509_hash
// prefix, §5.9.3), carrying the authorisation request's parameters.
func (s Signer) Sign(r Request) ([]byte, error) {
	if len(s.Chain) == 0 || s.Key == nil {
		return nil, errors.New("verifier: a signer needs a key and its certificate")
	}
	if r.ResponseMode != ModeDirectPost && r.ResponseMode != ModeDirectPostJWT {
		return nil, fmt.Errorf("verifier: response mode %q", r.ResponseMode)
	}
	if u, err := url.Parse(r.ResponseURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("verifier: response_uri %q: an https URL", r.ResponseURI)
	}
	if len(r.Nonce) < 16 || r.State == "" || len(r.Query) == 0 {
		return nil, errors.New("verifier: a request needs a nonce, a state and a query")
	}
	md, err := r.ClientMetadata()
	if err != nil {
		return nil, err
	}
	claims := map[string]any{
		"iss":           s.ClientID(),
		"client_id":     s.ClientID(),
		"aud":           SelfIssuedAudience,
		"response_type": "vp_token",
		"response_mode": r.ResponseMode,
		// §8.2: with direct_post the response goes to response_uri, and redirect_uri
		// must not be there.
		"response_uri":    r.ResponseURI,
		"nonce":           r.Nonce,
		"state":           r.State,
		"dcql_query":      r.Query,
		"client_metadata": md,
		"iat":             r.IssuedAt.Unix(),
		"exp":             r.Expires.Unix(),
	}
	if r.WalletNonce != "" {
		claims["wallet_nonce"] = r.WalletNonce
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("verifier: request object: %w", err)
	}
	var chain cert.Chain
	for _, c := range s.Chain {
		chain.Add([]byte(base64.StdEncoding.EncodeToString(c.Raw)))
	}
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, RequestType)
	h.Set(jws.X509CertChainKey, &chain)
	b, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), s.Key, jws.WithProtectedHeaders(h)))
	if err != nil {
		return nil, fmt.Errorf("verifier: sign the request object: %w", err)
	}
	return b, nil
}

// URI is what the relying party shows as a QR code or a same-device link (§5.7, RFC 9101
// §5.2): the client_id and where to fetch the request object.
func URI(clientID, requestURI string, byPost bool) string {
	v := url.Values{"client_id": {clientID}, "request_uri": {requestURI}}
	if byPost {
		v.Set("request_uri_method", "post")
	}
	return "openid4vp://?" + v.Encode()
}
