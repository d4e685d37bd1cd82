package oauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// DPoP error codes (RFC 9449 §12.2, registered in the OAuth Extensions Error Registry).
const (
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	CodeUseDPoPNonce     = "use_dpop_nonce"
)

// DPoPType is the JOSE typ of a DPoP proof (RFC 9449 §4.2).
const DPoPType = "dpop+jwt"

// Limits on what a client may send. A proof is a few hundred bytes; these bounds keep the
// work and the replay store's memory per request small.
const (
	maxProofLen = 8 << 10
	maxJTILen   = 256
	minRSABits  = 2048
)

// DefaultDPoPAlgorithms are the asymmetric JWS algorithms accepted when DPoPConfig.Algorithms
// is empty. HAIP 1.0 requires ES256; the others are accepted because RFC 9449 §4.3 only asks
// for an asymmetric algorithm the server supports.
var DefaultDPoPAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512"}

// asymmetricAlgorithms is every algorithm a DPoP proof may ever use: never "none", never a MAC
// (RFC 9449 §4.2: "MUST NOT be none or an identifier for a symmetric algorithm").
var asymmetricAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"}

// DPoPError is a refused proof. At the token endpoint it is sent as a 400 with its JSON body
// (RFC 9449 §5, RFC 6749 §5.2); at a resource server as a 401 with WWWAuthenticate (§7.1).
// When Nonce is set it goes into the DPoP-Nonce response header (§8, §9).
type DPoPError struct {
	Code        string   `json:"error"`
	Description string   `json:"error_description,omitempty"`
	Nonce       string   `json:"-"`
	Algs        []string `json:"-"`
}

func (e *DPoPError) Error() string {
	if e.Code == "" {
		return "dpop: " + e.Description
	}
	return "dpop: " + e.Code + ": " + e.Description
}

// WWWAuthenticate is the value of the WWW-Authenticate header for a resource server's 401
// (RFC 9449 §7.1, with the algs parameter of §7.1 and the error parameters of RFC 6750 §3).
func (e *DPoPError) WWWAuthenticate() string {
	var b strings.Builder
	b.WriteString("DPoP")
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep + name + `="` + quotable(value) + `"`)
		sep = ", "
	}
	if e.Code != "" {
		param("error", e.Code)
	}
	if e.Code != "" && e.Description != "" {
		param("error_description", e.Description)
	}
	if len(e.Algs) > 0 {
		param("algs", strings.Join(e.Algs, " "))
	}
	return b.String()
}

// quotable keeps the characters RFC 6749 §5.2 allows in error_description (%x20-21 / %x23-5B
// / %x5D-7E), so that the value never breaks out of its quoted-string.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// DPoPConfig configures a DPoPVerifier.
type DPoPConfig struct {
	// Algorithms accepted in the proof's alg header; DefaultDPoPAlgorithms when empty.
	Algorithms []string
	// MaxAge is how long after its iat a proof is accepted (RFC 9449 §4.3 point 11, §11.1);
	// 5 minutes when zero. Leeway is how far in the future an iat may be, for clock skew;
	// 30 seconds when zero.
	MaxAge, Leeway time.Duration
	// Replay remembers the jti of accepted proofs (§11.1). Required.
	Replay ReplayStore
	// Nonces, when set, makes a server-provided nonce mandatory in every proof (§8).
	Nonces NonceSource
	Clock  Clock
}

// DPoPVerifier checks DPoP proofs (RFC 9449 §4.3).
type DPoPVerifier struct {
	algs           []string
	maxAge, leeway time.Duration
	replay         ReplayStore
	nonces         NonceSource
	clock          Clock
}

// NewDPoPVerifier checks the configuration: a replay store, and only asymmetric algorithms.
func NewDPoPVerifier(cfg DPoPConfig) (*DPoPVerifier, error) {
	if cfg.Replay == nil {
		return nil, errors.New("dpop: a replay store is required")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultDPoPAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgorithms, a) {
			return nil, fmt.Errorf("dpop: algorithm %q is not an asymmetric signature algorithm", a)
		}
	}
	v := &DPoPVerifier{algs: slices.Clone(algs), maxAge: cfg.MaxAge, leeway: cfg.Leeway, replay: cfg.Replay, nonces: cfg.Nonces, clock: cfg.Clock}
	if v.maxAge <= 0 {
		v.maxAge = 5 * time.Minute
	}
	if v.leeway <= 0 {
		v.leeway = 30 * time.Second
	}
	return v, nil
}

// Algorithms lists the accepted algorithms, for the authorisation server's metadata
// (dpop_signing_alg_values_supported, RFC 9449 §5.1) and the algs parameter.
func (v *DPoPVerifier) Algorithms() []string { return slices.Clone(v.algs) }

