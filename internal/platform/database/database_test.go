package database_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestMigrationsApplyOnceInOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0001_things.sql": {Data: []byte(`CREATE TABLE demo.things (id int PRIMARY KEY)`)},
		"m/0002_colour.sql": {Data: []byte(`ALTER TABLE demo.things ADD COLUMN colour text`)},
		"m/README.md":       {Data: []byte(`ignored`)},
	}
	m, err := database.LoadMigrations("demo", fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	pool := dbtest.New(t)
	ctx := context.Background()
	if n := pending(t, pool, m); n != 2 {
		t.Fatalf("pending before = %d, want 2", n)
	}
	if n, err := database.Apply(ctx, pool, m, "v1"); err != nil || n != 2 {
		t.Fatalf("first apply ran %d, %v; want 2 steps", n, err)
	}
	if n, err := database.Apply(ctx, pool, m, "v1"); err != nil || n != 0 {
		t.Fatalf("second apply ran %d, %v; want nothing", n, err)
	}
	if n := pending(t, pool, m); n != 0 {
		t.Fatalf("pending after = %d, want 0", n)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO demo.things (id, colour) VALUES (1, 'bleu')`); err != nil {
		t.Fatal(err)
	}
}

func TestFailedStepChangesNothing(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0001_ok.sql":     {Data: []byte(`CREATE TABLE demo.a (id int)`)},
		"m/0002_broken.sql": {Data: []byte(`CREATE TABLE demo.b (id int); SELECT no_such_function()`)},
	}
	m, err := database.LoadMigrations("demo", fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	pool := dbtest.New(t)
	ctx := context.Background()
	if _, err := database.Apply(ctx, pool, m, "v1"); err == nil {
		t.Fatal("broken step applied without error")
	}
	var b bool
	pool.QueryRow(ctx, `SELECT to_regclass('demo.b') IS NOT NULL`).Scan(&b)
	if b {
		t.Fatal("table of the failed step exists: step was not atomic")
	}
	if n := pending(t, pool, m); n != 1 {
		t.Fatalf("pending = %d, want the broken step only", n)
	}
}

func pending(t *testing.T, pool *pgxpool.Pool, m database.Migrations) int {
	t.Helper()
	st, err := database.ReadStatus(context.Background(), pool, m)
	if err != nil {
		t.Fatal(err)
	}
	return st.Pending
}

// Release N-1 runs on the schema of release N as long as N only expanded it: that is what
// lets replicas of both run during a rolling upgrade, and a rollback start the old binary.
// A contract step stops the releases that predate it, and says which step and release.
func TestAnOlderReleaseRunsOnExpandedSchemaButNotOnContractedOne(t *testing.T) {
	v1 := fstest.MapFS{
		"m/0001_things.sql": {Data: []byte(`CREATE TABLE demo.things (id int PRIMARY KEY, colour text)`)},
	}
	v2 := fstest.MapFS{
		"m/0001_things.sql": v1["m/0001_things.sql"],
		"m/0002_size.sql":   {Data: []byte(`ALTER TABLE demo.things ADD COLUMN size int`)},
	}
	v3 := fstest.MapFS{
		"m/0001_things.sql":    v1["m/0001_things.sql"],
		"m/0002_size.sql":      v2["m/0002_size.sql"],
		"m/0003_no_colour.sql": {Data: []byte("-- socle:contract\n-- v2 stopped reading colour\nALTER TABLE demo.things DROP COLUMN colour")},
	}
	load := func(fsys fstest.MapFS) database.Migrations {
		m, err := database.LoadMigrations("demo", fsys, "m")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1, m2, m3 := load(v1), load(v2), load(v3)
	if m3.Steps[1].Contract || !m3.Steps[2].Contract {
		t.Fatalf("contract marks read as %v, %v", m3.Steps[1].Contract, m3.Steps[2].Contract)
	}
	pool := dbtest.New(t)
	ctx := context.Background()
	if _, err := database.Apply(ctx, pool, m1, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := database.Apply(ctx, pool, m2, "v2"); err != nil {
		t.Fatal(err)
	}
	st, err := database.ReadStatus(ctx, pool, m1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Runnable(); err != nil || len(st.Ahead) != 1 || st.Ahead[0].AppliedBy != "v2" || st.Floor != 0 {
		t.Fatalf("v1 on v2's schema: %v, ahead %+v, floor %d; want runnable, one expand step ahead", err, st.Ahead, st.Floor)
	}
	if _, err := database.Apply(ctx, pool, m3, "v3"); err != nil {
		t.Fatal(err)
	}
	for _, old := range []database.Migrations{m1, m2} {
		st, err := database.ReadStatus(ctx, pool, old)
		if err != nil {
			t.Fatal(err)
		}
		err = st.Runnable()
		if !errors.Is(err, database.ErrNewerSchema) || !strings.Contains(err.Error(), "step 3 (no_colour), applied by v3") {
			t.Fatalf("a release of %d steps on v3's schema: %v", len(old.Steps), err)
		}
	}
	if st, _ := database.ReadStatus(ctx, pool, m3); st.Runnable() != nil || st.Floor != 3 {
		t.Fatalf("v3 on its own schema: %v, floor %d", st.Runnable(), st.Floor)
	}
}

func TestMigrationFilesMustBeNumberedWithoutGaps(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"bad name": {"m/first.sql": {}},
	} {
		if _, err := database.LoadMigrations("demo", fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
