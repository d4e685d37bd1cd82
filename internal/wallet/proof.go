package wallet

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// proofType is the typ of a proof of possession (OpenID4VCI 1.0 Appendix F.1).
const proofType = "openid4vci-proof+jwt"

// proofWindow is how far a proof's iat may be from now.
const proofWindow = 5 * time.Minute

// errInvalidProof and errInvalidNonce are the credential endpoint's errors (§8.3.1.2).
var (
	errInvalidProof = errors.New("invalid_proof")
	errInvalidNonce = errors.New("invalid_nonce")
)

// proof is a checked proof: the holder's public key, to bind the credential to, and the
// nonce it signed.
type proof struct {
	key   crypto.PublicKey
	jwk   jwk.Key
	nonce string
}

// checkProof verifies a proof JWT (Appendix F.1, and F.4's verification): typ, an asymmetric
// HAIP algorithm, the key in the jwk header (a public key: a private one would be a leak the
// wallet must not be rewarded for), signed by that key, aud the credential issuer, iat
// recent. The nonce is returned for the caller to check against the ones it gave.
func checkProof(raw, issuer string, now time.Time) (proof, error) {
	msg, err := jws.Parse([]byte(raw))
	if err != nil || len(msg.Signatures()) != 1 {
		return proof{}, fmt.Errorf("%w: not a JWS of one signature", errInvalidProof)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != proofType {
		return proof{}, fmt.Errorf("%w: typ %q, want %s", errInvalidProof, typ, proofType)
	}
	alg, _ := h.Algorithm()
	if alg != jwa.ES256() {
		return proof{}, fmt.Errorf("%w: alg %s, want ES256", errInvalidProof, alg)
	}
	key, ok := h.JWK()
	if !ok {
		return proof{}, fmt.Errorf("%w: no jwk header: the proof must carry the key the credential is bound to", errInvalidProof)
	}
	switch key.(type) {
	case jwk.ECDSAPrivateKey, jwk.RSAPrivateKey, jwk.OKPPrivateKey, jwk.SymmetricKey:
		return proof{}, fmt.Errorf("%w: the jwk header holds a private or symmetric key", errInvalidProof)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return proof{}, fmt.Errorf("%w: jwk: %v", errInvalidProof, err)
	}
	tok, err := jwt.Parse([]byte(raw), jwt.WithKey(jwa.ES256(), pub), jwt.WithValidate(true),
		jwt.WithAudience(issuer), jwt.WithAcceptableSkew(proofWindow), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		return proof{}, fmt.Errorf("%w: %v", errInvalidProof, err)
	}
	iat, ok := tok.IssuedAt()
	if !ok || iat.Before(now.Add(-proofWindow)) || iat.After(now.Add(proofWindow)) {
		return proof{}, fmt.Errorf("%w: iat missing or more than %v from now", errInvalidProof, proofWindow)
	}
	var nonce string
	tok.Get("nonce", &nonce)
	if nonce == "" {
		return proof{}, fmt.Errorf("%w: no nonce: ask the nonce endpoint for one", errInvalidNonce)
	}
	var raw2 any
	if err := jwk.Export(pub, &raw2); err != nil {
		return proof{}, fmt.Errorf("%w: %v", errInvalidProof, err)
	}
	return proof{key: raw2, jwk: pub, nonce: nonce}, nil
}
