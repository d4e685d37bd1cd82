// Package delivery pushes accepted AML locations to PSAPs. It works from the outbox
// (emergency.deliveries): rows are claimed with a lease (FOR UPDATE SKIP LOCKED, so several
// workers and nodes share the load), routed, sent as PIDF-LO over mutual TLS, and marked
// delivered on a 2xx. Anything else — no route, PSAP down, timeout — is recorded on the row
// and retried with back-off until the message expires, which raises an alarm. A worker that
// dies mid-delivery loses nothing: its lease runs out and another worker takes the row. A
// PSAP may therefore see a message twice; the Message-Id header is stable so it can tell.
package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/pidflo"
	"socle/internal/emergency/routing"
)

// Config tunes the worker.
type Config struct {
	Concurrency    int           // deliveries in flight at once
	AttemptTimeout time.Duration // one POST to a PSAP
	Lease          time.Duration // how long a claimed row is ours before others may take it
	PollInterval   time.Duration // safety net when no wake-up comes
	FallbackPSAP   string        // PSAP id receiving locations with no route; empty: none
	MinBackoff     time.Duration
	MaxBackoff     time.Duration
	// ClientCert is socle's certificate when it calls PSAPs; RootCAs is trusted for PSAPs
	// that have no CA of their own in the directory.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
}

// Worker delivers the outbox.
type Worker struct {
	cfg       Config
	pool      *pgxpool.Pool
	directory func() *directory.Snapshot
	logger    *slog.Logger
	metrics   *Metrics

	wake     chan struct{}
	slots    chan struct{}
	clients  sync.Map // psap id → *psapClient
	wg       sync.WaitGroup
	inFlight atomic.Int64
}

type psapClient struct {
	ca     *x509.CertPool
	client *http.Client
}

// Metrics of delivery.
type Metrics struct {
	Attempts  *prometheus.CounterVec
	Delivered prometheus.Counter
	Expired   prometheus.Counter
	Latency   prometheus.Histogram
	Pending   prometheus.GaugeFunc
}

// New returns a worker; Run starts it.
func New(cfg Config, pool *pgxpool.Pool, dir func() *directory.Snapshot, logger *slog.Logger, reg prometheus.Registerer) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	w := &Worker{cfg: cfg, pool: pool, directory: dir, logger: logger,
		wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Concurrency)}
	w.metrics = &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socle_emergency_delivery_attempts_total",
			Help: "Attempts to push a location to a PSAP, by outcome (delivered, no_route, refused, error).",
		}, []string{"outcome"}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "socle_emergency_delivery_delivered_total", Help: "Locations acknowledged by a PSAP."}),
		Expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "socle_emergency_delivery_expired_total",
			Help: "Locations given up after the delivery expiry: each one is an alarm."}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "socle_emergency_delivery_seconds",
			Help:    "Time from AML accepted to PSAP acknowledgement.",
			Buckets: []float64{.002, .005, .01, .02, .05, .1, .25, .5, 1, 5, 30, 300},
		}),
	}
	w.metrics.Pending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "socle_emergency_delivery_in_flight", Help: "Deliveries being attempted now."},
		func() float64 { return float64(w.inFlight.Load()) })
	reg.MustRegister(w.metrics.Attempts, w.metrics.Delivered, w.metrics.Expired, w.metrics.Latency, w.metrics.Pending)
	return w
}

// Wake tells the worker that rows may be due. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for deliveries in flight.
func (w *Worker) Run(ctx context.Context) {
	defer w.wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		free := cap(w.slots) - len(w.slots)
		claimed := 0
		if free > 0 {
			jobs, err := w.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.logger.Error("claim outbox rows", "error", err)
			}
			claimed = len(jobs)
			for _, j := range jobs {
				w.slots <- struct{}{}
				w.wg.Add(1)
				w.inFlight.Add(1)
				go func(j job) {
					defer func() { <-w.slots; w.inFlight.Add(-1); w.wg.Done(); w.Wake() }()
					w.deliver(context.WithoutCancel(ctx), j)
				}(j)
			}
		}
		if claimed > 0 && claimed == free {
			continue // more may be due
		}
		timer.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-timer.C:
		}
	}
}

