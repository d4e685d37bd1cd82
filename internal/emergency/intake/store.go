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
	StatusAccepted  = "accepted"
	StatusUnusable  = "unusable"
	StatusForbidden = "forbidden"
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
// It commits in groups: concurrent requests queue their records, and a committer sends
// everything queued as one pipeline of statements in one implicit transaction — one WAL flush
// for the group instead of one per message. Nobody waits for a group to fill: a committer
// takes what is queued when it is free, so a lone message is written at once. Each caller is
// answered only after the group's COMMIT.
type Store struct {
	Pool *pgxpool.Pool
	// Expiry is how long delivery is retried before the message is given up with an alarm.
	Expiry time.Duration
	// Lease is how long the accepting node owns the new outbox row before others may take it.
	Lease time.Duration

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

// commit writes a group in one implicit transaction. If the group fails, each record is
// retried alone, so that one bad record cannot fail the others.
func (s *Store) commit(ctx context.Context, group []*pending) {
	if len(group) == 1 {
		p := group[0]
		p.res, p.err = s.insertOne(ctx, p.rec)
		close(p.done)
		return
	}
	b := &pgx.Batch{}
	for _, p := range group {
		args, err := s.args(p.rec)
		if err != nil {
			p.err = err
			continue
		}
		b.Queue(insertSQL, args...)
	}
	br := s.Pool.SendBatch(ctx, b)
	var err error
	for _, p := range group {
		if p.err != nil {
			continue
		}
		var raw []byte
		if err = br.QueryRow().Scan(&p.res.ID, &p.res.Status, &raw, &p.res.Fresh); err != nil {
			break
		}
		if err = json.Unmarshal(raw, &p.res.Findings); err != nil {
			break
		}
	}
	// Results arrive before the COMMIT: only Close, which reads to the end of the
	// transaction, says they are durable.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	for _, p := range group {
		if err != nil && p.err == nil {
			p.res, p.err = s.insertOne(ctx, p.rec)
		}
		close(p.done)
	}
}

// insertSQL stores the message and, when it is new and accepted, its outbox row, in one
// statement: one round trip, one implicit transaction, so the caller's 202 follows a commit
// that holds both. A message sent again hits the dedupe key and only counts a repeat.
const insertSQL = `
WITH m AS (
	INSERT INTO emergency.aml_messages AS a (id, operator_id, dedupe_key, status, format, content_type, raw,
		device_number, emergency_number, latitude, longitude, accuracy_m, confidence_pct, located_at,
		location_source, imei, imsi, network_mcc, network_mnc, findings)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
	ON CONFLICT (dedupe_key) DO UPDATE SET repeats = a.repeats + 1
	RETURNING id, status, findings, xmax = 0 AS fresh
), d AS (
	INSERT INTO emergency.deliveries (message_id, expires_at, due_at)
	SELECT id, now() + $21::interval, now() + $22::interval FROM m WHERE fresh AND status = 'accepted'
)
SELECT id, status, findings, fresh FROM m`

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

func (s *Store) insertOne(ctx context.Context, r Record) (Result, error) {
	args, err := s.args(r)
	if err != nil {
		return Result{}, err
	}
	var res Result
	var raw []byte
	if err := s.Pool.QueryRow(ctx, insertSQL, args...).Scan(&res.ID, &res.Status, &raw, &res.Fresh); err != nil {
		return Result{}, fmt.Errorf("intake: insert: %w", err)
	}
	if err := json.Unmarshal(raw, &res.Findings); err != nil {
		return Result{}, fmt.Errorf("intake: findings: %w", err)
	}
	return res, nil
}

// args are the parameters of insertSQL for r.
func (s *Store) args(r Record) ([]any, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	findings := r.Findings
	if findings == nil {
		findings = []aml.Finding{}
	}
	fj, err := json.Marshal(findings)
	if err != nil {
		return nil, err
	}
	m := r.Message
	var lat, lon, acc *float64
	var conf *int
	var at *time.Time
	var source *string
	if l := m.Location; l != nil {
		lat, lon = &l.Latitude, &l.Longitude
		if l.Accuracy > 0 {
			acc = &l.Accuracy
		}
		if l.Confidence > 0 {
			conf = &l.Confidence
		}
		if !l.Time.IsZero() {
			at = &l.Time
		}
		src := string(l.Source)
		source = &src
	}
	return []any{id, r.OperatorID, r.DedupeKey, r.Status, string(m.Format), r.ContentType,
		r.Raw, nullable(m.DeviceNumber), nullable(r.EmergencyNumber), lat, lon, acc, conf, at, source,
		nullable(m.IMEI), nullable(m.IMSI), nullable(m.NetworkMCC), nullable(m.NetworkMNC), fj,
		s.Expiry, s.Lease}, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
