package gatewaybench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"socle/internal/platform/pki"
)

// TestMain lets the test binary stand for socle when the bench starts its bare proxy:
// `TEST-BINARY bench gateway -role bare-proxy ...` serves the role instead of running tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 3 && os.Args[1] == "bench" && os.Args[2] == "gateway" {
		fs := flag.NewFlagSet("bench gateway", flag.ExitOnError)
		var p ProxyFlags
		fs.StringVar(&p.Role, "role", "", "")
		fs.StringVar(&p.Listen, "listen", "127.0.0.1:0", "")
		fs.StringVar(&p.Upstream, "upstream", "", "")
		fs.StringVar(&p.CA, "ca", "", "")
		fs.StringVar(&p.Cert, "cert", "", "")
		fs.StringVar(&p.Key, "key", "", "")
		fs.Parse(os.Args[3:])
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := ServeRole(ctx, p, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Getenv("GATEWAYBENCH_FAKE_SOCLE") == "1" {
		if err := fakeSocle(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// fakeSocle stands for socle's commands that the socle path runs, as the gateway's contract
// says they behave, so that the path's plumbing is tried before the gateway exists: `apply
// -f FILE` keeps the file, `gateway key issue --consumer bench` prints a key, and `serve`
// answers /apis/bench/... with the key, on a web listener it reports in listeners.json, by
// proxying to the file's upstream.
func fakeSocle(args []string) error {
	dir := os.Getenv("SOCLE_DATA_DIR")
	const key = "fake-key-0123456789"
	switch strings.Join(args[:min(3, len(args))], " ") {
	case "gateway key issue":
		fmt.Println(key)
		return nil
	}
	switch args[0] {
	case "apply":
		b, err := os.ReadFile(args[2])
		if err != nil || !strings.Contains(string(b), "gateway:") {
			return fmt.Errorf("apply: %v: no gateway section", err)
		}
		return os.WriteFile(filepath.Join(dir, "applied.yaml"), b, 0o600)
	case "serve":
		b, err := os.ReadFile(filepath.Join(dir, "applied.yaml"))
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`upstreams: \[(https://[^\]]+)\]`).FindSubmatch(b)
		if m == nil {
			return errors.New("serve: no upstream applied")
		}
		up, _ := url.Parse(string(m[1]))
		roots, err := pki.LoadPool(os.Getenv("SOCLE_CLIENT_CA"))
		if err != nil {
			return err
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(up)
				r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/apis/bench")
			},
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		}
		gate := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-API-Key") != key || !strings.HasPrefix(r.URL.Path, "/apis/bench/") {
				http.Error(w, "no", http.StatusUnauthorized)
				return
			}
			proxy.ServeHTTP(w, r)
		})
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "pki", "server.crt"), filepath.Join(dir, "pki", "server.key"))
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		stop := httpServer(ln, cert, gate)
		defer stop()
		bound, _ := json.Marshal(map[string]string{"web": ln.Addr().String()})
		if err := os.WriteFile(filepath.Join(dir, "listeners.json"), bound, 0o600); err != nil {
			return err
		}
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer cancel()
		<-ctx.Done()
		return nil
	}
	return fmt.Errorf("fake socle: unknown command %q", args)
}

