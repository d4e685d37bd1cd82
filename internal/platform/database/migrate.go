package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one append-only step of a service's schema. Steps are never edited once
// released: a change is a new step.
//
// Steps follow the expand/contract rule, so that a rollback is only a matter of starting the
// previous release: a step either expands the schema (a new table, a nullable column or one
// with a default, an index) and the previous release, which ignores what it does not know,
// keeps running on it; or it contracts it (drops or renames what an older release reads or
// writes, tightens a constraint it would break) and says so on its first line:
//
//	-- socle:contract
//
// A contract step ships at least one release after the expand step that made the old shape
// unused, and once applied, the releases that predate it refuse to start (see Status).
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Contract bool
}

// contractMark is the first line of a contract step.
const contractMark = "-- socle:contract"

// Migrations are the ordered steps of one service, which owns one PostgreSQL schema.
type Migrations struct {
	Schema string
	Steps  []Migration
}

// LoadMigrations reads dir of fsys: files named NNNN_what.sql, numbered from 1 without gaps.
func LoadMigrations(schema string, fsys fs.FS, dir string) (Migrations, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return Migrations{}, fmt.Errorf("migrations %s: %w", schema, err)
	}
	m := Migrations{Schema: schema}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return Migrations{}, fmt.Errorf("migrations %s: %s: name must be NNNN_what.sql", schema, e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return Migrations{}, err
		}
		first, _, _ := strings.Cut(string(b), "\n")
		m.Steps = append(m.Steps, Migration{Version: v, Name: name, SQL: string(b),
			Contract: strings.TrimSpace(first) == contractMark})
	}
	sort.Slice(m.Steps, func(i, j int) bool { return m.Steps[i].Version < m.Steps[j].Version })
	for i, s := range m.Steps {
		if s.Version != i+1 {
			return Migrations{}, fmt.Errorf("migrations %s: step %d is missing or duplicated", schema, i+1)
		}
	}
	return m, nil
}

// migrationsTable records the steps applied, which release applied them, and whether they
// contract the schema: a release that does not know a step learns from here whether it may
// still run. The two last columns came after the first release (expand: defaults).
const migrationsTable = `CREATE TABLE IF NOT EXISTS public.socle_migrations (
	schema_name text NOT NULL,
	version int NOT NULL,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schema_name, version));
ALTER TABLE public.socle_migrations
	ADD COLUMN IF NOT EXISTS contract boolean NOT NULL DEFAULT false,
	ADD COLUMN IF NOT EXISTS applied_by text NOT NULL DEFAULT ''`

// lockKey serialises migrations between socle processes started at once.
const lockKey = 0x736f636c65 // "socle"

// Apply runs the steps of m not yet applied, each in its own transaction, records that
// release (socle's version) applied them, and returns how many it ran.
func Apply(ctx context.Context, pool *pgxpool.Pool, m Migrations, release string) (int, error) {
	ran := 0
	for _, step := range m.Steps {
		done, err := applyStep(ctx, pool, m.Schema, step, release)
		if err != nil {
			return ran, fmt.Errorf("migrate %s step %d (%s): %w", m.Schema, step.Version, step.Name, err)
		}
		if done {
			ran++
		}
	}
	return ran, nil
}

func applyStep(ctx context.Context, pool *pgxpool.Pool, schema string, step Migration, release string) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, migrationsTable); err != nil {
		return false, err
	}
	var applied bool
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM public.socle_migrations WHERE schema_name = $1 AND version = $2)`,
		schema, step.Version).Scan(&applied)
	if err != nil {
		return false, err
	}
	if applied { // committed all the same: the table's shape may have just been brought up to date
		return false, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, step.SQL); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO public.socle_migrations (schema_name, version, name, contract, applied_by)
		VALUES ($1, $2, $3, $4, $5)`, schema, step.Version, step.Name, step.Contract, release); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// Status is where a schema stands for the binary that reads it.
type Status struct {
	Schema  string
	Known   int // steps this binary carries
	Applied int // the last step applied to the database
	Pending int // steps this binary carries and the database lacks
	// Steps are every step the database recorded; Ahead, those a newer release applied and
	// this binary does not know.
	Steps, Ahead []Applied
	// Floor is how many steps of this schema a release must know to run on the database:
	// the version of the last contract step applied (0: any release that has the schema).
	Floor int
}

// Applied is a step as the database recorded it.
type Applied struct {
	Version   int
	Name      string
	Contract  bool
	AppliedBy string
	AppliedAt time.Time
}

// ErrNewerSchema says that a newer release contracted the schema past what this binary knows.
var ErrNewerSchema = errors.New("the schema was contracted by a newer release")

// Runnable says whether this binary may serve on the schema: nothing pending, and no
// contract step it does not know. Expand steps of a newer release are fine: that is how
// release N-1 runs on schema N during an upgrade, and after a rollback.
func (s Status) Runnable() error {
	for _, a := range s.Ahead {
		if a.Contract {
			return fmt.Errorf("migrations %s: step %d (%s), applied by %s, contracts the schema past this binary's %d steps: %w",
				s.Schema, a.Version, a.Name, orUnknown(a.AppliedBy), s.Known, ErrNewerSchema)
		}
	}
	if s.Pending > 0 {
		return fmt.Errorf("schema %s is %d steps behind: run `socle migrate` or set SOCLE_MIGRATE=always", s.Schema, s.Pending)
	}
	return nil
}

func orUnknown(release string) string {
	if release == "" {
		return "an unrecorded release"
	}
	return release
}

// ReadStatus compares what the database recorded for m's schema with the steps of m.
func ReadStatus(ctx context.Context, pool *pgxpool.Pool, m Migrations) (Status, error) {
	st := Status{Schema: m.Schema, Known: len(m.Steps)}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('public.socle_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return st, fmt.Errorf("migrations %s: %w", m.Schema, err)
	}
	if !exists {
		st.Pending = len(m.Steps)
		return st, nil
	}
	// The columns a newer release added may be missing on a database only older ones touched.
	rows, err := pool.Query(ctx, `SELECT version, name, coalesce(to_jsonb(r)->>'contract', 'false')::boolean,
			coalesce(to_jsonb(r)->>'applied_by', ''), applied_at
		FROM public.socle_migrations r WHERE schema_name = $1 ORDER BY version`, m.Schema)
	if err != nil {
		return st, fmt.Errorf("migrations %s: %w", m.Schema, err)
	}
	applied, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Applied, error) {
		var a Applied
		return a, r.Scan(&a.Version, &a.Name, &a.Contract, &a.AppliedBy, &a.AppliedAt)
	})
	if err != nil {
		return st, fmt.Errorf("migrations %s: %w", m.Schema, err)
	}
	st.Steps = applied
	done := map[int]bool{}
	for _, a := range applied {
		done[a.Version] = true
		st.Applied = max(st.Applied, a.Version)
		contract := a.Contract
		if a.Version <= st.Known {
			contract = m.Steps[a.Version-1].Contract // this binary's own files say it best
		} else {
			st.Ahead = append(st.Ahead, a)
		}
		if contract {
			st.Floor = a.Version
		}
	}
	for _, s := range m.Steps {
		if !done[s.Version] {
			st.Pending++
		}
	}
	return st, nil
}
