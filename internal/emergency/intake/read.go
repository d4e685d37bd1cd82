package intake

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Report is what an operator may learn of a message it sent: how it was judged, and what
// became of its delivery. Its JSON is the answer to GET /emergency/v1/aml/{id}.
type Report struct {
	ID         string          `json:"id"`
	ReceivedAt time.Time       `json:"received_at"`
	Status     string          `json:"status"`
	Repeats    int             `json:"repeats"`  // times it was sent again
	Findings   json.RawMessage `json:"findings"` // as stored: a JSON array of aml.Finding
	Purged     bool            `json:"purged"`   // its personal data were erased after the retention period
	// Delivery is nil when the message never entered the outbox.
	Delivery *DeliveryReport `json:"delivery,omitempty"`
}

// DeliveryReport is the state of a message's outbox row.
type DeliveryReport struct {
	State       string     `json:"state"` // pending, delivered or expired
	Attempts    int        `json:"attempts"`
	PSAP        *string    `json:"psap,omitempty"`
	Route       *string    `json:"route,omitempty"`
	LastError   *string    `json:"last_error,omitempty"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
}

// MessageStatus reports on the message id sent by the operator operatorID. Both tables are
// read in one statement, so the message and its delivery are seen at the same instant. A
// message of another operator is reported as unknown (false), as an id that does not exist:
// an operator may not even learn that another's message exists.
func MessageStatus(ctx context.Context, pool *pgxpool.Pool, operatorID, id string) (Report, bool, error) {
	var r Report
	var d DeliveryReport
	var state *string
	err := pool.QueryRow(ctx, `
		SELECT m.id::text, m.received_at, m.status, m.repeats, m.findings, m.purged_at IS NOT NULL,
			d.state, coalesce(d.attempts, 0), d.psap_id, d.route, d.last_error, d.delivered_at
		FROM emergency.aml_messages m LEFT JOIN emergency.deliveries d ON d.message_id = m.id
		WHERE m.id::text = $1 AND m.operator_id = $2`, id, operatorID).
		Scan(&r.ID, &r.ReceivedAt, &r.Status, &r.Repeats, &r.Findings, &r.Purged,
			&state, &d.Attempts, &d.PSAP, &d.Route, &d.LastError, &d.DeliveredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Report{}, false, nil
	}
	if err != nil {
		return Report{}, false, err
	}
	if state != nil {
		d.State = *state
		r.Delivery = &d
	}
	return r, true, nil
}

// Recent is an accepted message of RecentFixes.
type Recent struct {
	Fix
	Located bool    // the message gave a position: Lat and Lon are set
	PSAP    *string // the PSAP its delivery was last routed to, if it was
}

// RecentFixes calls fn for every accepted message received within maxAge (by the
// database's clock) whose personal data are still held: the memory of recent calls is
// rebuilt from it (pull.Calls.Load) when a node starts or lost the bus. Rows are handed over
// as they are read, never gathered.
func RecentFixes(ctx context.Context, pool *pgxpool.Pool, maxAge time.Duration, fn func(Recent)) error {
	rows, err := pool.Query(ctx, `
		SELECT m.id::text, m.received_at, m.device_number, coalesce(m.emergency_number, ''), m.latitude, m.longitude,
			m.accuracy_m, m.confidence_pct, m.located_at, m.location_source, m.imei, d.psap_id
		FROM emergency.aml_messages m LEFT JOIN emergency.deliveries d ON d.message_id = m.id
		WHERE m.status = 'accepted' AND m.purged_at IS NULL AND m.device_number IS NOT NULL
		  AND m.received_at > now() - $1::interval`, maxAge)
	if err != nil {
		return err
	}
	var r Recent
	var lat, lon *float64
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.ReceivedAt, &r.Device, &r.Number, &lat, &lon, &r.Accuracy,
		&r.Confidence, &r.LocatedAt, &r.Source, &r.IMEI, &r.PSAP}, func() error {
		r.Located = lat != nil && lon != nil
		if r.Located {
			r.Lat, r.Lon = *lat, *lon
		}
		fn(r)
		r = Recent{}
		return nil
	})
	return err
}
