package pull

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/delivery"
	"socle/internal/emergency/intake"
)

// Calls remembers, for each caller number, its newest accepted AML fix and the PSAPs its
// calls were routed to, for MaxAge: what a location query is answered from without a
// database round trip. It is loaded from PostgreSQL at start, then fed by this node's
// intake and delivery (Fixed, Routed) and by the other nodes' through the bus; a node that
// lost the bus reloads it (Load). Entries leave memory once older than MaxAge, long before
// the personal-data purge.
type Calls struct {
	MaxAge time.Duration

	mu       sync.RWMutex
	byNumber map[string]*call
}

type call struct {
	fix    delivery.Job // the newest accepted message (ID empty: none known yet)
	routed []routing
}

type routing struct {
	psap string
	at   time.Time
}

// NewCalls returns an empty memory of calls younger than maxAge.
func NewCalls(maxAge time.Duration) *Calls {
	return &Calls{MaxAge: maxAge, byNumber: map[string]*call{}}
}

// Fixed records an accepted message's fix (j.Device is the E.164 number with its '+'). An
// older message than the one held changes nothing.
func (c *Calls) Fixed(j delivery.Job) {
	if j.Device == "" || j.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byNumber[j.Device]
	if e == nil {
		e = &call{}
		c.byNumber[j.Device] = e
	}
	if e.fix.ID == "" || !FixTime(j).Before(FixTime(e.fix)) {
		e.fix = j
	}
}

// FixTime is when the handset found its position: the fix's own time (SMS top, HTTPS
// location_time), never later than socle received it — a handset clock ahead of time would
// otherwise make an old fix look fresh — and the time of receipt when the message gives none.
// A fix is as old as its position, not as its delivery: a message relayed late carries a
// stale position.
func FixTime(j delivery.Job) time.Time {
	if j.LocatedAt != nil && j.LocatedAt.Before(j.ReceivedAt) {
		return *j.LocatedAt
	}
	return j.ReceivedAt
}

// Routed records that a call from device, received at `at`, was routed to psap.
func (c *Calls) Routed(device, psap string, at time.Time) {
	if device == "" || psap == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byNumber[device]
	if e == nil {
		e = &call{}
		c.byNumber[device] = e
	}
	for i, r := range e.routed {
		if r.psap == psap {
			if at.After(r.at) {
				e.routed[i].at = at
			}
			return
		}
	}
	e.routed = append(e.routed, routing{psap, at})
}

// Fix returns device's newest fix if it is younger than MaxAge at now, by its FixTime.
func (c *Calls) Fix(device string, now time.Time) (delivery.Job, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e := c.byNumber[device]
	if e == nil || e.fix.ID == "" || now.Sub(FixTime(e.fix)) >= c.MaxAge {
		return delivery.Job{}, false
	}
	return e.fix, true
}

// RoutedTo tells whether a call from device was routed to psap within MaxAge of now.
func (c *Calls) RoutedTo(device, psap string, now time.Time) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if e := c.byNumber[device]; e != nil {
		for _, r := range e.routed {
			if r.psap == psap && now.Sub(r.at) < c.MaxAge {
				return true
			}
		}
	}
	return false
}

// Len is how many numbers are held.
func (c *Calls) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byNumber)
}

// Sweep forgets what is older than MaxAge at now.
func (c *Calls) Sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, e := range c.byNumber {
		if e.fix.ID != "" && now.Sub(FixTime(e.fix)) >= c.MaxAge {
			e.fix = delivery.Job{}
		}
		kept := e.routed[:0]
		for _, r := range e.routed {
			if now.Sub(r.at) < c.MaxAge {
				kept = append(kept, r)
			}
		}
		e.routed = kept
		if e.fix.ID == "" && len(e.routed) == 0 {
			delete(c.byNumber, n)
		}
	}
}

// Load adds to what is held the accepted messages of the last MaxAge in PostgreSQL and the
// PSAPs they were routed to: at start, and after the bus was lost.
func (c *Calls) Load(ctx context.Context, pool *pgxpool.Pool) error {
	fresh := NewCalls(c.MaxAge)
	err := intake.RecentFixes(ctx, pool, c.MaxAge, func(r intake.Recent) {
		j := delivery.JobOf(r.Fix)
		if r.Located { // a message without a position answers no location query
			fresh.Fixed(j)
		}
		if r.PSAP != nil {
			fresh.Routed(j.Device, *r.PSAP, j.ReceivedAt)
		}
	})
	if err != nil {
		return fmt.Errorf("pull: load recent calls: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// What was held, and what arrived while loading, is kept as well.
	for n, e := range c.byNumber {
		if e.fix.ID != "" {
			fresh.Fixed(e.fix)
		}
		for _, r := range e.routed {
			fresh.Routed(n, r.psap, r.at)
		}
	}
	c.byNumber = fresh.byNumber
	return nil
}
