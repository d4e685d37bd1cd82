package intake

// The forwarding outbox, emergency.forwards, of the cutover relay (docs/operations-cutover.md):
// its rows are inserted with their messages (insertSQL, when Store.Forward is set); the
// forwarding worker (package forward) works them through the functions below, as the
// delivery worker works emergency.deliveries. The two outboxes never share a row or a lock:
// a legacy platform that is down or slow does not touch the PSAP delivery.

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Forward is a message to forward, as its operator sent it.
type Forward struct {
	ID          string // the message's: the legacy platform deduplicates on it
	Attempt     int    // the attempt now leased, 1 for the first
	ExpiresAt   time.Time
	ReceivedAt  time.Time
	ContentType string // the media type the operator sent
	Raw         []byte // the bytes the operator sent; nil once purged
	Device      string // the caller's number as socle read it, E.164 with '+'
	Number      string // the emergency number socle routed by
}

// claimForwardsSQL leases up to $1 forwarding rows due now for $2 and counts their attempt,
// as claimSQL does for deliveries.
const claimForwardsSQL = `
UPDATE emergency.forwards f SET due_at = now() + $2::interval, attempts = f.attempts + 1
FROM emergency.aml_messages m
WHERE f.message_id IN (
	SELECT message_id FROM emergency.forwards
	WHERE state = 'pending' AND due_at <= now()
	ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
  AND m.id = f.message_id
RETURNING f.message_id::text, f.attempts, f.expires_at, m.received_at, m.content_type, m.raw,
	coalesce(m.device_number, ''), coalesce(m.emergency_number, '')`

// ClaimForwards takes up to n forwarding rows that are due, leases them for lease and
// counts their attempt, in one statement.
func ClaimForwards(ctx context.Context, pool *pgxpool.Pool, n int, lease time.Duration) ([]Forward, error) {
	rows, err := pool.Query(ctx, claimForwardsSQL, n, lease)
	if err != nil {
		return nil, err
	}
	var out []Forward
	var f Forward
	_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.Attempt, &f.ExpiresAt, &f.ReceivedAt, &f.ContentType, &f.Raw,
		&f.Device, &f.Number}, func() error {
		out = append(out, f)
		f = Forward{}
		return nil
	})
	return out, err
}

// Forwarded is the legacy platform's acknowledgement of a message.
type Forwarded struct {
	MessageID  string
	At         time.Time
	HTTPStatus int
}

// MarkForwarded records acknowledgements in one statement.
func MarkForwarded(ctx context.Context, pool *pgxpool.Pool, acks []Forwarded) error {
	n := len(acks)
	ids, ats, statuses := make([]string, n), make([]time.Time, n), make([]int32, n)
	for i, a := range acks {
		ids[i], ats[i], statuses[i] = a.MessageID, a.At, int32(a.HTTPStatus)
	}
	_, err := pool.Exec(ctx, `
		UPDATE emergency.forwards f SET state = 'forwarded', forwarded_at = a.at, http_status = a.status, last_error = NULL
		FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS a(id, at, status)
		WHERE f.message_id = a.id AND f.state = 'pending'`, ids, ats, statuses)
	return err
}

// RescheduleForward records a failed attempt and makes the row due again after backoff,
// never later than its expiry.
func RescheduleForward(ctx context.Context, pool *pgxpool.Pool, id, reason string, status int, backoff time.Duration) error {
	_, err := pool.Exec(ctx, `UPDATE emergency.forwards SET due_at = least(now() + $2::interval, expires_at),
		last_error = $3, http_status = $4 WHERE message_id = $1 AND state = 'pending'`,
		id, backoff, reason, nullableInt(status))
	return err
}

// ExpireForward gives up a row whose message was not forwarded in time. The last attempt's
// error stays on the row; reason is kept when there was none.
func ExpireForward(ctx context.Context, pool *pgxpool.Pool, id, reason string) error {
	_, err := pool.Exec(ctx, `UPDATE emergency.forwards SET state = 'expired', last_error = coalesce(last_error, $2)
		WHERE message_id = $1 AND state = 'pending'`, id, nullable(reason))
	return err
}

// Backlog is what is still to forward: how many messages, and how long ago the oldest of
// them was received (zero when none is).
type Backlog struct {
	Pending int
	Oldest  time.Duration
}

// ForwardBacklog measures the forwarding backlog, by the database's clock.
func ForwardBacklog(ctx context.Context, pool *pgxpool.Pool) (Backlog, error) {
	var b Backlog
	var secs float64
	err := pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(m.received_at)), 0)::float8
		FROM emergency.forwards f JOIN emergency.aml_messages m ON m.id = f.message_id
		WHERE f.state = 'pending'`).Scan(&b.Pending, &secs)
	b.Oldest = time.Duration(secs * float64(time.Second))
	return b, err
}
