// Package analytics keeps one record per API call of the gateway in PostgreSQL
// (gateway.requests, one partition per UTC day), exports per-API Prometheus metrics, and
// answers the queries of the developer portal's charts.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Origins of a failed call: who is to blame.
const (
	OriginGateway  = "gateway"  // refused or failed by the gateway itself (auth, quota, rules)
	OriginNetwork  = "network"  // the upstream could not be reached, or did not answer in time
	OriginUpstream = "upstream" // the upstream answered with an error
)

// Record is one API call as the gateway saw it.
type Record struct {
	Time           time.Time
	RequestID      string
	Replica        string
	Consumer       string // "" when the caller is unknown
	API            string
	Operation      string // OpenAPI operationId or SOAP operation, may be ""
	Method         string
	Status         int    // what the client got
	UpstreamStatus int    // 0 when no upstream answered
	Origin         string // "" when nothing failed, else one of the Origin constants (others are written "gateway")
	Error          string // short reason
	Latency        time.Duration
	Upstream       time.Duration // time spent waiting for the upstream
	BytesIn        int64
	BytesOut       int64
	ClientIP       netip.Addr // the zero Addr when unknown
}

// WriterOptions tune a Writer; zero values take the defaults.
type WriterOptions struct {
	Buffer        int           // records waiting for the database at most (65,536)
	BatchSize     int           // records per COPY at most (5,000)
	Interval      time.Duration // longest wait before a partial batch is written (200 ms)
	RetentionDays int           // days of calls kept by the maintenance (DefaultRetentionDays)
	// MaintainEvery is how often the writer runs Maintain, first when it starts (1 hour); a
	// negative value leaves the partitions to someone else.
	MaintainEvery time.Duration
}

const (
	firstBackoff = 200 * time.Millisecond
	maxBackoff   = 30 * time.Second
	copyTimeout  = 30 * time.Second
)

// Writer writes Records to gateway.requests in batches, from one background goroutine. Record
// never waits for the database: when the buffer is full, records are dropped and counted.
type Writer struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	opts   WriterOptions

	queue   chan Record
	full    chan struct{} // a batch is waiting in the queue
	write   func(context.Context, []Record) (int, error)
	closed  atomic.Bool
	started atomic.Bool
	dropped atomic.Uint64
	written atomic.Uint64

	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelFunc

	// Owned by the background goroutine while it runs, by Close after.
	pending  []Record
	failures int
	retryAt  time.Time
	row      []any
}

