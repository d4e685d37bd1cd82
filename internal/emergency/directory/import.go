package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/geo"
)

// ImportReport says what an import of the commune boundaries changed. Communes merge and
// split every year: codes appear and vanish, and PDAAU rows of vanished codes are orphaned
// until the PDAAU is updated.
type ImportReport struct {
	Total    int
	Appeared []string // codes new in this set
	Vanished []string // codes no longer in this set
	Changed  int      // codes whose name or boundary changed
	Orphaned []PDAAURow
}

// PDAAURow is one routing row.
type PDAAURow struct {
	INSEE, Number, RoutingNumber string
}

// ImportCommunes replaces the whole set of communes with cs, in one transaction: readers see
// the old set until the commit and the new one after, never a mix. progress, if set, is
// called as rows are written.
func ImportCommunes(ctx context.Context, pool *pgxpool.Pool, cs []geo.Commune, progress func(done, total int)) (ImportReport, error) {
	rep := ImportReport{Total: len(cs)}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	defer tx.Rollback(ctx)
	// Writers wait (apply, another import); readers go on with the old set.
	if _, err := tx.Exec(ctx, `LOCK TABLE emergency.communes IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_communes (code text PRIMARY KEY, name text NOT NULL, geometry jsonb NOT NULL) ON COMMIT DROP`); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"import_communes"}, []string{"code", "name", "geometry"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(cs) {
				return nil, nil
			}
			c := cs[i]
			i++
			if progress != nil && (i%500 == 0 || i == len(cs)) {
				progress(i, len(cs))
			}
			geom, err := json.Marshal(toCoordinates(c.Geometry))
			return []any{c.Code, c.Name, geom}, err
		}))
	if err != nil {
		return rep, fmt.Errorf("import: write communes: %w", err)
	}
	rows, _ := tx.Query(ctx, `SELECT code FROM import_communes i
		WHERE NOT EXISTS (SELECT 1 FROM emergency.communes c WHERE c.code = i.code) ORDER BY code`)
	if rep.Appeared, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE emergency.communes c SET name = i.name, geometry = i.geometry
		FROM import_communes i WHERE c.code = i.code AND (c.name, c.geometry) IS DISTINCT FROM (i.name, i.geometry)`)
	if err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	rep.Changed = int(tag.RowsAffected())
	if _, err := tx.Exec(ctx, `INSERT INTO emergency.communes (code, name, geometry)
		SELECT code, name, geometry FROM import_communes ON CONFLICT (code) DO NOTHING`); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	rows, _ = tx.Query(ctx, `DELETE FROM emergency.communes c
		WHERE NOT EXISTS (SELECT 1 FROM import_communes i WHERE i.code = c.code) RETURNING code`)
	if rep.Vanished, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	sort.Strings(rep.Vanished)
	rows, _ = tx.Query(ctx, `SELECT insee, number, routing_number FROM emergency.pdaau p
		WHERE NOT EXISTS (SELECT 1 FROM import_communes i WHERE i.code = p.insee) ORDER BY insee, number`)
	if rep.Orphaned, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PDAAURow]); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	if len(rep.Appeared)+len(rep.Vanished)+rep.Changed > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
			return rep, fmt.Errorf("import: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	return rep, nil
}
