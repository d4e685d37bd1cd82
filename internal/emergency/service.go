// Package emergency is the emergency caller location exchange: operators push handset
// locations (AML) over mutual TLS, socle routes them by commune and number dialled, and
// pushes them to the right PSAP. See docs/emergency-aml-push.md.
package emergency

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/acceptance"
	"socle/internal/emergency/delivery"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/forward"
	"socle/internal/emergency/intake"
	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/pdaauweb"
	"socle/internal/emergency/porting"
	"socle/internal/emergency/pull"
	"socle/internal/emergency/status"
	"socle/internal/platform/audit"
	"socle/internal/platform/bus"
	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/problem"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
)

// Config is the emergency service's part of the configuration table.
type Config struct {
	LocationRetention time.Duration
	PurgeInterval     time.Duration
	DeliveryExpiry    time.Duration
	AttemptTimeout    time.Duration
	Lease             time.Duration
	PollInterval      time.Duration
	Concurrency       int
	FallbackPSAP      string
	PullMaxAge        time.Duration
	PullScope         string
	// DemoPSAPAddr is where the demo's PSAP simulator listens (with --demo).
	DemoPSAPAddr string
	// DemoPSAPSimulator runs that simulator in-process; without it, someone runs
	// `socle sim psap` at DemoPSAPAddr (and may stop it: the status page's tests do).
	DemoPSAPSimulator bool
	// Acceptance runs the acceptance environment: operators' campaigns, and nothing
	// delivered to any PSAP.
	Acceptance bool
	// AcceptanceCA is the directory of the CA that signs testers' requests (ca.crt, ca.key);
	// empty: <data-dir>/pki.
	AcceptanceCA string
	// StatusInterval is how often the status page's probes and reports run.
	StatusInterval time.Duration
	// StatusAddresses are socle's addresses per flow, published on the status page.
	StatusAddresses []string
	statusAddresses []status.Address
	// Cutover is the relay mode of a migration from the legacy platform (cutover.go).
	Cutover CutoverConfig
}

// Register adds the service's options to the table.
func (c *Config) Register(s *config.Set) {
	s.Duration(&c.LocationRetention, "location-retention", 24*time.Hour,
		"how long locations and caller identifiers are kept before being purged")
	s.Duration(&c.PurgeInterval, "location-purge-interval", 10*time.Minute, "how often the purge runs")
	s.Duration(&c.DeliveryExpiry, "emergency-delivery-expiry", time.Hour,
		"how long a location is retried before it is given up with an alarm")
	s.Duration(&c.AttemptTimeout, "emergency-delivery-timeout", 5*time.Second, "time allowed for one push to a PSAP")
	s.Duration(&c.Lease, "emergency-delivery-lease", 15*time.Second,
		"how long a worker owns a message it is delivering; after a crash, others take it over then")
	s.Duration(&c.PollInterval, "emergency-delivery-poll", time.Second, "outbox poll interval when no wake-up comes")
	s.Int(&c.Concurrency, "emergency-delivery-concurrency", 64, 1, 4096, "pushes in flight at once per node")
	s.Duration(&c.PullMaxAge, "emergency-pull-max-age", 10*time.Minute,
		"how old an AML fix may be and still answer a PSAP's location query")
	s.Enum(&c.PullScope, "emergency-pull-scope", pull.ScopeArea, []string{pull.ScopeArea, pull.ScopeAny},
		"which calls a PSAP may locate: area (from its départements in the PDAAU, or routed to it) or any")
	s.String(&c.FallbackPSAP, "emergency-fallback-psap", "",
		"id of the PSAP that receives locations for which the tables give no PSAP (empty: keep retrying)")
	s.Addr(&c.DemoPSAPAddr, "demo-psap-addr", "127.0.0.1:8444", "where the demo's PSAP simulator listens")
	s.Bool(&c.DemoPSAPSimulator, "demo-psap-simulator", true,
		"run the demo's PSAP simulator in-process (false: run socle sim psap at SOCLE_DEMO_PSAP_ADDR yourself)")
	s.Bool(&c.Acceptance, "emergency-acceptance", false,
		"run the acceptance environment: operators' testers register certificates and run campaigns at /emergency/acceptance/; nothing received is delivered to a PSAP")
	s.String(&c.AcceptanceCA, "emergency-acceptance-ca", "",
		"directory of the CA (ca.crt, ca.key) that signs testers' certificate requests; empty: <data-dir>/pki")
	s.Duration(&c.StatusInterval, "emergency-status-interval", 15*time.Second,
		"how often the status page shakes hands with every PSAP and operator endpoint and merges the nodes' reports")
	s.List(&c.StatusAddresses, "emergency-status-addresses", "",
		"socle's addresses published on /status, flow=address: operators=..., psaps=..., cced=...")
	c.Cutover.register(s)
	s.Check(func() error {
		if err := c.Cutover.prepare(); err != nil {
			return err
		}
		if c.Acceptance && c.Cutover.Forward != "" {
			return errors.New("SOCLE_EMERGENCY_CUTOVER_FORWARD is set in the acceptance environment (SOCLE_EMERGENCY_ACCEPTANCE): operators' test messages must not reach the legacy platform")
		}
		var err error
		if c.statusAddresses, err = status.ParseAddresses(c.StatusAddresses); err != nil {
			return err
		}
		if c.StatusInterval < time.Second {
			return fmt.Errorf("SOCLE_EMERGENCY_STATUS_INTERVAL (%s) must be at least 1s", c.StatusInterval)
		}
		if c.Lease <= c.AttemptTimeout {
			return fmt.Errorf("SOCLE_EMERGENCY_DELIVERY_LEASE (%s) must exceed SOCLE_EMERGENCY_DELIVERY_TIMEOUT (%s)", c.Lease, c.AttemptTimeout)
		}
		if c.PullMaxAge > c.LocationRetention {
			// Fixes are held in memory for PullMaxAge: no longer than the data may be kept.
			return fmt.Errorf("SOCLE_EMERGENCY_PULL_MAX_AGE (%s) must not exceed SOCLE_LOCATION_RETENTION (%s)", c.PullMaxAge, c.LocationRetention)
		}
		if c.LocationRetention < c.DeliveryExpiry {
			return fmt.Errorf("SOCLE_LOCATION_RETENTION (%s) must be at least SOCLE_EMERGENCY_DELIVERY_EXPIRY (%s)", c.LocationRetention, c.DeliveryExpiry)
		}
		return nil
	})
}

