package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Personal access tokens: what scripts and other tools use to act as a person on socle's
// APIs — `Authorization: Bearer socle_pat_…` (RFC 6750 §2.1) — where a browser uses its
// session cookie. A token is made by `socle user token`, shown once, stored as its SHA-256,
// good until it expires or is revoked, and never accepted for a disabled person.

// TokenPrefix starts every personal access token, so that a leaked one is recognised (by a
// secret scanner, say) and never mistaken for another credential.
const TokenPrefix = "socle_pat_"

// ErrNoToken is a bearer token socle does not accept: unknown, expired, revoked, or its
// person disabled.
var ErrNoToken = errors.New("identity: no such personal access token")

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// NewToken makes a personal access token for the person of userID, named (what it is for),
// good for ttl; it returns the token, which is not kept.
func (s *Store) NewToken(ctx context.Context, userID int64, name string, ttl time.Duration) (string, error) {
	if name = strings.TrimSpace(name); name == "" || len(name) > 200 {
		return "", errors.New("identity: a token's name is 1 to 200 characters")
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return "", errors.New("identity: a token is good for a day to a year")
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	if _, err := s.pool.Exec(ctx, `INSERT INTO identity.tokens (user_id, hash, name, expires_at) VALUES ($1, $2, $3, $4)`,
		userID, tokenHash(token), name, s.now().Add(ttl)); err != nil {
		return "", fmt.Errorf("identity: token: %w", err)
	}
	return token, nil
}

// UserByToken is the person a personal access token acts for.
func (s *Store) UserByToken(ctx context.Context, token string) (*User, error) {
	if !strings.HasPrefix(token, TokenPrefix) || len(token) > 100 {
		return nil, ErrNoToken
	}
	var userID int64
	// last_used_at is written at most once a minute: a script's calls are not each a write.
	err := s.pool.QueryRow(ctx, `WITH t AS (
			SELECT id, user_id, last_used_at FROM identity.tokens WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2),
		used AS (
			UPDATE identity.tokens SET last_used_at = $2 FROM t
			WHERE tokens.id = t.id AND (t.last_used_at IS NULL OR t.last_used_at < $2 - interval '1 minute'))
		SELECT user_id FROM t`, tokenHash(token), s.now()).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	u, err := s.userByID(ctx, userID)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && u.Disabled {
		return nil, ErrNoToken
	}
	if err != nil {
		return nil, fmt.Errorf("identity: token: %w", err)
	}
	return u, nil
}

// RevokeTokens revokes the person's tokens of that name (every one when name is empty), and
// says how many.
func (s *Store) RevokeTokens(ctx context.Context, userID int64, name string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE identity.tokens SET revoked_at = $3
		WHERE user_id = $1 AND ($2 = '' OR name = $2) AND revoked_at IS NULL`, userID, name, s.now())
	if err != nil {
		return 0, fmt.Errorf("identity: revoke tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}

// bearer is the personal access token of an Authorization header, if it carries one.
func bearer(r *http.Request) (string, bool) {
	scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, strings.HasPrefix(v, TokenPrefix)
}
