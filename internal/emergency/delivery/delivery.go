// Package delivery pushes accepted AML locations to PSAPs. It works from the outbox, which
// the message store (package intake) keeps and which it reaches only through intake's
// functions: rows are claimed with a lease (intake.ClaimDue, so several workers and nodes
// share the load), routed, sent as PIDF-LO over mutual TLS, and marked delivered on a 2xx. Anything else — no route, PSAP down, timeout — is recorded on the row
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

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/intake"
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
	// Routed, if set, is told the PSAP each message is routed to, before it is pushed
	// there: the location pull lets a PSAP locate the callers routed to it.
	Routed func(j Job, psapID string)
	// Observe, if set, is told the outcome of each push to a PSAP and how long it took: the
	// status page's signal.
	Observe func(psapID string, ok bool, took time.Duration, at time.Time)
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
	acks     chan intake.Delivered
	local    chan Job
	clients  sync.Map // psap id → *psapClient
	wg       sync.WaitGroup
	inFlight atomic.Int64
	starved  atomic.Bool
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
		wake: make(chan struct{}, 1), slots: make(chan struct{}, cfg.Concurrency),
		acks: make(chan intake.Delivered, cfg.Concurrency), local: make(chan Job, 8192)}
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

// Submit hands a just-accepted message to this node's worker: the fast path. The intake
// inserted its outbox row already leased to this node (due later by the lease), so no claim
// is needed; should this node die, the lease lapses and any node's poller takes the row.
// Submit never blocks: when the queue is full it returns false and the row waits for its
// lease to lapse.
func (w *Worker) Submit(j Job) bool {
	select {
	case w.local <- j:
		return true
	default:
		return false
	}
}

// nudge tells the poller that rows may be due now. It never blocks.
func (w *Worker) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for deliveries in flight and records them. Jobs
// still queued by Submit are handed back to the outbox, due at once, for the other nodes.
func (w *Worker) Run(ctx context.Context) {
	recorded, local := make(chan struct{}), make(chan struct{})
	go func() { defer close(recorded); w.recordAcks(context.WithoutCancel(ctx)) }()
	go func() { defer close(local); w.runLocal(ctx) }()
	// Order matters: no delivery may start once we wait for those in flight.
	defer func() { <-local; w.handBack(context.WithoutCancel(ctx)); w.wg.Wait(); close(w.acks); <-recorded }()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		free := cap(w.slots) - len(w.slots)
		w.starved.Store(free == 0)
		claimed := 0
		if free > 0 {
			jobs, err := w.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.logger.Error("claim outbox rows", "error", err)
			}
			claimed = len(jobs)
			for _, j := range jobs {
				w.start(ctx, j)
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

// start runs one delivery in its own goroutine once a slot is free.
func (w *Worker) start(ctx context.Context, j Job) {
	w.slots <- struct{}{}
	w.wg.Add(1)
	w.inFlight.Add(1)
	go func() {
		defer func() {
			<-w.slots
			w.inFlight.Add(-1)
			w.wg.Done()
			if w.starved.CompareAndSwap(true, false) {
				w.nudge() // the poller found no free slot last time: now there is one
			}
		}()
		w.deliver(context.WithoutCancel(ctx), j)
	}()
}

// handBack releases the leases of the jobs Submit queued and no delivery took, once runLocal
// has returned: in a rolling restart they would otherwise wait for their lease (15 s by
// default) before another node took them. Should the release fail, the leases still lapse.
func (w *Worker) handBack(ctx context.Context) {
	var ids []string
	for queued := true; queued; {
		select {
		case j := <-w.local:
			ids = append(ids, j.ID)
		default:
			queued = false
		}
	}
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := intake.Release(ctx, w.pool, ids); err != nil {
		w.logger.Warn("queued messages not handed back: they wait for their lease", "count", len(ids), "error", err)
		return
	}
	w.logger.Info("queued messages handed back to the other nodes", "count", len(ids))
}

// runLocal delivers what Submit hands over, until ctx ends.
func (w *Worker) runLocal(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-w.local:
			w.start(ctx, j)
		}
	}
}

