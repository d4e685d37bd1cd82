package database_test

import (
	"context"
	"os"
	"testing"
	"testing/fstest"

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
	if n, _ := database.Pending(ctx, pool, m); n != 2 {
		t.Fatalf("pending before = %d, want 2", n)
	}
	if n, err := database.Apply(ctx, pool, m); err != nil || n != 2 {
		t.Fatalf("first apply ran %d, %v; want 2 steps", n, err)
	}
	if n, err := database.Apply(ctx, pool, m); err != nil || n != 0 {
		t.Fatalf("second apply ran %d, %v; want nothing", n, err)
	}
	if n, _ := database.Pending(ctx, pool, m); n != 0 {
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
	if _, err := database.Apply(ctx, pool, m); err == nil {
		t.Fatal("broken step applied without error")
	}
	var b bool
	pool.QueryRow(ctx, `SELECT to_regclass('demo.b') IS NOT NULL`).Scan(&b)
	if b {
		t.Fatal("table of the failed step exists: step was not atomic")
	}
	if n, _ := database.Pending(ctx, pool, m); n != 1 {
		t.Fatalf("pending = %d, want the broken step only", n)
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
