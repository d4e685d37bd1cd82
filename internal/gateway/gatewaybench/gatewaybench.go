// Package gatewaybench measures socle's API gateway against the same upstream reached
// directly, through a bare httputil.ReverseProxy and through Caddy's reverse_proxy, in one
// run on loopback: requests/s, the latency each path adds, and the CPU time its process in
// the middle spends per request (socle's with key authentication, quota and analytics).
//
// Every hop is HTTPS with keep-alive and HTTP/1.1, with certificates of one throwaway CA.
// The upstream runs in the bench's process; each proxy is a child process, so that its CPU
// time is read on its own from /proc. Figures are printed with the targets and whether they
// are met; nothing here asserts a timing.
package gatewaybench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Paths are the ways to the upstream, in the order they are measured.
var Paths = []string{"direct", "bare", "caddy", "socle"}

// labels name the paths in the progress lines.
var labels = map[string]string{"direct": "direct", "bare": "bare proxy", "caddy": "caddy", "socle": "socle gateway"}

// Options of a run.
type Options struct {
	Rate        int           // requests per second in the paced phase
	Paced       time.Duration // length of the paced phase
	Concurrency int           // requests in flight in the closed-loop phase
	Closed      time.Duration // length of the closed-loop phase
	Warmup      time.Duration // unmeasured, at Rate, before each path's phases
	Paths       []string      // which of Paths to measure; direct is always measured first
	// Dir is the run's scratch directory: PKI, certificates, configurations, children's logs.
	Dir string
	// Socle is the command line that runs socle (its executable): the bare proxy is
	// `Socle... bench gateway -role bare-proxy`, socle's path `Socle... serve`.
	Socle []string
	Caddy string // Caddy's executable; empty or missing: Caddy's path is skipped
	// DatabaseURL is the database socle's gateway runs on (the bench's scratch one), or
	// empty and DatabaseErr says why there is none. PostgresData is that server's data
	// directory, to read its CPU time; empty when it is not on this machine or unknown.
	DatabaseURL  string
	DatabaseErr  error
	PostgresData string
}

// Phase is what the paced phase measured along one path.
type Phase struct {
	Sent int     `json:"sent"`
	OK   int     `json:"ok"`
	Rate float64 `json:"requests_per_second"`
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	// LateP50 and LateP99 are how late the load generator itself sent the requests, which
	// the latencies include (µs).
	LateP50 float64 `json:"generator_late_p50_us"`
	LateP99 float64 `json:"generator_late_p99_us"`
	CPU     float64 `json:"cpu_us_per_request,omitempty"`
	PGCPU   float64 `json:"postgres_cpu_us_per_request,omitempty"`
	Errors  string  `json:"first_error,omitempty"`
}

// PathResult is one path's figures; Error says why it was not measured ("not available:
// ..." or "failed: ...").
type PathResult struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
	Paced Phase  `json:"paced"`
	// Max is the closed-loop phase: requests/s at Options.Concurrency, and its CPU cost.
	Max      float64 `json:"max_requests_per_second"`
	MaxCPU   float64 `json:"max_cpu_us_per_request,omitempty"`
	MaxPGCPU float64 `json:"max_postgres_cpu_us_per_request,omitempty"`
	MaxError string  `json:"max_first_error,omitempty"`
	// AddedP50 and AddedP99 are the paced percentiles minus direct's (µs).
	AddedP50 float64 `json:"added_p50_us"`
	AddedP99 float64 `json:"added_p99_us"`
	// VsBare and VsCaddy are the paced phase's CPU per request over the bare proxy's and
	// Caddy's; 0 when either is unknown.
	VsBare  float64 `json:"cpu_ratio_to_bare,omitempty"`
	VsCaddy float64 `json:"cpu_ratio_to_caddy,omitempty"`
	hasCPU  bool
}

