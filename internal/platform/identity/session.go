package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// touchEvery spares a database write per request: last_seen_at moves at most once a minute,
// which is precise enough for a 2 h idle limit.
const touchEvery = time.Minute

// tokenLen is the length of a session token: 32 random bytes in unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// sessionID is what the database keeps of a token: its SHA-256.
func sessionID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Login opens a session for u and returns its token (the cookie value) and when it ends at
// the latest. The token is not stored: only its SHA-256 is.
func (s *Store) Login(ctx context.Context, u *User) (token string, expires time.Time, err error) {
	return s.openSession(ctx, u.ID, "")
}

// openSession opens a session for the user, keeping the ID token of a sign-in through the
// OpenID provider (for its logout).
func (s *Store) openSession(ctx context.Context, userID int64, idToken string) (token string, expires time.Time, err error) {
	token = randomToken()
	now := s.now()
	expires = now.Add(SessionLifetime)
	_, err = s.pool.Exec(ctx, `INSERT INTO identity.sessions (id, user_id, created_at, expires_at, last_seen_at, id_token)
		VALUES ($1, $2, $3, $4, $3, nullif($5, ''))`, sessionID(token), userID, now, expires, idToken)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("identity: login: %w", err)
	}
	return token, expires, nil
}

// PendingLifetime is how long a password stays good while its second factor is awaited.
const PendingLifetime = 5 * time.Minute

// openPending opens a session that waits for a second factor: what ("totp", or "enroll" with
// the new secret) is awaited. It gives access to nothing but the second-factor page.
func (s *Store) openPending(ctx context.Context, userID int64, what, secret string) (token string, err error) {
	token = randomToken()
	now := s.now()
	_, err = s.pool.Exec(ctx, `INSERT INTO identity.sessions (id, user_id, created_at, expires_at, last_seen_at, pending, pending_secret)
		VALUES ($1, $2, $3, $4, $3, $5, nullif($6, ''))`, sessionID(token), userID, now, now.Add(PendingLifetime), what, secret)
	if err != nil {
		return "", fmt.Errorf("identity: second factor: %w", err)
	}
	return token, nil
}

// pending is a session waiting for its second factor.
type pending struct {
	user   *User
	what   string // "totp" or "enroll"
	secret string // the secret to confirm, when enrolling
}

// pendingSession returns the pending session of token, if it is alive.
func (s *Store) pendingSession(ctx context.Context, token string) (*pending, error) {
	if len(token) != tokenLen {
		return nil, ErrNoSession
	}
	var p pending
	var userID int64
	err := s.pool.QueryRow(ctx, `SELECT user_id, pending, coalesce(pending_secret, '') FROM identity.sessions
		WHERE id = $1 AND pending IS NOT NULL AND expires_at > $2`, sessionID(token), s.now()).Scan(&userID, &p.what, &p.secret)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("identity: second factor: %w", err)
	}
	if p.user, err = s.userByID(ctx, userID); err != nil || p.user.Disabled {
		return nil, ErrNoSession
	}
	return &p, nil
}

// Logout ends the session of token. Ending a session that does not exist is not an error.
func (s *Store) Logout(ctx context.Context, token string) error {
	_, err := s.endSession(ctx, token)
	return err
}

// endSession ends the session of token and returns the ID token it was opened with, if any.
func (s *Store) endSession(ctx context.Context, token string) (idToken string, err error) {
	if len(token) != tokenLen {
		return "", nil
	}
	err = s.pool.QueryRow(ctx, `DELETE FROM identity.sessions WHERE id = $1 RETURNING coalesce(id_token, '')`, sessionID(token)).Scan(&idToken)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("identity: logout: %w", err)
	}
	return idToken, nil
}

// UserBySession returns the user of a live session: less than 12 h old, used in the last
// 2 h, of an enabled account. Otherwise ErrNoSession. Each call counts as use.
func (s *Store) UserBySession(ctx context.Context, token string) (*User, error) {
	if len(token) != tokenLen {
		return nil, ErrNoSession
	}
	id := sessionID(token)
	var userID int64
	var expires, lastSeen time.Time
	err := s.pool.QueryRow(ctx, `SELECT user_id, expires_at, last_seen_at FROM identity.sessions WHERE id = $1 AND pending IS NULL`, id).
		Scan(&userID, &expires, &lastSeen)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("identity: session: %w", err)
	}
	now := s.now()
	if !now.Before(expires) || !now.Before(lastSeen.Add(SessionIdle)) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM identity.sessions WHERE id = $1`, id); err != nil {
			s.logger.Warn("delete expired session", "user_id", userID, "error", err)
		}
		return nil, ErrNoSession
	}
	u, err := s.userByID(ctx, userID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("identity: session: %w", err)
	}
	if u.Disabled {
		return nil, ErrNoSession
	}
	if now.Sub(lastSeen) >= touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE identity.sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, now); err != nil {
			return nil, fmt.Errorf("identity: session: %w", err)
		}
	}
	return u, nil
}

// PurgeSessions deletes the sessions that have ended (past their 12 h, or idle 2 h) and
// returns how many. Run it now and then; UserBySession never accepts them anyway.
func (s *Store) PurgeSessions(ctx context.Context) (int64, error) {
	now := s.now()
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity.sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
		now, now.Add(-SessionIdle))
	if err != nil {
		return 0, fmt.Errorf("identity: purge sessions: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		s.logger.Debug("sessions purged", "count", n)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM identity.oidc_logins WHERE expires_at <= $1`, now); err != nil {
		return 0, fmt.Errorf("identity: purge sign-ins at the provider: %w", err)
	}
	return tag.RowsAffected(), nil
}
