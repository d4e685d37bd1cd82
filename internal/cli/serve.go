package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/mail"
	"socle/internal/platform/memory"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func init() {
	register(command{name: "serve", summary: "run the services", run: runServe})
}

// serveConfig is the whole table `socle serve` reads.
type serveConfig struct {
	base
	WebAddr          string
	PublicURL        string
	InterconnectAddr string
	OpsAddr          string
	NATSURL          string
	NATSCluster      natsCluster
	Services         []string
	TLSCert          string
	TLSKey           string
	ClientCA         string
	ClientCert       string
	ClientKey        string
	Migrate          string
	Demo             bool
	HeapFloorMiB     int
	ShutdownDrain    time.Duration
	OIDC             identity.OIDCConfig
	Mail             mail.Config
	// configs are the registered services' tables, by name.
	configs map[string]service.Config
}

// defaultHeapFloor is the heap size below which the garbage collector stays idle (see
// platform/memory): small next to what the national commune map alone takes.
const defaultHeapFloor = 256 << 20

func (c *serveConfig) table() *config.Set {
	s := config.New()
	c.base.register(s)
	s.Addr(&c.WebAddr, "web-addr", ":8080", "web listener (HTTPS): pages and public APIs")
	s.String(&c.PublicURL, "public-url", "", "the web listener's address as people and other systems reach it, https://host[:port] (empty: https://localhost:<its port>)")
	s.Check(func() error {
		if c.PublicURL == "" {
			return nil
		}
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return fmt.Errorf("SOCLE_PUBLIC_URL: %q: want https://host[:port]", c.PublicURL)
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
		return nil
	})
	s.Addr(&c.InterconnectAddr, "interconnect-addr", ":8443", "interconnect listener: mutual TLS required (operators, PSAPs)")
	s.Addr(&c.OpsAddr, "ops-addr", ":9090", "ops listener (HTTPS): /metrics, /healthz, /readyz")
	s.Secret(&c.NATSURL, "nats-url", "NATS URL for a cluster; empty: an embedded in-process server")
	c.NATSCluster.register(s, &c.NATSURL)
	s.List(&c.Services, "services", strings.Join(service.Names(), ","), "services to run, comma-separated")
	s.String(&c.TLSCert, "tls-cert", "", "server certificate (PEM); empty: <data-dir>/pki/server.crt, created on first start")
	s.String(&c.TLSKey, "tls-key", "", "server key (PEM); empty: <data-dir>/pki/server.key")
	s.String(&c.ClientCA, "client-ca", "", "CA bundle that client certificates must chain to; empty: <data-dir>/pki/ca.crt")
	s.String(&c.ClientCert, "client-cert", "", "socle's client certificate towards PSAPs; empty: <data-dir>/pki/socle-client.crt")
	s.String(&c.ClientKey, "client-key", "", "socle's client key; empty: <data-dir>/pki/socle-client.key")
	s.Enum(&c.Migrate, "migrate", "auto", []string{"auto", "always", "never"},
		"migrate the schema at start: auto = only the private cluster's")
	s.Bool(&c.Demo, "demo", false, "put each service's demo data in place and run its simulators (what make run does)")
	s.Int(&c.HeapFloorMiB, "heap-floor-mib", defaultHeapFloor>>20, 0, 1<<20,
		"the garbage collector waits for the heap to reach this size (MiB) while live data is small; 0, or GOGC set: Go's default")
	s.Duration(&c.ShutdownDrain, "shutdown-drain", 0,
		"on SIGTERM, how long /readyz says 503 while the listeners go on serving (asking clients to close their connections), before they stop: a load balancer's time to take the replica out of rotation (5s behind Kubernetes)")
	c.OIDC.Register(s)
	c.Mail.Register(s)
	c.configs = map[string]service.Config{}
	for _, d := range service.All() {
		cfg := d.NewConfig()
		cfg.Register(s)
		c.configs[d.Name] = cfg
	}
	s.Check(func() error {
		for _, name := range c.Services {
			if _, ok := service.Lookup(name); !ok {
				return fmt.Errorf("SOCLE_SERVICES: unknown service %q (known: %s)", name, strings.Join(service.Names(), ", "))
			}
		}
		if (c.TLSCert == "") != (c.TLSKey == "") {
			return errors.New("SOCLE_TLS_CERT and SOCLE_TLS_KEY go together")
		}
		if (c.ClientCert == "") != (c.ClientKey == "") {
			return errors.New("SOCLE_CLIENT_CERT and SOCLE_CLIENT_KEY go together")
		}
		return nil
	})
	return s
}

