package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The portal's queries. Every time range is [from, to); buckets start at from, every
// bucket long (date_bin), so a caller wanting Brussels days passes a Brussels midnight.

// DefaultTop is how many rows TopAPIs and TopConsumers return when n is not positive.
const DefaultTop = 5

// APIStat is one API's traffic over a range.
type APIStat struct {
	API      string
	Calls    int64
	Errors   int64 // answers with status 400 or more
	BytesIn  int64
	BytesOut int64
}

// TopAPIs returns the n busiest APIs between from and to, busiest first (ties by name).
func TopAPIs(ctx context.Context, pool *pgxpool.Pool, from, to time.Time, n int) ([]APIStat, error) {
	if n <= 0 {
		n = DefaultTop
	}
	rows, err := pool.Query(ctx, `
		SELECT api, count(*), count(*) FILTER (WHERE status >= 400),
		       coalesce(sum(bytes_in), 0)::bigint, coalesce(sum(bytes_out), 0)::bigint
		FROM gateway.requests
		WHERE time >= $1 AND time < $2
		GROUP BY api
		ORDER BY count(*) DESC, api
		LIMIT $3`, from, to, n)
	if err != nil {
		return nil, fmt.Errorf("analytics: top apis: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[APIStat])
	if err != nil {
		return nil, fmt.Errorf("analytics: top apis: %w", err)
	}
	return out, nil
}

// ConsumerStat is one consumer's calls over a range.
type ConsumerStat struct {
	Consumer string // "" for calls whose caller is unknown
	Calls    int64
	Errors   int64
}

// TopConsumers returns the n consumers with the most calls to api ("" for all APIs) between
// from and to, busiest first.
func TopConsumers(ctx context.Context, pool *pgxpool.Pool, api string, from, to time.Time, n int) ([]ConsumerStat, error) {
	if n <= 0 {
		n = DefaultTop
	}
	rows, err := pool.Query(ctx, `
		SELECT consumer, count(*), count(*) FILTER (WHERE status >= 400)
		FROM gateway.requests
		WHERE time >= $1 AND time < $2 AND ($3 = '' OR api = $3)
		GROUP BY consumer
		ORDER BY count(*) DESC, consumer
		LIMIT $4`, from, to, api, n)
	if err != nil {
		return nil, fmt.Errorf("analytics: top consumers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ConsumerStat])
	if err != nil {
		return nil, fmt.Errorf("analytics: top consumers: %w", err)
	}
	return out, nil
}

// ErrorPoint is how many calls failed in one bucket for one origin.
type ErrorPoint struct {
	Start  time.Time
	Origin string
	Count  int64
}

// ErrorsByOrigin returns the failed calls (origin not empty) to api ("" for all) between from
// and to, counted per bucket and origin, in time order then by origin. Buckets without
// errors are absent.
func ErrorsByOrigin(ctx context.Context, pool *pgxpool.Pool, api string, from, to time.Time, bucket time.Duration) ([]ErrorPoint, error) {
	if bucket <= 0 {
		return nil, errors.New("analytics: errors by origin: bucket must be positive")
	}
	rows, err := pool.Query(ctx, `
		SELECT date_bin($4::bigint * interval '1 microsecond', time, $1) AS start, origin, count(*)
		FROM gateway.requests
		WHERE time >= $1 AND time < $2 AND ($3 = '' OR api = $3) AND origin <> ''
		GROUP BY start, origin
		ORDER BY start, origin`, from, to, api, bucket.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("analytics: errors by origin: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ErrorPoint])
	if err != nil {
		return nil, fmt.Errorf("analytics: errors by origin: %w", err)
	}
	return out, nil
}

// Percentiles sum up a set of durations; percentiles are interpolated (percentile_cont).
type Percentiles struct {
	Count              int64
	P50, P90, P99, Max time.Duration
}

// LatencyStats are the latencies of an API's calls.
type LatencyStats struct {
	Total    Percentiles // as the client saw it: request received to answer sent
	Upstream Percentiles // waiting for the upstream, over the calls that reached for it (upstream_us > 0)
}

// Latency returns the latency percentiles of the calls to api ("" for all) between from
// and to; with no calls, everything is zero.
func Latency(ctx context.Context, pool *pgxpool.Pool, api string, from, to time.Time) (LatencyStats, error) {
	var s LatencyStats
	var t, u [4]*float64
	err := pool.QueryRow(ctx, `
		SELECT count(*),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us),
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY latency_us),
		       percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us),
		       max(latency_us)::float8,
		       count(*) FILTER (WHERE upstream_us > 0),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY upstream_us) FILTER (WHERE upstream_us > 0),
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY upstream_us) FILTER (WHERE upstream_us > 0),
		       percentile_cont(0.99) WITHIN GROUP (ORDER BY upstream_us) FILTER (WHERE upstream_us > 0),
		       (max(upstream_us) FILTER (WHERE upstream_us > 0))::float8
		FROM gateway.requests
		WHERE time >= $1 AND time < $2 AND ($3 = '' OR api = $3)`, from, to, api).
		Scan(&s.Total.Count, &t[0], &t[1], &t[2], &t[3], &s.Upstream.Count, &u[0], &u[1], &u[2], &u[3])
	if err != nil {
		return LatencyStats{}, fmt.Errorf("analytics: latency: %w", err)
	}
	fill := func(p *Percentiles, v [4]*float64) {
		for i, d := range []*time.Duration{&p.P50, &p.P90, &p.P99, &p.Max} {
			if v[i] != nil {
				*d = time.Duration(math.Round(*v[i] * float64(time.Microsecond)))
			}
		}
	}
	fill(&s.Total, t)
	fill(&s.Upstream, u)
	return s, nil
}

// UsagePoint is one consumer's use of one API in one bucket.
type UsagePoint struct {
	Start     time.Time
	API       string
	Calls     int64
	Errors4xx int64
	Errors5xx int64
	BytesIn   int64
	BytesOut  int64
}

// Usage returns consumer's calls between from and to, per bucket and API, in time order
// then by API: the usage page of one consumer.
func Usage(ctx context.Context, pool *pgxpool.Pool, consumer string, from, to time.Time, bucket time.Duration) ([]UsagePoint, error) {
	if bucket <= 0 {
		return nil, errors.New("analytics: usage: bucket must be positive")
	}
	rows, err := pool.Query(ctx, `
		SELECT date_bin($4::bigint * interval '1 microsecond', time, $1) AS start, api, count(*),
		       count(*) FILTER (WHERE status BETWEEN 400 AND 499),
		       count(*) FILTER (WHERE status >= 500),
		       coalesce(sum(bytes_in), 0)::bigint, coalesce(sum(bytes_out), 0)::bigint
		FROM gateway.requests
		WHERE time >= $1 AND time < $2 AND consumer = $3
		GROUP BY start, api
		ORDER BY start, api`, from, to, consumer, bucket.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("analytics: usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[UsagePoint])
	if err != nil {
		return nil, fmt.Errorf("analytics: usage: %w", err)
	}
	return out, nil
}

// Filter selects the calls of an export; zero times and empty strings select everything.
type Filter struct {
	From, To time.Time
	API      string
	Consumer string
}

// ExportCSV writes the calls selected by f to out as CSV, with a header line, in time
// order. The client address is not exported: it is the calling network's personal data,
// kept for investigations only.
//
// COPY takes no bind parameters, so the filter's values travel as parameters of
// set_config, local to a read-only transaction, and the COPY's query reads them back with
// current_setting: the query text is a constant, nothing from f is ever spliced into SQL.
func ExportCSV(ctx context.Context, pool *pgxpool.Pool, out io.Writer, f Filter) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("analytics: export: %w", err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `SELECT set_config('timezone', 'UTC', true),
		set_config('socle.export_from', $1, true), set_config('socle.export_to', $2, true),
		set_config('socle.export_api', $3, true), set_config('socle.export_consumer', $4, true)`,
		bound(f.From, "-infinity"), bound(f.To, "infinity"), f.API, f.Consumer)
	if err != nil {
		return fmt.Errorf("analytics: export: %w", err)
	}
	if _, err := tx.Conn().PgConn().CopyTo(ctx, out, exportQuery); err != nil {
		return fmt.Errorf("analytics: export: %w", err)
	}
	return tx.Commit(ctx)
}

const exportQuery = `COPY (
	SELECT time, request_id, replica, consumer, api, operation, method, status, upstream_status,
	       origin, error, latency_us, upstream_us, bytes_in, bytes_out
	FROM gateway.requests
	WHERE time >= current_setting('socle.export_from')::timestamptz
	  AND time < current_setting('socle.export_to')::timestamptz
	  AND (current_setting('socle.export_api') = '' OR api = current_setting('socle.export_api'))
	  AND (current_setting('socle.export_consumer') = '' OR consumer = current_setting('socle.export_consumer'))
	ORDER BY time, request_id
) TO STDOUT WITH (FORMAT csv, HEADER)`

func bound(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339Nano)
}
