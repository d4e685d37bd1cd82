package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/aml"
)

// Statuses of a stored message.
const (
	StatusAccepted = "accepted"
	StatusUnusable = "unusable"
	// StatusNoLocation: a well-formed message saying the handset had no position. Recorded
	// (the call happened), never routed, delivered or served as a location.
	StatusNoLocation = "no_location"
	StatusForbidden  = "forbidden"
)

// Record is one message as received and judged.
type Record struct {
	OperatorID      string
	DedupeKey       []byte
	Status          string
	ContentType     string
	Raw             []byte
	Message         aml.Message
	EmergencyNumber string
	Findings        []aml.Finding
	// RelayedBy is the relay platform the message came through (the legacy platform during
	// a cutover, docs/operations-cutover.md), empty when its operator pushed it to socle.
	// A relayed message is never forwarded.
	RelayedBy string
}

// Result is what the database holds for the record: the record itself, or, for a message
// sent again, the first copy.
type Result struct {
	ID       string
	Status   string
	Findings []aml.Finding
	Fresh    bool
}

// NewStore returns a store; Run must be running for Insert to answer. The outbox rows it
// writes are leased to this node for lease (see delivery.Worker.Submit).
func NewStore(pool *pgxpool.Pool, expiry, lease time.Duration) *Store {
	return &Store{Pool: pool, Expiry: expiry, Lease: lease, queue: make(chan *pending, 4*MaxGroup)}
}

// Store writes messages and their outbox rows.
//
// It commits in groups: concurrent requests queue their records, and a committer writes
// everything queued with one statement in one transaction — one WAL flush for the group
// instead of one per message, and one statement for PostgreSQL to execute. Nobody waits for a group to fill: a committer
// takes what is queued when it is free, so a lone message is written at once. Each caller is
// answered only after the group's COMMIT.
type Store struct {
	Pool *pgxpool.Pool
	// Expiry is how long delivery is retried before the message is given up with an alarm.
	Expiry time.Duration
	// Lease is how long the accepting node owns the new outbox row before others may take it.
	Lease time.Duration
	// Forward: every fresh message answered 202 (accepted or no_location) that no relay
	// platform brought gets a second outbox row, in emergency.forwards, for the cutover's
	// forwarding to the legacy platform. Set before Run.
	Forward bool
	// NoDelivery: no message gets an outbox row for the PSAPs — the cutover's relay-only
	// mode, while the legacy platform pushes to them. Set before Run.
	NoDelivery bool

	queue chan *pending
}

type pending struct {
	rec  Record
	res  Result
	err  error
	done chan struct{}
}

// Committers and MaxGroup bound the group commit: a few groups in flight keep PostgreSQL
// busy while the next group forms.
const (
	Committers = 4
	MaxGroup   = 128
)

// Run commits queued records until ctx ends. Insert needs it running.
func (s *Store) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < Committers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case p := <-s.queue:
					group := []*pending{p}
				drain:
					for len(group) < MaxGroup {
						select {
						case p := <-s.queue:
							group = append(group, p)
						default:
							break drain
						}
					}
					s.commit(context.WithoutCancel(ctx), group)
				}
			}
		}()
	}
	wg.Wait()
}

// insertSQL stores a group of messages and, for those new and accepted, their outbox rows,
// in one statement: one round trip, one transaction, so every caller's 202 follows a commit
// that holds both. Messages sent again hit the dedupe key and only count a repeat. The rows
// come back keyed by dedupe key: RETURNING has no order. With Forward, the same statement
// writes the forwarding rows: a message is forwarded if and only if it was stored.
const insertSQL = `
WITH m AS (
	INSERT INTO emergency.aml_messages AS a (id, operator_id, dedupe_key, status, format, content_type, raw,
		device_number, emergency_number, latitude, longitude, accuracy_m, confidence_pct, located_at,
		location_source, imei, imsi, network_mcc, network_mnc, findings, relayed_by)
	SELECT * FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::text[], $7::bytea[],
		$8::text[], $9::text[], $10::float8[], $11::float8[], $12::float8[], $13::int[], $14::timestamptz[],
		$15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::jsonb[], $21::text[])
	ON CONFLICT (dedupe_key) DO UPDATE SET repeats = a.repeats + 1
	RETURNING dedupe_key, id, status, findings, xmax = 0 AS fresh, relayed_by IS NULL AS own
), d AS (
	INSERT INTO emergency.deliveries (message_id, expires_at, due_at)
	SELECT id, now() + $22::interval, now() + $23::interval FROM m WHERE NOT $25::bool AND fresh AND status = 'accepted'
), f AS (
	INSERT INTO emergency.forwards (message_id, expires_at)
	SELECT id, now() + $22::interval FROM m
	WHERE $24::bool AND fresh AND own AND status IN ('accepted', 'no_location')
)
SELECT dedupe_key, id::text, status, findings, fresh FROM m`

// commit writes a group. A record whose dedupe key is already in the group is the same
// message sent twice within milliseconds: it gets the first one's result, not fresh, and
// counts a repeat.
func (s *Store) commit(ctx context.Context, group []*pending) {
	first := map[string]*pending{}
	var cols columns
	var repeats [][]byte
	for _, p := range group {
		k := string(p.rec.DedupeKey)
		if _, dup := first[k]; dup {
			repeats = append(repeats, p.rec.DedupeKey)
			continue
		}
		first[k] = p
		if err := cols.add(p.rec); err != nil {
			p.err = err
		}
	}
	err := s.write(ctx, &cols, repeats, first)
	for _, p := range group {
		if f := first[string(p.rec.DedupeKey)]; f != p {
			p.res, p.err = f.res, f.err
			p.res.Fresh = false
		} else if err != nil && p.err == nil {
			p.err = err
		}
		close(p.done)
	}
}