func runServe(ctx context.Context, args []string) error {
	var c serveConfig
	set := c.table()
	fs := flags("serve", "[flags]", `
Runs the services on three listeners: web (HTTPS), interconnect (mutual TLS) and ops. With no
configuration it starts a private PostgreSQL cluster and a development PKI under
<data-dir>, and an embedded NATS server. Every flag has an environment variable, shown in
brackets; flags win over the environment.`)
	printConfig := fs.Bool("print-config", false, "print the configuration (secrets redacted) and exit")
	if err := parse(fs, set, args); err != nil {
		return err
	}
	if *printConfig {
		set.Dump(stdout)
		return nil
	}
	log := newLogger(c.LogLevel, c.LogFormat)
	log.Info("socle starting", "version", versionString(), "services", c.Services, "data_dir", c.DataDir)
	go memory.Floor(ctx, uint64(c.HeapFloorMiB)<<20, log)

	if err := c.ensureDataDir(); err != nil {
		return err
	}
	tlsFiles, err := c.ensurePKI(log)
	if err != nil {
		return err
	}
	d, err := c.openDB(ctx, log, 32)
	if err != nil {
		return err
	}
	defer d.Close()
	switch {
	case c.Migrate == "always" || (c.Migrate == "auto" && d.embedded()):
		if err := migrate(ctx, d.Pool, log); err != nil {
			return err
		}
	default:
		if err := checkSchema(ctx, d.Pool, log); err != nil {
			return err
		}
	}

	b, err := c.openBus(tlsFiles, log)
	if err != nil {
		return err
	}
	defer b.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), busPeers(b))

	people := identity.New(d.Pool, log)
	if c.OIDC.Issuer != "" {
		if err := people.EnableOIDC(c.OIDC, nil); err != nil {
			return err
		}
		log.Info("people may sign in through the OpenID provider", "issuer", c.OIDC.Issuer, "rules", len(c.OIDC.Roles))
	}
	// The web listener's public address: SOCLE_PUBLIC_URL, or the address it is bound to.
	var webBound atomic.Pointer[string]
	publicURL := func() string {
		if c.PublicURL != "" {
			return c.PublicURL
		}
		if a := webBound.Load(); a != nil {
			return *a
		}
		return ""
	}
	var icBound atomic.Pointer[string]
	interconnectURL := func() string {
		if a := icBound.Load(); a != nil {
			return *a
		}
		return ""
	}
	// Mail goes through the organisation's relay, its certificate verified against the
	// system's roots; with --demo and no relay, to the demo's mailbox under the data directory.
	var mailer mail.Sender = mail.New(c.Mail, nil, log)
	if c.Demo && c.Mail.Relay == "" {
		box, err := mail.StartMailbox(filepath.Join(c.DataDir, "mail"), log)
		if err != nil {
			return err
		}
		defer box.Close()
		mailer = mail.New(mail.Config{Relay: box.Addr(), TLS: mail.TLSNone, From: c.Mail.From}, nil, log)
		log.Info("demo mailbox: socle's mail is written to "+filepath.Join(c.DataDir, "mail"), "smtp", box.Addr())
	}
	env := service.Env{Pool: d.Pool, Bus: b, Metrics: reg, Logger: log, Identity: people, PublicURL: publicURL, InterconnectURL: interconnectURL,
		Mail: mailer,
		TLS:  service.TLS{ClientCert: tlsFiles.client, ClientCAs: tlsFiles.clientCAs}, DataDir: c.DataDir, Demo: c.Demo, Stdout: stdout}
	var enabled []service.Definition
	for _, name := range c.Services {
		def, _ := service.Lookup(name) // the table's check refused unknown names
		enabled = append(enabled, def)
	}
	if c.Demo {
		accounts := filepath.Join(c.DataDir, identity.DemoAccountsFile)
		if err := people.DemoAccount(ctx, accounts, "admin@demo.socle.test", "Administrateur (démo)",
			identity.Grant{Role: identity.RoleAdmin, Scope: identity.AllScopes}); err != nil {
			return err
		}
		for _, def := range enabled {
			if def.Demo == nil {
				continue
			}
			stop, err := def.Demo(ctx, c.configs[def.Name], env)
			if err != nil {
				return fmt.Errorf("%s demo: %w", def.Name, err)
			}
			defer stop()
		}
		log.Info("demo accounts", "file", accounts)
	}
	go purgeSessions(ctx, log, people)

	var services []service.Service
	for _, def := range enabled {
		svc, err := def.New(c.configs[def.Name], env)
		if err != nil {
			return fmt.Errorf("%s: %w", def.Name, err)
		}
		services = append(services, svc)
	}
	for _, s := range services {
		// Stop runs after a failed Start too: it releases what Start took before failing.
		defer func(s service.Service) {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := s.Stop(sctx); err != nil {
				log.Error("stop service", "service", s.Name(), "error", err)
			}
		}(s)
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", s.Name(), err)
		}
	}

	webMux, icMux := http.NewServeMux(), http.NewServeMux()
	var home []web.Home
	for _, def := range enabled {
		home = append(home, def.Home)
	}
	web.Routes(webMux, home)
	people.Routes(webMux)
	for _, s := range services {
		s.Routes(webMux, icMux)
	}
	// leaving: SIGTERM came, /readyz says so while the listeners drain (serveListeners).
	var leaving atomic.Bool
	checks := []server.Check{
		{Name: "shutdown", Fn: func(context.Context) error {
			if leaving.Load() {
				return errors.New("shutting down")
			}
			return nil
		}},
		{Name: "database", Fn: func(ctx context.Context) error { return d.Ping(ctx) }},
	}
	for _, s := range services {
		checks = append(checks, server.Check{Name: s.Name(), Fn: s.Ready})
	}
	// Who calls the interconnect: the organisation of the client certificate, as the services
	// that register organisations know it.
	// socle's own client certificate is socle: the gateway calling the services it publishes.
	resolvers := []identity.CertResolver{identity.Self(tlsFiles.client)}
	for _, s := range services {
		if r, ok := s.(identity.CertResolver); ok {
			resolvers = append(resolvers, r)
		}
	}
	orgs := func() []identity.CertResolver { return resolvers }
	// The three listeners serve one certificate, renewed in place when its files change.
	keypair, err := server.LoadKeypair(tlsFiles.cert, tlsFiles.key)
	if err != nil {
		return err
	}
	reg.MustRegister(certificateExpiry(keypair, tlsFiles.client)...)
	listeners := []*server.Listener{
		{Name: "web", Addr: c.WebAddr, TLS: keypair.ServerTLS(), Handler: server.Middleware(log, people.Middleware(webMux)), Logger: log},
		{Name: "interconnect", Addr: c.InterconnectAddr, TLS: keypair.MutualTLS(tlsFiles.clientCAs), Handler: server.Middleware(log, identity.Organisations(orgs)(icMux)), Logger: log},
		{Name: "ops", Addr: c.OpsAddr, TLS: keypair.ServerTLS(), Handler: server.OpsHandler(reg, checks), Logger: log},
	}
	return serveListeners(ctx, log, listeners, filepath.Join(c.DataDir, ListenersFile), drain{&leaving, c.ShutdownDrain}, func(bound map[string]string) {
		u, ic := server.LocalURL(bound["web"]), server.LocalURL(bound["interconnect"])
		webBound.Store(&u)
		icBound.Store(&ic)
	})
}

