package database_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socle/internal/platform/database"
)

// TestThePrivateClusterSurvivesACrashAndStopsCleanly creates a cluster, writes, kills the
// server with SIGKILL as a crash would, starts again (PostgreSQL recovers from its WAL),
// finds the data, and stops cleanly.
func TestThePrivateClusterSurvivesACrashAndStopsCleanly(t *testing.T) {
	root, err := os.MkdirTemp("", "socle-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	os.Chmod(root, 0o711) // the cluster's system user must reach its directory
	ctx := context.Background()
	c := &database.Cluster{Root: filepath.Join(root, "postgres")} // durable, as make run
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(ctx, c.URL("postgres"), 1)
	if err != nil {
		t.Fatal(err)
	}
	pool.Exec(ctx, `CREATE TABLE survives (v text); INSERT INTO survives VALUES ('oui')`)
	pool.Close()

	pid := postmasterPID(t, c.Root)
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}

	again := &database.Cluster{Root: c.Root}
	if err := again.Start(ctx); err != nil {
		t.Fatalf("start after a crash: %v", err)
	}
	pool, err = database.Open(ctx, again.URL("postgres"), 1)
	if err != nil {
		t.Fatal(err)
	}
	var v string
	pool.QueryRow(ctx, `SELECT v FROM survives`).Scan(&v)
	pool.Close()
	if v != "oui" {
		t.Fatalf("data after recovery: %q", v)
	}
	c.Stop(ctx) // the first user's share was never released: let it go
	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Root, "pgdata", "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("server still running after Stop: %v", err)
	}
}

func postmasterPID(t *testing.T, root string) int {
	b, err := os.ReadFile(filepath.Join(root, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