// NewWriter returns a Writer on pool; Start starts its background goroutine.
func NewWriter(pool *pgxpool.Pool, logger *slog.Logger, opts WriterOptions) *Writer {
	if opts.Buffer <= 0 {
		opts.Buffer = 65536
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	opts.BatchSize = min(opts.BatchSize, opts.Buffer)
	if opts.Interval <= 0 {
		opts.Interval = 200 * time.Millisecond
	}
	if opts.RetentionDays <= 0 {
		opts.RetentionDays = DefaultRetentionDays
	}
	if opts.MaintainEvery == 0 {
		opts.MaintainEvery = time.Hour
	}
	w := &Writer{
		pool:   pool,
		logger: logger,
		opts:   opts,
		queue:  make(chan Record, opts.Buffer),
		full:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		row:    make([]any, len(columns)),
	}
	w.write = w.copy
	return w
}

// Record queues r for writing. It never blocks: a record that finds the buffer full, or the
// writer closed, is dropped and counted.
func (w *Writer) Record(r Record) {
	if w.closed.Load() {
		w.dropped.Add(1)
		return
	}
	select {
	case w.queue <- r:
	default:
		w.dropped.Add(1)
		return
	}
	// The background goroutine does not wait on the queue, which would cost every Record
	// a wake-up: it takes the records every Interval, or when a batch is waiting.
	if len(w.queue) >= w.opts.BatchSize {
		select {
		case w.full <- struct{}{}:
		default:
		}
	}
}

// Dropped is how many records were lost: buffer full, database unreachable for too long, or
// refused by it.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Written is how many records are in the database.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Start starts the background goroutine, which stops when ctx ends or at Close. Call it once,
// before Close.
func (w *Writer) Start(ctx context.Context) {
	if w.closed.Load() || !w.started.CompareAndSwap(false, true) {
		return
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.run(ctx)
}

// Close stops the writer and writes what is left, retrying until ctx ends; records still
// unwritten then are counted as dropped and reported in the error. Records passed to Record
// while Close runs may be lost uncounted.
func (w *Writer) Close(ctx context.Context) error {
	if !w.closed.CompareAndSwap(false, true) {
		return nil
	}
	if w.started.Load() {
		close(w.stop)
		select {
		case <-w.done:
		case <-ctx.Done():
			w.cancel() // interrupts a COPY in flight: its batch stays pending
			<-w.done
		}
		w.cancel()
	}
	w.drain()
	for len(w.pending) > 0 {
		if w.flush(ctx) == nil {
			break
		}
		wait := time.NewTimer(time.Until(w.retryAt))
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			lost := len(w.pending)
			w.dropped.Add(uint64(lost))
			w.pending = nil
			return fmt.Errorf("analytics: close: %d records not written: %w", lost, ctx.Err())
		}
	}
	return nil
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.opts.Interval)
	defer tick.Stop()
	var maintain <-chan time.Time
	if w.opts.MaintainEvery > 0 {
		w.maintain(ctx)
		t := time.NewTicker(w.opts.MaintainEvery)
		defer t.Stop()
		maintain = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.stop:
			return
		case <-w.full:
			w.drain()
			if len(w.pending) >= w.opts.BatchSize && !time.Now().Before(w.retryAt) {
				w.flush(ctx)
			}
		case now := <-tick.C:
			w.drain()
			if len(w.pending) > 0 && !now.Before(w.retryAt) {
				w.flush(ctx)
			}
		case <-maintain:
			w.maintain(ctx)
		}
	}
}

func (w *Writer) maintain(ctx context.Context) {
	created, dropped, err := Maintain(ctx, w.pool, time.Now(), w.opts.RetentionDays)
	if err != nil {
		w.logger.Error("analytics: partition maintenance failed", "err", err)
		return
	}
	if len(created) > 0 || len(dropped) > 0 {
		w.logger.Info("analytics: partitions maintained", "created", created, "dropped", dropped)
	}
}

// drain moves the queued records to the pending ones. The queue has one reader, this
// goroutine (or Close after it), so none of these receives waits.
func (w *Writer) drain() {
	for n := len(w.queue); n > 0; n-- {
		w.add(<-w.queue)
	}
}

// add appends r to the pending records; when they are as many as the buffer holds (the
// database is failing), the oldest batch goes.
func (w *Writer) add(r Record) {
	if len(w.pending) >= w.opts.Buffer {
		w.dropped.Add(uint64(w.opts.BatchSize))
		w.shift(w.opts.BatchSize)
	}
	w.pending = append(w.pending, r)
}

// shift removes the first n pending records.
func (w *Writer) shift(n int) {
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:]) // let the strings go
	w.pending = w.pending[:rest]
}

// flush writes the pending records, a batch at a time. On an error worth retrying, it keeps
// them, sets retryAt and returns the error.
func (w *Writer) flush(ctx context.Context) error {
	for len(w.pending) > 0 {
		n := min(len(w.pending), w.opts.BatchSize)
		written, err := w.write(ctx, w.pending[:n])
		if err != nil && !permanent(err) {
			w.failures++
			backoff := min(maxBackoff, firstBackoff<<min(w.failures-1, 20))
			backoff += rand.N(backoff / 4)
			w.retryAt = time.Now().Add(backoff)
			w.logger.Warn("analytics: writing calls failed, will retry",
				"err", err, "pending", len(w.pending), "attempt", w.failures, "retry_in", backoff)
			return err
		}
		if err != nil {
			// The database refuses these rows and always will: the rest must not wait behind them.
			w.logger.Error("analytics: calls refused by the database, dropped", "err", err, "records", n)
			w.dropped.Add(uint64(n))
		} else {
			w.written.Add(uint64(written))
		}
		if w.failures > 0 {
			w.logger.Info("analytics: writing calls again", "after_attempts", w.failures)
			w.failures = 0
			w.retryAt = time.Time{}
		}
		w.shift(n)
	}
	return nil
}

