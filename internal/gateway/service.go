package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/analytics"
	"socle/internal/gateway/catalog"
	"socle/internal/gateway/jwtauth"
	"socle/internal/gateway/portal"
	"socle/internal/gateway/quota"
	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
)

// Config is the gateway's configuration table.
type Config struct {
	UpstreamCA  string
	Retention   int
	KeyOverlap  time.Duration
	MaxIdleConn int
	// DemoRegistryAddr is where the demo's simulated authentic sources listen.
	DemoRegistryAddr string
}

// Register declares the gateway's settings.
func (c *Config) Register(s *config.Set) {
	s.String(&c.UpstreamCA, "gateway-upstream-ca", "", "PEM bundle the upstreams' certificates must chain to, beside the system's roots and SOCLE_CLIENT_CA")
	s.Int(&c.Retention, "gateway-analytics-retention-days", 90, 1, 3660, "how many days of call records the analytics keep (the calling networks' addresses go with them)")
	s.Duration(&c.KeyOverlap, "gateway-key-overlap", 7*24*time.Hour, "how long a replaced API key keeps working beside its successor")
	s.Int(&c.MaxIdleConn, "gateway-upstream-idle-conns", 256, 1, 100000, "idle keep-alive connections kept per upstream")
	s.Addr(&c.DemoRegistryAddr, "demo-registry-addr", "127.0.0.1:9101", "where the demo's simulated authentic sources (socle sim registry) listen")
}

// Gateway is the gateway service.
type Gateway struct {
	cfg     Config
	pool    *pgxpool.Pool
	logger  *slog.Logger
	replica string
	people  *identity.Store
	caPool  *x509.CertPool // client certificates bound to consumers must chain to it

	snap      atomic.Pointer[snapshot]
	targets   *targets
	ops       opsCache
	transport *transport
	proxy     http.Handler
	quota     *quota.Counter
	jwt       *jwtauth.Verifier
	records   *analytics.Writer
	metrics   *analytics.Metrics
	follower  *database.Follower
	client    *http.Client // towards upstreams and issuers
	res       service.Resources
	reloadMu  sync.Mutex
}

// New builds the gateway; Start makes it serve.
func New(cfg Config, env service.Env) (*Gateway, error) {
	// Upstreams are verified against the system's roots, socle's CA (which signs the demo's
	// and the tests' authentic sources) and SOCLE_GATEWAY_UPSTREAM_CA.
	pools := pki.SystemAnd(env.TLS.ClientCAs)
	if cfg.UpstreamCA != "" {
		p, err := pki.LoadPool(cfg.UpstreamCA)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_GATEWAY_UPSTREAM_CA: %w", err)
		}
		pools = append(pools, p)
	}
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		return nil, fmt.Errorf("gateway: time zone: %w", err)
	}
	host, _ := os.Hostname()
	g := &Gateway{cfg: cfg, pool: env.Pool, logger: env.Logger, people: env.Identity, caPool: env.TLS.ClientCAs,
		replica: host + ":" + strconv.Itoa(os.Getpid())}
	tlsConf := pki.TrustAny(pools...)
	if len(env.TLS.ClientCert.Certificate) > 0 {
		// The service platform calls the authentic sources as itself (mutual TLS).
		cert := env.TLS.ClientCert
		tlsConf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	}
	base := &http.Transport{
		Proxy:                 nil, // upstreams are reached directly, never through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          cfg.MaxIdleConn * 4,
		MaxIdleConnsPerHost:   cfg.MaxIdleConn,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	g.client = &http.Client{Transport: base, Timeout: 30 * time.Second}
	self := env.InterconnectURL
	if self == nil {
		self = func() string { return "" }
	}
	g.targets = newTargets(g.client, env.Logger, self)
	g.transport = &transport{g: g, base: base}
	g.proxy = g.newProxy()
	g.quota = quota.New(env.Pool, loc)
	g.metrics = analytics.NewMetrics(env.Metrics)
	g.snap.Store(&snapshot{cat: catalog.Empty(), routes: map[string]*apiRoute{}})
	return g, nil
}