// Deps are what the service stands on.
type Deps struct {
	Pool     *pgxpool.Pool
	Bus      *bus.Bus
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// ClientCert is socle's certificate when it calls PSAPs; RootCAs verifies PSAPs that
	// have no CA of their own in the directory.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
	// Identity signs people in for the web pages (the PDAAU workflow, resolve for admins);
	// without it the service mounts no web page.
	Identity *identity.Store
	// DataDir is where the service keeps local files: the location pull's audit journal,
	// under journal/emergency-pull (one process per directory).
	DataDir string
}

// AcceptedSubject carries the id of each accepted message, for live views (the PSAP console
// and status page subscribe to it). Delivery does not depend on it.
const AcceptedSubject = "socle.emergency.aml.accepted"

// CallsSubject carries each node's accepted fixes and routings to the other nodes' memory of
// recent calls, which answers location queries (see calls.go).
const CallsSubject = "socle.emergency.pull.calls"

// Service is the emergency service.
type Service struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	dir    *directory.Live
	worker *delivery.Worker
	intake *intake.Handler
	pull   *pull.Service
	calls  *pull.Calls
	ported *porting.Index // ported numbers in memory, for the location pull
	pdaau  *pdaau.Store
	node   string // this process, in the calls it announces
	// observer and status are the status page's: what this node sees, and the weather.
	observer *status.Observer
	status   *status.Status
	// acceptance is the campaigns, in the acceptance environment only.
	acceptance *acceptance.Acceptance
	// forwarder forwards accepted messages to the legacy platform, in the cutover relay only.
	forwarder *forward.Worker

	deliveryPool *pgxpool.Pool
	res          service.Resources // what Start took, released by Stop
	wg           sync.WaitGroup
}

var _ service.Service = (*Service)(nil)

