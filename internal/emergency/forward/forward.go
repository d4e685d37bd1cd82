// Package forward is the cutover relay's forwarding (docs/operations-cutover.md): while the
// legacy location platform still serves PSAPs, every AML message socle answers 202 is also
// pushed to it, as its operator sent it, so that either platform can be put back in the flow
// without losing a location.
//
// It works from its own outbox, emergency.forwards, whose rows intake writes in the
// message's transaction (intake.Store.Forward) and which it reaches through intake's
// functions: rows are claimed with a lease (several nodes share the work), posted over mutual
// TLS, marked forwarded on a 2xx, and otherwise retried with back-off until the message
// expires, which raises an alarm. Delivery is at least once: a lease that lapses mid-request
// sends the message again, with the same Message-Id, by which the legacy platform
// deduplicates. It shares nothing with the PSAP delivery — no table, no lock, no connection,
// no goroutine — so a legacy platform down or slow never delays a PSAP.
package forward

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

	"socle/internal/emergency/intake"
)

// Config tunes the forwarder.
type Config struct {
	// URL is the legacy platform's AML endpoint (https).
	URL string
	// ClientCert is socle's certificate towards the legacy platform; RootCAs verifies the
	// legacy platform's server certificate.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
	// Concurrency is how many messages are forwarded at once by this node.
	Concurrency    int
	AttemptTimeout time.Duration
	Lease          time.Duration
	PollInterval   time.Duration
	MinBackoff     time.Duration
	MaxBackoff     time.Duration
	// BehindAlarm: an alarm is raised while the oldest message not yet forwarded was
	// received longer ago than this.
	BehindAlarm time.Duration
	// MeasureInterval is how often the backlog is measured.
	MeasureInterval time.Duration
}

// Worker forwards the forwarding outbox.
type Worker struct {
	cfg     Config
	pool    *pgxpool.Pool
	log     *slog.Logger
	client  *http.Client
	wake    chan struct{}
	backlog atomic.Pointer[intake.Backlog]
	behind  bool

	attempts  *prometheus.CounterVec
	forwarded prometheus.Counter
	expired   prometheus.Counter
	latency   prometheus.Histogram
	collected []prometheus.Collector
}

// New returns a worker and registers its metrics; Run starts it.
func New(cfg Config, pool *pgxpool.Pool, logger *slog.Logger, reg prometheus.Registerer) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.MeasureInterval <= 0 {
		cfg.MeasureInterval = 5 * time.Second
	}
	if cfg.BehindAlarm <= 0 {
		cfg.BehindAlarm = time.Minute
	}
	w := &Worker{cfg: cfg, pool: pool, log: logger, wake: make(chan struct{}, 1)}
	w.backlog.Store(&intake.Backlog{})
	w.client = &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cfg.ClientCert},
			RootCAs: cfg.RootCAs, ClientSessionCache: tls.NewLRUClientSessionCache(16)},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: cfg.Concurrency,
		IdleConnTimeout:     90 * time.Second,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	w.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "socle_emergency_forward_attempts_total",
		Help: "Attempts to forward an AML message to the legacy platform (cutover relay), by outcome (forwarded, refused, error).",
	}, []string{"outcome"})
	w.forwarded = prometheus.NewCounter(prometheus.CounterOpts{Name: "socle_emergency_forward_forwarded_total",
		Help: "AML messages acknowledged by the legacy platform."})
	w.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "socle_emergency_forward_expired_total",
		Help: "AML messages given up before the legacy platform acknowledged them: each one is an alarm."})
	w.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "socle_emergency_forward_seconds",
		Help:    "Time from AML accepted to the legacy platform's acknowledgement.",
		Buckets: []float64{.005, .01, .02, .05, .1, .25, .5, 1, 5, 30, 300}})
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_emergency_forward_backlog",
		Help: "AML messages accepted and not yet acknowledged by the legacy platform (all nodes; measured every few seconds)."},
		func() float64 { return float64(w.Backlog().Pending) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_emergency_forward_oldest_seconds",
		Help: "Age of the oldest AML message not yet acknowledged by the legacy platform: growing means it is down or behind."},
		func() float64 { return w.Backlog().Oldest.Seconds() })
	for _, c := range []prometheus.Collector{w.attempts, w.forwarded, w.expired, w.latency, backlog, oldest} {
		if err := reg.Register(c); err != nil {
			w.Unregister(reg)
			return nil, fmt.Errorf("forward: metrics: %w", err)
		}
		w.collected = append(w.collected, c)
	}
	return w, nil
}

// Unregister takes the worker's metrics out of reg, when the service stops.
func (w *Worker) Unregister(reg prometheus.Registerer) {
	for _, c := range w.collected {
		reg.Unregister(c)
	}
}

// Backlog is the backlog as last measured.
func (w *Worker) Backlog() intake.Backlog { return *w.backlog.Load() }

