package wallet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// issuedStore is wallet.issued and wallet.status_lists.
type issuedStore struct{ pool *pgxpool.Pool }

// issuedCredential is a credential the wallet issued.
type issuedCredential struct {
	ID             string
	UserID         int64
	Configuration  string
	VCT            string
	StatusList     int
	StatusIndex    int
	IssuedAt       time.Time
	ExpiresAt      time.Time
	RevokedAt      *time.Time
	NotificationID string
	Notified       string
}

// statusList is the one list credentials are placed in.
const statusList = 1

// record keeps a credential about to be issued by the key kid, at an index of the status list drawn at
// random among the free ones: an index says nothing of when or to whom a credential was
// issued (Token Status List, privacy considerations: unlinkability).
func (s issuedStore) record(ctx context.Context, c issuedCredential, holderJKT, kid string) (issuedCredential, error) {
	var size int
	if err := s.pool.QueryRow(ctx, `SELECT size FROM wallet.status_lists WHERE id = $1`, statusList).Scan(&size); err != nil {
		return c, fmt.Errorf("wallet: status list: %w", err)
	}
	c.ID, c.StatusList, c.NotificationID = uuid.NewString(), statusList, randomToken(16)
	for range 16 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(size)))
		c.StatusIndex = int(n.Int64())
		_, err := s.pool.Exec(ctx, `INSERT INTO wallet.issued (id, user_id, nrn, configuration, vct, holder_jkt, status_list, status_index,
			expires_at, notification_id, kid) SELECT $1, $2, nrn, $3, $4, $5, $6, $7, $8, $9, $10 FROM wallet.citizens WHERE user_id = $2`,
			c.ID, c.UserID, c.Configuration, c.VCT, holderJKT, c.StatusList, c.StatusIndex, c.ExpiresAt, c.NotificationID, kid)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			continue // the index is taken: draw again
		}
		if err != nil {
			return c, fmt.Errorf("wallet: record issued credential: %w", err)
		}
		return c, nil
	}
	return c, errors.New("wallet: the status list is nearly full: open another")
}

// ofUser lists a citizen's credentials, the newest first.
func (s issuedStore) ofUser(ctx context.Context, userID int64) ([]issuedCredential, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, user_id, configuration, vct, status_list, status_index, issued_at, expires_at, revoked_at,
		notification_id, notified FROM wallet.issued WHERE user_id = $1 ORDER BY issued_at DESC`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[issuedCredential])
}

// revoke revokes a citizen's credential; revoking twice changes nothing.
func (s issuedStore) revoke(ctx context.Context, userID int64, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return errNoCredential
	}
	tag, err := s.pool.Exec(ctx, `UPDATE wallet.issued SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("wallet: revoke: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errNoCredential
	}
	return nil
}

var errNoCredential = errors.New("no such credential")

// revokedIndexes are the indexes of a list's revoked credentials, and the list's size.
func (s issuedStore) revokedIndexes(ctx context.Context, list int) (size int, revoked []int, err error) {
	if err = s.pool.QueryRow(ctx, `SELECT size FROM wallet.status_lists WHERE id = $1`, list).Scan(&size); err != nil {
		return 0, nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT status_index FROM wallet.issued WHERE status_list = $1 AND revoked_at IS NOT NULL`, list)
	if err != nil {
		return 0, nil, err
	}
	revoked, err = pgx.CollectRows(rows, pgx.RowTo[int])
	return size, revoked, err
}

// notify records a wallet's notification (§11): credential_accepted, credential_failure,
// credential_deleted.
func (s issuedStore) notify(ctx context.Context, notificationID, event string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE wallet.issued SET notified = $2 WHERE notification_id = $1`, notificationID, event)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errNoCredential
	}
	return nil
}

// issuedGrace is how long the record of an expired credential is kept. Its index of the
// status list is freed with it, and must not be given to another credential while the
// expired one may still be presented, nor while a status list token showing its bit may
// still be cached: past exp, a verifier tolerates a little clock skew (a minute for socle's,
// sdjwt.Verifier), and a token lives statusValidity. Twice that covers both.
const issuedGrace = 2 * statusValidity

// purge deletes the records of the credentials expired for issuedGrace at now: they name a
// citizen, and are of no use once nobody can present the credential (personal data kept no
// longer than needed). It returns how many went.
func (s issuedStore) purge(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM wallet.issued WHERE expires_at < $1`, now.Add(-issuedGrace))
	if err != nil {
		return 0, fmt.Errorf("wallet: purge issued credentials: %w", err)
	}
	return tag.RowsAffected(), nil
}