// New builds the service; Start loads the directory and starts the workers.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.DataDir == "" {
		return nil, errors.New("emergency: a data directory is required (the location pull's audit journal)")
	}
	if err := cfg.Cutover.prepare(); err != nil {
		return nil, fmt.Errorf("emergency: %w", err)
	}
	if cfg.Acceptance && cfg.Cutover.Forward != "" {
		return nil, errors.New("emergency: the acceptance environment forwards nothing to the legacy platform: SOCLE_EMERGENCY_CUTOVER_FORWARD must be empty")
	}
	s := &Service{cfg: cfg, deps: deps, log: deps.Logger.With("service", "emergency"), node: uuid.NewString()}
	s.observer = &status.Observer{Node: s.node, Directory: s.snapshot, ClientCert: s.deps.ClientCert, RootCAs: s.deps.RootCAs,
		Ping: func(ctx context.Context) error { return s.deps.Pool.Ping(ctx) }}
	s.status = &status.Status{Observer: s.observer, Board: status.NewBoard(3 * cmp.Or(cfg.StatusInterval, 15*time.Second)),
		Store: &status.Store{Pool: s.deps.Pool}, Bus: busConn(deps.Bus), Interval: cmp.Or(cfg.StatusInterval, 15*time.Second),
		Addresses: s.cfg.statusAddresses, Logger: s.log.With("component", "status")}
	s.intake = &intake.Handler{
		Store:     intake.NewStore(deps.Pool, cfg.DeliveryExpiry, cfg.Lease),
		Directory: s.snapshot,
		Accepted:  s.accepted,
		Logger:    s.log.With("component", "intake"),
		Metrics:   intake.NewMetrics(deps.Registry),
	}
	s.intake.Store.Forward = cfg.Cutover.Forward != ""
	s.intake.Store.NoDelivery = cfg.Cutover.relayOnly()
	if cfg.Acceptance {
		s.acceptance = &acceptance.Acceptance{Store: &acceptance.Store{Pool: deps.Pool}, Directory: s.snapshot,
			Roots: deps.RootCAs, Logger: s.log.With("component", "acceptance")}
		s.intake.Stored = s.acceptanceStored
		s.intake.Unregistered = func(r *http.Request, c *x509.Certificate) { s.acceptance.Refused(r.Context(), identity.ClientIP(r), c) }
	}
	deps.Registry.MustRegister(directory.CertificateExpiry(deps.Pool))
	s.pdaau = pdaau.NewStore(deps.Pool)
	s.calls = pull.NewCalls(cfg.PullMaxAge)
	s.ported = porting.NewIndex(deps.Pool, s.log.With("component", "porting"))
	s.pull = &pull.Service{Calls: s.calls, Ported: s.ported.Lookup, Scope: cfg.PullScope, Directory: s.snapshot,
		ClientCert: deps.ClientCert, RootCAs: deps.RootCAs, DefaultResponseTime: 3 * time.Second}
	return s, nil
}

// Pull is the location-pull Go API (the PSAP console uses it, as POST /emergency/v1/held does).
func (s *Service) Pull() *pull.Service { return s.pull }

// accepted hands a committed message to this node's delivery worker and announces it on the
// bus for live views.
func (s *Service) accepted(res intake.Result, rec intake.Record) {
	now := time.Now()
	s.observer.Received(rec.OperatorID, now)
	if s.acceptance != nil {
		// The acceptance environment delivers nothing: its outbox row is closed at once, so
		// that the purge erases the (test) location on schedule like any other.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := intake.Expire(ctx, s.deps.Pool, res.ID); err != nil {
			s.log.Warn("acceptance: outbox row not closed; the purge will wait for its expiry", "id", res.ID, "error", err)
		}
		return
	}
	j := delivery.Job{ID: res.ID, Attempt: 1, ExpiresAt: now.Add(s.cfg.DeliveryExpiry), ReceivedAt: now,
		Device: rec.Message.DeviceNumber, Number: rec.EmergencyNumber, IMEI: nonEmpty(rec.Message.IMEI)}
	if l := rec.Message.Location; l != nil {
		j.Lat, j.Lon = l.Latitude, l.Longitude
		if l.Accuracy > 0 {
			j.Accuracy = &l.Accuracy
		}
		if l.Confidence > 0 {
			j.Confidence = &l.Confidence
		}
		if !l.Time.IsZero() {
			j.LocatedAt = &l.Time
		}
		src := string(l.Source)
		j.Source = &src
	}
	if rec.Message.Location != nil { // a message without a position answers no location query
		s.calls.Fixed(j)
		s.announce(pull.CallEvent{Fix: &j})
	}
	if s.cfg.Cutover.relayOnly() {
		// Relay only: the message has no outbox row for the PSAPs; the legacy platform
		// pushes it to them. Its fix still answers location queries.
		s.deps.Bus.Publish(AcceptedSubject, []byte(res.ID))
		return
	}
	if !s.worker.Submit(j) {
		s.log.Warn("delivery queue full: the message waits for its lease to lapse", "message_id", res.ID)
	}
	s.deps.Bus.Publish(AcceptedSubject, []byte(res.ID))
}

