package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"socle/internal/emergency/amlbench"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database"
)

func init() {
	register(command{name: "bench", summary: "measure a path against its baseline (aml)", run: runBench})
}

func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "aml" {
		return usagef("want a benchmark: socle bench aml -h")
	}
	fs := flags("bench aml", "[flags]", `
Measures the AML push path on loopback: N messages pushed over mutual TLS at concurrency C,
stored with their outbox rows, delivered to the PSAP simulator over mutual TLS. Prints
accepted/s, accept latency and accept-to-PSAP latency, then, on the same database and at the
same concurrency, the rate of raw single-row INSERT+COMMIT through pgx, and the ratio. A last
phase paces pushes at a fixed rate to measure accept-to-PSAP latency below saturation.
It runs its own private PostgreSQL cluster (durable settings, fsync on) unless
SOCLE_DATABASE_URL names a database it may fill.`)
	n := fs.Int("n", 20000, "messages in the throughput phase")
	c := fs.Int("c", 64, "concurrency (connections pushing at once)")
	rate := fs.Int("rate", 1000, "messages per second in the paced phase")
	dur := fs.Duration("for", 10*time.Second, "length of the paced phase")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	dataDir := fs.String("data-dir", "", "where to keep the benchmark's cluster and PKI (default: a temporary directory, removed)")
	if err := parse(fs, nil, args[1:]); err != nil {
		return err
	}
	if *n < 1 || *c < 1 || *rate < 1 || *dur <= 0 {
		return usagef("-n, -c, -rate and -for must be positive")
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "socle-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		os.Chmod(tmp, 0o755) // the cluster's system user must reach its directory
		dir = tmp
	}
	log := newLogger("warn", "text")
	b := base{DataDir: dir, DatabaseURL: os.Getenv("SOCLE_DATABASE_URL"), PostgresUser: "socle"}
	d, err := b.openDB(ctx, log, int32(*c+8))
	if err != nil {
		return err
	}
	defer d.Close()
	for _, m := range allMigrations() {
		if _, err := database.Apply(ctx, d.Pool, m); err != nil {
			return err
		}
	}
	bed, err := testbed.New(filepath.Join(dir, "bed"), log)
	if err != nil {
		return err
	}
	defer bed.Close()
	if err := bed.Apply(ctx, d.Pool); err != nil {
		return err
	}
	cfg := testbed.DefaultConfig()
	cfg.Concurrency = 64
	svc, err := bed.StartService(ctx, d.Pool, cfg, amlbench.Logger(stderr))
	if err != nil {
		return err
	}
	defer svc.Stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	opts := amlbench.Options{N: *n, Concurrency: *c, PacedRate: *rate, PacedFor: *dur}
	res, err := amlbench.Run(ctx, d.Pool, bed, svc.URL, opts, stderr)
	if err != nil {
		return err
	}
	res.Print(stdout, opts)
	fmt.Fprintln(stdout)
	return nil
}
