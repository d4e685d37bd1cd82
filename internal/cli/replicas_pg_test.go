package cli_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"socle/internal/platform/database"
	"socle/internal/platform/porttest"
)

// pgPair is a PostgreSQL primary and a streaming replica made from it with the system's
// binaries, the replica synchronous: a commit is acknowledged only once the replica has it
// (synchronous_standby_names, synchronous_commit = on), which is what lets a promoted
// replica hold every message socle answered 202 for.
type pgPair struct {
	root            string
	primary         *database.Cluster
	standby         string // its PGDATA
	standbyPort     int
	user, password  string
	primaryPort     int
	uid, gid        int // who runs the servers (PostgreSQL refuses root); -1: this process's user
	standbyLog      string
	primaryKilledAt time.Time
}

// startPGPair creates both servers; they are stopped and removed when t ends.
func startPGPair(t *testing.T) *pgPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Under the system's temporary directory, traversable by the servers' user (t.TempDir
	// is mode 0700, root's).
	root, err := os.MkdirTemp("", "socle-replicas-pg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	p := &pgPair{root: root, uid: -1, gid: -1}
	p.primary = &database.Cluster{Root: filepath.Join(root, "primary"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	t.Cleanup(func() { p.stop(t) })
	if err := p.primary.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(p.primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	p.user, p.password, p.primaryPort = cfg.User, cfg.Password, int(cfg.Port)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("socle") // database.Cluster's default system user, created by Start
		if err != nil {
			t.Fatal(err)
		}
		p.uid, _ = strconv.Atoi(u.Uid)
		p.gid, _ = strconv.Atoi(u.Gid)
	}

	// The replica: a base backup that writes its own primary_conninfo and standby.signal (-R),
	// streaming the WAL it needs during the copy (-X stream).
	p.standby = filepath.Join(root, "standby")
	if err := os.Mkdir(p.standby, 0o700); err != nil {
		t.Fatal(err)
	}
	if p.uid >= 0 {
		os.Chown(p.standby, p.uid, p.gid)
	}
	if out, err := p.command(ctx, "pg_basebackup", "-D", p.standby, "-R", "-X", "stream", "-c", "fast",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.primaryPort), "-U", p.user).CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v: %s", err, out)
	}
	p.standbyPort = freePort(t)
	p.standbyLog = filepath.Join(root, "standby.log")
	if err := os.WriteFile(p.standbyLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if p.uid >= 0 {
		os.Chown(p.standbyLog, p.uid, p.gid) // pg_ctl writes it as the servers' user
	}
	if out, err := p.command(ctx, "pg_ctl", "start", "-D", p.standby, "-w", "-t", "120", "-l", p.standbyLog,
		"-o", fmt.Sprintf("-p %d -c cluster_name=standby", p.standbyPort)).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(p.standbyLog)
		t.Fatalf("start the replica: %v: %s\n%s", err, out, log)
	}

	// Only now is the replica made synchronous: a commit before it streams would wait for it.
	admin, err := pgx.Connect(ctx, p.primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{"ALTER SYSTEM SET synchronous_standby_names = 'standby'",
		"ALTER SYSTEM SET synchronous_commit = 'on'", "SELECT pg_reload_conf()"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	waitUntil(t, 60*time.Second, "the replica streaming synchronously", func() bool {
		var state string
		err := admin.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'").Scan(&state)
		return err == nil && state == "sync"
	})
	return p
}

// url lists both servers: pgx tries them in turn and keeps the one that accepts writes
// (target_session_attrs=read-write), as socle's SOCLE_DATABASE_URL does in production.
func (p *pgPair) url(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d,127.0.0.1:%d/%s?sslmode=disable&target_session_attrs=read-write",
		p.user, p.password, p.primaryPort, p.standbyPort, db)
}

// primaryURL is the primary alone, for setting up.
func (p *pgPair) primaryURL(db string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", p.user, p.password, p.primaryPort, db)
}

// killPrimary is the primary's machine going away: SIGKILL to the postmaster and every
// backend at once (they share the process group pg_ctl gave them).
func (p *pgPair) killPrimary(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.primary.Root, "pgdata", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid == syscall.Getpgrp() {
		t.Fatal("the primary shares the test's process group: not killing it")
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the primary gone", func() bool { return syscall.Kill(pid, 0) != nil })
	p.primaryKilledAt = time.Now()
}

// promote makes the replica the primary (pg_ctl promote waits until it accepts writes).
func (p *pgPair) promote(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := p.command(ctx, "pg_ctl", "promote", "-D", p.standby, "-w", "-t", "60").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl promote: %v: %s", err, out)
	}
}

func (p *pgPair) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if p.standby != "" {
		p.command(ctx, "pg_ctl", "stop", "-D", p.standby, "-m", "immediate", "-w").Run()
	}
	if p.primaryKilledAt.IsZero() {
		p.primary.Stop(ctx)
	}
	if t.Failed() && p.standbyLog != "" {
		if b, err := os.ReadFile(p.standbyLog); err == nil && len(b) > 0 {
			t.Logf("replica's log (last 3000 bytes):\n%s", tail(b, 3000))
		}
	}
	os.RemoveAll(p.root)
	os.Remove(p.primary.Root + ".json")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// command runs one of the server's binaries as the servers' user, in a process group of its
// own (pg_ctl's server stays in it: killPrimary kills that group).
func (p *pgPair) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(p.primary.BinDir, name), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC", "PGPASSWORD=" + p.password}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if p.uid >= 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(p.uid), Gid: uint32(p.gid)}
		cmd.Dir = "/"
	}
	return cmd
}

// freePort is a loopback port for a listener the test names before it starts.
func freePort(t *testing.T) int { return porttest.Free(t) }
