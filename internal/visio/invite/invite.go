// Package invite makes and checks the invitation links an agent copies from a room for its
// guests: /visio/{room}?invite=CODE, where the code names the room and an expiry and is
// signed by socle (HMAC-SHA256, RFC 2104) so that nobody can forge one or stretch it to
// another room or a later date.
package invite

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors a refused code wraps.
var (
	ErrInvalid = errors.New("invite: not a valid invitation")
	ErrExpired = errors.New("invite: the invitation has expired")
	ErrRoom    = errors.New("invite: the invitation is for another room")
)

// MinKeySize is the shortest signing key accepted, in bytes.
const MinKeySize = 32

// Signer makes and checks codes with one key.
type Signer struct{ key []byte }

// New returns a Signer; the key must be at least MinKeySize random bytes.
func New(key []byte) (*Signer, error) {
	if len(key) < MinKeySize {
		return nil, fmt.Errorf("invite: the signing key has %d bytes, want at least %d", len(key), MinKeySize)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Code is the invitation to room valid until expires (to the second).
func (s *Signer) Code(room string, expires time.Time) string {
	body := make([]byte, 8, 8+len(room))
	binary.BigEndian.PutUint64(body, uint64(expires.Unix()))
	body = append(body, strings.ToLower(room)...)
	return base64.RawURLEncoding.EncodeToString(append(body, s.mac(body)...))
}

// Check verifies a code for room at now and returns when it expires.
func (s *Signer) Check(code, room string, now time.Time) (time.Time, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(code)
	if err != nil || len(b) < 8+sha256.Size {
		return time.Time{}, ErrInvalid
	}
	body, mac := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if !hmac.Equal(mac, s.mac(body)) {
		return time.Time{}, ErrInvalid
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[:8])), 0)
	// Jitsi and socle compare room names in lower case.
	if string(body[8:]) != strings.ToLower(room) {
		return expires, ErrRoom
	}
	if !now.Before(expires) {
		return expires, fmt.Errorf("%w on %s", ErrExpired, expires.UTC().Format(time.RFC3339))
	}
	return expires, nil
}

func (s *Signer) mac(body []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("socle visio invite v1\x00")) // domain separation from any other use of the key
	h.Write(body)
	return h.Sum(nil)
}
