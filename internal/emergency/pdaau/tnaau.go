package pdaau

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Entry is one TNAAU row: a commune, a number, the centre that takes the call.
type Entry struct {
	Departement   string `json:"departement"`
	INSEE         string `json:"insee"`
	Commune       string `json:"commune"`
	Number        string `json:"number"`
	RoutingNumber string `json:"routing_number"`
	PSAP          string `json:"psap"`
}

// InEffect is a département's version in effect.
type InEffect struct {
	Departement  string    `json:"departement"`
	PDAAUVersion int64     `json:"pdaau_version"`
	TNAAUVersion int64     `json:"tnaau_version"` // when it took effect
	EffectiveAt  time.Time `json:"effective_at"`
}

// Table is the TNAAU restricted to some départements.
type Table struct {
	// Version is the highest TNAAU version of the départements included: a client holding
	// it asks for changes since it.
	Version      int64      `json:"version"`
	Departements []InEffect `json:"departements"`
	Rows         []Entry    `json:"rows"`
}

// Delta is what changed in some départements since a TNAAU version.
type Delta struct {
	Since   int64 `json:"since"`
	Version int64 `json:"version"`
	// Departements are those whose version in effect changed, with their new version.
	Departements []InEffect `json:"departements"`
	Upsert       []Entry    `json:"upsert"` // rows added or routed elsewhere
	Delete       []Entry    `json:"delete"` // rows gone (their commune vanished)
}

// Visible says which départements a reader may see: "*" means every one; nil, none.
type Visible []string

func (v Visible) all() bool { return slices.Contains(v, "*") }

// Allows reports whether dep is visible.
func (v Visible) Allows(dep string) bool { return v.all() || slices.Contains(v, dep) }

// filter is the SQL array of départements, nil meaning every one.
func (v Visible) filter() []string {
	if v.all() {
		return nil
	}
	return append([]string{}, v...)
}

// readTx runs fn in a read-only repeatable-read transaction: one consistent view.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("tnaau: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return fmt.Errorf("tnaau: %w", err)
	}
	return tx.Commit(ctx)
}

func inEffect(ctx context.Context, tx pgx.Tx, deps Visible) ([]InEffect, error) {
	rows, _ := tx.Query(ctx, `SELECT DISTINCT ON (departement) departement, id, active_seq, effective_at
		FROM emergency.pdaau_versions WHERE active_seq IS NOT NULL AND ($1::text[] IS NULL OR departement = ANY($1))
		ORDER BY departement, active_seq DESC`, deps.filter())
	return pgx.CollectRows(rows, pgx.RowToStructByPos[InEffect])
}

const entryColumns = `v.departement, r.insee, coalesce(c.name, ''), r.number, r.routing_number, coalesce(p.id, '')`
const entryJoins = `LEFT JOIN emergency.communes c ON c.code = r.insee
	LEFT JOIN emergency.psaps p ON p.routing_number = r.routing_number`

// TNAAU is the national table as it is in effect, for the départements in deps.
func (s *Store) TNAAU(ctx context.Context, deps Visible) (Table, error) {
	var t Table
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		if t.Departements, err = inEffect(ctx, tx, deps); err != nil {
			return err
		}
		ids := make([]int64, len(t.Departements))
		for i, d := range t.Departements {
			ids[i] = d.PDAAUVersion
			t.Version = max(t.Version, d.TNAAUVersion)
		}
		rows, _ := tx.Query(ctx, `SELECT `+entryColumns+` FROM emergency.pdaau_version_rows r
			JOIN emergency.pdaau_versions v ON v.id = r.version_id `+entryJoins+`
			WHERE r.version_id = ANY($1) ORDER BY r.insee, length(r.number), r.number`, ids)
		t.Rows, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Entry])
		return err
	})
	if t.Departements == nil {
		t.Departements = []InEffect{}
	}
	if t.Rows == nil {
		t.Rows = []Entry{}
	}
	return t, err
}

// ErrFuture: since names a TNAAU version that does not exist yet.
var ErrFuture = errors.New("no such TNAAU version yet")

// TNAAUDelta is what changed, in the départements in deps, since TNAAU version since: for
// each département whose version in effect is newer, the difference from the version that
// was in effect at since (or from nothing).
func (s *Store) TNAAUDelta(ctx context.Context, deps Visible, since int64) (Delta, error) {
	d := Delta{Since: since, Departements: []InEffect{}, Upsert: []Entry{}, Delete: []Entry{}}
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(active_seq), 0) FROM emergency.pdaau_versions`).Scan(&last); err != nil {
			return err
		}
		if since > last {
			return fmt.Errorf("since=%d, newest is %d: %w", since, last, ErrFuture)
		}
		cur, err := inEffect(ctx, tx, deps)
		if err != nil {
			return err
		}
		for _, c := range cur {
			d.Version = max(d.Version, c.TNAAUVersion)
			if c.TNAAUVersion <= since {
				continue
			}
			d.Departements = append(d.Departements, c)
			rows, _ := tx.Query(ctx, `
				WITH old AS (SELECT id FROM emergency.pdaau_versions WHERE departement = $1 AND active_seq <= $2
					ORDER BY active_seq DESC LIMIT 1),
				a AS (SELECT r.* FROM emergency.pdaau_version_rows r JOIN old ON r.version_id = old.id),
				b AS (SELECT * FROM emergency.pdaau_version_rows WHERE version_id = $3)
				SELECT b.insee IS NULL, $1, insee, coalesce(c.name, ''), number, coalesce(b.routing_number, a.routing_number), coalesce(p.id, '')
				FROM a FULL JOIN b USING (insee, number)
				LEFT JOIN emergency.communes c ON c.code = insee
				LEFT JOIN emergency.psaps p ON p.routing_number = coalesce(b.routing_number, a.routing_number)
				WHERE a.routing_number IS DISTINCT FROM b.routing_number
				ORDER BY insee, length(number), number`, c.Departement, since, c.PDAAUVersion)
			var gone bool
			var e Entry
			_, err := pgx.ForEachRow(rows, []any{&gone, &e.Departement, &e.INSEE, &e.Commune, &e.Number, &e.RoutingNumber, &e.PSAP}, func() error {
				if gone {
					d.Delete = append(d.Delete, e)
				} else {
					d.Upsert = append(d.Upsert, e)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		d.Version = max(d.Version, since)
		return nil
	})
	return d, err
}

// Tag is an entity tag for a representation built from these versions in effect: it changes
// exactly when one of them does. variant tells representations apart (format, since).
func Tag(deps []InEffect, variant string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", variant)
	for _, d := range deps {
		fmt.Fprintf(h, "%s=%d\n", d.Departement, d.PDAAUVersion)
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}

// InEffectFor is the versions in effect for deps, cheaply, to answer If-None-Match without
// building the table.
func (s *Store) InEffectFor(ctx context.Context, deps Visible) ([]InEffect, error) {
	var out []InEffect
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = inEffect(ctx, tx, deps)
		return err
	})
	return out, err
}
