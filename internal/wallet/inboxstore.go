package wallet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// inboxStore is wallet.inbox_proofs, inbox_messages and inbox_attachments. Times are given
// by the caller (time.Now in the handlers, any clock in the tests).
type inboxStore struct{ pool *pgxpool.Pool }

var (
	errInboxConflict = errors.New("another message under this id")
	errNoMessage     = errors.New("no such message")
	errNotRegistered = errors.New("not a registered message")
)

// inboxProofYears is how long a proof of delivery is kept after its content is purged: the
// evidence a sender or the citizen may need in a dispute, then no longer personal data kept
// for nothing.
const inboxProofYears = 10

const statusColumns = `p.id, p.sender_message_id, p.nrn, p.registered, p.digest, p.published_at, p.read_at,
	p.acknowledged_at, p.purged_at, m.expires_at FROM wallet.inbox_proofs p LEFT JOIN wallet.inbox_messages m ON m.id = p.id`

// publish keeps a message of sender under its id, with its proof of delivery. The same
// message again (same digest) returns the one kept, created false; another returns it with
// errInboxConflict. Concurrent publications of one id make one message.
func (s inboxStore) publish(ctx context.Context, p Partner, senderID string, m inboxMessage, now time.Time) (inboxStatus, bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return inboxStatus{}, false, fmt.Errorf("wallet: inbox: %w", err)
	}
	defer tx.Rollback(ctx)
	id := uuid.New()
	tag, err := tx.Exec(ctx, `INSERT INTO wallet.inbox_proofs (id, sender, sender_org, sender_message_id, nrn, registered, digest,
		published_at, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (sender, sender_message_id) DO NOTHING`,
		id, p.Consumer, p.Organisation, senderID, m.NRN, m.Registered, m.Digest, now)
	if err != nil {
		return inboxStatus{}, false, fmt.Errorf("wallet: inbox: proof: %w", err)
	}
	if tag.RowsAffected() == 0 {
		tx.Rollback(ctx)
		st, err := s.status(ctx, p.Consumer, senderID)
		if err == nil && st.Digest != m.Digest {
			err = errInboxConflict
		}
		return st, false, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO wallet.inbox_messages (id, subject, body, language, retention_days, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, m.Subject, m.Body, m.Language, m.RetentionDays, now.AddDate(0, 0, m.RetentionDays))
	if err != nil {
		return inboxStatus{}, false, fmt.Errorf("wallet: inbox: message: %w", err)
	}
	for i, a := range m.Attachments {
		_, err = tx.Exec(ctx, `INSERT INTO wallet.inbox_attachments (message_id, position, name, media_type, size, sha256, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, i, a.Name, a.MediaType, a.Size, a.SHA256, a.Content)
		if err != nil {
			return inboxStatus{}, false, fmt.Errorf("wallet: inbox: attachment %d: %w", i, err)
		}
	}
	var st inboxStatus
	if err := tx.QueryRow(ctx, `SELECT `+statusColumns+` WHERE p.id = $1`, id).Scan(statusFields(&st)...); err != nil {
		return st, false, fmt.Errorf("wallet: inbox: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return inboxStatus{}, false, fmt.Errorf("wallet: inbox: commit: %w", err)
	}
	return st, true, nil
}

func statusFields(st *inboxStatus) []any {
	return []any{&st.ID, &st.SenderMessageID, &st.Citizen, &st.Registered, &st.Digest, &st.PublishedAt, &st.ReadAt,
		&st.AcknowledgedAt, &st.PurgedAt, &st.ExpiresAt}
}

// status is the status of sender's message of its id.
func (s inboxStore) status(ctx context.Context, sender, senderID string) (inboxStatus, error) {
	var st inboxStatus
	err := s.pool.QueryRow(ctx, `SELECT `+statusColumns+` WHERE p.sender = $1 AND p.sender_message_id = $2`, sender, senderID).
		Scan(statusFields(&st)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, errNoMessage
	}
	if err != nil {
		return st, fmt.Errorf("wallet: inbox: status: %w", err)
	}
	return st, nil
}

// changes are the statuses of sender's messages changed at or after since, the oldest first.
func (s inboxStore) changes(ctx context.Context, sender string, since time.Time, limit int) ([]inboxStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+statusColumns+` WHERE p.sender = $1 AND p.changed_at >= $2
		ORDER BY p.changed_at, p.id LIMIT $3`, sender, since, limit)
	if err != nil {
		return nil, fmt.Errorf("wallet: inbox: changes: %w", err)
	}
	list := []inboxStatus{}
	for rows.Next() {
		var st inboxStatus
		if err := rows.Scan(statusFields(&st)...); err != nil {
			return nil, err
		}
		list = append(list, st)
	}
	return list, rows.Err()
}

// inboxItem is a message as the citizen sees it.
type inboxItem struct {
	ID             string
	Sender         string // the organisation
	Subject        string
	Body           string
	Language       string
	Registered     bool
	PublishedAt    time.Time
	ReadAt         *time.Time
	AcknowledgedAt *time.Time
	ExpiresAt      time.Time
	Attachments    []inboxAttachment // without their content
}

// ofCitizen lists the messages to a national number not purged, the newest first.
func (s inboxStore) ofCitizen(ctx context.Context, nrn string) ([]inboxItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.id, CASE WHEN p.sender_org <> '' THEN p.sender_org ELSE p.sender END, m.subject, '', m.language,
		p.registered, p.published_at, p.read_at, p.acknowledged_at, m.expires_at
		FROM wallet.inbox_proofs p JOIN wallet.inbox_messages m ON m.id = p.id
		WHERE p.nrn = $1 ORDER BY p.published_at DESC, p.id`, nrn)
	if err != nil {
		return nil, fmt.Errorf("wallet: inbox: %w", err)
	}
	var list []inboxItem
	for rows.Next() {
		var it inboxItem
		if err := rows.Scan(&it.ID, &it.Sender, &it.Subject, &it.Body, &it.Language, &it.Registered, &it.PublishedAt, &it.ReadAt,
			&it.AcknowledgedAt, &it.ExpiresAt); err != nil {
			return nil, err
		}
		list = append(list, it)
	}
	return list, rows.Err()
}

// message is one message to nrn, with its attachments' names, types and sizes. Another
// citizen's, a purged one and an id that is no uuid are errNoMessage alike.
func (s inboxStore) message(ctx context.Context, nrn, id string) (inboxItem, error) {
	var it inboxItem
	if _, err := uuid.Parse(id); err != nil {
		return it, errNoMessage
	}
	err := s.pool.QueryRow(ctx, `SELECT p.id, CASE WHEN p.sender_org <> '' THEN p.sender_org ELSE p.sender END, m.subject, m.body, m.language,
		p.registered, p.published_at, p.read_at, p.acknowledged_at, m.expires_at
		FROM wallet.inbox_proofs p JOIN wallet.inbox_messages m ON m.id = p.id WHERE p.id = $1 AND p.nrn = $2`, id, nrn).
		Scan(&it.ID, &it.Sender, &it.Subject, &it.Body, &it.Language, &it.Registered, &it.PublishedAt, &it.ReadAt,
			&it.AcknowledgedAt, &it.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, errNoMessage
	}
	if err != nil {
		return it, fmt.Errorf("wallet: inbox: message: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT name, media_type, size, sha256 FROM wallet.inbox_attachments WHERE message_id = $1 ORDER BY position`, id)
	if err != nil {
		return it, fmt.Errorf("wallet: inbox: attachments: %w", err)
	}
	for rows.Next() {
		var a inboxAttachment
		if err := rows.Scan(&a.Name, &a.MediaType, &a.Size, &a.SHA256); err != nil {
			return it, err
		}
		it.Attachments = append(it.Attachments, a)
	}
	return it, rows.Err()
}

// attachment is the n-th attachment of a message to nrn, with its content.
func (s inboxStore) attachment(ctx context.Context, nrn, id string, n int) (inboxAttachment, error) {
	var a inboxAttachment
	if _, err := uuid.Parse(id); err != nil {
		return a, errNoMessage
	}
	err := s.pool.QueryRow(ctx, `SELECT a.name, a.media_type, a.size, a.sha256, a.content FROM wallet.inbox_attachments a
		JOIN wallet.inbox_proofs p ON p.id = a.message_id WHERE a.message_id = $1 AND p.nrn = $2 AND a.position = $3`, id, nrn, n).
		Scan(&a.Name, &a.MediaType, &a.Size, &a.SHA256, &a.Content)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, errNoMessage
	}
	if err != nil {
		return a, fmt.Errorf("wallet: inbox: attachment: %w", err)
	}
	return a, nil
}

// markRead records that the citizen opened a message, the first time only.
func (s inboxStore) markRead(ctx context.Context, nrn, id string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE wallet.inbox_proofs SET read_at = $3, changed_at = $3
		WHERE id = $1 AND nrn = $2 AND read_at IS NULL AND purged_at IS NULL`, id, nrn, now)
	if err != nil {
		return fmt.Errorf("wallet: inbox: read: %w", err)
	}
	return nil
}

// acknowledge records the citizen's acknowledgement of a registered message (and that it
// was read, if it was not yet); acknowledging again changes nothing.
func (s inboxStore) acknowledge(ctx context.Context, nrn, id string, now time.Time) error {
	var registered bool
	if _, err := uuid.Parse(id); err != nil {
		return errNoMessage
	}
	err := s.pool.QueryRow(ctx, `UPDATE wallet.inbox_proofs SET acknowledged_at = coalesce(acknowledged_at, $3),
		read_at = coalesce(read_at, $3), changed_at = CASE WHEN acknowledged_at IS NULL THEN $3 ELSE changed_at END
		WHERE id = $1 AND nrn = $2 AND purged_at IS NULL AND registered RETURNING registered`, id, nrn, now).Scan(&registered)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.message(ctx, nrn, id); err != nil {
			return err
		}
		return errNotRegistered
	}
	if err != nil {
		return fmt.Errorf("wallet: inbox: acknowledge: %w", err)
	}
	return nil
}

// unread counts the messages to the citizen of an account not opened yet.
func (s inboxStore) unread(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM wallet.inbox_proofs p JOIN wallet.citizens c ON c.nrn = p.nrn
		WHERE c.user_id = $1 AND p.read_at IS NULL AND p.purged_at IS NULL`, userID).Scan(&n)
	return n, err
}

// purge deletes the content and the attachments of the messages whose retention ended by
// now, and marks their proofs purged; it deletes the proofs purged inboxProofYears ago. It
// returns how many messages it purged.
func (s inboxStore) purge(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `WITH gone AS (DELETE FROM wallet.inbox_messages WHERE expires_at <= $1 RETURNING id)
		UPDATE wallet.inbox_proofs p SET purged_at = $1, changed_at = $1 FROM gone WHERE p.id = gone.id`, now)
	if err != nil {
		return 0, fmt.Errorf("wallet: inbox: purge: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM wallet.inbox_proofs WHERE purged_at < $1`, now.AddDate(-inboxProofYears, 0, 0)); err != nil {
		return 0, fmt.Errorf("wallet: inbox: purge proofs: %w", err)
	}
	return tag.RowsAffected(), nil
}
