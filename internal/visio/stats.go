package visio

import (
	"context"
	"embed"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the conference's schema steps (usage statistics).
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("visio", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}

// usage records conferences in PostgreSQL; a nil usage records nothing.
type usage struct {
	pool *pgxpool.Pool
}

func (u *usage) started(ctx context.Context, at time.Time, node string) int64 {
	if u == nil || u.pool == nil {
		return 0
	}
	var id int64
	u.pool.QueryRow(ctx, `INSERT INTO visio.conferences (started_at, node) VALUES ($1, $2) RETURNING id`, at, node).Scan(&id)
	return id
}

func (u *usage) ended(ctx context.Context, id int64, at time.Time, peak, joins, guests int) error {
	if u == nil || u.pool == nil || id == 0 {
		return nil
	}
	_, err := u.pool.Exec(ctx, `UPDATE visio.conferences SET ended_at = $2, peak = $3, joins = $4, guests = $5 WHERE id = $1`,
		id, at, peak, joins, guests)
	return err
}

// Day is one day of use.
type Day struct {
	Day          string  `json:"day"` // YYYY-MM-DD, Paris time
	Conferences  int     `json:"conferences"`
	Participants int     `json:"participants"` // entries
	Guests       int     `json:"guests"`
	Peak         int     `json:"peak"`            // largest conference
	Minutes      float64 `json:"minutes"`         // total length of the conferences
	AvgMinutes   float64 `json:"average_minutes"` // mean length
}

// Stats are the figures admins see.
type Stats struct {
	Now struct {
		Conferences  int `json:"conferences"`
		Participants int `json:"participants"`
	} `json:"now"`
	Days []Day `json:"days"`
	// Nodes are the media nodes' last reports (several nodes: docs/visio-nodes.md); Now
	// then sums them.
	Nodes []Load `json:"nodes,omitempty"`
}

// Stats gathers the figures: now, on this node; per day over the last days, from the
// database.
func (s *Service) Stats(ctx context.Context, days int) (Stats, error) {
	var st Stats
	s.mu.Lock()
	for _, r := range s.rooms {
		st.Now.Conferences++
		st.Now.Participants += r.Size()
	}
	s.mu.Unlock()
	if s.nodes.clustered() {
		nodes, err := s.nodes.live(ctx)
		if err != nil {
			return st, err
		}
		st.Nodes = nodes
		st.Now.Conferences, st.Now.Participants = 0, 0
		for _, n := range nodes {
			st.Now.Conferences += n.Rooms
			st.Now.Participants += n.Participants
		}
	}
	st.Days = []Day{}
	if s.usage == nil || s.usage.pool == nil {
		return st, nil
	}
	rows, _ := s.usage.pool.Query(ctx, `
		SELECT to_char(started_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD') AS day, count(*)::int, sum(joins)::int, sum(guests)::int,
			max(peak)::int, coalesce(sum(extract(epoch FROM ended_at - started_at)) / 60, 0)::float8,
			coalesce(avg(extract(epoch FROM ended_at - started_at)) / 60, 0)::float8
		FROM visio.conferences WHERE started_at > now() - make_interval(days => $1)
		GROUP BY 1 ORDER BY 1 DESC`, days)
	d, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Day])
	if err != nil {
		return st, fmt.Errorf("visio stats: %w", err)
	}
	if d != nil {
		st.Days = d
	}
	return st, nil
}

// adminStats reads the last 30 days' statistics for an administrator.
func (s *Service) adminStats(r *http.Request) (Stats, error) {
	if u, ok := identity.UserFrom(r.Context()); !ok || !u.Can(identity.RoleAdmin, identity.AllScopes) {
		e := web.Forbidden()
		e.Detail = messages.Text("stats.forbidden")
		return Stats{}, e
	}
	return s.Stats(r.Context(), 30)
}

// statsAPI serves GET /visio/api/stats to administrators.
func (s *Service) statsAPI(w http.ResponseWriter, r *http.Request) error {
	st, err := s.adminStats(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, st)
	return nil
}

// statsPage serves GET /visio/stats to administrators.
func (s *Service) statsPage(w http.ResponseWriter, r *http.Request) error {
	st, err := s.adminStats(r)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "stats.html", page{Stats: &st})
	return nil
}
