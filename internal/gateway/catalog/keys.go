package catalog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A key reads socle_<id>_<secret>: id is 8 random bytes in hex, public, the key's name in
// lists and logs; secret is 32 random bytes in unpadded base64url, known only to its holder.
// Only SHA-256(secret) is stored: with 256 random bits nothing can be guessed, so a slow
// password hash would cost every call and protect nothing more.
const (
	keyPrefix    = "socle_"
	keyIDLen     = 16
	keySecretLen = 43
	keyLen       = len(keyPrefix) + keyIDLen + 1 + keySecretLen
)

// ErrNoSuchKey is a key that is not the catalogue's, or not valid any more.
var ErrNoSuchKey = errors.New("unknown, expired or revoked key")

// LooksLikeKey says whether s has the shape of a socle key (and so is not a JWT).
func LooksLikeKey(s string) bool {
	return len(s) == keyLen && s[:len(keyPrefix)] == keyPrefix && s[len(keyPrefix)+keyIDLen] == '_'
}

// splitKey returns a key's id and secret.
func splitKey(s string) (id, secret string, ok bool) {
	if !LooksLikeKey(s) {
		return "", "", false
	}
	id = s[len(keyPrefix) : len(keyPrefix)+keyIDLen]
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, s[len(keyPrefix)+keyIDLen+1:], true
}

// ConsumerOfKey returns the key a text is, if it is a valid key of the catalogue at now.
func (c *Catalog) ConsumerOfKey(text string, now time.Time) (*Key, error) {
	id, secret, ok := splitKey(text)
	if !ok {
		return nil, ErrNoSuchKey
	}
	k := c.keys[id]
	if k == nil {
		return nil, ErrNoSuchKey
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], k.hash[:]) != 1 || !k.Valid(now) {
		return nil, ErrNoSuchKey
	}
	return k, nil
}

// newKey makes a key's text, id and hash.
func newKey() (text, id string, hash [sha256.Size]byte) {
	var b [8 + 32]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	id = hex.EncodeToString(b[:8])
	secret := base64.RawURLEncoding.EncodeToString(b[8:])
	return keyPrefix + id + "_" + secret, id, sha256.Sum256([]byte(secret))
}

// IssueKey gives consumer a new key, whose text is returned and never stored. With replace,
// the key of that id stops working after overlap (at once with 0): the holder has that long to
// put the new key in place — a rotation without an outage.
func IssueKey(ctx context.Context, pool *pgxpool.Pool, consumer, label, by, replace string, overlap time.Duration) (string, *Key, error) {
	text, id, hash := newKey()
	k := &Key{ID: id, Consumer: consumer, Label: label, CreatedBy: by, hash: hash}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO gateway.keys (id, consumer, hash, label, created_by)
			SELECT $1, name, $3, $4, $5 FROM gateway.consumers WHERE name = $2 RETURNING created_at`,
			id, consumer, hash[:], label, by).Scan(&k.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no consumer %q", consumer)
		}
		if err != nil || replace == "" {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE gateway.keys SET expires_at = LEAST(coalesce(expires_at, 'infinity'), now() + $3 * interval '1 microsecond')
			WHERE id = $1 AND consumer = $2 AND revoked_at IS NULL`, replace, consumer, overlap.Microseconds())
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("consumer %q has no key %q in use to replace", consumer, replace)
		}
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("catalog: issue key: %w", err)
	}
	return text, k, nil
}

// RevokeKey stops a key at once.
func RevokeKey(ctx context.Context, pool *pgxpool.Pool, consumer, id string) error {
	tag, err := pool.Exec(ctx, `UPDATE gateway.keys SET revoked_at = now() WHERE id = $1 AND consumer = $2 AND revoked_at IS NULL`, id, consumer)
	if err != nil {
		return fmt.Errorf("catalog: revoke key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("catalog: revoke key: consumer %q has no key %q in use", consumer, id)
	}
	return nil
}
