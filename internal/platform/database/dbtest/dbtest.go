// Package dbtest gives each test its own PostgreSQL database on a real server: the server of
// SOCLE_TEST_DATABASE_URL if set, else a private cluster shared by every test package of the
// run (created once in the temporary directory, stopped by the last package to finish).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database"
)

var (
	adminURL string
	cluster  *database.Cluster
)

// Main runs a package's tests; call it from TestMain: os.Exit(dbtest.Main(m)).
func Main(m *testing.M) int {
	adminURL = os.Getenv("SOCLE_TEST_DATABASE_URL")
	if adminURL == "" {
		cluster = &database.Cluster{
			Root:   filepath.Join(os.TempDir(), "socle-test-postgres"),
			Fast:   true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err := cluster.Start(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
			return 1
		}
		adminURL = cluster.URL("postgres")
	}
	code := m.Run()
	if cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
		}
	}
	return code
}

// NewURL creates an empty database for t, migrated with ms, dropped when t ends, and
// returns its URL.
func NewURL(t testing.TB, ms ...database.Migrations) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("dbtest: call dbtest.Main from the package's TestMain")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	name := "test_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("dbtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
	if len(ms) > 0 {
		pool, err := database.Open(ctx, url, 2)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		for _, m := range ms {
			if _, err := database.Apply(ctx, pool, m, "test"); err != nil {
				t.Fatalf("dbtest: %v", err)
			}
		}
	}
	return url
}

// New is NewURL with a pool, closed when t ends.
func New(t testing.TB, ms ...database.Migrations) *pgxpool.Pool {
	t.Helper()
	pool, err := database.Open(context.Background(), NewURL(t, ms...), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
