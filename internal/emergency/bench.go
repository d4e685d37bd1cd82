package emergency

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"socle/internal/emergency/amlbench"
	"socle/internal/emergency/heldbench"
	"socle/internal/emergency/opsim"
	"socle/internal/emergency/resolvebench"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/service"
)

// benchCommands are the service's benchmarks, in the platform's `socle bench`. Each runs on
// a scratch database (service.Command.Bench).
func benchCommands() service.Command {
	return service.Command{Name: "bench", Subcommands: []service.Command{
		{Name: "aml", Summary: "AML pushes through socle against the same rows written straight with pgx",
			Synopsis: "[flags]", Example: "socle bench aml -for 10s", Database: true, Bench: true, Run: runBenchAML,
			Description: `
Measures the AML push path on loopback: N messages pushed over mutual TLS at concurrency C,
stored with their outbox rows, delivered to the PSAP simulator over mutual TLS. Prints
accepted/s, accept latency and accept-to-PSAP latency, then, on the same database and at the
same concurrency, the rate of raw single-row INSERT+COMMIT through pgx, and the ratio. A last
phase paces pushes at a fixed rate to measure accept-to-PSAP latency below saturation.
It runs its own private PostgreSQL cluster (durable settings, fsync on) unless
SOCLE_DATABASE_URL names a database it may fill.`},
		{Name: "resolve", Summary: "the commune resolver against PostGIS's ST_Contains on the same points",
			Synopsis: "[flags]", Example: "socle bench resolve", Database: true, Bench: true, Run: runBenchResolve,
			Description: `
Measures the commune resolver (a point to its INSEE code) over synthetic communes tiling
metropolitan France, on one core, against PostGIS's ST_Contains with a GiST index over the
same polygons in the same run (needs the postgis extension: apt-get install
postgresql-15-postgis-3; make bench installs it). Also checks that both give the same answers.`},
		{Name: "held", Summary: "HELD queries through socle against the operator simulator asked directly",
			Synopsis: "[flags]", Example: "socle bench held", Database: true, Bench: true, Run: runBenchHELD,
			Description: `
Measures the location pull: HELD queries from a PSAP (mutual TLS) through socle, which finds
the serving operator and asks the operator simulator (mutual TLS), against the same queries
sent straight to the simulator, both paced at the same rate in the same run. Prints queries/s
and p50/p99 for both, and what socle adds.`},
	}}
}

func runBenchAML(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	n := fs.Int("n", 20000, "messages in the throughput phase")
	c := fs.Int("c", 64, "concurrency (connections pushing at once)")
	rate := fs.Int("rate", 1000, "messages per second in the paced phase")
	dur := fs.Duration("for", 10*time.Second, "length of the paced phase")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *c < 1 || *rate < 1 || *dur <= 0 {
		return service.Usagef("-n, -c, -rate and -for must be positive")
	}
	pool, err := env.OpenDB(ctx, int32(*c+8))
	if err != nil {
		return err
	}
	bed, err := testbed.New(filepath.Join(env.DataDir(), "bed"), env.Logger())
	if err != nil {
		return err
	}
	defer bed.Close()
	if err := bed.Apply(ctx, pool); err != nil {
		return err
	}
	cfg := LoopbackConfig()
	cfg.Concurrency = 64
	svc, err := StartLoopback(ctx, bed, pool, cfg, amlbench.Logger(env.Stderr()))
	if err != nil {
		return err
	}
	defer svc.Stop()
	opts := amlbench.Options{N: *n, Concurrency: *c, PacedRate: *rate, PacedFor: *dur}
	res, err := amlbench.Run(ctx, pool, bed, svc.URL, opts, env.Stderr())
	if err != nil {
		return err
	}
	res.Print(env.Stdout(), opts)
	fmt.Fprintln(env.Stdout())
	return nil
}

func runBenchResolve(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	var o resolvebench.Options
	fs.IntVar(&o.Communes, "communes", 35000, "synthetic communes")
	fs.IntVar(&o.Vertices, "vertices", 200, "vertices per commune")
	fs.IntVar(&o.Points, "n", 2_000_000, "points resolved by socle's index")
	fs.IntVar(&o.PGPoints, "pg", 20_000, "points resolved by PostGIS")
	if err := env.Parse(args); err != nil {
		return err
	}
	if o.Communes < 1 || o.Vertices < 4 || o.Points < 1 || o.PGPoints < 1 || o.PGPoints > o.Points {
		return service.Usagef("-communes, -n and -pg must be positive, -vertices at least 4, -pg at most -n")
	}
	pool, err := env.OpenDB(ctx, 4)
	if err != nil {
		return err
	}
	res, err := resolvebench.Run(ctx, pool, o, env.Stderr())
	if err != nil {
		return err
	}
	res.Print(env.Stdout(), o)
	fmt.Fprintln(env.Stdout())
	return nil
}

func runBenchHELD(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	var o heldbench.Options
	fs.IntVar(&o.Rate, "rate", 1000, "queries per second")
	fs.DurationVar(&o.For, "for", 30*time.Second, "measured time along each path, in one-second windows taken in turns")
	if err := env.Parse(args); err != nil {
		return err
	}
	if o.Rate < 1 || o.For <= 0 {
		return service.Usagef("-rate and -for must be positive")
	}
	pool, err := env.OpenDB(ctx, 32)
	if err != nil {
		return err
	}
	log := env.Logger()
	bed, err := testbed.New(filepath.Join(env.DataDir(), "bed"), log)
	if err != nil {
		return err
	}
	defer bed.Close()
	if err := bed.Apply(ctx, pool); err != nil {
		return err
	}
	simURL, stopSim, err := bed.StartOperatorServer(opsim.New(), log)
	if err != nil {
		return err
	}
	defer stopSim()
	const prefix = "33698"
	if err := bed.ServeNumbers(ctx, pool, simURL, prefix); err != nil {
		return err
	}
	psap, err := bed.RegisterPSAP(ctx, pool, "samu-75", "psap-samu75", 256)
	if err != nil {
		return err
	}
	// A PSAP's console keeps one HTTP/2 connection to socle, as socle keeps one to each
	// operator that offers HTTP/2: the simulator and socle both do.
	psap.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	svc, err := StartLoopback(ctx, bed, pool, LoopbackConfig(), log)
	if err != nil {
		return err
	}
	defer svc.Stop()
	proxyURL, stopProxy, err := bed.StartProxy(simURL, log)
	if err != nil {
		return err
	}
	defer stopProxy()
	res, err := heldbench.Run(ctx, psap, heldbench.Targets{Direct: simURL, Proxy: proxyURL, Socle: svc.URL + "/emergency/v1/held"}, prefix, o, env.Stderr())
	if err != nil {
		return err
	}
	res.Print(env.Stdout(), o)
	fmt.Fprintln(env.Stdout())
	return nil
}
