// Package quota admits calls within a plan's quota, exactly, across every replica of the
// gateway.
//
// Each subscription (consumer, API) has one row in gateway.quota_usage holding the current
// second's and the current day's counts. Calls are granted by one statement that, under the
// row's lock, starts a new window or adds to the counts only what both limits still allow,
// and says how many it granted; nothing granted means refused. Every replica goes through the
// same row, so the calls granted in a window are never more than the limit.
//
// A round trip per call would cost as much as proxying it. So a replica asks for several
// calls at once — a lease — when much of the budget is left: a quarter of what remains of the
// second, a sixteenth of what remains of the day, at most 64. It then admits that many calls
// without asking again. As the budget runs out the leases shrink to one call, so the last
// calls of a window are granted one by one: the total admitted is the limit, no more, and no
// fewer while calls keep coming to every replica. What a lease leaves unused is given back
// when its second ends, and when the replica has had no call of that subscription for
// IdleReturn (Run): a replica that stops getting calls keeps no part of the budget from the
// others for longer than that. The table is UNLOGGED, so that a grant does not wait for a WAL flush; a
// PostgreSQL crash empties it and the windows start again from zero.
//
// Days are days in Brussels (and Paris) time: a per-day quota renews at local midnight.
package quota

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/spec"
)

// MaxLease is the most calls one grant gives a replica.
const MaxLease = 64

// IdleReturn is how long a lease may sit unused before Run gives it back.
const IdleReturn = 100 * time.Millisecond

// Counter admits calls; one per replica.
type Counter struct {
	pool *pgxpool.Pool
	loc  *time.Location

	mu     sync.Mutex
	leases map[key]*lease
}

type key struct{ consumer, api string }

// lease is what a replica holds of a subscription's budget: left calls granted in the
// windows (second, day), not yet used.
type lease struct {
	mu     sync.Mutex
	second int64
	day    time.Time
	left   int
	want   int
	used   time.Time // when it last admitted a call
	n1, n2 int       // the windows' counts after the last grant, all replicas together
}

// New returns a counter on pool's gateway.quota_usage, with days in loc.
func New(pool *pgxpool.Pool, loc *time.Location) *Counter {
	return &Counter{pool: pool, loc: loc, leases: map[key]*lease{}}
}

// Decision is the answer for one call.
type Decision struct {
	Allowed bool
	// Limit and Remaining are those of the window closest to refusing (the smallest
	// remaining), Reset the time until it renews: the RateLimit-* headers.
	Limit, Remaining int
	Reset            time.Duration
	// Window is "second" or "day": the window that refused, or the one Limit describes.
	Window string
}

// grant grants up to $7 calls: as many as both windows still allow (0 is no limit).
const grant = `
INSERT INTO gateway.quota_usage AS u (consumer, api, second, second_count, day, day_count, granted)
SELECT $1, $2, $3, g, $4, g, g FROM (SELECT least($7::int, CASE WHEN $5::int = 0 THEN $7 ELSE $5 END,
                                                  CASE WHEN $6::int = 0 THEN $7 ELSE $6 END) AS g) AS first
ON CONFLICT (consumer, api) DO UPDATE SET
    second = excluded.second,
    day = excluded.day,
    granted = ` + grantable + `,
    second_count = (CASE WHEN u.second = excluded.second THEN u.second_count ELSE 0 END) + ` + grantable + `,
    day_count = (CASE WHEN u.day = excluded.day THEN u.day_count ELSE 0 END) + ` + grantable + `
WHERE ` + grantable + ` > 0
RETURNING granted, second_count, day_count`

// grantable is how many calls the row's windows still allow, up to $7.
const grantable = `least($7::int,
    CASE WHEN $5::int = 0 THEN $7 ELSE $5 - CASE WHEN u.second = excluded.second THEN u.second_count ELSE 0 END END,
    CASE WHEN $6::int = 0 THEN $7 ELSE $6 - CASE WHEN u.day = excluded.day THEN u.day_count ELSE 0 END END)`

