package emergency

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"socle/internal/emergency/acceptance"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/testbed"
	"socle/internal/platform/bus"
	"socle/internal/platform/identity"
	"socle/internal/platform/server"
)

// Loopback is the service running on a test bed, behind a mutual-TLS interconnect listener
// on loopback: what the integration tests and `socle bench aml|held` talk to.
type Loopback struct {
	URL      string // https://127.0.0.1:port
	Registry *prometheus.Registry
	svc      *Service
	bus      *bus.Bus
	ownBus   bool
	ic       *server.Listener
}

// StartLoopback runs the service on bed and pool with cfg, as `socle serve` would, with an
// embedded bus of its own.
func StartLoopback(ctx context.Context, bed *testbed.Bed, pool *pgxpool.Pool, cfg Config, logger *slog.Logger) (*Loopback, error) {
	bs, err := bus.Open("")
	if err != nil {
		return nil, err
	}
	l, err := StartLoopbackNode(ctx, bed, pool, cfg, logger, bs)
	if err != nil {
		bs.Close()
		return nil, err
	}
	l.ownBus = true
	return l, nil
}

// StartLoopbackNode runs one more node of the service on bed and pool, talking to the others
// over bs (which it leaves open when it stops), with a data directory of its own.
func StartLoopbackNode(ctx context.Context, bed *testbed.Bed, pool *pgxpool.Pool, cfg Config, logger *slog.Logger, bs *bus.Bus) (*Loopback, error) {
	client, err := tls.LoadX509KeyPair(filepath.Join(bed.PKIDir, "socle-client.crt"), filepath.Join(bed.PKIDir, "socle-client.key"))
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	dataDir, err := os.MkdirTemp(bed.DataDir, "node-")
	if err != nil {
		return nil, err
	}
	if cfg.AcceptanceCA == "" {
		cfg.AcceptanceCA = bed.PKIDir
	}
	svc, err := New(cfg, Deps{Pool: pool, Bus: bs, Registry: reg, Logger: logger,
		ClientCert: client, RootCAs: bed.CA, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	web, ic := http.NewServeMux(), http.NewServeMux()
	svc.Routes(web, ic)
	icTLS, err := server.MutualTLS(filepath.Join(bed.PKIDir, "server.crt"), filepath.Join(bed.PKIDir, "server.key"), bed.CA)
	if err != nil {
		return nil, err
	}
	orgs := func() []identity.CertResolver { return []identity.CertResolver{svc} }
	l, err := testbed.ServeLoopback("interconnect", icTLS, server.Middleware(logger, identity.Organisations(orgs)(ic)), logger)
	if err != nil {
		return nil, err
	}
	return &Loopback{URL: "https://" + l.BoundAddr(), Registry: reg, svc: svc, bus: bs, ic: l}, nil
}

// Bus is the bus the service talks on, for more nodes.
func (l *Loopback) Bus() *bus.Bus { return l.bus }

// Stop stops the service and its listener.
func (l *Loopback) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.ic.Shutdown(ctx)
	err := l.svc.Stop(ctx)
	if l.ownBus {
		l.bus.Close()
	}
	return err
}

// LoopbackConfig is the configuration of tests and benchmarks: quick retries and leases.
func LoopbackConfig() Config {
	return Config{
		LocationRetention: 24 * time.Hour,
		PurgeInterval:     time.Hour,
		DeliveryExpiry:    time.Hour,
		AttemptTimeout:    2 * time.Second,
		Lease:             3 * time.Second,
		PollInterval:      200 * time.Millisecond,
		Concurrency:       64,
		PullMaxAge:        10 * time.Minute,
	}
}

// Acceptance is the node's campaigns, when it runs the acceptance environment.
func (l *Loopback) Acceptance() *acceptance.Acceptance { return l.svc.acceptance }