// Nudge tells the worker that a message was just stored. It never blocks.
func (w *Worker) Nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run forwards until ctx ends; the batch in flight then finishes and is recorded.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.measure(ctx) }()
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		batch, err := intake.ClaimForwards(ctx, w.pool, w.cfg.Concurrency, w.cfg.Lease)
		if err != nil && ctx.Err() == nil {
			w.log.Error("claim forwarding rows", "error", err)
		}
		if len(batch) > 0 {
			w.forwardAll(context.WithoutCancel(ctx), batch)
		}
		if len(batch) == w.cfg.Concurrency && ctx.Err() == nil {
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

// forwardAll posts a batch at once and records the acknowledgements in one statement.
func (w *Worker) forwardAll(ctx context.Context, batch []intake.Forward) {
	var mu sync.Mutex
	var acks []intake.Forwarded
	var wg sync.WaitGroup
	for _, f := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, ok := w.forward(ctx, f); ok {
				mu.Lock()
				acks = append(acks, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(acks) == 0 {
		return
	}
	if err := intake.MarkForwarded(ctx, w.pool, acks); err != nil {
		// The legacy platform has them; the leases will send them again with the same
		// Message-Id, which it deduplicates.
		w.log.Error("record forwarded messages", "error", err, "count", len(acks))
		return
	}
	w.forwarded.Add(float64(len(acks)))
}

// forward posts one message; it returns the acknowledgement to record, or records the
// failure itself.
func (w *Worker) forward(ctx context.Context, f intake.Forward) (intake.Forwarded, bool) {
	log := func() *slog.Logger { return w.log.With("message_id", f.ID, "attempt", f.Attempt) }
	if time.Now().After(f.ExpiresAt) || f.Raw == nil {
		reason := "not acknowledged before its expiry"
		if f.Raw == nil {
			reason = "its data were purged before it could be forwarded"
		}
		if err := intake.ExpireForward(ctx, w.pool, f.ID, reason); err != nil {
			log().Error("record forwarding expiry", "error", err)
			return intake.Forwarded{}, false
		}
		w.expired.Inc()
		log().Error("ALARM: AML message not forwarded to the legacy platform, given up", "reason", reason,
			"received_at", f.ReceivedAt, "alarm", "emergency_forward_expired")
		return intake.Forwarded{}, false
	}
	status, err := w.post(ctx, f)
	switch {
	case err != nil:
		w.attempts.WithLabelValues("error").Inc()
		w.retry(ctx, f, err.Error(), 0)
	case status < 200 || status > 299:
		w.attempts.WithLabelValues("refused").Inc()
		w.retry(ctx, f, fmt.Sprintf("the legacy platform answered %d", status), status)
	default:
		w.attempts.WithLabelValues("forwarded").Inc()
		w.latency.Observe(time.Since(f.ReceivedAt).Seconds())
		return intake.Forwarded{MessageID: f.ID, At: time.Now(), HTTPStatus: status}, true
	}
	return intake.Forwarded{}, false
}

// post sends the message as its operator sent it — the same bytes and media type, the
// caller's number in Device-Number where the format needs it (SMS AML), the number dialled
// in Emergency-Number — with socle's stable Message-Id for deduplication.
func (w *Worker) post(ctx context.Context, f intake.Forward) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(f.Raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", f.ContentType)
	if f.ContentType == "text/plain" && f.Device != "" {
		req.Header.Set("Device-Number", f.Device)
	}
	if f.Number != "" {
		req.Header.Set("Emergency-Number", f.Number)
	}
	req.Header.Set("Message-Id", "<"+f.ID+"@socle>")
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (w *Worker) retry(ctx context.Context, f intake.Forward, reason string, status int) {
	backoff := w.backoff(f.Attempt)
	if err := intake.RescheduleForward(ctx, w.pool, f.ID, reason, status, backoff); err != nil {
		w.log.Error("record failed forwarding", "message_id", f.ID, "error", err)
	}
	w.log.Warn("forwarding to the legacy platform failed, will retry", "message_id", f.ID, "attempt", f.Attempt,
		"reason", reason, "retry_in", backoff.String())
}

// backoff doubles from MinBackoff up to MaxBackoff, with ±20 % jitter so that the retries of
// a backlog do not reach a legacy platform coming back in one burst.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.MinBackoff
	for i := 1; i < attempt && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// measure reads the backlog every MeasureInterval, for the metrics and the status page, and
// raises the alarm while the oldest message waiting is older than BehindAlarm.
func (w *Worker) measure(ctx context.Context) {
	t := time.NewTicker(w.cfg.MeasureInterval)
	defer t.Stop()
	for {
		if b, err := intake.ForwardBacklog(ctx, w.pool); err != nil {
			if ctx.Err() == nil {
				w.log.Error("measure the forwarding backlog", "error", err)
			}
		} else {
			w.backlog.Store(&b)
			switch behind := b.Oldest > w.cfg.BehindAlarm; {
			case behind && !w.behind:
				w.log.Error("ALARM: forwarding to the legacy platform is behind", "pending", b.Pending,
					"oldest", b.Oldest.Round(time.Second).String(), "alarm", "emergency_forward_behind")
			case !behind && w.behind:
				w.log.Info("forwarding to the legacy platform caught up", "pending", b.Pending)
			}
			w.behind = b.Oldest > w.cfg.BehindAlarm
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
