package gatewaybench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"socle/internal/platform/service"
)

// Command is `socle bench gateway`, for the gateway's group of benchmarks.
func Command() service.Command {
	return service.Command{Name: "gateway", Summary: "socle's API gateway against a bare reverse proxy and Caddy, on one upstream",
		Synopsis: "[flags]", Example: "socle bench gateway -caddy bin/caddy", Database: true, Bench: true, Run: runCommand,
		Description: `
Measures the API gateway on loopback: the same upstream (GET /v1/persons/{id}, ~1 KB of JSON)
reached directly, through a bare httputil.ReverseProxy, through Caddy's reverse_proxy, and
through socle's gateway with key authentication, quota and analytics, in one run. Every hop is
HTTPS with keep-alive, HTTP/1.1. For each path in turn: a warm-up, an open-loop phase paced at
-rate (latency from each request's scheduled time), then a closed-loop phase at -concurrency
(max requests/s). Prints requests/s, p50/p99 and what each path adds to direct's, and the CPU
time per request of the process in the middle (each one a child process), with its ratio to
the bare proxy's and Caddy's; then the targets: CPU per request at most 1.5 × the bare proxy's
and no more than Caddy's, and at most 1 ms added at p99 at 2,000 requests/s.
Caddy is bin/caddy (make bin/caddy builds it from tools/caddy); a path that cannot start is
reported and skipped. socle's gateway runs on the bench's scratch database, whose PostgreSQL
CPU time is reported apart.`}
}

func runCommand(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	o := Options{}
	fs.IntVar(&o.Rate, "rate", 2000, "requests per second in the paced phase")
	fs.DurationVar(&o.Paced, "duration", 20*time.Second, "length of the paced phase, per path")
	fs.IntVar(&o.Concurrency, "concurrency", 32, "requests in flight in the closed-loop phase")
	fs.DurationVar(&o.Closed, "max-duration", 10*time.Second, "length of the closed-loop phase, per path")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up at -rate before each path's phases")
	paths := fs.String("paths", strings.Join(Paths, ","), "paths to measure, comma-separated (direct always is)")
	fs.StringVar(&o.Caddy, "caddy", "bin/caddy", "Caddy's executable (make bin/caddy)")
	jsonFile := fs.String("json", "", "also write the figures to this file, as JSON")
	var role ProxyFlags
	fs.StringVar(&role.Role, "role", "", "internal: run as one of the bench's child processes (bare-proxy)")
	fs.StringVar(&role.Listen, "listen", "127.0.0.1:0", "internal, with -role: address to listen on")
	fs.StringVar(&role.Upstream, "upstream", "", "internal, with -role: upstream URL")
	fs.StringVar(&role.CA, "ca", "", "internal, with -role: CA bundle the upstream's certificate chains to")
	fs.StringVar(&role.Cert, "cert", "", "internal, with -role: server certificate")
	fs.StringVar(&role.Key, "key", "", "internal, with -role: server key")
	if err := env.Parse(args); err != nil {
		return err
	}
	if role.Role != "" {
		return ServeRole(ctx, role, env.Stdout())
	}
	if o.Rate < 1 || o.Paced <= 0 || o.Concurrency < 1 || o.Closed <= 0 || o.Warmup <= 0 {
		return service.Usagef("-rate, -duration, -concurrency, -max-duration and -warmup must be positive")
	}
	for _, p := range strings.Split(*paths, ",") {
		if p = strings.TrimSpace(p); !slices.Contains(Paths, p) {
			return service.Usagef("-paths: unknown path %q (known: %s)", p, strings.Join(Paths, ", "))
		}
		o.Paths = append(o.Paths, p)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	o.Socle, o.Dir = []string{self}, filepath.Join(env.DataDir(), "gatewaybench")
	if slices.Contains(o.Paths, "socle") {
		openDatabase(ctx, env, &o)
	}
	res, err := Run(ctx, o, env.Stderr())
	if err != nil {
		return err
	}
	res.Print(env.Stdout())
	fmt.Fprintln(env.Stdout())
	if *jsonFile != "" {
		return res.WriteJSON(*jsonFile)
	}
	return nil
}

// openDatabase opens the bench's scratch database, with every schema up to date, for socle's
// gateway: its URL, and where its server keeps its data so that its CPU time can be read.
// Without a database, socle's path is skipped, not the bench.
func openDatabase(ctx context.Context, env service.CommandEnv, o *Options) {
	pool, err := env.OpenDB(ctx, 2)
	if err != nil {
		o.DatabaseErr = err
		return
	}
	o.DatabaseURL = pool.Config().ConnString()
	// The server's own word first (it needs pg_read_all_settings, which the private
	// cluster's owner has), then where the private cluster lives.
	if err := pool.QueryRow(ctx, "SHOW data_directory").Scan(&o.PostgresData); err != nil {
		o.PostgresData = filepath.Join(env.DataDir(), "postgres", "pgdata")
	}
}
