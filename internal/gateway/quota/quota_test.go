package quota_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/quota"
	"socle/internal/gateway/spec"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func migrations(t testing.TB) database.Migrations {
	m, err := database.LoadMigrations("gateway", os.DirFS(".."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// replicas returns n pools on one database: n gateways sharing their PostgreSQL.
func replicas(t *testing.T, n int) []*quota.Counter {
	url := dbtest.NewURL(t, migrations(t))
	var cs []*quota.Counter
	for range n {
		pool, err := pgxpool.New(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		cs = append(cs, quota.New(pool, brussels(t)))
	}
	return cs
}

func brussels(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// hammer makes calls from every replica at once, workers goroutines each, until each has
// made calls calls; then the replicas give back what their leases hold, as a replica does
// when it gets no more calls, and one more call is made per worker. It returns how many were
// admitted: never more than the limit, and — every lease returned — the whole of it.
func hammer(t *testing.T, cs []*quota.Counter, workers, calls int, q spec.Quota, now func() time.Time) int64 {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for _, c := range cs {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls {
					d, err := c.Take(context.Background(), "commune-de-namur", "population", q, now())
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, c := range cs {
		if err := c.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		for range workers {
			if d, err := c.Take(context.Background(), "commune-de-namur", "population", q, now()); err == nil && d.Allowed {
				admitted.Add(1)
			}
		}
	}
	return admitted.Load()
}

func TestADailyQuotaIsExactAcrossReplicasUnderConcurrentLoad(t *testing.T) {
	cs := replicas(t, 2)
	day := time.Date(2026, 12, 4, 10, 0, 0, 0, brussels(t))
	var tick atomic.Int64
	// Every call in a second of its own, so that only the daily limit binds.
	now := func() time.Time { return day.Add(time.Duration(tick.Add(1)) * time.Second) }
	q := spec.Quota{PerDay: 500}
	if got := hammer(t, cs, 8, 50, q, now); got != 500 {
		t.Fatalf("2 replicas × 8 workers × 50 calls against 500 a day: %d admitted, want exactly 500", got)
	}
	// The next day in Brussels starts afresh.
	next := func() time.Time { return day.Add(24 * time.Hour).Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	if got := hammer(t, cs, 2, 10, q, next); got != 44 {
		t.Fatalf("next day: %d admitted, want all 44", got)
	}
}

func TestAPerSecondQuotaIsExactWithinEachSecond(t *testing.T) {
	cs := replicas(t, 2)
	second := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	q := spec.Quota{PerSecond: 10, PerDay: 1000}
	if got := hammer(t, cs, 4, 10, q, func() time.Time { return second.Add(300 * time.Millisecond) }); got != 10 {
		t.Fatalf("80 calls in one second against 10 a second: %d admitted, want 10", got)
	}
	if got := hammer(t, cs, 4, 10, q, func() time.Time { return second.Add(1300 * time.Millisecond) }); got != 10 {
		t.Fatalf("the next second: %d admitted, want 10", got)
	}
}

func TestARefusalSaysWhichWindowAndWhenItRenews(t *testing.T) {
	c := replicas(t, 1)[0]
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 23, 59, 58, 250e6, brussels(t))
	q := spec.Quota{PerSecond: 5, PerDay: 2}
	d, err := c.Take(ctx, "a", "population", q, at)
	if err != nil || !d.Allowed || d.Window != "day" || d.Limit != 2 || d.Remaining != 1 {
		t.Fatalf("first call: %+v %v, want allowed with 1 of 2 a day left", d, err)
	}
	c.Take(ctx, "a", "population", q, at)
	d, err = c.Take(ctx, "a", "population", q, at)
	if err != nil || d.Allowed || d.Window != "day" || d.Remaining != 0 || d.Reset != 1750*time.Millisecond {
		t.Fatalf("third call: %+v %v, want refused by the day, renewing at midnight in Brussels (1.75 s)", d, err)
	}
	q = spec.Quota{PerSecond: 1}
	c.Take(ctx, "b", "population", q, at)
	d, _ = c.Take(ctx, "b", "population", q, at)
	if d.Allowed || d.Window != "second" || d.Reset != 750*time.Millisecond {
		t.Fatalf("per second: %+v, want refused by the second, renewing in 0.75 s", d)
	}
}

func TestARefusedCallDoesNotCountAndARefundGivesOneBack(t *testing.T) {
	c := replicas(t, 1)[0]
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	q := spec.Quota{PerDay: 3}
	for range 10 {
		c.Take(ctx, "a", "population", q, at)
	}
	if _, day, _ := c.Used(ctx, "a", "population", at); day != 3 {
		t.Fatalf("10 calls against 3: %d counted, want 3 (refusals are not counted)", day)
	}
	if err := c.Refund(ctx, "a", "population", q, at); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Take(ctx, "a", "population", q, at); !d.Allowed {
		t.Fatal("after a refund, one more call is admitted")
	}
}

func TestAPlanWithoutLimitsNeverAsksTheDatabase(t *testing.T) {
	c := quota.New(nil, time.UTC) // a nil pool would panic if it were asked
	if d, err := c.Take(context.Background(), "a", "b", spec.Quota{}, time.Now()); err != nil || !d.Allowed {
		t.Fatalf("%+v %v", d, err)
	}
}
