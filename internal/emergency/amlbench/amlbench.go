// Package amlbench measures the AML push path end to end on loopback — operator client over
// mutual TLS, socle's intake and outbox in PostgreSQL, delivery to the PSAP simulator over
// mutual TLS — against a baseline measured in the same run on the same database: raw
// single-row INSERT + COMMIT through pgx at the same concurrency.
package amlbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/aml"
	"socle/internal/emergency/psapsim"
	"socle/internal/emergency/testbed"
)

// Options of a run.
type Options struct {
	N           int // messages in the throughput phase
	Concurrency int
	PacedRate   int           // messages per second in the latency phase
	PacedFor    time.Duration // length of the latency phase
}

// Result is what a run measured.
type Result struct {
	Accepted          int
	AcceptedPerSec    float64
	AcceptP50         time.Duration
	AcceptP99         time.Duration
	SaturatedToPSAP50 time.Duration
	SaturatedToPSAP99 time.Duration
	RawInsertsPerSec  float64 // mean of before and after
	RawBefore         float64
	RawAfter          float64
	Ratio             float64
	PacedSent         int
	PacedRate         float64
	PacedAccept99     time.Duration
	PacedToPSAP50     time.Duration
	PacedToPSAP99     time.Duration
	PacedToPSAPMax    time.Duration
}

// Run measures. pool is a migrated, empty database; bed has its directory applied.
func Run(ctx context.Context, pool *pgxpool.Pool, bed *testbed.Bed, svcURL string, o Options, log io.Writer) (Result, error) {
	var res Result
	client, err := bed.Client("demo-operator", o.Concurrency)
	if err != nil {
		return res, err
	}
	rec := newRecorder()
	bed.Sim.OnReceive = rec.received
	bed.Sim.SkipDecode = true

	// Warm up connections and caches.
	if _, _, err := push(ctx, client, svcURL, message(0)); err != nil {
		return res, fmt.Errorf("warm-up push: %w", err)
	}

	// The baseline is measured before and after the push phase: the disk's fsync rate drifts
	// during a run, and the mean of both is fairer than either.
	fmt.Fprintf(log, "phase 1: baseline, %d raw INSERT+COMMIT through pgx at concurrency %d\n", o.N, o.Concurrency)
	rawBefore, err := rawInserts(ctx, pool, o.N, o.Concurrency)
	if err != nil {
		return res, err
	}

	bodies := make([][]byte, o.N)
	for i := range bodies {
		bodies[i] = message(0)
	}
	fmt.Fprintf(log, "phase 2: %d messages at concurrency %d, as fast as accepted\n", o.N, o.Concurrency)
	ids, lat, elapsed, err := closedLoop(ctx, client, svcURL, bodies, o.Concurrency, rec)
	if err != nil {
		return res, err
	}
	res.Accepted = len(ids)
	res.AcceptedPerSec = float64(len(ids)) / elapsed.Seconds()
	res.AcceptP50, res.AcceptP99 = percentile(lat, 50), percentile(lat, 99)
	if err := rec.wait(ctx, ids, 2*time.Minute); err != nil {
		return res, err
	}
	e2e := rec.latencies(ids)
	res.SaturatedToPSAP50, res.SaturatedToPSAP99 = percentile(e2e, 50), percentile(e2e, 99)

	fmt.Fprintf(log, "phase 3: baseline again\n")
	rawAfter, err := rawInserts(ctx, pool, o.N, o.Concurrency)
	if err != nil {
		return res, err
	}
	res.RawBefore, res.RawAfter = rawBefore, rawAfter
	res.RawInsertsPerSec = (rawBefore + rawAfter) / 2
	res.Ratio = res.AcceptedPerSec / res.RawInsertsPerSec

	fmt.Fprintf(log, "phase 4: %d msg/s for %s, accept-to-PSAP latency\n", o.PacedRate, o.PacedFor)
	ids, lat, elapsed, err = paced(ctx, client, svcURL, o.PacedRate, o.PacedFor, rec)
	if err != nil {
		return res, err
	}
	res.PacedSent = len(ids)
	res.PacedRate = float64(len(ids)) / elapsed.Seconds()
	res.PacedAccept99 = percentile(lat, 99)
	if err := rec.wait(ctx, ids, 2*time.Minute); err != nil {
		return res, err
	}
	e2e = rec.latencies(ids)
	res.PacedToPSAP50, res.PacedToPSAP99 = percentile(e2e, 50), percentile(e2e, 99)
	res.PacedToPSAPMax = percentile(e2e, 100)
	return res, nil
}

// Print writes the figures and the ratio against the baseline.
func (r Result) Print(w io.Writer, o Options) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(w, `
AML push path, %d messages at concurrency %d (mutual TLS, PostgreSQL, PSAP simulator, loopback)
  accepted                  %8.0f msg/s   (target >= 5000)
  accept latency            p50 %s  p99 %s
  accept-to-PSAP (saturated) p50 %s  p99 %s
baseline: raw single-row INSERT+COMMIT through pgx, same database, same concurrency
  raw inserts               %8.0f rows/s (before %.0f, after %.0f)
  ratio accepted / raw       %8.2f       (target >= 0.60)
paced at %d msg/s (achieved %.0f msg/s, %d messages)
  accept latency            p99 %s
  accept-to-PSAP            p50 %s  p99 %s  max %s   (target p99 <= 50 ms)
`, o.N, o.Concurrency, r.AcceptedPerSec, ms(r.AcceptP50), ms(r.AcceptP99), ms(r.SaturatedToPSAP50), ms(r.SaturatedToPSAP99),
		r.RawInsertsPerSec, r.RawBefore, r.RawAfter, r.Ratio, o.PacedRate, r.PacedRate, r.PacedSent, ms(r.PacedAccept99),
		ms(r.PacedToPSAP50), ms(r.PacedToPSAP99), ms(r.PacedToPSAPMax))
}

