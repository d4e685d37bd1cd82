package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
	"socle/internal/web"
)

// skeleton is a service defined here, as a new one would be in its own folder: a
// configuration, a schema, a role, a home-page entry, a command, and a lifecycle that
// records what it holds.
type skeletonConfig struct {
	Greeting  string
	FailStart bool
}

func (c *skeletonConfig) Register(s *config.Set) {
	s.String(&c.Greeting, "skeleton-greeting", "bonjour", "what the skeleton says")
	s.Bool(&c.FailStart, "skeleton-fail-start", false, "make the skeleton's Start fail halfway")
}

type skeleton struct {
	cfg  skeletonConfig
	res  service.Resources
	held *holdings
}

// holdings counts what skeletons hold, across their lifecycles.
type holdings struct {
	mu                     sync.Mutex
	constructed, acquired  int
	started, stopped, held int
}

func (h *holdings) add(field *int, n int) { h.mu.Lock(); *field += n; h.mu.Unlock() }
func (h *holdings) get(field *int) int    { h.mu.Lock(); defer h.mu.Unlock(); return *field }

var skeletons = &holdings{}

func (s *skeleton) Name() string { return "skeleton" }

func (s *skeleton) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.res.Release(ctx) // the contract: a failed Start gives back what it took
		}
	}()
	s.held.add(&s.held.started, 1)
	for range 2 { // two resources, as a pool and a subscription would be
		s.held.add(&s.held.held, 1)
		s.res.AddFunc(func() { s.held.add(&s.held.held, -1) })
	}
	if s.cfg.FailStart {
		return errors.New("the third resource is not there")
	}
	return nil
}

func (s *skeleton) Stop(ctx context.Context) error {
	s.held.add(&s.held.stopped, 1)
	return s.res.Release(ctx)
}

