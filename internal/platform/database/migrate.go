package database

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Migration is one append-only step of a service's schema. Steps are never edited once
// released: a change is a new step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

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
		m.Steps = append(m.Steps, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(m.Steps, func(i, j int) bool { return m.Steps[i].Version < m.Steps[j].Version })
	for i, s := range m.Steps {
		if s.Version != i+1 {
			return Migrations{}, fmt.Errorf("migrations %s: step %d is missing or duplicated", schema, i+1)
		}
	}
	return m, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS public.socle_migrations (
	schema_name text NOT NULL,
	version int NOT NULL,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (schema_name, version))`

// lockKey serialises migrations between socle processes started at once.
const lockKey = 0x736f636c65 // "socle"

// Apply runs the steps of m not yet applied, each in its own transaction, and returns how
// many it ran.
func Apply(ctx context.Context, pool *pgxpool.Pool, m Migrations) (int, error) {
	ran := 0
	for _, step := range m.Steps {
		done, err := applyStep(ctx, pool, m.Schema, step)
		if err != nil {
			return ran, fmt.Errorf("migrate %s step %d (%s): %w", m.Schema, step.Version, step.Name, err)
		}
		if done {
			ran++
		}
	}
	return ran, nil
}

func applyStep(ctx context.Context, pool *pgxpool.Pool, schema string, step Migration) (bool, error) {
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
	if err != nil || applied {
		return false, err
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, step.SQL); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO public.socle_migrations (schema_name, version, name) VALUES ($1, $2, $3)`,
		schema, step.Version, step.Name); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// Pending returns how many steps of m the database lacks. socle refuses to serve on a schema
// that is behind unless told to migrate at start.
func Pending(ctx context.Context, pool *pgxpool.Pool, m Migrations) (int, error) {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('public.socle_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("migrations %s: %w", m.Schema, err)
	}
	if !exists {
		return len(m.Steps), nil
	}
	var current int
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM public.socle_migrations WHERE schema_name = $1`,
		m.Schema).Scan(&current)
	if err != nil {
		return 0, fmt.Errorf("migrations %s: %w", m.Schema, err)
	}
	if current > len(m.Steps) {
		return 0, fmt.Errorf("migrations %s: database is at version %d, this binary knows %d: run a newer socle", m.Schema, current, len(m.Steps))
	}
	return len(m.Steps) - current, nil
}
