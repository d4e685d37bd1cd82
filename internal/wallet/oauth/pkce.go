package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// PKCEMethodS256 is the only code_challenge_method accepted: HAIP 1.0 requires S256, and
// RFC 7636 §4.2 leaves "plain" to clients that cannot hash, which a wallet never is.
const PKCEMethodS256 = "S256"

// ValidCodeVerifier reports whether v is a code_verifier per RFC 7636 §4.1: 43 to 128
// characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
func ValidCodeVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !unreserved(v[i]) {
			return false
		}
	}
	return true
}

// ValidCodeChallenge reports whether c can be an S256 code_challenge: the base64url encoding,
// without padding, of a SHA-256 hash, so 43 characters (RFC 7636 §4.2).
func ValidCodeChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// S256Challenge is BASE64URL-ENCODE(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
func S256Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyPKCE checks verifier against the challenge and method stored with the code
// (RFC 7636 §4.6), comparing in constant time. Any method but S256 fails.
func VerifyPKCE(method, challenge, verifier string) bool {
	if method != PKCEMethodS256 || !ValidCodeVerifier(verifier) || !ValidCodeChallenge(challenge) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(S256Challenge(verifier)), []byte(challenge)) == 1
}