// routed remembers, for location queries, which PSAP a call was routed to.
func (s *Service) routed(j delivery.Job, psap string) {
	s.calls.Routed(j.Device, psap, j.ReceivedAt)
	s.announce(pull.CallEvent{Routed: &pull.RoutedCall{Device: j.Device, PSAP: psap, At: j.ReceivedAt}})
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// psapNames names the PSAPs by routing number, for pages.
func (s *Service) psapNames() map[string]string {
	out := map[string]string{}
	for _, p := range s.snapshot().PSAPs {
		out[p.RoutingNumber] = p.Name
	}
	return out
}

// Name implements service.Service.
func (s *Service) Name() string { return "emergency" }

func (s *Service) snapshot() *directory.Snapshot { return s.dir.Get() }

// Start implements service.Service.
func (s *Service) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.res.Release(context.WithoutCancel(ctx)) // a failed start leaves nothing held
		}
	}()
	// Delivery bookkeeping (leases, "delivered" marks) and the pull audit commit without
	// waiting for the WAL flush. If PostgreSQL crashed and lost such a commit, a message would
	// only be sent again with the same Message-Id (delivery is at-least-once anyway), and the
	// audit would miss the last fraction of a second; in exchange no PSAP waits on a disk
	// hiccup. What must never be lost — the accepted message and its outbox row — commits
	// synchronously in intake.
	dcfg := s.deps.Pool.Config().Copy()
	dcfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	dcfg.MaxConns = 24 // delivery records and audit batches: short statements, many at once
	dcfg.MinConns = 6
	dpool, err := pgxpool.NewWithConfig(ctx, dcfg)
	if err != nil {
		return fmt.Errorf("emergency: delivery pool: %w", err)
	}
	s.res.AddFunc(dpool.Close)
	s.deliveryPool = dpool
	s.worker = delivery.New(delivery.Config{
		Concurrency:    s.cfg.Concurrency,
		AttemptTimeout: s.cfg.AttemptTimeout,
		Lease:          s.cfg.Lease,
		PollInterval:   s.cfg.PollInterval,
		FallbackPSAP:   s.cfg.FallbackPSAP,
		ClientCert:     s.deps.ClientCert,
		RootCAs:        s.deps.RootCAs,
		Routed:         s.routed,
		Observe:        s.observer.Delivered,
	}, dpool, s.snapshot, s.log.With("component", "delivery"), s.deps.Registry)
	dir, err := directory.NewLive(ctx, s.deps.Pool, s.log.With("component", "directory"))
	if err != nil {
		return err
	}
	s.res.AddFunc(dir.Close)
	s.dir = dir
	if s.cfg.FallbackPSAP != "" {
		if _, ok := dir.Get().PSAPs[s.cfg.FallbackPSAP]; !ok {
			s.log.Warn("fallback PSAP is not in the directory (yet)", "psap", s.cfg.FallbackPSAP)
		}
	}
	// The location pull answers from memory: recent calls (below, once the other nodes'
	// announcements are heard) and ported numbers are loaded before the first query, and its
	// audit goes to a journal on local disk.
	if err := s.ported.Start(ctx); err != nil {
		return err
	}
	if s.acceptance != nil {
		ca, err := pki.LoadCA(cmp.Or(s.cfg.AcceptanceCA, filepath.Join(s.deps.DataDir, "pki")))
		if err != nil {
			return fmt.Errorf("emergency: acceptance CA: %w", err)
		}
		s.acceptance.CA = ca
		if err := s.acceptance.Load(ctx); err != nil {
			return err
		}
		s.log.Warn("acceptance environment: operators' campaigns only, nothing is delivered to any PSAP")
	}
	s.res.AddFunc(s.ported.Close)
	if s.cfg.Cutover.Forward != "" {
		if err := s.startForwarder(dpool); err != nil {
			return err
		}
	}
	journal, err := audit.Open(filepath.Join(s.deps.DataDir, "journal", "emergency-pull"),
		pull.AuditSink(dpool, s.log.With("component", "pull")), s.log.With("component", "pull-journal"), audit.Options{})
	if err != nil {
		return err
	}
	// Released after the goroutines below have ended (Resources releases the last taken
	// first): the journal's last records are shipped through the pool, which closes after.
	s.res.Add(func(context.Context) error { return journal.Close() })
	s.pull.Journal = journal
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_emergency_pull_audit_unshipped_bytes",
			Help: "Location-query audit records written to the local journal and not yet in PostgreSQL: growing means the database is unreachable."},
			func() float64 { return float64(journal.Unshipped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_emergency_pull_recent_numbers",
			Help: "Caller numbers with a fix or a routing held in memory for location queries."},
			func() float64 { return float64(s.calls.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_emergency_ported_numbers",
			Help: "Ported numbers held in memory for location queries."},
			func() float64 { return float64(s.ported.Len()) }),
	}
	for _, g := range gauges {
		if err := s.deps.Registry.Register(g); err != nil {
			return fmt.Errorf("emergency: metrics: %w", err)
		}
		s.res.AddFunc(func() { s.deps.Registry.Unregister(g) })
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sub, err := s.hearCalls(runCtx)
	if err != nil {
		cancel()
		return fmt.Errorf("emergency: subscribe to %s: %w", CallsSubject, err)
	}
	s.res.AddFunc(func() { sub.Unsubscribe() })
	statusSub, err := s.status.Subscribe()
	if err != nil {
		cancel()
		return fmt.Errorf("emergency: subscribe to %s: %w", status.Subject, err)
	}
	s.res.AddFunc(func() { statusSub.Unsubscribe() })
	// Loaded after subscribing: a call another node announces meanwhile is both heard and
	// loaded (Load merges), never neither. Loaded before, it could fall between the two, and
	// with socle's own NATS cluster no reconnection would repair it (the peers were already
	// routed, so no peer joins later).
	if err := s.calls.Load(ctx, s.deps.Pool); err != nil {
		cancel()
		return err
	}
	// Stop cancels the work and waits for it (up to its deadline) before the journal and the
	// pool go: deliveries in flight finish, their leases protecting them if time runs out.
	s.res.Add(func(ctx context.Context) error {
		cancel()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("emergency: stop: %w", ctx.Err())
		}
	})
	s.wg.Add(9)
	go func() { defer s.wg.Done(); s.status.Run(runCtx) }()
	go func() { defer s.wg.Done(); journal.Run(runCtx) }()
	go func() { defer s.wg.Done(); s.ported.Watch(runCtx) }()
	go func() { defer s.wg.Done(); s.sweepCalls(runCtx) }()
	go func() { defer s.wg.Done(); s.pdaauLoop(runCtx) }()
	go func() { defer s.wg.Done(); s.intake.Store.Run(runCtx) }()
	go func() { defer s.wg.Done(); dir.Watch(runCtx) }()
	go func() {
		defer s.wg.Done()
		if s.acceptance == nil { // the acceptance environment delivers nothing to any PSAP
			s.worker.Run(runCtx)
		}
	}()
	go func() { defer s.wg.Done(); s.purgeLoop(runCtx) }()
	if s.forwarder != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.forwarder.Run(runCtx) }()
	}
	return nil
}