// TestRun runs the harness briefly along direct and the bare proxy, and Caddy when make
// bin/caddy has built it; socle's path has no database here and must be reported as not
// available. It checks that requests succeed and figures are computed, never their values.
func TestRun(t *testing.T) {
	caddy, _ := filepath.Abs("../../../bin/caddy")
	paths := []string{"direct", "bare", "socle"}
	if _, err := os.Stat(caddy); err == nil {
		paths = append(paths, "caddy")
	} else {
		t.Log("bin/caddy absent (make bin/caddy): Caddy's path is not tried")
	}
	o := Options{Rate: 300, Paced: time.Second, Concurrency: 4, Closed: time.Second, Warmup: 200 * time.Millisecond,
		Paths: paths, Dir: t.TempDir(), Socle: []string{os.Args[0]}, Caddy: caddy,
		DatabaseErr: errors.New("none in this test")}
	var progress bytes.Buffer
	res, err := Run(context.Background(), o, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	got := map[string]PathResult{}
	for _, p := range res.Paths {
		got[p.Name] = p
	}
	for _, name := range paths {
		p, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not in the result", name)
		case name == "socle":
			if p.Error != "not available: no database: none in this test" {
				t.Errorf("socle: error %q, want it reported as having no database", p.Error)
			}
		case p.Error != "":
			t.Errorf("%s: not available: %s", name, p.Error)
		default:
			if p.Paced.Sent == 0 || p.Paced.OK != p.Paced.Sent || p.Paced.Errors != "" {
				t.Errorf("%s: paced phase answered %d of %d (%s)", name, p.Paced.OK, p.Paced.Sent, p.Paced.Errors)
			}
			if p.Paced.P50 <= 0 || p.Paced.P99 < p.Paced.P50 || p.Max <= 0 || p.MaxError != "" {
				t.Errorf("%s: figures not computed: %+v", name, p)
			}
			if p.hasCPU != (name != "direct") || p.Paced.CPU < 0 || p.MaxCPU < 0 {
				t.Errorf("%s: CPU figures: %+v", name, p)
			}
		}
	}
	if len(res.Targets) != 3 {
		t.Fatalf("%d targets, want 3", len(res.Targets))
	}
	for _, tg := range res.Targets {
		if tg.Met != nil || tg.Why == "" {
			t.Errorf("target %q: %+v, want it not measured without socle", tg.Name, tg)
		}
	}
	var out bytes.Buffer
	res.Print(&out)
	for _, want := range []string{"bare", "socle   not available: no database", "targets", "not measured"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
	if err := res.WriteJSON(filepath.Join(o.Dir, "figures.json")); err != nil {
		t.Error(err)
	}
	t.Logf("\n%s%s", progress.String(), out.String())
}

// TestSoclePath tries socle's path against a fake socle that keeps the gateway's contract
// (see fakeSocle): configured, given a key, served, called with the key at /apis/bench/.
func TestSoclePath(t *testing.T) {
	t.Setenv("GATEWAYBENCH_FAKE_SOCLE", "1")
	o := Options{Rate: 300, Paced: 500 * time.Millisecond, Concurrency: 4, Closed: 500 * time.Millisecond,
		Warmup: 100 * time.Millisecond, Paths: []string{"direct", "socle"}, Dir: t.TempDir(), Socle: []string{os.Args[0]},
		DatabaseURL: "postgres://unused"}
	var progress bytes.Buffer
	res, err := Run(context.Background(), o, &progress)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	s := res.path("socle")
	if s == nil {
		t.Fatalf("socle's path not measured: %+v\n%s", res.Paths, progress.String())
	}
	if s.Paced.OK != s.Paced.Sent || s.Max <= 0 || !s.hasCPU {
		t.Errorf("socle's path: %+v", s)
	}
	if p99 := res.Targets[2]; p99.Met == nil {
		t.Errorf("the p99 target is not measured: %+v", p99)
	}
}

func TestProcessCPU(t *testing.T) {
	s, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.ppid != os.Getppid() || s.cpu < 0 {
		t.Errorf("readProcStat(self) = %+v, want ppid %d", s, os.Getppid())
	}
	if _, err := treeCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
}

// TestCompare checks the figures made from several paths: added latency, CPU ratios and
// the targets' verdicts.
func TestCompare(t *testing.T) {
	tests := []struct {
		name      string
		socle     Phase
		caddyCPU  float64
		wantMet   [3]bool
		wantRatio [2]float64 // socle's CPU over bare's and over Caddy's
	}{
		{"all met", Phase{P50: 300, P99: 1400, CPU: 120}, 150, [3]bool{true, true, true}, [2]float64{1.2, 0.8}},
		{"heavier than Caddy", Phase{P50: 300, P99: 1400, CPU: 120}, 100, [3]bool{true, false, true}, [2]float64{1.2, 1.2}},
		{"heavier than 1.5 × bare, slow", Phase{P50: 900, P99: 2600, CPU: 160}, 200, [3]bool{false, true, false}, [2]float64{1.6, 0.8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Rate: 2000, Paths: []PathResult{
				{Name: "direct", Paced: Phase{P50: 200, P99: 500}},
				{Name: "bare", Paced: Phase{P50: 250, P99: 700, CPU: 100}, hasCPU: true},
				{Name: "caddy", Paced: Phase{P50: 260, P99: 800, CPU: tt.caddyCPU}, hasCPU: true},
				{Name: "socle", Paced: tt.socle, hasCPU: true},
			}}
			r.compare()
			s := r.path("socle")
			if s.AddedP50 != tt.socle.P50-200 || s.AddedP99 != tt.socle.P99-500 {
				t.Errorf("added p50/p99 = %v/%v", s.AddedP50, s.AddedP99)
			}
			if d := r.path("direct"); d.VsBare != 0 || d.VsCaddy != 0 {
				t.Errorf("direct has CPU ratios: %+v", d)
			}
			if got := [2]float64{s.VsBare, s.VsCaddy}; !near(got[0], tt.wantRatio[0]) || !near(got[1], tt.wantRatio[1]) {
				t.Errorf("ratios = %v, want %v", got, tt.wantRatio)
			}
			for i, tg := range r.Targets {
				if tg.Met == nil || *tg.Met != tt.wantMet[i] {
					t.Errorf("target %q: met = %v, want %v (%+v)", tg.Name, tg.Met, tt.wantMet[i], tg)
				}
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
