package intake

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
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

// Store writes messages and their outbox rows.
type Store struct {
	Pool *pgxpool.Pool
	// Expiry is how long delivery is retried before the message is given up with an alarm.
	Expiry time.Duration
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
	INSERT INTO emergency.deliveries (message_id, expires_at)
	SELECT id, now() + $21::interval FROM m WHERE fresh AND status = 'accepted'
)
SELECT id, status, findings, fresh FROM m`

// Insert stores r and returns what is stored under its dedupe key.
func (s *Store) Insert(ctx context.Context, r Record) (Result, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Result{}, err
	}
	findings := r.Findings
	if findings == nil {
		findings = []aml.Finding{}
	}
	fj, err := json.Marshal(findings)
	if err != nil {
		return Result{}, err
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
	var res Result
	var raw []byte
	err = s.Pool.QueryRow(ctx, insertSQL, id, r.OperatorID, r.DedupeKey, r.Status, string(m.Format), r.ContentType,
		r.Raw, nullable(m.DeviceNumber), nullable(r.EmergencyNumber), lat, lon, acc, conf, at, source,
		nullable(m.IMEI), nullable(m.IMSI), nullable(m.NetworkMCC), nullable(m.NetworkMNC), fj,
		s.Expiry).Scan(&res.ID, &res.Status, &raw, &res.Fresh)
	if err != nil {
		return Result{}, fmt.Errorf("intake: insert: %w", err)
	}
	if err := json.Unmarshal(raw, &res.Findings); err != nil {
		return Result{}, fmt.Errorf("intake: findings: %w", err)
	}
	return res, nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