// DPoPRequest is what a proof is checked against.
type DPoPRequest struct {
	// Method is the request's HTTP method, compared with htm.
	Method string
	// URL is the absolute URL the client sent the request to (the service's public origin
	// and the request path), compared with htu.
	URL string
	// AccessToken is the token presented with the proof, at a resource server: the proof
	// must then carry its hash in ath (RFC 9449 §4.3 point 12, §7.1).
	AccessToken string
	// JKT, when set, is the thumbprint the access token or the authorisation request is
	// bound to (cnf.jkt, dpop_jkt); the proof's key must have it.
	JKT string
}

// DPoPProof is an accepted proof.
type DPoPProof struct {
	// JKT is the base64url SHA-256 JWK thumbprint (RFC 7638) of the proof's key: the value
	// of cnf.jkt in tokens bound to it (RFC 9449 §6.1).
	JKT       string
	Key       jwk.Key
	Algorithm string
	JTI       string
	IssuedAt  time.Time
	Nonce     string
}

// DPoPHeader returns the request's one DPoP header; none or several is a refusal
// (RFC 9449 §4.3 point 1).
func DPoPHeader(h http.Header) (string, error) {
	values := h.Values("DPoP")
	switch len(values) {
	case 0:
		return "", invalidProof("no DPoP header")
	case 1:
		return values[0], nil
	}
	return "", invalidProof("more than one DPoP header")
}

func invalidProof(description string) *DPoPError {
	return &DPoPError{Code: CodeInvalidDPoPProof, Description: description}
}