type job struct {
	id         string
	attempts   int
	expiresAt  time.Time
	receivedAt time.Time
	device     string
	number     string
	lat, lon   float64
	accuracy   *float64
	confidence *int
	locatedAt  *time.Time
	source     *string
	imei       *string
}

const claimSQL = `
UPDATE emergency.deliveries d SET due_at = now() + $2::interval, attempts = d.attempts + 1
FROM emergency.aml_messages m
WHERE d.message_id IN (
	SELECT message_id FROM emergency.deliveries
	WHERE state = 'pending' AND due_at <= now()
	ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
  AND m.id = d.message_id
RETURNING d.message_id, d.attempts, d.expires_at, m.received_at, coalesce(m.device_number, ''),
	coalesce(m.emergency_number, ''), coalesce(m.latitude, 'NaN'), coalesce(m.longitude, 'NaN'),
	m.accuracy_m, m.confidence_pct, m.located_at, m.location_source, m.imei`

func (w *Worker) claim(ctx context.Context, n int) ([]job, error) {
	rows, err := w.pool.Query(ctx, claimSQL, n, w.cfg.Lease)
	if err != nil {
		return nil, err
	}
	var jobs []job
	var j job
	_, err = pgx.ForEachRow(rows, []any{&j.id, &j.attempts, &j.expiresAt, &j.receivedAt, &j.device, &j.number,
		&j.lat, &j.lon, &j.accuracy, &j.confidence, &j.locatedAt, &j.source, &j.imei}, func() error {
		jobs = append(jobs, j)
		j = job{}
		return nil
	})
	return jobs, err
}

func (w *Worker) deliver(ctx context.Context, j job) {
	log := w.logger.With("message_id", j.id, "attempt", j.attempts)
	if time.Now().After(j.expiresAt) {
		w.expire(ctx, j, log)
		return
	}
	snap := w.directory()
	route, err := routing.Resolve(snap, j.lat, j.lon, j.number, w.cfg.FallbackPSAP)
	if err != nil {
		w.metrics.Attempts.WithLabelValues("no_route").Inc()
		w.retry(ctx, j, route, 0, "no route: "+err.Error(), log)
		return
	}
	if route.Fallback != "" {
		log.Warn("no route in the PDAAU, sending to the fallback PSAP", "psap", route.PSAP.ID, "reason", route.Fallback)
	}
	body, err := pidflo.Encode(w.document(j))
	if err != nil {
		// Cannot happen with stored values that passed the parser; keep the row for a human.
		w.retry(ctx, j, route, 0, "encode PIDF-LO: "+err.Error(), log)
		return
	}
	status, err := w.post(ctx, route.PSAP, j.id, body)
	switch {
	case err != nil:
		w.metrics.Attempts.WithLabelValues("error").Inc()
		w.retry(ctx, j, route, 0, err.Error(), log)
	case status < 200 || status > 299:
		w.metrics.Attempts.WithLabelValues("refused").Inc()
		w.retry(ctx, j, route, status, fmt.Sprintf("PSAP answered %d", status), log)
	default:
		w.metrics.Attempts.WithLabelValues("delivered").Inc()
		w.done(ctx, j, route, status, log)
	}
}

// document turns a stored message into the PIDF-LO a PSAP receives: a circle of the
// handset's accuracy radius around its position (RFC 5491 §5.2.3), or a point if the
// accuracy is unknown.
func (w *Worker) document(j job) pidflo.Document {
	loc := pidflo.Location{Shape: pidflo.Point{Lat: j.lat, Lon: j.lon}, Method: method(j.source)}
	if j.accuracy != nil && *j.accuracy > 0 {
		loc.Shape = pidflo.Circle{Lat: j.lat, Lon: j.lon, Radius: *j.accuracy}
	}
	if j.confidence != nil {
		loc.Confidence = *j.confidence
	}
	d := pidflo.Document{
		Entity:    "tel:" + j.device,
		Timestamp: j.receivedAt,
		Locations: []pidflo.Location{loc},
	}
	if j.locatedAt != nil {
		d.Timestamp = *j.locatedAt
	}
	if j.imei != nil && *j.imei != "" {
		d.DeviceID = "urn:gsma:imei:" + *j.imei
	}
	return d
}

