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
With -forward it runs three times — without, with the cutover's forwarding of every
accepted message to a sink over mutual TLS (docs/operations-cutover.md), and without again —
and prints what forwarding changes, against the mean of the runs without.
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
	fwd := fs.Bool("forward", false, "run it twice, without then with the cutover's forwarding to a sink over mutual TLS, and print the ratios")
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
	opts := amlbench.Options{N: *n, Concurrency: *c, PacedRate: *rate, PacedFor: *dur}
	// run measures with cfg; after, if set, runs before the service stops.
	run := func(cfg Config, after func(amlbench.Result) error) (amlbench.Result, error) {
		svc, err := StartLoopback(ctx, bed, pool, cfg, amlbench.Logger(env.Stderr()))
		if err != nil {
			return amlbench.Result{}, err
		}
		defer svc.Stop()
		res, err := amlbench.Run(ctx, pool, bed, svc.URL, opts, env.Stderr())
		if err == nil && after != nil {
			err = after(res)
		}
		return res, err
	}
	res, err := run(cfg, nil)
	if err != nil {
		return err
	}
	res.Print(env.Stdout(), opts)
	fmt.Fprintln(env.Stdout())
	if !*fwd {
		return nil
	}
	// The same again with every accepted message also forwarded to a sink that keeps up:
	// what the cutover relay costs the PSAP path.
	url, received, stop, err := bed.StartSink("legacy-sink", env.Logger())
	if err != nil {
		return err
	}
	defer stop()
	cfg.Cutover.Forward = url
	fmt.Fprintln(env.Stderr(), "again, with the cutover's forwarding to", url)
	start := time.Now()
	var took time.Duration // until the last message reached the sink
	withFwd, err := run(cfg, func(r amlbench.Result) error {
		// Every message of the run (the warm-up's too) reaches the sink before the service stops.
		want := int64(r.Accepted + r.PacedSent + 1)
		for deadline := time.Now().Add(2 * time.Minute); received() < want; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("forwarding: %d of %d messages reached the sink in 2 minutes", received(), want)
			}
		}
		took = time.Since(start)
		return nil
	})
	if err != nil {
		return err
	}
	withFwd.Print(env.Stdout(), opts)
	fmt.Fprintln(env.Stdout())
	// Without forwarding once more: a shared machine's load and the disk's fsync rate drift
	// during a run, and the mean of the runs before and after is fairer than either (as the
	// raw baseline is measured).
	fmt.Fprintln(env.Stderr(), "once more without forwarding")
	cfg.Cutover.Forward = ""
	after, err := run(cfg, nil)
	if err != nil {
		return err
	}
	after.Print(env.Stdout(), opts)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	off := func(f func(amlbench.Result) float64) float64 { return (f(res) + f(after)) / 2 }
	offRate := off(func(r amlbench.Result) float64 { return r.AcceptedPerSec })
	acc99 := off(func(r amlbench.Result) float64 { return ms(r.AcceptP99) })
	psap99 := off(func(r amlbench.Result) float64 { return ms(r.PacedToPSAP99) })
	fmt.Fprintf(env.Stdout(), `
cutover forwarding on / off (off: the mean of the runs before and after; same database)
  accepted/s                %8.2f   (%.0f / %.0f msg/s)
  accept latency p99        %8.2f   (%.2f / %.2f ms)
  accept-to-PSAP p99, paced %8.2f   (%.2f / %.2f ms)
  forwarded to the sink     %8d   of %d accepted in that run, all within %s of its start
`, withFwd.AcceptedPerSec/offRate, withFwd.AcceptedPerSec, offRate,
		ms(withFwd.AcceptP99)/acc99, ms(withFwd.AcceptP99), acc99,
		ms(withFwd.PacedToPSAP99)/psap99, ms(withFwd.PacedToPSAP99), psap99,
		received(), withFwd.Accepted+withFwd.PacedSent+1, took.Round(time.Millisecond))
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
