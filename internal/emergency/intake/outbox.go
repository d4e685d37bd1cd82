package intake

// The outbox, emergency.deliveries: its rows are inserted with their messages (insertSQL);
// the delivery worker works them through the functions below and holds no SQL of its own.

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Fix is what a stored message says of the caller and of the handset's position: what a
// PSAP's PIDF-LO and the answer to a location query are made of.
type Fix struct {
	ID         string // the message's
	ReceivedAt time.Time
	Device     string // the caller's number, E.164 with its '+'
	Number     string // the emergency number dialled
	Lat, Lon   float64
	Accuracy   *float64
	Confidence *int
	LocatedAt  *time.Time
	Source     *string
	IMEI       *string
}

// Due is an outbox row taken by ClaimDue, with its message's fix.
type Due struct {
	Fix
	Attempt   int // the attempt now leased, counted by the claim: 1 for the first
	ExpiresAt time.Time
}

// claimSQL leases up to $1 rows due now for $2 and counts their attempt. SKIP LOCKED lets
// several workers and nodes claim at once without waiting for each other.
const claimSQL = `
UPDATE emergency.deliveries d SET due_at = now() + $2::interval, attempts = d.attempts + 1
FROM emergency.aml_messages m
WHERE d.message_id IN (
	SELECT message_id FROM emergency.deliveries
	WHERE state = 'pending' AND due_at <= now()
	ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
  AND m.id = d.message_id
RETURNING d.message_id, d.attempts, d.expires_at, m.received_at, coalesce(m.device_number, ''),
	coalesce(m.emergency_number, ''), coalesce(m.latitude, 'NaN'), coalesce(m.longitude, 'NaN'),
	m.accuracy_m, m.confidence_pct, m.located_at, m.location_source, m.imei`

// ClaimDue takes up to n pending outbox rows that are due, leases them for lease (they are
// due again then, so that another worker takes over should this one die) and counts their
// attempt, in one statement. It returns them with their messages' fixes.
func ClaimDue(ctx context.Context, pool *pgxpool.Pool, n int, lease time.Duration) ([]Due, error) {
	rows, err := pool.Query(ctx, claimSQL, n, lease)
	if err != nil {
		return nil, err
	}
	var due []Due
	var d Due
	_, err = pgx.ForEachRow(rows, []any{&d.ID, &d.Attempt, &d.ExpiresAt, &d.ReceivedAt, &d.Device, &d.Number,
		&d.Lat, &d.Lon, &d.Accuracy, &d.Confidence, &d.LocatedAt, &d.Source, &d.IMEI}, func() error {
		due = append(due, d)
		d = Due{}
		return nil
	})
	return due, err
}

// Delivered is a PSAP's acknowledgement of a message, for MarkDelivered.
type Delivered struct {
	MessageID     string
	At            time.Time // when the PSAP answered
	HTTPStatus    int
	PSAP          string
	RoutingNumber string
	Commune       string // empty: unknown
	Route         string // how the PSAP was chosen: "pdaau", or "fallback: " and why
	// Counted: ClaimDue counted this attempt. The fast path (a row leased at insertion)
	// skips the claim, so its attempt is counted here.
	Counted bool
}

// MarkDelivered records acknowledgements, all in one statement: under load the worker
// records its acknowledgements in groups, and one statement marks many rows.
func MarkDelivered(ctx context.Context, pool *pgxpool.Pool, acks []Delivered) error {
	n := len(acks)
	ids, ats, statuses, incs := make([]string, n), make([]time.Time, n), make([]int32, n), make([]int32, n)
	psaps, numbers, communes, routes := make([]string, n), make([]string, n), make([]*string, n), make([]string, n)
	for i, a := range acks {
		ids[i], ats[i], statuses[i], incs[i] = a.MessageID, a.At, int32(a.HTTPStatus), uncounted(a.Counted)
		psaps[i], numbers[i], communes[i], routes[i] = a.PSAP, a.RoutingNumber, nullable(a.Commune), a.Route
	}
	_, err := pool.Exec(ctx, `
		UPDATE emergency.deliveries d SET state = 'delivered', delivered_at = a.at, http_status = a.status,
			psap_id = a.psap, routing_number = a.number, commune = a.commune, route = a.route, last_error = NULL,
			attempts = d.attempts + a.inc
		FROM unnest($1::uuid[], $2::timestamptz[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[])
			AS a(id, at, status, psap, number, commune, route, inc)
		WHERE d.message_id = a.id`, ids, ats, statuses, psaps, numbers, communes, routes, incs)
	return err
}

// Failed is an attempt that did not deliver a message, for Reschedule.
type Failed struct {
	MessageID  string
	Reason     string
	HTTPStatus int // 0: no answer
	// Where the message was routed; empty: no route was found.
	PSAP, RoutingNumber, Commune string
	Counted                      bool // as in Delivered
}

// Reschedule records a failed attempt on a pending row and makes it due again after
// backoff, never later than its expiry (so that the expiry is noticed when it comes).
func Reschedule(ctx context.Context, pool *pgxpool.Pool, f Failed, backoff time.Duration) error {
	_, err := pool.Exec(ctx, `UPDATE emergency.deliveries SET due_at = least(now() + $2::interval, expires_at),
		last_error = $3, http_status = $4, psap_id = $5, routing_number = $6, commune = $7, attempts = attempts + $8
		WHERE message_id = $1 AND state = 'pending'`,
		f.MessageID, backoff, f.Reason, nullableInt(f.HTTPStatus), nullable(f.PSAP), nullable(f.RoutingNumber),
		nullable(f.Commune), uncounted(f.Counted))
	return err
}

// Release hands back rows leased to this node that it will not deliver (it is stopping with
// them still queued): due now, another node's poller takes them at its next poll instead of
// when the lease lapses, up to SOCLE_EMERGENCY_DELIVERY_LEASE later.
func Release(ctx context.Context, pool *pgxpool.Pool, messageIDs []string) error {
	_, err := pool.Exec(ctx, `UPDATE emergency.deliveries SET due_at = now()
		WHERE message_id = ANY($1::uuid[]) AND state = 'pending'`, messageIDs)
	return err
}

// Expire gives up a pending row whose message was not delivered in time.
func Expire(ctx context.Context, pool *pgxpool.Pool, messageID string) error {
	_, err := pool.Exec(ctx, `UPDATE emergency.deliveries SET state = 'expired' WHERE message_id = $1 AND state = 'pending'`, messageID)
	return err
}

// uncounted is what recording an attempt adds to the row's count.
func uncounted(counted bool) int32 {
	if counted {
		return 0
	}
	return 1
}

func nullableInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