func (c *Counter) lease(consumer, api string) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.leases[key{consumer, api}]
	if l == nil {
		l = &lease{want: 1}
		c.leases[key{consumer, api}] = l
	}
	return l
}

// Take admits one call of consumer to api under q at now, or refuses it (nothing counted).
// A plan without limits is admitted without asking the database.
func (c *Counter) Take(ctx context.Context, consumer, api string, q spec.Quota, now time.Time) (Decision, error) {
	if q.PerSecond == 0 && q.PerDay == 0 {
		return Decision{Allowed: true}, nil
	}
	sec, day := now.Unix(), c.day(now)
	l := c.lease(consumer, api)
	// Calls of one subscription on this replica wait for each other here: while one asks
	// the database, the others wait for the calls it brings back.
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left > 0 && !l.valid(q, sec, day) {
		if err := c.giveBack(ctx, consumer, api, q, l); err != nil {
			return Decision{}, err
		}
	}
	if l.left == 0 {
		var g int
		err := c.pool.QueryRow(ctx, grant, consumer, api, sec, day, q.PerSecond, q.PerDay, l.want).Scan(&g, &l.n1, &l.n2)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return c.refused(ctx, consumer, api, q, now, day)
		case err != nil:
			return Decision{}, fmt.Errorf("quota: %w", err)
		}
		l.second, l.day, l.left = sec, day, g
		l.want = leaseSize(q, l.n1, l.n2)
	}
	l.left--
	l.used = time.Now()
	d := c.decide(q, now, l.n1-l.left, l.n2-l.left)
	d.Allowed = true
	return d, nil
}

// valid says whether the calls the lease holds are still of the current windows.
func (l *lease) valid(q spec.Quota, sec int64, day time.Time) bool {
	return (q.PerSecond == 0 || l.second == sec) && (q.PerDay == 0 || l.day.Equal(day))
}

// giveBack returns to their windows the calls a lease did not use.
func (c *Counter) giveBack(ctx context.Context, consumer, api string, q spec.Quota, l *lease) error {
	n := l.left
	l.left = 0
	if n == 0 {
		return nil
	}
	_, err := c.pool.Exec(ctx, `UPDATE gateway.quota_usage SET
		second_count = CASE WHEN second = $4 THEN greatest(second_count - $3, 0) ELSE second_count END,
		day_count = CASE WHEN day = $5 THEN greatest(day_count - $3, 0) ELSE day_count END
		WHERE consumer = $1 AND api = $2`, consumer, api, n, l.second, l.day)
	if err != nil {
		return fmt.Errorf("quota: give back: %w", err)
	}
	return nil
}

// Run gives back, every IdleReturn, the leases that admitted nothing for that long, until
// ctx ends.
func (c *Counter) Run(ctx context.Context) {
	t := time.NewTicker(IdleReturn)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.returnIdle(ctx, now.Add(-IdleReturn))
		}
	}
}

