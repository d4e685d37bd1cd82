package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/wallet/oauth"
)

// stateStore keeps the authorisation server's state in wallet.oauth_state, so that a wallet
// may redeem at one replica what another gave it. It implements the oauth package's stores.
type stateStore struct{ pool *pgxpool.Pool }

func (s stateStore) save(ctx context.Context, kind, key string, v any, expires time.Time) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO wallet.oauth_state (kind, key, value, expires_at) VALUES ($1, $2, $3, $4)`, kind, key, b, expires)
	if err != nil {
		return fmt.Errorf("wallet: save %s: %w", kind, err)
	}
	return nil
}

// take removes and returns a row that has not expired; false when there is none.
func (s stateStore) take(ctx context.Context, kind, key string, v any) (bool, error) {
	var b []byte
	var live bool
	err := s.pool.QueryRow(ctx, `DELETE FROM wallet.oauth_state WHERE kind = $1 AND key = $2 RETURNING value, expires_at > now()`,
		kind, key).Scan(&b, &live)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !live {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("wallet: take %s: %w", kind, err)
	}
	return true, json.Unmarshal(b, v)
}

func (s stateStore) SavePushed(ctx context.Context, key string, req oauth.AuthorizationRequest) error {
	return s.save(ctx, "par", key, req, req.ExpiresAt)
}

func (s stateStore) TakePushed(ctx context.Context, key string) (*oauth.AuthorizationRequest, error) {
	var r oauth.AuthorizationRequest
	ok, err := s.take(ctx, "par", key, &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

func (s stateStore) SaveCode(ctx context.Context, key string, code oauth.AuthorizationCode) error {
	return s.save(ctx, "code", key, code, code.ExpiresAt)
}

func (s stateStore) TakeCode(ctx context.Context, key string) (*oauth.AuthorizationCode, error) {
	var c oauth.AuthorizationCode
	ok, err := s.take(ctx, "code", key, &c)
	if !ok || err != nil {
		return nil, err
	}
	return &c, nil
}

func (s stateStore) SavePreAuthorized(ctx context.Context, key string, g oauth.PreAuthorizedGrant) error {
	return s.save(ctx, "preauth", key, g, g.ExpiresAt)
}

// AttemptPreAuthorized counts one more redemption, in the row, before the grant is checked:
// parallel guesses of the transaction code on several replicas all count.
func (s stateStore) AttemptPreAuthorized(ctx context.Context, key string) (*oauth.PreAuthorizedGrant, error) {
	var b []byte
	var attempts int
	err := s.pool.QueryRow(ctx, `UPDATE wallet.oauth_state SET attempts = attempts + 1 WHERE kind = 'preauth' AND key = $1
		RETURNING value, attempts`, key).Scan(&b, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: pre-authorised code: %w", err)
	}
	var g oauth.PreAuthorizedGrant
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, err
	}
	g.Attempts = attempts
	return &g, nil
}

func (s stateStore) DeletePreAuthorized(ctx context.Context, key string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM wallet.oauth_state WHERE kind = 'preauth' AND key = $1`, key)
	return tag.RowsAffected() > 0, err
}

func (s stateStore) SaveToken(ctx context.Context, key string, t oauth.AccessToken) error {
	return s.save(ctx, "token", key, t, t.ExpiresAt)
}

func (s stateStore) Token(ctx context.Context, key string) (*oauth.AccessToken, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM wallet.oauth_state WHERE kind = 'token' AND key = $1 AND expires_at > now()`, key).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: token: %w", err)
	}
	var t oauth.AccessToken
	return &t, json.Unmarshal(b, &t)
}

func (s stateStore) SaveCNonce(ctx context.Context, key string, expires time.Time) error {
	return s.save(ctx, "cnonce", key, struct{}{}, expires)
}

func (s stateStore) TakeCNonce(ctx context.Context, key string) (time.Time, bool, error) {
	var expires time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM wallet.oauth_state WHERE kind = 'cnonce' AND key = $1 RETURNING expires_at`, key).Scan(&expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("wallet: c_nonce: %w", err)
	}
	return expires, true, nil
}

// Seen implements oauth.ReplayStore: a DPoP proof's id, recorded until it could no longer be
// accepted; a second sighting on any replica is a replay.
func (s stateStore) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO wallet.oauth_state (kind, key, expires_at) VALUES ('jti', $1, $2)
		ON CONFLICT (kind, key) DO UPDATE SET expires_at = excluded.expires_at WHERE wallet.oauth_state.expires_at <= now()`,
		key, until)
	if err != nil {
		return false, fmt.Errorf("wallet: DPoP replay: %w", err)
	}
	return tag.RowsAffected() == 0, nil
}

// purge deletes what has expired.
func (s stateStore) purge(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM wallet.oauth_state WHERE expires_at < now() - interval '1 minute'`)
	if err == nil {
		_, err = s.pool.Exec(ctx, `DELETE FROM wallet.offers WHERE expires_at < now() - interval '1 minute'`)
	}
	return err
}

// Client implements oauth.Clients from wallet.clients.
func (s stateStore) Client(ctx context.Context, id string) (*oauth.Client, error) {
	c := oauth.Client{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT redirect_uris FROM wallet.clients WHERE id = $1`, id).Scan(&c.RedirectURIs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}
