package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"socle/internal/emergency"
	"socle/internal/emergency/amlbench"
	"socle/internal/emergency/heldbench"
	"socle/internal/emergency/opsim"
	"socle/internal/emergency/resolvebench"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database"
	"socle/internal/platform/memory"
	"socle/internal/platform/service"
	"socle/internal/visio/visiobench"
)

func init() {
	register(command{name: "bench", summary: "measure a path against its baseline (aml, resolve, held, visio)", run: runBench})
}

func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "aml":
			return benchAML(ctx, args[1:])
		case "resolve":
			return benchResolve(ctx, args[1:])
		case "held":
			return benchHELD(ctx, args[1:])
		case "visio":
			return benchVisio(ctx, args[1:])
		}
	}
	return group(args, service.Command{Name: "bench", Description: "Measures a path against a baseline measured in the same run, and prints both and their ratio.",
		Subcommands: []service.Command{{Name: "aml", Summary: "AML pushes through socle against the same rows written straight with pgx", Example: "socle bench aml -for 10s"},
			{Name: "resolve", Summary: "the commune resolver against PostGIS's ST_Contains on the same points"},
			{Name: "held", Summary: "HELD queries through socle against the operator simulator asked directly"},
			{Name: "visio", Summary: "the SFU with synthetic participants: how many a node carries within 1 % loss"}}})
}

// benchEnv is what every benchmark stands on: its own private PostgreSQL cluster (durable
// settings) in a temporary directory, or SOCLE_DATABASE_URL, and an optional CPU profile.
type benchEnv struct {
	dir        *string
	cpuprofile *string
}

func (e *benchEnv) flags(fs *flag.FlagSet) {
	e.cpuprofile = fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	e.dir = fs.String("data-dir", "", "where to keep the benchmark's cluster and PKI (default: a temporary directory, removed)")
}

// open returns the data directory and a migrated database, and a function that undoes it all.
func (e *benchEnv) open(ctx context.Context, maxConns int32) (string, *db, func(), error) {
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	dir := *e.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "socle-bench-")
		if err != nil {
			return "", nil, cleanup, err
		}
		undo = append(undo, func() { os.RemoveAll(tmp) })
		os.Chmod(tmp, 0o711) // the cluster's system user must reach its directory
		dir = tmp
	}
	log := newLogger("warn", "text")
	b := base{DataDir: dir, DatabaseURL: os.Getenv("SOCLE_DATABASE_URL"), PostgresUser: "socle"}
	d, err := b.openDB(ctx, log, maxConns)
	if err != nil {
		return "", nil, cleanup, err
	}
	undo = append(undo, d.Close)
	for _, m := range allMigrations() {
		if _, err := database.Apply(ctx, d.Pool, m); err != nil {
			return "", nil, cleanup, err
		}
	}
	// socle runs in this process with the garbage collector's settings of `socle serve`.
	gcctx, stopGC := context.WithCancel(ctx)
	go memory.Floor(gcctx, defaultHeapFloor, log)
	undo = append(undo, stopGC)
	if *e.cpuprofile != "" {
		f, err := os.Create(*e.cpuprofile)
		if err != nil {
			return "", nil, cleanup, err
		}
		pprof.StartCPUProfile(f)
		undo = append(undo, func() { pprof.StopCPUProfile(); f.Close() })
	}
	return dir, d, cleanup, nil
}

func benchAML(ctx context.Context, args []string) error {
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
	var env benchEnv
	env.flags(fs)
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	if *n < 1 || *c < 1 || *rate < 1 || *dur <= 0 {
		return usagef("-n, -c, -rate and -for must be positive")
	}
	dir, d, cleanup, err := env.open(ctx, int32(*c+8))
	defer cleanup()
	if err != nil {
		return err
	}
	log := newLogger("warn", "text")
	bed, err := testbed.New(filepath.Join(dir, "bed"), log)
	if err != nil {
		return err
	}
	defer bed.Close()
	if err := bed.Apply(ctx, d.Pool); err != nil {
		return err
	}
	cfg := emergency.LoopbackConfig()
	cfg.Concurrency = 64
	svc, err := emergency.StartLoopback(ctx, bed, d.Pool, cfg, amlbench.Logger(stderr))
	if err != nil {
		return err
	}
	defer svc.Stop()
	opts := amlbench.Options{N: *n, Concurrency: *c, PacedRate: *rate, PacedFor: *dur}
	res, err := amlbench.Run(ctx, d.Pool, bed, svc.URL, opts, stderr)
	if err != nil {
		return err
	}
	res.Print(stdout, opts)
	fmt.Fprintln(stdout)
	return nil
}