// Job is one message to deliver: what the PSAP document needs, and the delivery's state.
type Job struct {
	ID         string
	Attempt    int  // 1 for the first
	Claimed    bool // taken from the outbox by claim, which counted the attempt
	ExpiresAt  time.Time
	ReceivedAt time.Time
	Device     string
	Number     string
	Lat, Lon   float64
	Accuracy   *float64
	Confidence *int
	LocatedAt  *time.Time
	Source     *string
	IMEI       *string
}

// JobOf is the job of a stored message's fix, before any attempt.
func JobOf(f intake.Fix) Job {
	return Job{ID: f.ID, ReceivedAt: f.ReceivedAt, Device: f.Device, Number: f.Number, Lat: f.Lat, Lon: f.Lon,
		Accuracy: f.Accuracy, Confidence: f.Confidence, LocatedAt: f.LocatedAt, Source: f.Source, IMEI: f.IMEI}
}

// claim takes up to n rows due now. Rows read before an error are claimed: they are
// returned with it, to be delivered.
func (w *Worker) claim(ctx context.Context, n int) ([]Job, error) {
	due, err := intake.ClaimDue(ctx, w.pool, n, w.cfg.Lease)
	jobs := make([]Job, len(due))
	for i, d := range due {
		jobs[i] = JobOf(d.Fix)
		jobs[i].Attempt, jobs[i].ExpiresAt, jobs[i].Claimed = d.Attempt, d.ExpiresAt, true
	}
	return jobs, err
}

func (w *Worker) deliver(ctx context.Context, j Job) {
	if time.Now().After(j.ExpiresAt) {
		w.expire(ctx, j)
		return
	}
	snap := w.directory()
	route, err := routing.Resolve(snap, j.Lat, j.Lon, j.Number, w.cfg.FallbackPSAP)
	if err != nil {
		w.metrics.Attempts.WithLabelValues("no_route").Inc()
		w.retry(ctx, j, route, 0, "no route: "+err.Error())
		return
	}
	if route.Fallback != "" {
		w.jobLog(j).Warn("no route in the PDAAU, sending to the fallback PSAP", "psap", route.PSAP.ID, "reason", route.Fallback)
	}
	if w.cfg.Routed != nil {
		w.cfg.Routed(j, route.PSAP.ID)
	}
	body, err := pidflo.Encode(Document(j))
	if err != nil {
		// Cannot happen with stored values that passed the parser; keep the row for a human.
		w.retry(ctx, j, route, 0, "encode PIDF-LO: "+err.Error())
		return
	}
	start := time.Now()
	status, err := w.post(ctx, route.PSAP, j.ID, body)
	if w.cfg.Observe != nil {
		w.cfg.Observe(route.PSAP.ID, err == nil && status >= 200 && status <= 299, time.Since(start), start)
	}
	switch {
	case err != nil:
		w.metrics.Attempts.WithLabelValues("error").Inc()
		w.retry(ctx, j, route, 0, err.Error())
	case status < 200 || status > 299:
		w.metrics.Attempts.WithLabelValues("refused").Inc()
		w.retry(ctx, j, route, status, fmt.Sprintf("PSAP answered %d", status))
	default:
		w.metrics.Attempts.WithLabelValues("delivered").Inc()
		w.done(ctx, j, route, status)
	}
}

// Document turns a stored message into the PIDF-LO a PSAP receives: a circle of the
// handset's accuracy radius around its position (RFC 5491 §5.2.3), or a point if the
// accuracy is unknown.
func Document(j Job) pidflo.Document {
	loc := pidflo.Location{Shape: pidflo.Point{Lat: j.Lat, Lon: j.Lon}, Method: method(j.Source)}
	if j.Accuracy != nil && *j.Accuracy > 0 {
		loc.Shape = pidflo.Circle{Lat: j.Lat, Lon: j.Lon, Radius: *j.Accuracy}
	}
	if j.Confidence != nil {
		loc.Confidence = *j.Confidence
	}
	d := pidflo.Document{
		Entity:    "tel:" + j.Device,
		Timestamp: j.ReceivedAt,
		Locations: []pidflo.Location{loc},
	}
	if j.LocatedAt != nil {
		d.Timestamp = *j.LocatedAt
	}
	if j.IMEI != nil {
		d.DeviceID = imeiURN(*j.IMEI)
	}
	return d
}