// certificateExpiry publishes when socle's certificates expire, as Unix seconds: the server
// certificate in service (renewed in place) and socle's client certificate towards the
// organisations (read at start: its renewal takes a restart). The chart's alerts fire 21 days
// before.
func certificateExpiry(server *server.Keypair, client tls.Certificate) []prometheus.Collector {
	gauge := func(which string, notAfter func() time.Time) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_tls_certificate_not_after_seconds",
			Help: "When a certificate of socle's expires (Unix time).", ConstLabels: prometheus.Labels{"certificate": which}},
			func() float64 { return float64(notAfter().Unix()) })
	}
	cs := []prometheus.Collector{gauge("server", server.NotAfter)}
	if client.Leaf != nil {
		cs = append(cs, gauge("client", func() time.Time { return client.Leaf.NotAfter }))
	}
	return cs
}

// ListenersFile is server.ListenersFile: where the bound addresses are said.
const ListenersFile = server.ListenersFile

// drain is how serveListeners leaves: the flag /readyz reads, and how long to go on serving
// once it is set.
type drain struct {
	leaving *atomic.Bool
	delay   time.Duration
}

// serveListeners binds every listener first (so a busy port fails start-up), says where in
// boundFile, serves them, and shuts them down gracefully when ctx ends or one fails: /readyz
// turns 503 and clients are asked to close their connections for the drain delay, then the
// listeners stop accepting and wait for the requests in flight — web and interconnect
// together, ops last, so that probes see 503, not a refused connection, until the end.
func serveListeners(ctx context.Context, log *slog.Logger, ls []*server.Listener, boundFile string, dr drain, onBound func(map[string]string)) error {
	os.Remove(boundFile) // a previous run's
	bound := map[string]string{}
	for i, l := range ls {
		if err := l.Listen(); err != nil {
			for _, bound := range ls[:i] {
				bound.Shutdown(context.Background())
			}
			return err
		}
		bound[l.Name] = l.BoundAddr()
	}
	onBound(bound)
	if err := writeFileAtomic(boundFile, bound); err != nil {
		for _, l := range ls {
			l.Shutdown(context.Background())
		}
		return err
	}
	defer os.Remove(boundFile)
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func(l *server.Listener) { errc <- l.Serve() }(l)
	}
	log.Info("socle ready")
	var err error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("listener failed", "error", err)
	}
	dr.leaving.Store(true)
	for _, l := range ls {
		l.Drain()
	}
	if err == nil && dr.delay > 0 {
		log.Info("draining: /readyz says 503, requests are still served", "for", dr.delay.String())
		select {
		case <-time.After(dr.delay):
		case err = <-errc:
			log.Error("listener failed", "error", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var ops []*server.Listener
	for _, l := range ls {
		if l.Name == "ops" {
			ops = append(ops, l)
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); l.Shutdown(sctx) }()
	}
	wg.Wait()
	for _, l := range ops {
		l.Shutdown(sctx)
	}
	return err
}

// writeFileAtomic writes v as JSON to path through a temporary file renamed over it: a reader
// sees the whole file or none.
func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("listeners: %w", err)
	}
	return nil
}

