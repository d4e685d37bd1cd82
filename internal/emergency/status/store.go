package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/web"
)

// Store keeps the status page's history and posts (emergency.status_days, status_posts,
// status_updates: this package is their one owner).
type Store struct {
	Pool *pgxpool.Pool
}

// HistoryDays is how many days of history the page shows per component.
const HistoryDays = 90

// Day is a calendar day in Paris, as the history counts them.
func Day(t time.Time) time.Time {
	y, m, d := t.In(web.Paris).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Record keeps, for each component, the worst level seen today. Every node records what it
// merged; the worst wins, so the order does not matter.
func (s *Store) Record(ctx context.Context, now time.Time, cs []Component) error {
	if len(cs) == 0 {
		return nil
	}
	ids, levels := make([]string, len(cs)), make([]string, len(cs))
	for i, c := range cs {
		ids[i], levels[i] = c.ID, string(c.Status)
	}
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO emergency.status_days AS d (component, day, worst)
		SELECT c, $3::date, l FROM unnest($1::text[], $2::text[]) AS x(c, l)
		ON CONFLICT (component, day) DO UPDATE SET worst = excluded.worst
		WHERE array_position(ARRAY['operational', 'degraded', 'down'], excluded.worst) >
		      array_position(ARRAY['operational', 'degraded', 'down'], d.worst)`,
		ids, levels, Day(now))
	if err != nil {
		return fmt.Errorf("status: record the day: %w", err)
	}
	return nil
}

// History returns, per component, the worst level of each of the last days up to today,
// oldest first; a day with no record is "" (socle was not watching).
func (s *Store) History(ctx context.Context, now time.Time, days int) (map[string][]Level, error) {
	today := Day(now)
	first := today.AddDate(0, 0, -(days - 1))
	rows, _ := s.Pool.Query(ctx, `SELECT component, day, worst FROM emergency.status_days WHERE day >= $1 AND day <= $2`, first, today)
	out := map[string][]Level{}
	var c, w string
	var d time.Time
	_, err := pgx.ForEachRow(rows, []any{&c, &d, &w}, func() error {
		h := out[c]
		if h == nil {
			h = make([]Level, days)
			out[c] = h
		}
		if i := int(d.Sub(first) / (24 * time.Hour)); i >= 0 && i < days {
			h[i] = Level(w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("status: history: %w", err)
	}
	return out, nil
}

// Purge forgets the days the page no longer shows.
func (s *Store) Purge(ctx context.Context, now time.Time) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM emergency.status_days WHERE day < $1`, Day(now).AddDate(0, 0, -HistoryDays))
	return err
}

// Post kinds and their states.
const (
	PostIncident    = "incident"
	PostMaintenance = "maintenance"
	PostNews        = "news"
)

// states are the states each kind of post goes through, the first being where it starts and
// the last where it ends.
var states = map[string][]string{
	PostIncident:    {"investigating", "identified", "monitoring", "resolved"},
	PostMaintenance: {"scheduled", "in_progress", "completed"},
	PostNews:        {"published"},
}

// Post is an incident, a maintenance window or a news item, with its updates, newest first.
type Post struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Title      string     `json:"title"`
	Components []string   `json:"components"`
	StartsAt   time.Time  `json:"starts_at"`
	EndsAt     *time.Time `json:"ends_at,omitempty"`
	State      string     `json:"state"`
	Updates    []Update   `json:"updates"`
}

// Update is one step of a post.
type Update struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
	Body  string    `json:"body"`
	By    string    `json:"-"` // an agent's address: not for the public page
}

// Open says whether the post is still going on at now: an incident not resolved, a
// maintenance not completed and not past its window.
func (p Post) Open(now time.Time) bool {
	switch p.Kind {
	case PostIncident:
		return p.State != "resolved"
	case PostMaintenance:
		return p.State != "completed" && (p.EndsAt == nil || now.Before(*p.EndsAt))
	}
	return false
}

// ErrInput is a post or an update that cannot be taken as it is.
var ErrInput = errors.New("status: invalid post")

// NewPost is what an administrator submits.
type NewPost struct {
	Kind       string
	Title      string
	Body       string
	Components []string
	StartsAt   time.Time
	EndsAt     *time.Time
	By         string
}

