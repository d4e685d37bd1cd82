package analytics_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway"
	"socle/internal/gateway/analytics"
	"socle/internal/platform/database/dbtest"
)

// The data set: seven APIs of decreasing traffic, three consumers (one whose name is made to
// break careless SQL and CSV, one unknown), statuses and origins in a cycle, spread over two
// hours of one day, and a few calls the next day, outside the range asked.
var (
	day      = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	from     = day.Add(8 * time.Hour)
	to       = from.Add(2 * time.Hour)
	nasty    = `o'brien"; DROP TABLE gateway.requests; --`
	statuses = []struct {
		status, upstream int
		origin           string
	}{
		{200, 200, ""}, {200, 200, ""}, {201, 201, ""}, {404, 404, ""}, {500, 500, analytics.OriginUpstream},
		{502, 0, analytics.OriginNetwork}, {200, 200, ""}, {429, 0, analytics.OriginGateway}, {403, 0, analytics.OriginGateway},
	}
)

func dataset() (in []analytics.Record, out []analytics.Record) {
	apis := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"}
	consumers := []string{"c1", "c2", nasty, ""}
	i := 0
	for k, api := range apis {
		for j := range 70 - 10*k {
			s := statuses[i%len(statuses)]
			r := analytics.Record{
				Time:      from.Add(time.Duration(i*7919%7200) * time.Second),
				RequestID: fmt.Sprintf("req-%04d", i), Replica: "r1",
				Consumer: consumers[i%len(consumers)], API: api, Operation: "op" + fmt.Sprint(j%3),
				Method: "GET", Status: s.status, UpstreamStatus: s.upstream, Origin: s.origin,
				Latency: time.Duration(1+i*37%997) * 100 * time.Microsecond,
				BytesIn: int64(i % 50), BytesOut: int64(1000 + i),
				ClientIP: netip.MustParseAddr("2001:db8::1"),
			}
			if s.upstream > 0 {
				r.Upstream = r.Latency * 2 / 3
			}
			if s.origin != "" {
				r.Error = "failed, at " + s.origin
			}
			in = append(in, r)
			i++
		}
	}
	for j := range 5 {
		r := in[j]
		r.RequestID = fmt.Sprintf("late-%d", j)
		r.Time = day.AddDate(0, 0, 1).Add(time.Hour)
		out = append(out, r)
	}
	return in, out
}

func loaded(t *testing.T) (*pgxpool.Pool, []analytics.Record) {
	t.Helper()
	pool := dbtest.New(t, gateway.Migrations())
	ctx := context.Background()
	if _, _, err := analytics.Maintain(ctx, pool, day, 90); err != nil {
		t.Fatal(err)
	}
	in, out := dataset()
	w := analytics.NewWriter(pool, quiet, analytics.WriterOptions{MaintainEvery: -1})
	for _, r := range append(slices.Clone(in), out...) {
		w.Record(r)
	}
	if err := w.Close(ctx); err != nil || int(w.Written()) != len(in)+len(out) {
		t.Fatalf("loading: written %d, %v", w.Written(), err)
	}
	return pool, in
}

