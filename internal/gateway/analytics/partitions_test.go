package analytics_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway"
	"socle/internal/gateway/analytics"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func partitions(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, _ := pool.Query(context.Background(), `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'gateway.requests'::regclass ORDER BY 1`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMaintainCreatesAheadAndDropsPastRetention(t *testing.T) {
	pool := dbtest.New(t, gateway.Migrations())
	ctx := context.Background()
	now := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)

	created, dropped, err := analytics.Maintain(ctx, pool, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"requests_20260331", "requests_20260401", "requests_20260402"}; !slices.Equal(created, want) || len(dropped) != 0 {
		t.Fatalf("created %v dropped %v, want %v and nothing dropped", created, dropped, want)
	}
	if created, dropped, err := analytics.Maintain(ctx, pool, now, 0); err != nil || len(created)+len(dropped) != 0 {
		t.Fatalf("second run: created %v dropped %v, %v; want nothing", created, dropped, err)
	}

	// Days of the past, as a replica running then would have left them.
	for _, day := range []time.Time{now.AddDate(0, 0, -93), now.AddDate(0, 0, -91), now.AddDate(0, 0, -89)} {
		if _, _, err := analytics.Maintain(ctx, pool, day, 1000); err != nil {
			t.Fatal(err)
		}
	}
	// 2025-12-31 10:00 is the retention's limit: every day up to 2025-12-30 is wholly older,
	// 2025-12-31 still holds rows to keep.
	_, dropped, err = analytics.Maintain(ctx, pool, now, 90)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"requests_20251228", "requests_20251229", "requests_20251230"}
	if !slices.Equal(dropped, want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	got := partitions(t, pool)
	if want := []string{"requests_20251231", "requests_20260101", "requests_20260102", "requests_20260103",
		"requests_20260331", "requests_20260401", "requests_20260402"}; !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}

	// A row lands in the partition of its UTC day; a day without one is refused, not hidden
	// in a default partition.
	var part string
	err = pool.QueryRow(ctx, `INSERT INTO gateway.requests (time, request_id, api, method, status, latency_us)
		VALUES ('2026-04-01 23:59:59.999999+00', 'r1', 'a', 'GET', 200, 1) RETURNING tableoid::regclass::text`).Scan(&part)
	if err != nil || part != "gateway.requests_20260401" {
		t.Fatalf("row went to %q, %v; want gateway.requests_20260401", part, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway.requests (time, request_id, api, method, status, latency_us)
		VALUES ('2026-04-03 00:00:00+00', 'r2', 'a', 'GET', 200, 1)`); err == nil {
		t.Fatal("a row for a day without partition was accepted")
	}
}

func TestMaintainFromSeveralReplicasAtOnce(t *testing.T) {
	pool := dbtest.New(t, gateway.Migrations())
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			created, _, err := analytics.Maintain(context.Background(), pool, now, 90)
			errs <- err
			mu.Lock()
			all = append(all, created...)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(all)
	if want := []string{"requests_20260601", "requests_20260602", "requests_20260603"}; !slices.Equal(all, want) {
		t.Fatalf("created together %v, want each of %v once", all, want)
	}
}
