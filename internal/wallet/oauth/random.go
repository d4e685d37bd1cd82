package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Clock tells the time; tests inject a fixed one. A nil Clock means time.Now.
type Clock func() time.Time

func (c Clock) now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// randomString returns n bytes from crypto/rand, base64url-encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Hash is the key under which a secret (code, token, nonce) is stored: base64url of its
// SHA-256, so that a leaked store does not hand out usable secrets.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