func (s *skeleton) Routes(webMux, _ *http.ServeMux) {
	webMux.HandleFunc("GET /skeleton/{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s.cfg.Greeting) })
}

func (s *skeleton) Ready(context.Context) error { return nil }

func init() {
	steps, err := database.LoadMigrations("skeleton", fstest.MapFS{
		"m/0001_bones.sql": {Data: []byte("CREATE TABLE skeleton.bones (id int PRIMARY KEY);")},
	}, "m")
	if err != nil {
		panic(err)
	}
	service.Register(service.Definition{
		Name:       "skeleton",
		Order:      99,
		NewConfig:  func() service.Config { return &skeletonConfig{} },
		Migrations: []database.Migrations{steps},
		Roles:      []identity.Role{{Name: "skeleton.reader", Description: "reads the bones"}},
		Home:       web.Home{Title: web.Text{FR: "Squelette de service", EN: "Service skeleton"}},
		Commands: []service.Command{{Name: "skeleton", Summary: "count the bones",
			Synopsis: "[flags]", Description: "Says how many bones the database holds.", Example: "socle skeleton -times 2",
			Database: true, Run: countBones},
			{Name: "bench", Subcommands: []service.Command{{Name: "bones", Summary: "how fast bones are counted",
				Synopsis: "[flags]", Description: "Counts the bones on a scratch database.", Database: true, Bench: true,
				Run: benchBones}}}},
		New: func(cfg service.Config, env service.Env) (service.Service, error) {
			skeletons.add(&skeletons.constructed, 1) // and nothing else: no side effect
			return &skeleton{cfg: *cfg.(*skeletonConfig), held: skeletons}, nil
		},
	})
}

// countBones is the skeleton's command: a flag of its own, the platform's database options.
func countBones(ctx context.Context, args []string, env service.CommandEnv) error {
	times := env.Flags().Int("times", 1, "say it this many times")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *times < 1 {
		return service.Usagef("-times must be positive")
	}
	pool, err := env.OpenDB(ctx, 1)
	if err != nil {
		return err
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM skeleton.bones`).Scan(&n); err != nil {
		return err
	}
	_, err = io.WriteString(env.Stdout(), strings.Repeat(fmt.Sprintf("%d bones\n", n), *times))
	return err
}

// benchBones is the skeleton's benchmark: on a scratch database, in a scratch directory.
func benchBones(ctx context.Context, args []string, env service.CommandEnv) error {
	if err := env.Parse(args); err != nil {
		return err
	}
	pool, err := env.OpenDB(ctx, 1)
	if err != nil {
		return err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM skeleton.bones`).Scan(new(int)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout(), "bones counted in %s\n", env.DataDir())
	return err
}

func TestANewServiceIsOneFolderAndOneLine(t *testing.T) {
	// --print-config: its settings, with their environment variables.
	if code, out, errs := run("serve", "--print-config"); code != 0 || !strings.Contains(out, "SOCLE_SKELETON_GREETING") {
		t.Fatalf("print-config: %d %s %s", code, out, errs)
	}
	// The roles a grant may name, and the commands.
	if code, out, errs := run("user", "-h"); code != 0 || !strings.Contains(out+errs, "skeleton.reader") {
		t.Errorf("socle user -h does not list the skeleton's role:\n%s", out)
	}
	if code, out, _ := run("-h"); code != 0 || !strings.Contains(out, "  skeleton   count the bones\n") {
		t.Errorf("socle -h does not list the skeleton's command:\n%s", out)
	}
	// Its help: its flag and the platform's database options, their defaults and variables.
	code, out, errs := run("skeleton", "-h")
	for _, want := range []string{"Usage: socle skeleton [flags]\n\nSays how many bones the database holds.\n\nExample:\n  socle skeleton -times 2\n\nFlags:\n",
		"  -times int\n    \tsay it this many times (default 1)\n",
		"  -database-url secret\n    \tPostgreSQL URL", "[SOCLE_DATABASE_URL]", "(default ./var) [SOCLE_DATA_DIR]"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("socle skeleton -h: %d, want %q in\n%s%s", code, want, out, errs)
		}
	}
	if code, _, errs := run("skeleton", "-times", "0"); code != 2 || errs != "socle skeleton: -times must be positive\n" {
		t.Errorf("socle skeleton -times 0: %d %q", code, errs)
	}
	// Its benchmark, in the platform's group, with the benchmarks' options.
	if code, out, _ := run("-h"); code != 0 || !strings.Contains(out, "  bench      measure a path against its baseline (aml, resolve, held, visio, gateway, wallet, transfer, bones)\n") {
		t.Errorf("socle -h does not list the skeleton's benchmark:\n%s", out)
	}
	code, out, errs = run("bench", "bones", "-h")
	if code != 0 || !strings.Contains(out, "Usage: socle bench bones [flags]\n") || !strings.Contains(out, "  -cpuprofile string\n") ||
		!strings.Contains(out, "  -data-dir string\n    \twhere to keep the benchmark's database cluster and files (default: a temporary directory, removed)\n") ||
		strings.Contains(out, "SOCLE_") {
		t.Errorf("socle bench bones -h: %d\n%s%s", code, out, errs)
	}

	// migrate: its schema, with the others.
	url := dbtest.NewURL(t)
	t.Setenv("SOCLE_DATABASE_URL", url)
	if code, out, errs := run("migrate"); code != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}
	if code, out, _ := run("migrate", "--status"); code != 0 || !strings.Contains(out, "skeleton   step 1 of 1 known to this binary, 0 pending") ||
		!strings.Contains(out, "rollback to dev") || !strings.Contains(out, ": possible, it runs on this schema\n") {
		t.Errorf("migrate --status:\n%s", out)
	}
	// Its command, on the database serve would open.
	if code, out, errs := run("skeleton", "-times", "2"); code != 0 || out != "0 bones\n0 bones\n" {
		t.Errorf("socle skeleton: %d %q %s", code, out, errs)
	}
	// A benchmark's scratch directory is gone when it ends.
	code, out, errs = run("bench", "bones")
	scratch, ok := strings.CutPrefix(strings.TrimSpace(out), "bones counted in ")
	if code != 0 || !ok || scratch == "" {
		t.Fatalf("socle bench bones: %d %q %s", code, out, errs)
	}
	if _, err := os.Stat(scratch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scratch directory %s is still there: %v", scratch, err)
	}

	// serve: started, on the home page, its routes mounted, stopped at the end.
	dataDir := t.TempDir()
	webAddr := localAddr(t)
	t.Setenv("SOCLE_DATA_DIR", dataDir)
	t.Setenv("SOCLE_WEB_ADDR", webAddr)
	t.Setenv("SOCLE_INTERCONNECT_ADDR", localAddr(t))
	t.Setenv("SOCLE_OPS_ADDR", localAddr(t))
	t.Setenv("SOCLE_SERVICES", "skeleton")
	t.Setenv("SOCLE_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, nil) }()
	var home string
	var lastErr error
	if !eventually(60*time.Second, func() bool {
		status, body, err := get(dataDir, "https://"+webAddr+"/?lang=fr")
		if err == nil && status == 200 {
			home = body
		}
		lastErr = err
		return home != ""
	}) {
		cancel()
		t.Fatalf("socle serve did not answer: %v", lastErr)
	}
	if !strings.Contains(home, "Squelette de service") || strings.Contains(home, "Webconférence") {
		t.Errorf("home page does not list the skeleton alone:\n%s", home)
	}
	if status, body, err := get(dataDir, "https://"+webAddr+"/skeleton/"); err != nil || status != 200 || body != "bonjour" {
		t.Errorf("the skeleton's route: %d %q %v", status, body, err)
	}
	if n := skeletons.get(&skeletons.held); n != 2 {
		t.Errorf("a started skeleton holds %d resources, want 2", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if n := skeletons.get(&skeletons.held); n != 0 || skeletons.get(&skeletons.stopped) != 1 {
		t.Errorf("after serve: %d resources held, %d stops", n, skeletons.get(&skeletons.stopped))
	}

	// A Start that fails halfway gives back what it took, and serve says which service.
	t.Setenv("SOCLE_SKELETON_FAIL_START", "true")
	err := runServe(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "start skeleton: the third resource is not there") {
		t.Fatalf("serve with a failing start: %v", err)
	}
	if n := skeletons.get(&skeletons.held); n != 0 {
		t.Errorf("a failed start left %d resources held", n)
	}
}

// get fetches url trusting the development CA that serve creates under dataDir.
func get(dataDir, url string) (int, string, error) {
	pem, err := os.ReadFile(filepath.Join(dataDir, "pki", "ca.crt"))
	if err != nil {
		return 0, "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func localAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually checks cond on every tick until it holds, for at most limit.
func eventually(limit time.Duration, cond func() bool) bool {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}

func TestServicesFillThePlatformsGroupsAndTakeNoNameTwice(t *testing.T) {
	noop := func(context.Context, []string, service.CommandEnv) error { return nil }
	leaf := func(name string) service.Command {
		return service.Command{Name: name, Summary: "does " + name, Run: noop}
	}
	platform := []command{{name: "serve", summary: "run the services"}}
	groups := []service.Command{{Name: "bench", Summary: "measure", Description: "Measures."}, {Name: "empty", Summary: "nobody fills it"}}
	a := service.Definition{Name: "a", Commands: []service.Command{
		{Name: "bench", Subcommands: []service.Command{leaf("x")}},
		{Name: "sim", Summary: "simulate", Subcommands: []service.Command{leaf("p")}}}}
	b := service.Definition{Name: "b", Commands: []service.Command{
		{Name: "bench", Subcommands: []service.Command{leaf("y")}},
		{Name: "sim", Subcommands: []service.Command{leaf("q")}}, leaf("apply")}}
	all, err := assemble(platform, groups, []service.Definition{a, b})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range all {
		got = append(got, c.Name+": "+summary(c))
	}
	want := []string{"apply: does apply", "bench: measure (x, y)", "serve: run the services", "sim: simulate (p, q)"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if len(a.Commands[1].Subcommands) != 1 || len(groups[0].Subcommands) != 0 {
		t.Error("assembling changed a definition")
	}
	for _, c := range []struct {
		d    service.Definition
		want string
	}{
		{service.Definition{Name: "c", Commands: []service.Command{leaf("serve")}}, `service c: command "serve" is taken`},
		{service.Definition{Name: "c", Commands: []service.Command{leaf("bench")}}, `service c: command "bench" is taken`},
		{service.Definition{Name: "c", Commands: []service.Command{{Name: "bench", Subcommands: []service.Command{leaf("x")}}}}, `service c: command "bench" "x" is taken`},
		{service.Definition{Name: "c", Commands: []service.Command{{Name: "frob", Subcommands: []service.Command{leaf("x")}}}}, `command "frob" has no summary`},
	} {
		if _, err := assemble(platform, groups, []service.Definition{a, c.d}); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}