// imeiURN writes an IMEI as RFC 7254 §3 asks: urn:gsma:imei:TAC-SNR-spare (8, 6 and 1
// digits). AML carries the 15 digits (or a 16-digit IMEISV, whose software version is
// not part of the identity); anything else names no device and is left out.
func imeiURN(imei string) string {
	if len(imei) != 15 && len(imei) != 16 {
		return ""
	}
	for _, c := range imei {
		if c < '0' || c > '9' {
			return ""
		}
	}
	spare := imei[14:15]
	if len(imei) == 16 {
		// RFC 7254 §3: for an IMEISV the spare digit is written as zero.
		spare = "0"
	}
	return "urn:gsma:imei:" + imei[:8] + "-" + imei[8:14] + "-" + spare
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
			// Resume sessions (RFC 8446 §2.2): a reconnection skips the signatures.
			ClientSessionCache: tls.NewLRUClientSessionCache(16),
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

// jobLog is the logger for one delivery: built only when something is logged, as With
// formats its attributes at once.
func (w *Worker) jobLog(j Job) *slog.Logger {
	return w.logger.With("message_id", j.ID, "attempt", j.Attempt)
}

func (w *Worker) done(ctx context.Context, j Job, r routing.Route, status int) {
	w.metrics.Latency.Observe(time.Since(j.ReceivedAt).Seconds())
	if w.logger.Enabled(ctx, slog.LevelDebug) {
		w.jobLog(j).Debug("delivered", "psap", r.PSAP.ID, "status", status, "ms", time.Since(j.ReceivedAt).Milliseconds())
	}
	w.acks <- intake.Delivered{MessageID: j.ID, At: time.Now(), HTTPStatus: status, PSAP: r.PSAP.ID,
		RoutingNumber: r.RoutingNumber, Commune: r.Commune, Route: routeKind(r), Counted: j.Claimed}
}

// recordAcks writes acknowledgements in bulk: under load, one statement marks many rows.
// It drains what is queued and returns when acks is closed and empty.
func (w *Worker) recordAcks(ctx context.Context) {
	for a, ok := <-w.acks; ok; a, ok = <-w.acks {
		group := []intake.Delivered{a}
	drain:
		for len(group) < 256 {
			select {
			case a, ok := <-w.acks:
				if !ok {
					break drain
				}
				group = append(group, a)
			default:
				break drain
			}
		}
		if err := intake.MarkDelivered(ctx, w.pool, group); err != nil {
			// The PSAPs have them; the leases will make us send them again with the same
			// Message-Id.
			w.logger.Error("record deliveries", "error", err, "count", len(group))
			continue
		}
		w.metrics.Delivered.Add(float64(len(group)))
	}
}

func (w *Worker) retry(ctx context.Context, j Job, r routing.Route, status int, reason string) {
	log := w.jobLog(j)
	backoff := w.backoff(j.Attempt)
	f := intake.Failed{MessageID: j.ID, Reason: reason, HTTPStatus: status, RoutingNumber: r.RoutingNumber,
		Commune: r.Commune, Counted: j.Claimed}
	if r.PSAP != nil {
		f.PSAP = r.PSAP.ID
	}
	if err := intake.Reschedule(ctx, w.pool, f, backoff); err != nil {
		log.Error("record failed delivery", "error", err)
	}
	log.Warn("delivery failed, will retry", "reason", reason, "retry_in", backoff.String())
}

func (w *Worker) expire(ctx context.Context, j Job) {
	log := w.jobLog(j)
	if err := intake.Expire(ctx, w.pool, j.ID); err != nil {
		log.Error("record expiry", "error", err)
		return
	}
	w.metrics.Expired.Inc()
	log.Error("ALARM: location not delivered before expiry, given up", "received_at", j.ReceivedAt,
		"attempts", j.Attempt-1, "alarm", "emergency_delivery_expired")
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