// method maps AML positioning sources to RFC 4119 §2.2.3 method tokens (IANA registry).
func method(source *string) string {
	if source == nil {
		return ""
	}
	switch *source {
	case "gps":
		return "GPS"
	case "wifi":
		return "802.11"
	case "cell":
		return "Cell"
	case "fused":
		return "Hybrid"
	}
	return ""
}

func (w *Worker) post(ctx context.Context, p *directory.PSAP, id string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/pidf+xml")
	req.Header.Set("Message-Id", "<"+id+"@socle>")
	resp, err := w.client(p).Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// client returns the mTLS client for a PSAP, built once per PSAP and trust anchor.
func (w *Worker) client(p *directory.PSAP) *http.Client {
	ca := p.CA
	if ca == nil {
		ca = w.cfg.RootCAs
	}
	if c, ok := w.clients.Load(p.ID); ok && c.(*psapClient).ca.Equal(ca) {
		return c.(*psapClient).client
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{w.cfg.ClientCert},
			RootCAs:      ca,
		},
		MaxIdleConnsPerHost: w.cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	c := &psapClient{ca: ca, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if old, loaded := w.clients.Swap(p.ID, c); loaded {
		old.(*psapClient).client.CloseIdleConnections()
	}
	return c.client
}

func (w *Worker) done(ctx context.Context, j job, r routing.Route, status int, log *slog.Logger) {
	_, err := w.pool.Exec(ctx, `UPDATE emergency.deliveries SET state = 'delivered', delivered_at = now(),
		http_status = $2, psap_id = $3, routing_number = $4, commune = $5, route = $6, last_error = NULL
		WHERE message_id = $1`, j.id, status, r.PSAP.ID, r.RoutingNumber, nullable(r.Commune), routeKind(r))
	if err != nil {
		// The PSAP has it; the lease will make us send it again with the same Message-Id.
		log.Error("record delivery", "error", err)
		return
	}
	w.metrics.Delivered.Inc()
	w.metrics.Latency.Observe(time.Since(j.receivedAt).Seconds())
	log.Debug("delivered", "psap", r.PSAP.ID, "status", status, "ms", time.Since(j.receivedAt).Milliseconds())
}

func (w *Worker) retry(ctx context.Context, j job, r routing.Route, status int, reason string, log *slog.Logger) {
	backoff := w.backoff(j.attempts)
	var psap *string
	if r.PSAP != nil {
		psap = &r.PSAP.ID
	}
	_, err := w.pool.Exec(ctx, `UPDATE emergency.deliveries SET due_at = least(now() + $2::interval, expires_at),
		last_error = $3, http_status = $4, psap_id = $5, routing_number = $6, commune = $7
		WHERE message_id = $1 AND state = 'pending'`,
		j.id, backoff, reason, nullableInt(status), psap, nullable(r.RoutingNumber), nullable(r.Commune))
	if err != nil {
		log.Error("record failed delivery", "error", err)
	}
	log.Warn("delivery failed, will retry", "reason", reason, "retry_in", backoff.String())
}

func (w *Worker) expire(ctx context.Context, j job, log *slog.Logger) {
	_, err := w.pool.Exec(ctx, `UPDATE emergency.deliveries SET state = 'expired' WHERE message_id = $1 AND state = 'pending'`, j.id)
	if err != nil {
		log.Error("record expiry", "error", err)
		return
	}
	w.metrics.Expired.Inc()
	log.Error("ALARM: location not delivered before expiry, given up", "received_at", j.receivedAt,
		"attempts", j.attempts-1, "alarm", "emergency_delivery_expired")
}

// backoff doubles from MinBackoff up to MaxBackoff, with ±20 % jitter so that retries to a
// PSAP coming back do not arrive in one burst.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func routeKind(r routing.Route) string {
	if r.Fallback != "" {
		return "fallback: " + r.Fallback
	}
	return "pdaau"
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
