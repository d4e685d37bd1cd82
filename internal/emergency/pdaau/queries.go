package pdaau

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"socle/internal/emergency/geo"
)

const versionColumns = `v.id, v.departement, v.state, v.source, v.based_on, v.restored_from, v.created_by, v.created_at,
	v.editors, v.approved_by, v.approved_at, v.published_by, v.published_at, v.effective_at, v.active_seq, v.activated_at,
	v.discarded_by, v.discarded_at, (SELECT count(*) FROM emergency.pdaau_version_rows r WHERE r.version_id = v.id)`

func scanVersion(row pgx.Row) (Version, error) {
	var v Version
	err := row.Scan(&v.ID, &v.Departement, &v.State, &v.Source, &v.BasedOn, &v.RestoredFrom, &v.CreatedBy, &v.CreatedAt,
		&v.Editors, &v.ApprovedBy, &v.ApprovedAt, &v.PublishedBy, &v.PublishedAt, &v.EffectiveAt, &v.ActiveSeq, &v.ActivatedAt,
		&v.DiscardedBy, &v.DiscardedAt, &v.Rows)
	return v, err
}

// Version returns one version.
func (s *Store) Version(ctx context.Context, id int64) (Version, error) {
	v, err := scanVersion(s.pool.QueryRow(ctx, `SELECT `+versionColumns+` FROM emergency.pdaau_versions v WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, fmt.Errorf("pdaau: version %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return v, fmt.Errorf("pdaau: version %d: %w", id, err)
	}
	return v, nil
}

// History is every version of a département, newest first.
func (s *Store) History(ctx context.Context, dep string) ([]Version, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+versionColumns+` FROM emergency.pdaau_versions v
		WHERE departement = $1 ORDER BY id DESC`, dep)
	if err != nil {
		return nil, fmt.Errorf("pdaau: history of %s: %w", dep, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("pdaau: history of %s: %w", dep, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Current is the version in effect for a département, nil if it has none.
func (s *Store) Current(ctx context.Context, dep string) (*Version, error) {
	id, err := activeID(ctx, s.pool, dep)
	if err != nil || id == nil {
		return nil, err
	}
	v, err := s.Version(ctx, *id)
	return &v, err
}

// Rows are a version's rows, by commune and number.
func (s *Store) Rows(ctx context.Context, id int64) ([]Row, error) { return rowsOf(ctx, s.pool, id) }

// Communes names the communes of a département by their codes, for the pages to show
// beside them.
func (s *Store) Communes(ctx context.Context, dep string) (map[string]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT code, name FROM emergency.communes WHERE code LIKE $1 || '%' ORDER BY code`, dep)
	names := map[string]string{}
	var code, name string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name}, func() error {
		if geo.Departement(code) == dep { // 97 is no département, but 971's prefix
			names[code] = name
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pdaau: communes of %s: %w", dep, err)
	}
	return names, nil
}

// Change is a commune and number whose centre differs between two versions. Old is empty for
// a row only in the newer version, New for a row only in the older one.
type Change struct {
	INSEE, Commune, Number string
	Old, New               string // routing numbers
	OldPSAP, NewPSAP       string // PSAP ids, empty if no PSAP has the number today
}

// Diff lists what changes from version from (nil: an empty table) to version to.
func (s *Store) Diff(ctx context.Context, from *int64, to int64) ([]Change, error) {
	rows, _ := s.pool.Query(ctx, `
		WITH a AS (SELECT insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $1),
		     b AS (SELECT insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $2)
		SELECT insee, coalesce(c.name, ''), number, coalesce(a.routing_number, ''), coalesce(b.routing_number, ''),
			coalesce(pa.id, ''), coalesce(pb.id, '')
		FROM a FULL JOIN b USING (insee, number)
		LEFT JOIN emergency.communes c ON c.code = insee
		LEFT JOIN emergency.psaps pa ON pa.routing_number = a.routing_number
		LEFT JOIN emergency.psaps pb ON pb.routing_number = b.routing_number
		WHERE a.routing_number IS DISTINCT FROM b.routing_number
		ORDER BY insee, length(number), number`, from, to)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Change])
	if err != nil {
		return nil, fmt.Errorf("pdaau: diff %v → %d: %w", from, to, err)
	}
	return out, nil
}

// Summary is a département as the list of départements shows it.
type Summary struct {
	Departement string
	Communes    int
	Current     *int64 // version in effect
	EffectiveAt *time.Time
	Pending     int // drafts and approved versions waiting
	Scheduled   int // published versions not yet in effect
}

// Departements summarises every département that has communes loaded or versions.
func (s *Store) Departements(ctx context.Context) ([]Summary, error) {
	rows, _ := s.pool.Query(ctx, `
		WITH deps AS (
			SELECT CASE WHEN code LIKE '97%' OR code LIKE '98%' THEN left(code, 3) ELSE left(code, 2) END AS departement, count(*) AS communes
			FROM emergency.communes GROUP BY 1
			UNION SELECT departement, 0 FROM emergency.pdaau_versions),
		d AS (SELECT departement, max(communes) AS communes FROM deps GROUP BY departement)
		SELECT d.departement, d.communes::int, cur.id, cur.effective_at,
			(SELECT count(*) FROM emergency.pdaau_versions v WHERE v.departement = d.departement AND state IN ('draft', 'approved'))::int,
			(SELECT count(*) FROM emergency.pdaau_versions v WHERE v.departement = d.departement AND state = 'published' AND active_seq IS NULL)::int
		FROM d LEFT JOIN LATERAL (SELECT id, effective_at FROM emergency.pdaau_versions v
			WHERE v.departement = d.departement AND active_seq IS NOT NULL ORDER BY active_seq DESC LIMIT 1) cur ON true
		ORDER BY d.departement`)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Summary])
	if err != nil {
		return nil, fmt.Errorf("pdaau: départements: %w", err)
	}
	return out, nil
}