type dpopHeader struct {
	Typ string          `json:"typ"`
	Alg string          `json:"alg"`
	JWK json.RawMessage `json:"jwk"`
	// Crit and B64 are refused: a proof has no extension to understand (RFC 7515 §4.1.11)
	// and is never unencoded (RFC 7797).
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

type dpopClaims struct {
	JTI   *string         `json:"jti"`
	HTM   *string         `json:"htm"`
	HTU   *string         `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   *string         `json:"ath"`
	Nonce *string         `json:"nonce"`
}

// privateMembers are the JWK members that carry private or symmetric key material
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// Verify checks proof against req, in the order of RFC 9449 §4.3, and records its jti. The
// error is a *DPoPError, except when the replay store fails.
func (v *DPoPVerifier) Verify(ctx context.Context, proof string, req DPoPRequest) (*DPoPProof, error) {
	if len(proof) > maxProofLen {
		return nil, v.refuse("proof too long")
	}
	// Point 2: a single well-formed JWS in compact serialisation.
	var h dpopHeader
	if err := protectedHeader(proof, &h); err != nil {
		return nil, v.refuse(err.Error())
	}
	if h.Crit != nil || h.B64 != nil {
		return nil, v.refuse("crit and b64 are not supported")
	}
	// Point 4: typ. A media type, so compared without regard to case (RFC 7515 §4.1.9).
	if !strings.EqualFold(h.Typ, DPoPType) {
		return nil, v.refuse("typ is not dpop+jwt")
	}
	// Point 5: an asymmetric algorithm this server supports; none and MACs never are.
	if !slices.Contains(v.algs, h.Alg) {
		return nil, v.refuse("alg not supported")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(h.Alg)
	if !ok {
		return nil, v.refuse("alg not supported")
	}
	// Point 7 (checked before the key is used): the jwk is a public key.
	key, err := publicJWK(h.JWK)
	if err != nil {
		return nil, v.refuse(err.Error())
	}
	// Point 6: the signature verifies with that key. VerifyCompactFast also refuses crit and
	// b64 headers, and an alg that does not fit the key (ES256 with a P-384 key).
	payload, err := jws.VerifyCompactFast(key, []byte(proof), alg)
	if err != nil {
		return nil, v.refuse("signature does not verify with jwk")
	}
	// Point 3: the required claims.
	var c dpopClaims
	if err := strictJSON(payload, &c); err != nil {
		return nil, v.refuse("claims are not a JSON object")
	}
	if c.JTI == nil || c.HTM == nil || c.HTU == nil || c.IAT == nil {
		return nil, v.refuse("jti, htm, htu and iat are required")
	}
	if *c.JTI == "" || len(*c.JTI) > maxJTILen {
		return nil, v.refuse("jti is empty or too long")
	}
	iat, err := numericDate(c.IAT)
	if err != nil {
		return nil, v.refuse("iat is not a NumericDate")
	}
	// Point 8: htm, an HTTP method, compared case-sensitively (RFC 9110 §9.1).
	if *c.HTM != req.Method {
		return nil, v.refuse("htm does not match the request method")
	}
	// Point 9: htu, without query and fragment, after normalisation (RFC 3986 §6.2.2, §6.2.3).
	want, err := NormalizeHTU(req.URL)
	if err != nil {
		return nil, fmt.Errorf("dpop: request URL: %w", err)
	}
	got, err := NormalizeHTU(*c.HTU)
	if err != nil || got != want {
		return nil, v.refuse("htu does not match the request URL")
	}
	// Point 10: a server-provided nonce (§8).
	nonce := ""
	if c.Nonce != nil {
		nonce = *c.Nonce
	}
	if v.nonces != nil && (nonce == "" || !v.nonces.CheckNonce(nonce)) {
		fresh, err := v.nonces.NewNonce()
		if err != nil {
			return nil, fmt.Errorf("dpop: nonce: %w", err)
		}
		description := "a nonce is required"
		if nonce != "" {
			description = "the nonce is invalid or expired"
		}
		return nil, &DPoPError{Code: CodeUseDPoPNonce, Description: description, Nonce: fresh, Algs: v.Algorithms()}
	}
	// Point 11: iat within the window.
	now := v.clock.now()
	if iat.Before(now.Add(-v.maxAge)) {
		return nil, v.refuse("iat is too old")
	}
	if iat.After(now.Add(v.leeway)) {
		return nil, v.refuse("iat is in the future")
	}
	jkt, err := Thumbprint(key)
	if err != nil {
		return nil, v.refuse("jwk has no thumbprint")
	}
	// Point 12 and §7.1: bound to the access token presented, and to its key.
	if req.AccessToken != "" {
		if c.ATH == nil {
			return nil, v.refuse("ath is required with an access token")
		}
		if subtle.ConstantTimeCompare([]byte(*c.ATH), []byte(AccessTokenHash(req.AccessToken))) != 1 {
			return nil, v.refuse("ath does not match the access token")
		}
	}
	if req.JKT != "" && subtle.ConstantTimeCompare([]byte(req.JKT), []byte(jkt)) != 1 {
		return nil, v.refuse("the proof's key is not the one the token is bound to")
	}
	// §11.1: a jti is accepted once while its proof could be; scoped by key so that one
	// client cannot spend another's jti values.
	seen, err := v.replay.Seen(ctx, jkt+"."+Hash(*c.JTI), iat.Add(v.maxAge))
	if err != nil {
		return nil, fmt.Errorf("dpop: replay store: %w", err)
	}
	if seen {
		return nil, v.refuse("jti already used")
	}
	return &DPoPProof{JKT: jkt, Key: key, Algorithm: h.Alg, JTI: *c.JTI, IssuedAt: iat, Nonce: nonce}, nil
}

func (v *DPoPVerifier) refuse(description string) *DPoPError {
	e := invalidProof(description)
	e.Algs = v.Algorithms()
	return e
}

// protectedHeader decodes the protected header of a JWS in compact serialisation (RFC 7515
// §7.1) into h, refusing anything else; the signature is the caller's to verify.
func protectedHeader(compact string, h any) error {
	parts := strings.Split(compact, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return errors.New("header is not base64url")
	}
	if err := strictJSON(raw, h); err != nil {
		return errors.New("header is not a JSON object")
	}
	return nil
}

// strictJSON decodes one JSON object and nothing after it.
func strictJSON(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return errors.New("not an object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

// numericDate parses a JSON number of seconds since the epoch (RFC 7519 §2); a string is not one.
func numericDate(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return time.Time{}, errors.New("not a non-negative number")
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || f > 1<<40 {
		return time.Time{}, errors.New("not a NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// publicJWK parses the jwk header: an EC, OKP or RSA public key with no private members
// (RFC 9449 §4.2: "MUST NOT contain a private key"), RSA of at least 2048 bits.
func publicJWK(raw json.RawMessage) (jwk.Key, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("jwk header is required")
	}
	var members map[string]json.RawMessage
	if err := strictJSON(raw, &members); err != nil {
		return nil, errors.New("jwk is not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, errors.New("jwk contains private key material")
		}
	}
	var kty string
	if err := json.Unmarshal(members["kty"], &kty); err != nil || (kty != "EC" && kty != "OKP" && kty != "RSA") {
		return nil, errors.New("jwk is not an EC, OKP or RSA key")
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, errors.New("jwk is not a valid key")
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || private {
		return nil, errors.New("jwk is not a public key")
	}
	if kty == "RSA" {
		var pub rsa.PublicKey
		if err := jwk.Export(key, &pub); err != nil || pub.N == nil || pub.N.BitLen() < minRSABits {
			return nil, errors.New("jwk is an RSA key shorter than 2048 bits")
		}
	}
	return key, nil
}

// Thumbprint is the RFC 7638 JWK SHA-256 thumbprint of key, base64url-encoded: the value of
// cnf.jkt (RFC 9449 §6.1) and of dpop_jkt (§10).
func Thumbprint(key jwk.Key) (string, error) {
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// AccessTokenHash is the ath claim for token: base64url of the SHA-256 of its ASCII octets
// (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