func busConn(b *bus.Bus) *nats.Conn {
	if b == nil {
		return nil
	}
	return b.Conn
}

// Stop implements service.Service: it releases what Start took, the last first. Deliveries
// in flight finish (their leases protect them if the deadline passes first).
func (s *Service) Stop(ctx context.Context) error { return s.res.Release(ctx) }

// Organisation implements identity.CertResolver: the operators and PSAPs of the directory,
// by their certificates, for the interconnect's middleware.
func (s *Service) Organisation(fingerprint string) (identity.Organisation, bool) {
	if s.dir == nil {
		return identity.Organisation{}, false
	}
	if o, ok := s.cfg.Cutover.legacyOrganisation(fingerprint); ok {
		return o, true
	}
	if o, ok := s.snapshot().Organisation(fingerprint); ok {
		return o, true
	}
	if s.acceptance != nil { // a certificate an operator's tester registered
		return s.acceptance.Organisation(fingerprint)
	}
	return identity.Organisation{}, false
}

// acceptancePull plays a campaign's PULL cases against the operator's test server, over
// mutual TLS as the location pull does (socle's client certificate; the operator's CA, or
// socle's).
func (s *Service) acceptancePull(r *http.Request, campaign int64, e acceptance.Endpoint) error {
	roots := s.deps.RootCAs
	if op, ok := s.snapshot().Operators[e.OperatorID]; ok && op.LocationCA != nil {
		roots = op.LocationCA
	}
	client := &http.Client{Timeout: 2 * acceptance.PullResponseTime, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{s.deps.ClientCert}}}}
	defer client.CloseIdleConnections()
	var failed error
	acceptance.RunPull(r.Context(), client, e, func(v acceptance.Verdict, exchange string) {
		if err := s.acceptance.Store.Record(r.Context(), campaign, v, exchange, time.Now()); err != nil {
			failed = err
		}
	})
	return failed
}