var seq atomic.Int64

// message is a realistic HTTPS-form AML from a handset somewhere in Paris, unique by
// device number and time.
func message(i int64) []byte {
	n := seq.Add(1)
	now := time.Now().UTC()
	return aml.EncodeHTTPS(aml.Message{
		Format:          aml.FormatHTTPS,
		Version:         "3",
		EmergencyNumber: []string{"112", "15", "18", "17"}[n%4],
		DeviceNumber:    fmt.Sprintf("+3361%07d", n%10_000_000),
		IMEI:            "356938035643809",
		IMSI:            "001010123456789",
		Time:            now,
		NetworkMCC:      "001", NetworkMNC: "01", HomeMCC: "001", HomeMNC: "01",
		Location: &aml.Location{
			Latitude:   48.84 + rand.Float64()*0.04,
			Longitude:  2.30 + rand.Float64()*0.08,
			Accuracy:   5 + rand.Float64()*40,
			Confidence: 68,
			Time:       now.Add(-2 * time.Second),
			Source:     aml.SourceGPS,
		},
	})
}

func push(ctx context.Context, c *http.Client, url string, body []byte) (string, time.Time, error) {
	start := time.Now()
	status, b, err := testbed.Push(ctx, c, url, "application/x-www-form-urlencoded", body, nil)
	if err != nil {
		return "", start, err
	}
	if status != http.StatusAccepted {
		return "", start, fmt.Errorf("push answered %d: %s", status, b)
	}
	var a struct{ ID string }
	if err := json.Unmarshal(b, &a); err != nil {
		return "", start, err
	}
	return a.ID, start, nil
}

// outcomes gathers the pushes of a phase: ids and latencies of the accepted ones, the first
// error.
type outcomes struct {
	mu  sync.Mutex
	ids []string
	lat []time.Duration
	err error
	rec *recorder
}

// push sends one message and records the outcome; it reports whether it was accepted.
func (o *outcomes) push(ctx context.Context, c *http.Client, url string, body []byte) bool {
	id, t0, err := push(ctx, c, url, body)
	d := time.Since(t0)
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		if o.err == nil {
			o.err = err
		}
		return false
	}
	o.ids = append(o.ids, id)
	o.lat = append(o.lat, d)
	o.rec.sent(id, t0)
	return true
}

// closedLoop sends bodies from conc connections, each sending its next message when the
// previous one is answered.
func closedLoop(ctx context.Context, c *http.Client, url string, bodies [][]byte, conc int, rec *recorder) ([]string, []time.Duration, time.Duration, error) {
	o := &outcomes{rec: rec}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(bodies)); i = next.Add(1) - 1 {
				if !o.push(ctx, c, url, bodies[i]) {
					return
				}
			}
		}()
	}
	wg.Wait()
	return o.ids, o.lat, time.Since(start), o.err
}

// paced sends at a fixed rate, open loop: each message leaves on its schedule whatever the
// previous ones are doing, so slow answers cannot hide latency.
func paced(ctx context.Context, c *http.Client, url string, rate int, d time.Duration, rec *recorder) ([]string, []time.Duration, time.Duration, error) {
	o := &outcomes{rec: rec}
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.push(ctx, c, url, message(0))
		}()
	}
	wg.Wait()
	return o.ids, o.lat, time.Since(start), o.err
}

func rawInserts(ctx context.Context, pool *pgxpool.Pool, n, conc int) (float64, error) {
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS public.bench_raw (id bigserial PRIMARY KEY, body bytea NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, err
	}
	body := message(0)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				// Autocommit: one INSERT, one COMMIT, like the intake's single statement.
				if _, err := pool.Exec(ctx, `INSERT INTO public.bench_raw (body) VALUES ($1)`, body); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

// recorder matches pushes to what the PSAP simulator receives, by message id.
type recorder struct {
	mu       sync.Mutex
	pushedAt map[string]time.Time
	got      map[string]time.Time
	cond     *sync.Cond
}

func newRecorder() *recorder {
	r := &recorder{pushedAt: map[string]time.Time{}, got: map[string]time.Time{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) sent(id string, at time.Time) {
	r.mu.Lock()
	r.pushedAt[id] = at
	r.mu.Unlock()
}

func (r *recorder) received(m psapsim.Received) {
	id := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), "@socle>")
	r.mu.Lock()
	if _, dup := r.got[id]; !dup {
		r.got[id] = m.At
	}
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *recorder) wait(ctx context.Context, ids []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		r.mu.Lock()
		missing := 0
		for _, id := range ids {
			if _, ok := r.got[id]; !ok {
				missing++
			}
		}
		r.mu.Unlock()
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%d of %d accepted messages not received by the PSAP after %s", missing, len(ids), limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// latencies are from the start of each push to its receipt by the PSAP: accept-to-PSAP
// measured conservatively, including the accept itself.
func (r *recorder) latencies(ids []string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Duration, 0, len(ids))
	for _, id := range ids {
		out = append(out, r.got[id].Sub(r.pushedAt[id]))
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Logger for the bench's service: warnings only, to the given writer.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
