package services_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/platform/bus"
	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
	_ "socle/internal/services"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// shared is the platform's pool the services are given: its connections come and go with
// its own idle rules, not with a service's lifecycle, and are not counted.
var shared *pgxpool.Pool

// held is what the process holds: goroutines and open files (sockets among them), less the
// shared pool's connections.
func held() (goroutines, files int) {
	fds, _ := os.ReadDir("/proc/self/fd")
	conns := 0
	if shared != nil {
		conns = int(shared.Stat().TotalConns())
	}
	return runtime.NumGoroutine(), len(fds) - conns
}

// ownGoroutines counts the goroutines running socle's code, other than the test's own.
func ownGoroutines() int {
	buf := make([]byte, 1<<22)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "socle/internal/") && !strings.Contains(g, "socle/internal/services.") {
			n++
		}
	}
	return n
}

// steady waits until what the process holds stops changing (what an earlier test started may
// still be ending), and returns it.
func steady() (goroutines, files int) {
	g, f := held()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 100 { // two seconds at most
		<-tick.C
		g2, f2 := held()
		if g2 == g && f2 == f {
			break
		}
		g, f = g2, f2
	}
	return g, f
}

// settle waits until the process holds no more than it did before, or fails after a bound.
func settle(t *testing.T, what string, g0, f0 int) {
	t.Helper()
	var g, f int
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(20 * time.Second); ; {
		if g, f = held(); g <= g0 && f <= f0 {
			return
		}
		select {
		case <-tick.C:
			continue
		case <-deadline:
		}
		break
	}
	buf := make([]byte, 1<<20)
	t.Fatalf("%s: %d goroutines (was %d), %d open files (was %d)\n%s", what, g, g0, f, f0, buf[:runtime.Stack(buf, true)])
}

// Every built-in service keeps the contract of platform/service: New has no side effect,
// Stop gives back everything Start took, and a Start that fails halfway takes nothing away.
func TestEveryServiceKeepsTheLifecycleContract(t *testing.T) {
	// A socket left open is closed by the garbage collector, some day: without collections,
	// what a service forgot stays counted, on every machine alike.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	migrations := []database.Migrations{identity.Migrations()}
	for _, d := range service.All() {
		migrations = append(migrations, d.Migrations...)
	}
	pool := dbtest.New(t, migrations...)
	shared = pool
	defer func() { shared = nil }()
	b, err := bus.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	dataDir := t.TempDir()
	pkiDir := filepath.Join(dataDir, "pki")
	if _, err := pki.Init(pkiDir); err != nil {
		t.Fatal(err)
	}
	cas, err := pki.LoadPool(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pool.Exec(context.Background(), "SELECT 1") // the test's own pool is open before counting
	// newConfig is the service's configuration with its defaults.
	newConfig := func(d service.Definition) service.Config {
		cfg := d.NewConfig()
		cfg.Register(config.New())
		return cfg
	}
	for _, d := range service.All() {
		t.Run(d.Name, func(t *testing.T) {
			cfg := newConfig(d)
			env := service.Env{Pool: pool, Bus: b, Metrics: prometheus.NewRegistry(), Logger: quiet,
				Identity: identity.New(pool, quiet), TLS: service.TLS{ClientCAs: cas}, DataDir: dataDir, Stdout: io.Discard}
			g0, f0 := steady()
			s0 := ownGoroutines()
			svc, err := d.New(cfg, env)
			if err != nil {
				t.Fatal(err)
			}
			// Goroutines are counted by whose code they run: the database pool and the embedded
			// NATS server start and end their own at any time, which a plain count mistook for
			// New's.
			if s := ownGoroutines(); s > s0 {
				t.Fatalf("New started %d goroutines", s-s0)
			}
			// The pool stops counting a connection it destroys before its socket is closed
			// (puddle closes it in a goroutine of its own): a file seen for a moment is that
			// one, a file New opened stays, and settle says so.
			settle(t, "after New", g0, f0)
			ctx := context.Background()
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := svc.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			settle(t, "after Start and Stop", g0, f0)
			if err := svc.Stop(ctx); err != nil {
				t.Errorf("a second Stop: %v", err)
			}

			// Halfway: the data directory is a file, so whatever the service keeps on disk
			// cannot be opened.
			file := filepath.Join(t.TempDir(), "not-a-directory")
			os.WriteFile(file, nil, 0o600)
			env.DataDir, env.Metrics = file, prometheus.NewRegistry()
			svc, err = d.New(newConfig(d), env)
			if err != nil {
				t.Logf("refused at once: %v", err)
				return
			}
			if err := svc.Start(ctx); err == nil {
				t.Logf("keeps nothing on disk: started anyway")
				svc.Stop(ctx)
			} else {
				t.Logf("Start failed halfway: %v", err)
			}
			settle(t, "after a failed Start", g0, f0)
		})
	}
}