// write sends the group's statement, and the repeats of in-group duplicates, in one
// implicit transaction.
func (s *Store) write(ctx context.Context, c *columns, repeats [][]byte, first map[string]*pending) error {
	if len(c.id) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(insertSQL, c.id, c.operator, c.dedupe, c.status, c.format, c.contentType, c.raw, c.device, c.number,
		c.lat, c.lon, c.accuracy, c.confidence, c.locatedAt, c.source, c.imei, c.imsi, c.mcc, c.mnc, c.findings,
		c.relayedBy, s.Expiry, s.Lease, s.Forward, s.NoDelivery)
	if len(repeats) > 0 {
		b.Queue(`UPDATE emergency.aml_messages a SET repeats = a.repeats + r.n
			FROM (SELECT k, count(*) AS n FROM unnest($1::bytea[]) k GROUP BY k) r WHERE a.dedupe_key = r.k`, repeats)
	}
	br := s.Pool.SendBatch(ctx, b)
	rows, err := br.Query()
	if err == nil {
		var key, raw []byte
		var res Result
		_, err = pgx.ForEachRow(rows, []any{&key, &res.ID, &res.Status, &raw, &res.Fresh}, func() error {
			p := first[string(key)]
			if p == nil {
				return fmt.Errorf("insert returned an unknown dedupe key")
			}
			p.res = res
			return json.Unmarshal(raw, &p.res.Findings)
		})
	}
	if err == nil && len(repeats) > 0 {
		_, err = br.Exec()
	}
	// Results arrive before the COMMIT: only Close, which reads to the end of the
	// transaction, says they are durable.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("intake: insert: %w", err)
	}
	return nil
}

// Insert stores r and returns what is stored under its dedupe key, once committed.
func (s *Store) Insert(ctx context.Context, r Record) (Result, error) {
	p := &pending{rec: r, done: make(chan struct{})}
	select {
	case s.queue <- p:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
		// The record may still be committed: the operator sends it again and the dedupe
		// key gives it the same id.
		return Result{}, ctx.Err()
	}
}

// columns are a group of records laid out as the arrays insertSQL unnests.
type columns struct {
	id, operator, status, format, contentType, findings []string
	dedupe, raw                                         [][]byte
	device, number, source, imei, imsi, mcc, mnc        []*string
	relayedBy                                           []*string
	lat, lon, accuracy                                  []*float64
	confidence                                          []*int32
	locatedAt                                           []*time.Time
}

func (c *columns) add(r Record) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	findings := r.Findings
	if findings == nil {
		findings = []aml.Finding{}
	}
	fj, err := json.Marshal(findings)
	if err != nil {
		return err
	}
	m := r.Message
	var lat, lon, acc *float64
	var conf *int32
	var at *time.Time
	var source *string
	if l := m.Location; l != nil {
		lat, lon = &l.Latitude, &l.Longitude
		if l.Accuracy > 0 {
			acc = &l.Accuracy
		}
		if l.Confidence > 0 {
			v := int32(l.Confidence)
			conf = &v
		}
		if !l.Time.IsZero() {
			at = &l.Time
		}
		src := string(l.Source)
		source = &src
	}
	c.id = append(c.id, id.String())
	c.operator = append(c.operator, r.OperatorID)
	c.dedupe = append(c.dedupe, r.DedupeKey)
	c.status = append(c.status, r.Status)
	c.format = append(c.format, string(m.Format))
	c.contentType = append(c.contentType, r.ContentType)
	c.raw = append(c.raw, r.Raw)
	c.device = append(c.device, nullable(m.DeviceNumber))
	c.number = append(c.number, nullable(r.EmergencyNumber))
	c.lat, c.lon, c.accuracy = append(c.lat, lat), append(c.lon, lon), append(c.accuracy, acc)
	c.confidence = append(c.confidence, conf)
	c.locatedAt = append(c.locatedAt, at)
	c.source = append(c.source, source)
	c.imei, c.imsi = append(c.imei, nullable(m.IMEI)), append(c.imsi, nullable(m.IMSI))
	c.mcc, c.mnc = append(c.mcc, nullable(m.NetworkMCC)), append(c.mnc, nullable(m.NetworkMNC))
	c.findings = append(c.findings, string(fj))
	c.relayedBy = append(c.relayedBy, nullable(r.RelayedBy))
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Purge erases the personal data of messages received more than retention ago whose
// delivery is no longer pending, in batches, and returns how many messages it purged. What
// stays is that a message came, from which operator, when, and what became of it.
func Purge(ctx context.Context, pool *pgxpool.Pool, retention time.Duration) (int, error) {
	total := 0
	for {
		tag, err := pool.Exec(ctx, `
			UPDATE emergency.aml_messages SET raw = NULL, device_number = NULL, latitude = NULL,
				longitude = NULL, accuracy_m = NULL, confidence_pct = NULL, located_at = NULL,
				location_source = NULL, imei = NULL, imsi = NULL, dedupe_key = NULL, purged_at = now()
			WHERE id IN (
				SELECT id FROM emergency.aml_messages m
				WHERE purged_at IS NULL AND received_at < now() - $1::interval
				  AND NOT EXISTS (SELECT 1 FROM emergency.deliveries d WHERE d.message_id = m.id AND d.state = 'pending')
				LIMIT 5000)`, retention)
		if err != nil {
			return total, fmt.Errorf("purge messages: %w", err)
		}
		total += int(tag.RowsAffected())
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
