// Package intaketest lets the tests of other packages (the service's end-to-end tests, the
// crash test) look into the message store and age it without naming its tables: like every
// table, emergency.aml_messages and emergency.deliveries are known to their owner, package
// intake, alone. Nothing but tests imports it.
package intaketest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Message is a message as stored, personal data included, with its outbox row.
type Message struct {
	Status   string
	Repeats  int
	Raw      []byte   // nil once purged
	Device   *string  // the caller's number; nil once purged
	Latitude *float64 // nil without a position, or once purged
	Purged   bool
	Delivery *Delivery // nil: the message never entered the outbox
}

// Delivery is a message's outbox row; absent values read as "" (nil for DeliveredAt).
type Delivery struct {
	State       string // pending, delivered or expired
	Attempts    int
	LastError   string
	PSAP        string
	Route       string
	DeliveredAt *time.Time
}

// Read returns the message id as stored. It fails t if there is none.
func Read(t testing.TB, pool *pgxpool.Pool, id string) Message {
	t.Helper()
	var m Message
	var d Delivery
	var state *string
	err := pool.QueryRow(context.Background(), `
		SELECT m.status, m.repeats, m.raw, m.device_number, m.latitude, m.purged_at IS NOT NULL,
			d.state, coalesce(d.attempts, 0), coalesce(d.last_error, ''), coalesce(d.psap_id, ''),
			coalesce(d.route, ''), d.delivered_at
		FROM emergency.aml_messages m LEFT JOIN emergency.deliveries d ON d.message_id = m.id
		WHERE m.id::text = $1`, id).
		Scan(&m.Status, &m.Repeats, &m.Raw, &m.Device, &m.Latitude, &m.Purged,
			&state, &d.Attempts, &d.LastError, &d.PSAP, &d.Route, &d.DeliveredAt)
	if err != nil {
		t.Fatalf("intaketest: read message %s: %v", id, err)
	}
	if state != nil {
		d.State = *state
		m.Delivery = &d
	}
	return m
}

// Totals counts the whole store.
type Totals struct {
	Messages    int // rows: a message sent again is stored once
	Repeats     int // times messages were sent again, all messages together
	Deliveries  int // outbox rows
	Undelivered int // outbox rows pending or expired
	Pending     int // outbox rows still to deliver
}

// Count counts the store. It fails t if it cannot.
func Count(t testing.TB, pool *pgxpool.Pool) Totals {
	t.Helper()
	var n Totals
	err := pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM emergency.aml_messages),
			(SELECT coalesce(sum(repeats), 0) FROM emergency.aml_messages),
			(SELECT count(*) FROM emergency.deliveries),
			(SELECT count(*) FROM emergency.deliveries WHERE state <> 'delivered'),
			(SELECT count(*) FROM emergency.deliveries WHERE state = 'pending')`).
		Scan(&n.Messages, &n.Repeats, &n.Deliveries, &n.Undelivered, &n.Pending)
	if err != nil {
		t.Fatalf("intaketest: count: %v", err)
	}
	return n
}

// Age makes every message older by d, as if it had been received d earlier: what the
// purge's tests need. It fails t if it cannot.
func Age(t testing.TB, pool *pgxpool.Pool, d time.Duration) {
	t.Helper()
	if _, err := pool.Exec(context.Background(),
		`UPDATE emergency.aml_messages SET received_at = received_at - $1::interval`, d); err != nil {
		t.Fatalf("intaketest: age: %v", err)
	}
}

// Forwarding is a message's row in the cutover's forwarding outbox, and where the message
// came from.
type Forwarding struct {
	Operator  string // the operator it is stored under
	RelayedBy string // the relay platform it came through; "" when its operator pushed it
	State     string // pending, forwarded or expired; "" when the message has no forwarding row
	Attempts  int
	LastError string
}

// ReadForwarding returns the forwarding of message id. It fails t if there is no message.
func ReadForwarding(t testing.TB, pool *pgxpool.Pool, id string) Forwarding {
	t.Helper()
	var f Forwarding
	err := pool.QueryRow(context.Background(), `
		SELECT m.operator_id, coalesce(m.relayed_by, ''), coalesce(f.state, ''), coalesce(f.attempts, 0),
			coalesce(f.last_error, '')
		FROM emergency.aml_messages m LEFT JOIN emergency.forwards f ON f.message_id = m.id
		WHERE m.id::text = $1`, id).Scan(&f.Operator, &f.RelayedBy, &f.State, &f.Attempts, &f.LastError)
	if err != nil {
		t.Fatalf("intaketest: read forwarding of %s: %v", id, err)
	}
	return f
}

// PendingForwards counts the forwarding rows still to forward. It fails t if it cannot.
func PendingForwards(t testing.TB, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM emergency.forwards WHERE state = 'pending'`).Scan(&n); err != nil {
		t.Fatalf("intaketest: count pending forwards: %v", err)
	}
	return n
}