// acceptanceStored hands what intake made of a message to the operator's running campaign.
func (s *Service) acceptanceStored(ctx context.Context, rec intake.Record, res intake.Result, r *http.Request, answer int) {
	p := acceptance.Pushed{Format: rec.Message.Format, Status: res.Status, Duplicate: !res.Fresh, Findings: res.Findings}
	if l := rec.Message.Location; l != nil {
		p.Source = l.Source
	}
	head := map[string]string{}
	for _, k := range []string{"Content-Type", "Device-Number", "Emergency-Number"} {
		head[k] = r.Header.Get(k)
	}
	ans := res.Status
	if !res.Fresh {
		ans += " (doublon de " + res.ID + ")"
	}
	s.acceptance.Pushed(ctx, rec.OperatorID, identity.ClientIP(r), p, acceptance.Exchange(head, rec.Raw, answer, ans))
}

// Ready implements service.Service.
func (s *Service) Ready(ctx context.Context) error {
	if s.dir == nil {
		return errors.New("directory not loaded")
	}
	return nil
}

// Routes implements service.Service.
func (s *Service) Routes(web, interconnect *http.ServeMux) {
	interconnect.Handle("POST /emergency/v1/aml", s.intake)
	interconnect.HandleFunc("GET /emergency/v1/aml/{id}", s.messageStatus)
	interconnect.HandleFunc("GET /emergency/v1/routes/resolve", s.resolve)
	// Location queries decode and encode XML on goroutines whose stacks have already grown.
	interconnect.Handle("POST /emergency/v1/held", server.Warm(http.HandlerFunc(s.heldQuery)))
	interconnect.HandleFunc("PUT /emergency/v1/ported-numbers", s.portedNumbers(false))
	interconnect.HandleFunc("POST /emergency/v1/ported-numbers/delta", s.portedNumbers(true))
	interconnect.HandleFunc("GET /emergency/v1/tnaau", s.tnaau)
	interconnect.HandleFunc("GET /emergency/v1/tnaau/feed", s.tnaauFeed)
	if s.deps.Identity != nil {
		(&status.Web{Status: s.status, Identity: s.deps.Identity}).Routes(web)
		if s.acceptance != nil {
			(&acceptance.Web{A: s.acceptance, Identity: s.deps.Identity, Pull: s.acceptancePull}).Routes(web)
		}
		ui := &pdaauweb.UI{Store: s.pdaau, Identity: s.deps.Identity, Logger: s.log.With("component", "pdaauweb"), PSAPs: s.psapNames}
		ui.Routes(web)
		web.Handle("GET /emergency/v1/routes/resolve", s.deps.Identity.Require(http.HandlerFunc(s.resolve)))
	}
}

// messageStatus lets an operator follow a message it pushed: stored status, findings and
// delivery state. Only the operator that sent it may see it.
func (s *Service) messageStatus(w http.ResponseWriter, r *http.Request) {
	op, ok := s.callingOperator(w, r, "only the operator that pushed a message may follow it")
	if !ok {
		return
	}
	rep, found, err := intake.MessageStatus(r.Context(), s.deps.Pool, op.ID, r.PathValue("id"))
	if err != nil {
		s.log.Error("message status", "error", err, "request_id", server.RequestID(r.Context()))
		problem.Write(w, r, problem.Internal())
		return
	}
	if !found {
		problem.Write(w, r, problem.NotFound())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

// purgeLoop erases location data and caller identifiers older than the retention period.
// The row stays: who sent what when, and who received it, is the audit trail.
func (s *Service) purgeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PurgeInterval)
	defer t.Stop()
	for {
		if n, err := Purge(ctx, s.deps.Pool, s.cfg.LocationRetention); err != nil && ctx.Err() == nil {
			s.log.Error("purge locations", "error", err)
		} else if n > 0 {
			s.log.Info("purged location data", "messages", n, "retention", s.cfg.LocationRetention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Purge erases personal data older than retention: the messages' (intake's table) and the
// location queries' (pull's). It returns how many messages it purged.
func Purge(ctx context.Context, pool *pgxpool.Pool, retention time.Duration) (int, error) {
	n, err := intake.Purge(ctx, pool, retention)
	if err != nil {
		return n, err
	}
	return n, pull.PurgeQueries(ctx, pool, retention)
}