var (
	requestsTable = pgx.Identifier{"gateway", "requests"}
	columns       = []string{"time", "request_id", "replica", "consumer", "api", "operation", "method",
		"status", "upstream_status", "origin", "error", "latency_us", "upstream_us", "bytes_in", "bytes_out",
		"client_ip"}
)

// copy writes batch in one COPY and returns how many records it wrote. A record for a day
// without its partition runs the maintenance, and the batch is tried once more; records
// whose day still has no partition (a clock far off, a record days old) are then dropped,
// counted and logged, the others written.
func (w *Writer) copy(ctx context.Context, batch []Record) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, copyTimeout)
	defer cancel()
	_, err := w.pool.CopyFrom(ctx, requestsTable, columns, &rows{w: w, batch: batch, i: -1})
	if err == nil {
		return len(batch), nil
	}
	if !missingPartition(err) {
		return 0, err
	}
	w.logger.Warn("analytics: partition missing at insert, running the maintenance", "err", err)
	if _, _, err := Maintain(ctx, w.pool, time.Now(), w.opts.RetentionDays); err != nil {
		return 0, err
	}
	names, err := partitionNames(ctx, w.pool)
	if err != nil {
		return 0, err
	}
	have := make(map[string]bool, len(names))
	for _, name := range names {
		have[name] = true
	}
	keep := make([]Record, 0, len(batch))
	var lost []time.Time
	for _, r := range batch {
		if have[PartitionName(r.Time)] {
			keep = append(keep, r)
		} else {
			lost = append(lost, r.Time)
		}
	}
	if len(keep) > 0 {
		if _, err := w.pool.CopyFrom(ctx, requestsTable, columns, &rows{w: w, batch: keep, i: -1}); err != nil {
			return 0, err
		}
	}
	if len(lost) > 0 {
		w.dropped.Add(uint64(len(lost)))
		w.logger.Error("analytics: calls recorded for days without partition, dropped",
			"records", len(lost), "first_time", lost[0], "last_time", lost[len(lost)-1])
	}
	return len(keep), nil
}

func missingPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition")
}

// permanent tells errors that retrying the same rows cannot cure: data exceptions and
// integrity violations (class 22 and 23).
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
}

// rows feeds a batch to CopyFrom, which encodes each row before asking for the next: one
// slice of values serves them all.
type rows struct {
	w     *Writer
	batch []Record
	i     int
}

func (s *rows) Next() bool { s.i++; return s.i < len(s.batch) }
func (s *rows) Err() error { return nil }

func (s *rows) Values() ([]any, error) {
	r := &s.batch[s.i]
	v := s.w.row
	v[0] = r.Time
	v[1] = text(r.RequestID)
	v[2] = text(r.Replica)
	v[3] = text(r.Consumer)
	v[4] = text(r.API)
	v[5] = text(r.Operation)
	v[6] = text(r.Method)
	v[7] = int32(r.Status)
	v[8] = int32(r.UpstreamStatus)
	switch r.Origin {
	case "", OriginGateway, OriginNetwork, OriginUpstream:
		v[9] = r.Origin
	default:
		v[9] = OriginGateway
	}
	v[10] = text(r.Error)
	v[11] = micros(r.Latency)
	v[12] = micros(r.Upstream)
	v[13] = r.BytesIn
	v[14] = r.BytesOut
	if r.ClientIP.IsValid() {
		v[15] = r.ClientIP.Unmap()
	} else {
		v[15] = nil
	}
	return v, nil
}

// text makes s acceptable to PostgreSQL, which takes neither invalid UTF-8 nor NUL: one
// malformed header must not cost a batch.
func text(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

func micros(d time.Duration) int32 {
	return int32(min(max(d.Microseconds(), 0), math.MaxInt32))
}
