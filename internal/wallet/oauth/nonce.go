package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// NonceSource makes and checks the server-provided nonces of RFC 9449 §8 (sent in the
// DPoP-Nonce header, echoed in the proof's nonce claim).
type NonceSource interface {
	NewNonce() (string, error)
	CheckNonce(nonce string) bool
}

// HMACNonces are stateless DPoP nonces: a timestamp and its HMAC-SHA-256 under a server key,
// valid for Lifetime. Instances sharing the key accept each other's nonces. The jti replay
// check, not the nonce, makes a proof single-use; the nonce bounds how early a client could
// have made a proof (§11.2).
type HMACNonces struct {
	key      []byte
	lifetime time.Duration
	clock    Clock
}

var _ NonceSource = (*HMACNonces)(nil)

// NewHMACNonces needs a key of at least 32 random bytes; lifetime is 5 minutes when zero.
func NewHMACNonces(key []byte, lifetime time.Duration, clock Clock) (*HMACNonces, error) {
	if len(key) < 32 {
		return nil, errors.New("dpop nonce: key shorter than 32 bytes")
	}
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	return &HMACNonces{key: append([]byte(nil), key...), lifetime: lifetime, clock: clock}, nil
}

const nonceMACLen = 16

func (n *HMACNonces) mac(stamp []byte) []byte {
	h := hmac.New(sha256.New, n.key)
	h.Write([]byte("socle dpop nonce\x00"))
	h.Write(stamp)
	return h.Sum(nil)[:nonceMACLen]
}

// NewNonce implements NonceSource.
func (n *HMACNonces) NewNonce() (string, error) {
	stamp := binary.BigEndian.AppendUint64(nil, uint64(n.clock.now().Unix()))
	return base64.RawURLEncoding.EncodeToString(append(stamp, n.mac(stamp)...)), nil
}

// CheckNonce implements NonceSource: the MAC holds and the nonce is younger than the lifetime.
func (n *HMACNonces) CheckNonce(nonce string) bool {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceMACLen {
		return false
	}
	if !hmac.Equal(raw[8:], n.mac(raw[:8])) {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[:8])), 0)
	now := n.clock.now()
	return !issued.After(now.Add(time.Second)) && now.Sub(issued) < n.lifetime
}