type tlsMaterial struct {
	cert, key string
	clientCAs *x509.CertPool
	client    tls.Certificate
}

// ensurePKI creates the development PKI on first start when no certificates are
// configured, and loads what the listeners and the PSAP client need.
func (c *serveConfig) ensurePKI(log *slog.Logger) (tlsMaterial, error) {
	dir := c.pkiDir()
	var m tlsMaterial
	if c.TLSCert == "" || c.ClientCA == "" || c.ClientCert == "" {
		created, err := pki.Init(dir)
		if err != nil {
			return m, err
		}
		if created {
			log.Info("development PKI created", "dir", dir)
		}
		if _, err := pki.EnsureIssued(dir, "socle-client", pki.Request{Name: "socle", Organization: "socle", Usage: pki.Client}); err != nil {
			return m, err
		}
	}
	m.cert, m.key = or(c.TLSCert, filepath.Join(dir, "server.crt")), or(c.TLSKey, filepath.Join(dir, "server.key"))
	pool, err := pki.LoadPool(or(c.ClientCA, filepath.Join(dir, "ca.crt")))
	if err != nil {
		return m, err
	}
	m.clientCAs = pool
	m.client, err = tls.LoadX509KeyPair(or(c.ClientCert, filepath.Join(dir, "socle-client.crt")),
		or(c.ClientKey, filepath.Join(dir, "socle-client.key")))
	if err != nil {
		return m, fmt.Errorf("client certificate: %w", err)
	}
	return m, nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// purgeSessions deletes expired sign-in sessions every hour.
func purgeSessions(ctx context.Context, log *slog.Logger, people *identity.Store) {
	for {
		if n, err := people.PurgeSessions(ctx); err != nil && ctx.Err() == nil {
			log.Warn("purge sessions", "error", err)
		} else if n > 0 {
			log.Info("expired sessions purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}
