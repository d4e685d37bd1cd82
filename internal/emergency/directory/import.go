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
	var rep ImportReport
	err := replaceAreas(ctx, pool, "communes", cs, progress, &rep, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT insee, number, routing_number FROM emergency.pdaau p
			WHERE NOT EXISTS (SELECT 1 FROM emergency.communes c WHERE c.code = p.insee) ORDER BY insee, number`)
		var err error
		rep.Orphaned, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PDAAURow])
		return err
	})
	return rep, err
}

// ImportDepartements replaces the whole set of département boundaries, as ImportCommunes.
func ImportDepartements(ctx context.Context, pool *pgxpool.Pool, ds []geo.Commune, progress func(done, total int)) (ImportReport, error) {
	var rep ImportReport
	err := replaceAreas(ctx, pool, "departements", ds, progress, &rep, nil)
	return rep, err
}

// replaceAreas makes table (communes or departements) hold exactly areas, reporting codes
// that appeared, vanished and changed; then runs also, in the same transaction, and commits.
func replaceAreas(ctx context.Context, pool *pgxpool.Pool, table string, areas []geo.Commune,
	progress func(done, total int), rep *ImportReport, also func(pgx.Tx) error) error {
	rep.Total = len(areas)
	target := pgx.Identifier{"emergency", table}.Sanitize()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer tx.Rollback(ctx)
	// Writers wait (apply, another import); readers go on with the old set.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+target+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_areas (code text PRIMARY KEY, name text NOT NULL, geometry jsonb NOT NULL) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"import_areas"}, []string{"code", "name", "geometry"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(areas) {
				return nil, nil
			}
			c := areas[i]
			i++
			if progress != nil && (i%500 == 0 || i == len(areas)) {
				progress(i, len(areas))
			}
			geom, err := json.Marshal(toCoordinates(c.Geometry))
			return []any{c.Code, c.Name, geom}, err
		}))
	if err != nil {
		return fmt.Errorf("import: write %s: %w", table, err)
	}
	rows, _ := tx.Query(ctx, `SELECT code FROM import_areas i
		WHERE NOT EXISTS (SELECT 1 FROM `+target+` t WHERE t.code = i.code) ORDER BY code`)
	if rep.Appeared, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE `+target+` t SET name = i.name, geometry = i.geometry
		FROM import_areas i WHERE t.code = i.code AND (t.name, t.geometry) IS DISTINCT FROM (i.name, i.geometry)`)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rep.Changed = int(tag.RowsAffected())
	if _, err := tx.Exec(ctx, `INSERT INTO `+target+` (code, name, geometry)
		SELECT code, name, geometry FROM import_areas ON CONFLICT (code) DO NOTHING`); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rows, _ = tx.Query(ctx, `DELETE FROM `+target+` t
		WHERE NOT EXISTS (SELECT 1 FROM import_areas i WHERE i.code = t.code) RETURNING code`)
	if rep.Vanished, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	sort.Strings(rep.Vanished)
	if also != nil {
		if err := also(tx); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if len(rep.Appeared)+len(rep.Vanished)+rep.Changed > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	return nil
}
