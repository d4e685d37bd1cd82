package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/audit"
)

// Record is one query of the audit trail, as the journal keeps it until it reaches
// emergency.pull_queries.
type Record struct {
	Key        uuid.UUID `json:"key"` // makes shipping it twice harmless
	At         time.Time `json:"at"`
	PSAP       string    `json:"psap"`
	Device     string    `json:"device"`
	Source     string    `json:"source"`           // "aml", "operator" or "none"
	Outcome    string    `json:"outcome"`          // "located", OutOfArea or a HELD error code
	Reason     string    `json:"reason,omitempty"` // why not located, as the PSAP was told
	MessageID  string    `json:"message_id,omitempty"`
	DurationMS float64   `json:"duration_ms"`
}

func (r Record) encode() []byte {
	b, _ := json.Marshal(r) // strings, numbers and a time: cannot fail
	return b
}

// AuditSink writes journal records to emergency.pull_queries in one statement, skipping
// those already there.
func AuditSink(pool *pgxpool.Pool, logger *slog.Logger) audit.Sink {
	return func(ctx context.Context, recs [][]byte) error {
		var keys []uuid.UUID
		var ats []time.Time
		var psaps, devices, sources, outcomes []string
		var reasons []*string
		var messages []*string
		var durations []float64
		for _, b := range recs {
			var r Record
			if err := json.Unmarshal(b, &r); err != nil {
				// Written by Record.encode and checksummed by the journal, so this is a
				// bug; holding the journal back for it would stop every later record.
				logger.Error("pull: unreadable audit record skipped", "error", err)
				continue
			}
			var msg *string
			if r.MessageID != "" {
				msg = &r.MessageID
			}
			keys, ats, psaps, devices = append(keys, r.Key), append(ats, r.At), append(psaps, r.PSAP), append(devices, r.Device)
			sources, outcomes, messages = append(sources, r.Source), append(outcomes, r.Outcome), append(messages, msg)
			durations = append(durations, r.DurationMS)
			var reason *string
			if r.Reason != "" {
				reason = &r.Reason
			}
			reasons = append(reasons, reason)
		}
		_, err := pool.Exec(ctx, `
			INSERT INTO emergency.pull_queries (key, at, psap_id, device, source, outcome, message_id, duration_ms, reason)
			SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::float8[], $9::text[])
			ON CONFLICT (key) DO NOTHING`, keys, ats, psaps, devices, sources, outcomes, messages, durations, reasons)
		if err != nil {
			return fmt.Errorf("pull: ship %d audit records: %w", len(keys), err)
		}
		return nil
	}
}

// PurgeQueries erases the caller's number, and the reason (which may quote an operator's
// message naming it), from queries older than retention: who asked for a location, when,
// and the outcome stay.
func PurgeQueries(ctx context.Context, pool *pgxpool.Pool, retention time.Duration) error {
	if _, err := pool.Exec(ctx, `UPDATE emergency.pull_queries SET device = NULL, reason = NULL, purged_at = now()
		WHERE purged_at IS NULL AND at < now() - $1::interval`, retention); err != nil {
		return fmt.Errorf("purge location queries: %w", err)
	}
	return nil
}
