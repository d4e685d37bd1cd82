package portal

import (
	"context"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/analytics"
)

// Analytics is what the portal's charts read: the gateway's call records. Every range is
// [from, to); buckets start at from. PoolAnalytics gives the real one; tests give their own.
type Analytics interface {
	TopAPIs(ctx context.Context, from, to time.Time, n int) ([]APIStat, error)
	TopConsumers(ctx context.Context, api string, from, to time.Time, n int) ([]ConsumerStat, error)
	ErrorsByOrigin(ctx context.Context, api string, from, to time.Time, bucket time.Duration) ([]ErrorPoint, error)
	Latency(ctx context.Context, api string, from, to time.Time) (LatencyStats, error)
	Usage(ctx context.Context, consumer string, from, to time.Time, bucket time.Duration) ([]UsagePoint, error)
	// ExportCSV writes the calls to api and of consumer ("" for any) in [from, to).
	ExportCSV(ctx context.Context, w io.Writer, api, consumer string, from, to time.Time) error
}

// APIStat is an API's traffic over a range.
type APIStat struct {
	API           string
	Calls, Errors int64
}

// ConsumerStat is a consumer's calls to an API over a range ("" for unknown callers).
type ConsumerStat struct {
	Consumer      string
	Calls, Errors int64
}

// ErrorPoint is the failed calls of one origin (gateway, network, upstream) in a bucket.
type ErrorPoint struct {
	Start  time.Time
	Origin string
	Count  int64
}

// Percentiles sum up latencies.
type Percentiles struct {
	Count              int64
	P50, P90, P99, Max time.Duration
}

// LatencyStats are an API's latencies: whole calls, and the upstream's part.
type LatencyStats struct{ Total, Upstream Percentiles }

// UsagePoint is a consumer's calls to one API in one bucket.
type UsagePoint struct {
	Start                       time.Time
	API                         string
	Calls, Errors4xx, Errors5xx int64
}

// PoolAnalytics reads the call records of package analytics in PostgreSQL.
func PoolAnalytics(pool *pgxpool.Pool) Analytics { return poolAnalytics{pool} }

type poolAnalytics struct{ pool *pgxpool.Pool }

func (a poolAnalytics) TopAPIs(ctx context.Context, from, to time.Time, n int) ([]APIStat, error) {
	rows, err := analytics.TopAPIs(ctx, a.pool, from, to, n)
	out := make([]APIStat, len(rows))
	for i, r := range rows {
		out[i] = APIStat{API: r.API, Calls: r.Calls, Errors: r.Errors}
	}
	return out, err
}

func (a poolAnalytics) TopConsumers(ctx context.Context, api string, from, to time.Time, n int) ([]ConsumerStat, error) {
	rows, err := analytics.TopConsumers(ctx, a.pool, api, from, to, n)
	out := make([]ConsumerStat, len(rows))
	for i, r := range rows {
		out[i] = ConsumerStat{Consumer: r.Consumer, Calls: r.Calls, Errors: r.Errors}
	}
	return out, err
}

func (a poolAnalytics) ErrorsByOrigin(ctx context.Context, api string, from, to time.Time, bucket time.Duration) ([]ErrorPoint, error) {
	rows, err := analytics.ErrorsByOrigin(ctx, a.pool, api, from, to, bucket)
	out := make([]ErrorPoint, len(rows))
	for i, r := range rows {
		out[i] = ErrorPoint(r)
	}
	return out, err
}

func (a poolAnalytics) Latency(ctx context.Context, api string, from, to time.Time) (LatencyStats, error) {
	s, err := analytics.Latency(ctx, a.pool, api, from, to)
	return LatencyStats{Total: Percentiles(s.Total), Upstream: Percentiles(s.Upstream)}, err
}

func (a poolAnalytics) Usage(ctx context.Context, consumer string, from, to time.Time, bucket time.Duration) ([]UsagePoint, error) {
	rows, err := analytics.Usage(ctx, a.pool, consumer, from, to, bucket)
	out := make([]UsagePoint, len(rows))
	for i, r := range rows {
		out[i] = UsagePoint{Start: r.Start, API: r.API, Calls: r.Calls, Errors4xx: r.Errors4xx, Errors5xx: r.Errors5xx}
	}
	return out, err
}

func (a poolAnalytics) ExportCSV(ctx context.Context, w io.Writer, api, consumer string, from, to time.Time) error {
	return analytics.ExportCSV(ctx, a.pool, w, analytics.Filter{From: from, To: to, API: api, Consumer: consumer})
}