// check says what is wrong, field by field.
func (n NewPost) check() map[string]string {
	bad := map[string]string{}
	if _, ok := states[n.Kind]; !ok {
		bad["kind"] = "incident, maintenance ou news"
	}
	if t := strings.TrimSpace(n.Title); t == "" || len(t) > 200 {
		bad["title"] = "un titre de 1 à 200 caractères"
	}
	if b := strings.TrimSpace(n.Body); b == "" || len(b) > 4000 {
		bad["body"] = "un texte de 1 à 4000 caractères"
	}
	if n.Kind == PostMaintenance && (n.EndsAt == nil || !n.EndsAt.After(n.StartsAt)) {
		bad["ends_at"] = "une fin de maintenance après son début"
	}
	return bad
}

// FieldErrors is what is wrong with a post, by field.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	return fmt.Sprintf("status: invalid post: %v", map[string]string(f))
}
func (f FieldErrors) Unwrap() error { return ErrInput }

// Add stores a new post with its first update, in one transaction.
func (s *Store) Add(ctx context.Context, n NewPost) (int64, error) {
	if bad := n.check(); len(bad) > 0 {
		return 0, FieldErrors(bad)
	}
	if n.Components == nil {
		n.Components = []string{} // none named: the column holds an empty list, not NULL
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO emergency.status_posts (kind, title, components, starts_at, ends_at, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, n.Kind, strings.TrimSpace(n.Title), n.Components, n.StartsAt, n.EndsAt, n.By).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO emergency.status_updates (post_id, state, body, by_whom) VALUES ($1, $2, $3, $4)`,
			id, states[n.Kind][0], strings.TrimSpace(n.Body), n.By)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("status: add post: %w", err)
	}
	return id, nil
}

// Advance adds an update to a post; reaching its last state (resolved, completed) ends it.
func (s *Store) Advance(ctx context.Context, id int64, state, body, by string, now time.Time) error {
	var kind string
	err := s.Pool.QueryRow(ctx, `SELECT kind FROM emergency.status_posts WHERE id = $1`, id).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return FieldErrors{"id": "aucune publication n'a ce numéro"}
	} else if err != nil {
		return fmt.Errorf("status: update post: %w", err)
	}
	valid := states[kind]
	bad := FieldErrors{}
	if !slices.Contains(valid, state) {
		bad["state"] = "l'un de : " + strings.Join(valid, ", ")
	}
	if b := strings.TrimSpace(body); b == "" || len(b) > 4000 {
		bad["body"] = "un texte de 1 à 4000 caractères"
	}
	if len(bad) > 0 {
		return bad
	}
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO emergency.status_updates (post_id, at, state, body, by_whom) VALUES ($1, $2, $3, $4, $5)`,
			id, now, state, strings.TrimSpace(body), by); err != nil {
			return err
		}
		if state == valid[len(valid)-1] && kind == PostIncident {
			_, err := tx.Exec(ctx, `UPDATE emergency.status_posts SET ends_at = $2 WHERE id = $1`, id, now)
			return err
		}
		return nil
	})
}

// Posts returns the posts that started in the last days, or are still open, newest first.
func (s *Store) Posts(ctx context.Context, now time.Time, days int) ([]Post, error) {
	rows, _ := s.Pool.Query(ctx, `
		SELECT p.id, p.kind, p.title, p.components, p.starts_at, p.ends_at,
		       array_agg(u.at ORDER BY u.at DESC), array_agg(u.state ORDER BY u.at DESC), array_agg(u.body ORDER BY u.at DESC),
		       array_agg(u.by_whom ORDER BY u.at DESC)
		FROM emergency.status_posts p JOIN emergency.status_updates u ON u.post_id = p.id
		WHERE p.starts_at >= $1 OR p.ends_at IS NULL OR p.ends_at >= $2
		GROUP BY p.id ORDER BY p.starts_at DESC, p.id DESC`, now.AddDate(0, 0, -days), now)
	var out []Post
	var p Post
	var ats []time.Time
	var sts, bodies, bys []string
	_, err := pgx.ForEachRow(rows, []any{&p.ID, &p.Kind, &p.Title, &p.Components, &p.StartsAt, &p.EndsAt, &ats, &sts, &bodies, &bys}, func() error {
		q := p
		q.Updates = make([]Update, len(ats))
		for i := range ats {
			q.Updates[i] = Update{At: ats[i], State: sts[i], Body: bodies[i], By: bys[i]}
		}
		q.State = sts[0]
		out = append(out, q)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("status: posts: %w", err)
	}
	return out, nil
}
