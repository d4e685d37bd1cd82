package pdaau

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is what an operator's webhook receives when a version of a département it
// may see is published.
type Notification struct {
	Type         string    `json:"type"` // "pdaau.published"
	Departement  string    `json:"departement"`
	PDAAUVersion int64     `json:"pdaau_version"`
	PublishedAt  time.Time `json:"published_at"`
	EffectiveAt  time.Time `json:"effective_at"`
	// RestoredFrom is set when the publication is a rollback to an earlier version.
	RestoredFrom *int64 `json:"restored_from,omitempty"`
}

// Post sends one notification to an operator's webhook; an error means "try again later".
type Post func(ctx context.Context, operatorID, url string, body []byte) error

// DeliverDue sends the notifications that are due, each at most once at a time across
// instances (rows are claimed with SKIP LOCKED), and reschedules failures with backoff
// (30 s doubling up to an hour). It returns how many were delivered.
func (s *Store) DeliverDue(ctx context.Context, post Post) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("tnaau notify: %w", err)
	}
	defer tx.Rollback(ctx)
	rows, _ := tx.Query(ctx, `SELECT n.id, n.operator_id, o.tnaau_webhook, n.attempts,
			v.departement, v.id, v.published_at, v.effective_at, v.restored_from
		FROM emergency.tnaau_notifications n
		JOIN emergency.operators o ON o.id = n.operator_id
		JOIN emergency.pdaau_versions v ON v.id = n.version_id
		WHERE n.delivered_at IS NULL AND n.next_at <= now() AND o.tnaau_webhook IS NOT NULL
		ORDER BY n.id LIMIT 100 FOR UPDATE OF n SKIP LOCKED`)
	type job struct {
		id       int64
		op, url  string
		attempts int
		n        Notification
	}
	var jobs []job
	var j job
	_, err = pgx.ForEachRow(rows, []any{&j.id, &j.op, &j.url, &j.attempts, &j.n.Departement, &j.n.PDAAUVersion,
		&j.n.PublishedAt, &j.n.EffectiveAt, &j.n.RestoredFrom}, func() error {
		j.n.Type = "pdaau.published"
		jobs = append(jobs, j)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("tnaau notify: %w", err)
	}
	delivered := 0
	for _, j := range jobs {
		body, _ := json.Marshal(j.n)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		perr := post(pctx, j.op, j.url, body)
		cancel()
		if perr == nil {
			delivered++
			_, err = tx.Exec(ctx, `UPDATE emergency.tnaau_notifications SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1`, j.id)
		} else {
			wait := min(30*time.Second<<min(j.attempts, 7), time.Hour)
			_, err = tx.Exec(ctx, `UPDATE emergency.tnaau_notifications SET attempts = attempts + 1, last_error = $2,
				next_at = now() + $3::interval WHERE id = $1`, j.id, perr.Error(), fmt.Sprintf("%d seconds", int(wait.Seconds())))
		}
		if err != nil {
			return delivered, fmt.Errorf("tnaau notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("tnaau notify: %w", err)
	}
	return delivered, nil
}

// Published lists the newest published versions of the visible départements, newest first,
// for the Atom feed.
func (s *Store) Published(ctx context.Context, deps Visible, limit int) ([]Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM emergency.pdaau_versions v
		WHERE state = 'published' AND ($1::text[] IS NULL OR departement = ANY($1))
		ORDER BY published_at DESC, id DESC LIMIT $2`, deps.filter(), limit)
	if err != nil {
		return nil, fmt.Errorf("tnaau feed: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("tnaau feed: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
