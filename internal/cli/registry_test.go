package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
		Commands: []service.Command{{Name: "skeleton", Summary: "say the greeting",
			Run: func(_ context.Context, _ []string, out io.Writer) error {
				_, err := io.WriteString(out, "os\n")
				return err
			}}},
		New: func(cfg service.Config, env service.Env) (service.Service, error) {
			skeletons.add(&skeletons.constructed, 1) // and nothing else: no side effect
			return &skeleton{cfg: *cfg.(*skeletonConfig), held: skeletons}, nil
		},
	})
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
	if code, out, _ := run("skeleton"); code != 0 || out != "os\n" {
		t.Errorf("socle skeleton: %d %q", code, out)
	}
	if code, out, _ := run("-h"); code != 0 || !strings.Contains(out, "say the greeting") {
		t.Errorf("socle -h does not list the skeleton's command:\n%s", out)
	}

	// migrate: its schema, with the others.
	url := dbtest.NewURL(t)
	t.Setenv("SOCLE_DATABASE_URL", url)
	if code, out, errs := run("migrate"); code != 0 {
		t.Fatalf("migrate: %s %s", out, errs)
	}
	if code, out, _ := run("migrate", "--status"); code != 0 || !strings.Contains(out, "skeleton     version 1, 0 pending") {
		t.Errorf("migrate --status:\n%s", out)
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