// Target is one of the targets and whether this run met it; Met is nil when it
// could not be measured (Why says why).
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Met   *bool   `json:"met"`
	Why   string  `json:"why,omitempty"`
}

// Result is the run.
type Result struct {
	Rate        int    `json:"rate"`
	Paced       string `json:"paced_for"`
	Concurrency int    `json:"concurrency"`
	Closed      string `json:"closed_for"`
	Protocol    string `json:"protocol"`
	// Load is the machine's load average over the last minute, before and after the run:
	// the figures of a machine busy with something else are not worth much.
	Load    [2]float64   `json:"load_average"`
	Paths   []PathResult `json:"paths"`
	Targets []Target     `json:"targets"`
}

// Run measures each path in turn: it starts the path, warms it up, runs the paced phase,
// then the closed-loop phase, and stops it. A path that cannot start, or fails on the way, is
// reported with the reason and left out of the comparisons. progress receives a line per
// step.
func Run(ctx context.Context, o Options, progress io.Writer) (*Result, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	b := &bench{o: o}
	stopUpstream, err := b.setUp()
	if err != nil {
		return nil, fmt.Errorf("gateway bench: %w", err)
	}
	defer stopUpstream()
	res := &Result{Rate: o.Rate, Paced: o.Paced.String(), Concurrency: o.Concurrency, Closed: o.Closed.String(),
		Protocol: "HTTP/1.1 over TLS, keep-alive, on every hop"}
	res.Load[0] = loadAverage()
	for _, name := range Paths {
		if name != "direct" && !slices.Contains(o.Paths, name) {
			continue
		}
		pr := PathResult{Name: name}
		p, err := b.start(ctx, name)
		if err != nil {
			pr.Error = "not available: " + err.Error()
			fmt.Fprintf(progress, "%s: %s\n", labels[name], pr.Error)
			res.Paths = append(res.Paths, pr)
			continue
		}
		fmt.Fprintf(progress, "%s: warm-up %s, paced %d req/s for %s, then %d in flight for %s\n",
			labels[name], o.Warmup, o.Rate, o.Paced, o.Concurrency, o.Closed)
		err = measure(ctx, p, o, &pr)
		p.target.close()
		p.stop()
		if err != nil {
			pr = PathResult{Name: name, Error: "failed: " + err.Error()}
			fmt.Fprintf(progress, "%s: %s\n", labels[name], pr.Error)
		}
		res.Paths = append(res.Paths, pr)
	}
	res.Load[1] = loadAverage()
	res.compare()
	return res, ctx.Err()
}

// measure runs a path's three steps and fills pr.
func measure(ctx context.Context, p *path, o Options, pr *PathResult) error {
	// The warm-up opens the connections both phases use, and lets each process's heap and
	// pools reach the size they keep under load.
	if w := paced(ctx, p.target, o.Rate, o.Warmup); w.ok == 0 {
		return fmt.Errorf("warm-up: %w", firstErr(w.err))
	}
	if w := closed(ctx, p.target, o.Concurrency, o.Warmup/2); w.ok == 0 {
		return fmt.Errorf("warm-up: %w", firstErr(w.err))
	}
	cpu0, pg0, err := p.cpuNow()
	if err != nil {
		return err
	}
	r := paced(ctx, p.target, o.Rate, o.Paced)
	cpu1, pg1, err := p.cpuNow()
	if err != nil {
		return err
	}
	if r.ok == 0 {
		return fmt.Errorf("paced phase: %w", firstErr(r.err))
	}
	pr.hasCPU = p.cpu != nil
	pr.Paced = Phase{Sent: r.sent, OK: r.ok, Rate: float64(r.ok) / r.took.Seconds(),
		P50: us(percentile(r.lat, 50)), P99: us(percentile(r.lat, 99)),
		LateP50: us(percentile(r.late, 50)), LateP99: us(percentile(r.late, 99)),
		CPU: perRequest(cpu1-cpu0, r.ok), PGCPU: perRequest(pg1-pg0, r.ok)}
	if r.err != nil {
		pr.Paced.Errors = r.err.Error()
	}
	c := closed(ctx, p.target, o.Concurrency, o.Closed)
	cpu2, pg2, err := p.cpuNow()
	if err != nil {
		return err
	}
	pr.Max, pr.MaxCPU, pr.MaxPGCPU = float64(c.ok)/c.took.Seconds(), perRequest(cpu2-cpu1, c.ok), perRequest(pg2-pg1, c.ok)
	if c.err != nil {
		pr.MaxError = c.err.Error()
	}
	return nil
}