func benchResolve(ctx context.Context, args []string) error {
	fs := flags("bench resolve", "[flags]", `
Measures the commune resolver (a point to its INSEE code) over synthetic communes tiling
metropolitan France, on one core, against PostGIS's ST_Contains with a GiST index over the
same polygons in the same run (needs the postgis extension: apt-get install
postgresql-15-postgis-3; make bench installs it). Also checks that both give the same answers.`)
	var o resolvebench.Options
	fs.IntVar(&o.Communes, "communes", 35000, "synthetic communes")
	fs.IntVar(&o.Vertices, "vertices", 200, "vertices per commune")
	fs.IntVar(&o.Points, "n", 2_000_000, "points resolved by socle's index")
	fs.IntVar(&o.PGPoints, "pg", 20_000, "points resolved by PostGIS")
	var env benchEnv
	env.flags(fs)
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	if o.Communes < 1 || o.Vertices < 4 || o.Points < 1 || o.PGPoints < 1 || o.PGPoints > o.Points {
		return usagef("-communes, -n and -pg must be positive, -vertices at least 4, -pg at most -n")
	}
	_, d, cleanup, err := env.open(ctx, 4)
	defer cleanup()
	if err != nil {
		return err
	}
	res, err := resolvebench.Run(ctx, d.Pool, o, stderr)
	if err != nil {
		return err
	}
	res.Print(stdout, o)
	fmt.Fprintln(stdout)
	return nil
}

func benchHELD(ctx context.Context, args []string) error {
	fs := flags("bench held", "[flags]", `
Measures the location pull: HELD queries from a PSAP (mutual TLS) through socle, which finds
the serving operator and asks the operator simulator (mutual TLS), against the same queries
sent straight to the simulator, both paced at the same rate in the same run. Prints queries/s
and p50/p99 for both, and what socle adds.`)
	var o heldbench.Options
	fs.IntVar(&o.Rate, "rate", 1000, "queries per second")
	fs.DurationVar(&o.For, "for", 30*time.Second, "measured time along each path, in one-second windows taken in turns")
	var env benchEnv
	env.flags(fs)
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	if o.Rate < 1 || o.For <= 0 {
		return usagef("-rate and -for must be positive")
	}
	dir, d, cleanup, err := env.open(ctx, 32)
	defer cleanup()
	if err != nil {
		return err
	}
	log := newLogger("warn", "text")
	bed, err := testbed.New(filepath.Join(dir, "bed"), log)
	if err != nil {
		return err
	}
	defer bed.Close()
	if err := bed.Apply(ctx, d.Pool); err != nil {
		return err
	}
	simURL, stopSim, err := bed.StartOperatorServer(opsim.New(), log)
	if err != nil {
		return err
	}
	defer stopSim()
	const prefix = "33698"
	if err := bed.ServeNumbers(ctx, d.Pool, simURL, prefix); err != nil {
		return err
	}
	psap, err := bed.RegisterPSAP(ctx, d.Pool, "samu-75", "psap-samu75", 256)
	if err != nil {
		return err
	}
	// A PSAP's console keeps one HTTP/2 connection to socle, as socle keeps one to each
	// operator that offers HTTP/2: the simulator and socle both do.
	psap.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	svc, err := emergency.StartLoopback(ctx, bed, d.Pool, emergency.LoopbackConfig(), log)
	if err != nil {
		return err
	}
	defer svc.Stop()
	proxyURL, stopProxy, err := bed.StartProxy(simURL, log)
	if err != nil {
		return err
	}
	defer stopProxy()
	res, err := heldbench.Run(ctx, psap, heldbench.Targets{Direct: simURL, Proxy: proxyURL, Socle: svc.URL + "/emergency/v1/held"}, prefix, o, stderr)
	if err != nil {
		return err
	}
	res.Print(stdout, o)
	fmt.Fprintln(stdout)
	return nil
}

func benchVisio(ctx context.Context, args []string) error {
	fs := flags("bench visio", "[flags]", `
Measures the web conference's SFU on loopback (127.0.0.1 only): synthetic Pion participants,
each publishing a VP8 camera (600 kbit/s) and audio (50 packets/s) and receiving everyone
else's, at each room size in turn, first with every pair of participants connected directly
(the baseline), then through the SFU, in the same run. Prints packets/s and Mbit/s received,
loss, send-to-receipt latency, and the process's CPU time per 1,000 packets received; the
difference between the two paths is what the SFU adds. Stops after the first size losing more
than 1 % through the SFU. Needs no database.`)
	sizes := fs.String("sizes", "2,4,8,12,16,24,32", "room sizes, participants, comma-separated and increasing")
	o := visiobench.Options{MaxLoss: 0.01}
	fs.DurationVar(&o.For, "for", 2*time.Second, "measured window of each phase")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 || n > 48 || (len(o.Sizes) > 0 && n <= o.Sizes[len(o.Sizes)-1]) {
			return usagef("-sizes: want increasing sizes from 2 to 48, got %q", *sizes)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if o.For <= 0 || o.For > time.Minute {
		return usagef("-for must be positive and at most a minute")
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	res, err := visiobench.Run(ctx, o, newLogger("warn", "text"), stderr)
	if err != nil {
		return err
	}
	res.Print(stdout, o)
	fmt.Fprintln(stdout)
	return nil
}