func TestQueries(t *testing.T) {
	pool, in := loaded(t)
	ctx := context.Background()

	t.Run("top APIs", func(t *testing.T) {
		got, err := analytics.TopAPIs(ctx, pool, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		byAPI := map[string]*analytics.APIStat{}
		for _, r := range in {
			s := byAPI[r.API]
			if s == nil {
				s = &analytics.APIStat{API: r.API}
				byAPI[r.API] = s
			}
			s.Calls++
			if r.Status >= 400 {
				s.Errors++
			}
			s.BytesIn += r.BytesIn
			s.BytesOut += r.BytesOut
		}
		var want []analytics.APIStat
		for _, api := range []string{"a1", "a2", "a3", "a4", "a5"} {
			want = append(want, *byAPI[api])
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("top consumers", func(t *testing.T) {
		got, err := analytics.TopConsumers(ctx, pool, "a2", from, to, 10)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]*analytics.ConsumerStat{}
		for _, r := range in {
			if r.API != "a2" {
				continue
			}
			s := count[r.Consumer]
			if s == nil {
				s = &analytics.ConsumerStat{Consumer: r.Consumer}
				count[r.Consumer] = s
			}
			s.Calls++
			if r.Status >= 400 {
				s.Errors++
			}
		}
		var want []analytics.ConsumerStat
		for _, s := range count {
			want = append(want, *s)
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].Calls != want[j].Calls {
				return want[i].Calls > want[j].Calls
			}
			return want[i].Consumer < want[j].Consumer
		})
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
		all, err := analytics.TopConsumers(ctx, pool, "", from, to, 0)
		if err != nil || len(all) != 4 {
			t.Fatalf("all APIs: %+v, %v; want the 4 consumers", all, err)
		}
		var calls int64
		for _, s := range all {
			calls += s.Calls
		}
		if calls != int64(len(in)) {
			t.Fatalf("all APIs: %d calls, want %d", calls, len(in))
		}
	})

	t.Run("errors by origin", func(t *testing.T) {
		bucket := 30 * time.Minute
		got, err := analytics.ErrorsByOrigin(ctx, pool, "", from, to, bucket)
		if err != nil {
			t.Fatal(err)
		}
		type key struct {
			start  time.Time
			origin string
		}
		count := map[key]int64{}
		for _, r := range in {
			if r.Origin != "" {
				count[key{from.Add(r.Time.Sub(from) / bucket * bucket), r.Origin}]++
			}
		}
		var want []analytics.ErrorPoint
		for k, n := range count {
			want = append(want, analytics.ErrorPoint{Start: k.start, Origin: k.origin, Count: n})
		}
		sort.Slice(want, func(i, j int) bool {
			if !want[i].Start.Equal(want[j].Start) {
				return want[i].Start.Before(want[j].Start)
			}
			return want[i].Origin < want[j].Origin
		})
		for i := range got {
			got[i].Start = got[i].Start.UTC()
		}
		if len(want) != 4*3 || !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})

	t.Run("latency", func(t *testing.T) {
		got, err := analytics.Latency(ctx, pool, "a1", from, to)
		if err != nil {
			t.Fatal(err)
		}
		var total, upstream []float64
		for _, r := range in {
			if r.API != "a1" {
				continue
			}
			total = append(total, float64(r.Latency.Microseconds()))
			if r.Upstream > 0 {
				upstream = append(upstream, float64(r.Upstream.Microseconds()))
			}
		}
		for _, c := range []struct {
			name string
			got  analytics.Percentiles
			of   []float64
		}{{"total", got.Total, total}, {"upstream", got.Upstream, upstream}} {
			slices.Sort(c.of)
			want := analytics.Percentiles{
				Count: int64(len(c.of)),
				P50:   percentile(c.of, .5), P90: percentile(c.of, .9), P99: percentile(c.of, .99),
				Max: time.Duration(c.of[len(c.of)-1]) * time.Microsecond,
			}
			if c.got != want {
				t.Errorf("%s: got %+v, want %+v", c.name, c.got, want)
			}
		}
		none, err := analytics.Latency(ctx, pool, "nobody", from, to)
		if err != nil || none != (analytics.LatencyStats{}) {
			t.Fatalf("an API without calls: %+v, %v", none, err)
		}
	})

	t.Run("usage", func(t *testing.T) {
		got, err := analytics.Usage(ctx, pool, nasty, from, to, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		type key struct {
			start time.Time
			api   string
		}
		points := map[key]*analytics.UsagePoint{}
		for _, r := range in {
			if r.Consumer != nasty {
				continue
			}
			k := key{from.Add(r.Time.Sub(from).Truncate(time.Hour)), r.API}
			p := points[k]
			if p == nil {
				p = &analytics.UsagePoint{Start: k.start, API: k.api}
				points[k] = p
			}
			p.Calls++
			switch r.Status / 100 {
			case 4:
				p.Errors4xx++
			case 5:
				p.Errors5xx++
			}
			p.BytesIn += r.BytesIn
			p.BytesOut += r.BytesOut
		}
		var want []analytics.UsagePoint
		for _, p := range points {
			want = append(want, *p)
		}
		sort.Slice(want, func(i, j int) bool {
			if !want[i].Start.Equal(want[j].Start) {
				return want[i].Start.Before(want[j].Start)
			}
			return want[i].API < want[j].API
		})
		for i := range got {
			got[i].Start = got[i].Start.UTC()
		}
		if len(want) != 2*7 || !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})
}

// percentile is percentile_cont: linear interpolation between the two closest ranks.
func percentile(sorted []float64, p float64) time.Duration {
	pos := p * float64(len(sorted)-1)
	lo := math.Floor(pos)
	v := sorted[int(lo)]
	if int(lo)+1 < len(sorted) {
		v += (sorted[int(lo)+1] - v) * (pos - lo)
	}
	return time.Duration(math.Round(v * float64(time.Microsecond)))
}

func TestExportCSV(t *testing.T) {
	pool, in := loaded(t)
	ctx := context.Background()
	export := func(f analytics.Filter) [][]string {
		t.Helper()
		var buf bytes.Buffer
		if err := analytics.ExportCSV(ctx, pool, &buf, f); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("export is not CSV: %v", err)
		}
		want := []string{"time", "request_id", "replica", "consumer", "api", "operation", "method", "status",
			"upstream_status", "origin", "error", "latency_us", "upstream_us", "bytes_in", "bytes_out"}
		if len(records) == 0 || !slices.Equal(records[0], want) {
			t.Fatalf("header %v, want %v", records[:min(1, len(records))], want)
		}
		return records[1:]
	}

	rows := export(analytics.Filter{From: from, To: to, Consumer: nasty})
	var want []analytics.Record
	for _, r := range in {
		if r.Consumer == nasty {
			want = append(want, r)
		}
	}
	sort.Slice(want, func(i, j int) bool {
		if !want[i].Time.Equal(want[j].Time) {
			return want[i].Time.Before(want[j].Time)
		}
		return want[i].RequestID < want[j].RequestID
	})
	if len(rows) != len(want) {
		t.Fatalf("%d rows for %q, want %d", len(rows), nasty, len(want))
	}
	for i, r := range want {
		row := rows[i]
		at, err := time.Parse("2006-01-02 15:04:05Z07", row[0])
		if err != nil || !at.Equal(r.Time) {
			t.Fatalf("row %d: time %q (%v), want %v", i, row[0], err, r.Time)
		}
		wantRow := []string{r.RequestID, r.Replica, r.Consumer, r.API, r.Operation, r.Method, fmt.Sprint(r.Status),
			fmt.Sprint(r.UpstreamStatus), r.Origin, r.Error, fmt.Sprint(r.Latency.Microseconds()),
			fmt.Sprint(r.Upstream.Microseconds()), fmt.Sprint(r.BytesIn), fmt.Sprint(r.BytesOut)}
		if !slices.Equal(row[1:], wantRow) {
			t.Fatalf("row %d:\n got  %q\n want %q", i, row[1:], wantRow)
		}
	}

	if rows := export(analytics.Filter{From: from, To: to, API: "a7"}); len(rows) != 10 {
		t.Fatalf("%d rows for a7, want 10", len(rows))
	}
	if rows := export(analytics.Filter{}); len(rows) != len(in)+5 {
		t.Fatalf("%d rows without filter, want all %d", len(rows), len(in)+5)
	}
	for _, hostile := range []analytics.Filter{
		{API: `a1'); DROP TABLE gateway.requests; --`},
		{Consumer: `x' OR '1'='1`},
		{API: `a1"; SELECT 1; "`, Consumer: `\'; --`},
	} {
		if rows := export(hostile); len(rows) != 0 {
			t.Errorf("filter %+v selected %d rows", hostile, len(rows))
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM gateway.requests`).Scan(&n); err != nil || n != len(in)+5 {
		t.Fatalf("after the hostile filters: %d rows, %v", n, err)
	}
}