func (g *Gateway) Name() string { return "gateway" }

// Start loads the catalogue, follows its changes, and starts the analytics writer.
func (g *Gateway) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			g.res.Release(context.WithoutCancel(ctx))
		}
	}()
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.res.AddFunc(cancel)
	g.jwt, err = jwtauth.New(bg, g.client)
	if err != nil {
		return err
	}
	g.res.Add(g.jwt.Close)
	// The writer creates the analytics' partitions ahead and drops those past the retention.
	g.records = analytics.NewWriter(g.pool, g.logger, analytics.WriterOptions{RetentionDays: g.cfg.Retention})
	g.records.Start(bg)
	g.res.Add(g.records.Close)
	g.metrics.RegisterWriter(g.records)
	g.follower = database.NewFollower(g.pool, catalog.Channel, g.logger,
		func(ctx context.Context) error { return g.reload(ctx, bg) },
		func(ctx context.Context, _ string) error { return g.reload(ctx, bg) })
	if err := g.follower.Start(ctx); err != nil {
		return err
	}
	g.res.AddFunc(g.follower.Close)
	done := make(chan struct{})
	go func() { defer close(done); g.follower.Run(bg) }()
	g.res.AddFunc(func() { cancel(); <-done })
	g.res.AddFunc(g.targets.stop)
	quotaDone := make(chan struct{})
	go func() { defer close(quotaDone); g.quota.Run(bg) }()
	g.res.Add(func(ctx context.Context) error {
		cancel()
		<-quotaDone
		return g.quota.Release(ctx) // what this replica's leases hold goes back to the others
	})
	return nil
}

// reload loads the catalogue and swaps the snapshot. Reloads are serialised: two
// notifications in a row never install an older catalogue after a newer one.
func (g *Gateway) reload(ctx, bg context.Context) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	cat, err := catalog.Load(ctx, g.pool)
	if err != nil {
		return err
	}
	s := g.build(ctx, cat)
	g.snap.Store(s)
	g.targets.sync(bg, s.routes)
	g.logger.Debug("gateway: catalogue loaded", "apis", len(cat.APIs), "consumers", len(cat.Consumers))
	return nil
}

func (g *Gateway) Stop(ctx context.Context) error { return g.res.Release(ctx) }

// Routes serves /apis/ on both listeners — keys and JWTs on the web one, client
// certificates on the interconnect one — and the developer portal on the web one.
func (g *Gateway) Routes(webMux, interconnect *http.ServeMux) {
	webMux.Handle("/apis/", g.handler(false))
	interconnect.Handle("/apis/", g.handler(true))
	if g.people != nil {
		// Consumers call with keys and tokens, and web applications of other sites may call
		// an API its CORS rules let them: the cookie check against cross-site requests does
		// not apply there.
		g.people.AllowCrossOrigin("/apis/")
	}
	portal.New(portal.Deps{Pool: g.pool, Identity: g.people, Logger: g.logger.With("part", "portal"), ClientCAs: g.caPool,
		Catalog:   func() *catalog.Catalog { return g.snap.Load().cat },
		Analytics: portal.PoolAnalytics(g.pool), KeyOverlap: g.cfg.KeyOverlap}).Routes(webMux)
}

func (g *Gateway) Ready(ctx context.Context) error { return g.pool.Ping(ctx) }

// Organisation implements identity.CertResolver: a consumer's bound certificate names it.
func (g *Gateway) Organisation(fingerprint string) (identity.Organisation, bool) {
	cat := g.snap.Load().cat // one catalogue for both lookups
	name, ok := cat.ConsumerOfCertificate(fingerprint)
	if !ok {
		return identity.Organisation{}, false
	}
	c := cat.Consumers[name]
	return identity.Organisation{Kind: "consumer", ID: name, Name: c.Organisation}, true
}