func (c *Counter) returnIdle(ctx context.Context, before time.Time) error {
	c.mu.Lock()
	idle := map[key]*lease{}
	for k, l := range c.leases {
		idle[k] = l
	}
	c.mu.Unlock()
	var errs []error
	for k, l := range idle {
		l.mu.Lock()
		if l.left > 0 && l.used.Before(before) {
			errs = append(errs, c.giveBack(ctx, k.consumer, k.api, spec.Quota{}, l))
		}
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// leaseSize is how many calls to ask for next: a quarter of what remains of the second, a
// sixteenth of what remains of the day, between 1 and MaxLease.
func leaseSize(q spec.Quota, n1, n2 int) int {
	size := MaxLease
	if q.PerSecond > 0 {
		size = min(size, (q.PerSecond-n1)/4)
	}
	if q.PerDay > 0 {
		size = min(size, (q.PerDay-n2)/16)
	}
	return max(size, 1)
}

// refused reads the counts to say which window is full and until when.
func (c *Counter) refused(ctx context.Context, consumer, api string, q spec.Quota, now, day time.Time) (Decision, error) {
	var s int64
	var d time.Time
	var n1, n2 int
	err := c.pool.QueryRow(ctx, `SELECT second, second_count, day, day_count FROM gateway.quota_usage WHERE consumer = $1 AND api = $2`,
		consumer, api).Scan(&s, &n1, &d, &n2)
	if err != nil {
		return Decision{}, fmt.Errorf("quota: %w", err)
	}
	if q.PerDay > 0 && n2 >= q.PerDay && d.Equal(day) {
		return Decision{Window: "day", Limit: q.PerDay, Reset: c.untilMidnight(now)}, nil
	}
	return Decision{Window: "second", Limit: q.PerSecond, Reset: untilNextSecond(now)}, nil
}

// decide describes the window closest to refusing after counts n1 (second) and n2 (day).
func (c *Counter) decide(q spec.Quota, now time.Time, n1, n2 int) Decision {
	d := Decision{Remaining: math.MaxInt}
	if q.PerSecond > 0 {
		d = Decision{Limit: q.PerSecond, Remaining: max(q.PerSecond-n1, 0), Reset: untilNextSecond(now), Window: "second"}
	}
	if q.PerDay > 0 && q.PerDay-n2 < d.Remaining {
		d = Decision{Limit: q.PerDay, Remaining: max(q.PerDay-n2, 0), Reset: c.untilMidnight(now), Window: "day"}
	}
	return d
}

// Refund gives back a call admitted then refused by the gateway itself (its body was over
// the limit): a refused call does not count. It goes back to the lease it came from while
// its windows last.
func (c *Counter) Refund(ctx context.Context, consumer, api string, q spec.Quota, at time.Time) error {
	if q.PerSecond == 0 && q.PerDay == 0 {
		return nil
	}
	l := c.lease(consumer, api)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.valid(q, time.Now().Unix(), c.day(time.Now())) && l.valid(q, at.Unix(), c.day(at)) {
		l.left++
		return nil
	}
	_, err := c.pool.Exec(ctx, `UPDATE gateway.quota_usage SET
		second_count = CASE WHEN second = $3 THEN greatest(second_count - 1, 0) ELSE second_count END,
		day_count = CASE WHEN day = $4 THEN greatest(day_count - 1, 0) ELSE day_count END
		WHERE consumer = $1 AND api = $2`, consumer, api, at.Unix(), c.day(at))
	if err != nil {
		return fmt.Errorf("quota: refund: %w", err)
	}
	return nil
}

// Release gives back every call this replica's leases hold: a replica that stops leaves the
// budget to the others.
func (c *Counter) Release(ctx context.Context) error {
	return c.returnIdle(ctx, time.Now().Add(time.Hour))
}

// Used returns the calls counted in the current second and day, less those this replica
// holds unused (the portal's usage page, the tests).
func (c *Counter) Used(ctx context.Context, consumer, api string, now time.Time) (second, day int, err error) {
	err = c.pool.QueryRow(ctx, `SELECT CASE WHEN second = $3 THEN second_count ELSE 0 END, CASE WHEN day = $4 THEN day_count ELSE 0 END
		FROM gateway.quota_usage WHERE consumer = $1 AND api = $2`, consumer, api, now.Unix(), c.day(now)).Scan(&second, &day)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil
	}
	l := c.lease(consumer, api)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.second == now.Unix() {
		second -= l.left
	}
	if l.day.Equal(c.day(now)) {
		day -= l.left
	}
	return second, day, err
}

func (c *Counter) day(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (c *Counter) untilMidnight(t time.Time) time.Duration {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, c.loc).Sub(t)
}

func untilNextSecond(t time.Time) time.Duration {
	return time.Second - time.Duration(t.Nanosecond())
}