func firstErr(err error) error {
	if err == nil {
		return errNoAnswer
	}
	return err
}

// cpuNow reads the CPU time of the path's process, and of the database along socle's.
func (p *path) cpuNow() (cpu, pg time.Duration, err error) {
	if p.cpu != nil {
		if cpu, err = p.cpu(); err != nil {
			return 0, 0, fmt.Errorf("CPU time: %w", err)
		}
	}
	if p.pgCPU != nil {
		if pg, err = p.pgCPU(); err != nil {
			return 0, 0, fmt.Errorf("PostgreSQL's CPU time: %w", err)
		}
	}
	return cpu, pg, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func perRequest(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return us(d) / float64(n)
}

func (r *Result) path(name string) *PathResult {
	for i := range r.Paths {
		if r.Paths[i].Name == name && r.Paths[i].Error == "" {
			return &r.Paths[i]
		}
	}
	return nil
}

// compare computes what depends on other paths — added latency, CPU ratios — and the
// targets.
func (r *Result) compare() {
	direct, bare, caddy, socle := r.path("direct"), r.path("bare"), r.path("caddy"), r.path("socle")
	for i := range r.Paths {
		p := &r.Paths[i]
		if p.Error != "" {
			continue
		}
		if direct != nil {
			p.AddedP50, p.AddedP99 = p.Paced.P50-direct.Paced.P50, p.Paced.P99-direct.Paced.P99
		}
		if p.hasCPU && bare != nil && bare.Paced.CPU > 0 {
			p.VsBare = p.Paced.CPU / bare.Paced.CPU
		}
		if p.hasCPU && caddy != nil && caddy.Paced.CPU > 0 {
			p.VsCaddy = p.Paced.CPU / caddy.Paced.CPU
		}
	}
	const cpu = "µs of CPU per request at the paced rate"
	r.Targets = []Target{
		newTarget("socle's CPU per request ≤ 1.5 × the bare proxy's", cpu, socle, bare, func(s, b *PathResult) (float64, float64) {
			return s.Paced.CPU, 1.5 * b.Paced.CPU
		}),
		newTarget("socle's CPU per request ≤ Caddy's", cpu, socle, caddy, func(s, c *PathResult) (float64, float64) {
			return s.Paced.CPU, c.Paced.CPU
		}),
		newTarget(fmt.Sprintf("socle's added p99 ≤ 1 ms at %d requests/s", r.Rate), "µs", socle, direct, func(s, _ *PathResult) (float64, float64) {
			return s.AddedP99, 1000
		}),
	}
}

func newTarget(name, unit string, p, against *PathResult, values func(p, against *PathResult) (float64, float64)) Target {
	t := Target{Name: name, Unit: unit}
	switch {
	case p == nil:
		t.Why = "socle's gateway was not measured"
	case against == nil:
		t.Why = "its baseline was not measured"
	default:
		t.Value, t.Limit = values(p, against)
		met := t.Value <= t.Limit
		t.Met = &met
	}
	return t
}

// WriteJSON writes the figures to file.
func (r *Result) WriteJSON(file string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// Print writes the table and the targets.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "\nAPI gateway: GET /v1/persons/{id} (~1 KB of JSON), %s, loopback\n", r.Protocol)
	fmt.Fprintf(w, "latency: open loop at %d requests/s for %s, from each request's scheduled time; max: %d in flight for %s\n",
		r.Rate, r.Paced, r.Concurrency, r.Closed)
	fmt.Fprintf(w, "CPU µs/req: of the process in the middle (a child: utime+stime from /proc) per request answered, at the paced\n")
	fmt.Fprintf(w, "rate (the targets' figure) and in the closed loop (at max); added: the path's percentile minus direct's\n")
	fmt.Fprintf(w, "the machine's load average (1 min): %.2f before, %.2f after, on %d CPUs\n\n", r.Load[0], r.Load[1], runtime.NumCPU())
	fmt.Fprintf(w, "  %-7s %9s %9s %9s %10s %10s %11s %11s %7s %7s\n",
		"path", "max req/s", "p50", "p99", "added p50", "added p99", "CPU µs/req", "at max", "×bare", "×caddy")
	dash := "—"
	for _, p := range r.Paths {
		if p.Error != "" {
			fmt.Fprintf(w, "  %-7s %s\n", p.Name, p.Error)
			continue
		}
		cpu, maxCPU, vsBare, vsCaddy, added50, added99 := dash, dash, dash, dash, dash, dash
		if p.hasCPU {
			cpu, maxCPU = fmt.Sprintf("%.1f", p.Paced.CPU), fmt.Sprintf("%.1f", p.MaxCPU)
		}
		if p.VsBare > 0 {
			vsBare = fmt.Sprintf("%.2f", p.VsBare)
		}
		if p.VsCaddy > 0 {
			vsCaddy = fmt.Sprintf("%.2f", p.VsCaddy)
		}
		if p.Name != "direct" {
			added50, added99 = ms(p.AddedP50), ms(p.AddedP99)
		}
		fmt.Fprintf(w, "  %-7s %9.0f %9s %9s %10s %10s %11s %11s %7s %7s\n", p.Name, p.Max, ms(p.Paced.P50), ms(p.Paced.P99),
			added50, added99, cpu, maxCPU, vsBare, vsCaddy)
		if p.Paced.OK < p.Paced.Sent || p.Paced.Errors != "" {
			fmt.Fprintf(w, "          paced: %d of %d answered (%.0f/s); first error: %s\n", p.Paced.OK, p.Paced.Sent, p.Paced.Rate, p.Paced.Errors)
		}
		if p.MaxError != "" {
			fmt.Fprintf(w, "          max: first error: %s\n", p.MaxError)
		}
		if p.Paced.PGCPU > 0 || p.MaxPGCPU > 0 {
			fmt.Fprintf(w, "          PostgreSQL during socle's phases: %.1f µs CPU/req paced, %.1f at max (not in socle's figures)\n",
				p.Paced.PGCPU, p.MaxPGCPU)
		} else if p.Name == "socle" {
			fmt.Fprintf(w, "          PostgreSQL's CPU: not measured (its server is not on this machine or its data directory is unknown)\n")
		}
	}
	var late []string
	for _, p := range r.Paths {
		if p.Error == "" {
			late = append(late, fmt.Sprintf("%s %.2f/%.2f ms", p.Name, p.Paced.LateP50/1000, p.Paced.LateP99/1000))
		}
	}
	fmt.Fprintf(w, "  the load generator's own lateness, in the latencies above, p50/p99: %s\n", strings.Join(late, ", "))
	fmt.Fprintln(w, "\ntargets")
	for _, t := range r.Targets {
		switch {
		case t.Met == nil:
			fmt.Fprintf(w, "  %-52s not measured: %s\n", t.Name, t.Why)
		default:
			verdict := "met"
			if !*t.Met {
				verdict = "NOT MET"
			}
			fmt.Fprintf(w, "  %-52s %.1f for a limit of %.1f (%s): %s\n", t.Name, t.Value, t.Limit, t.Unit, verdict)
		}
	}
}

func ms(us float64) string { return fmt.Sprintf("%.2f ms", us/1000) }
