package pull

import (
	"fmt"
	"testing"
	"time"

	"socle/internal/emergency/delivery"
)

func fix(id, device string, at time.Time, lat float64) delivery.Job {
	return delivery.Job{ID: id, Device: device, ReceivedAt: at, Lat: lat, Lon: 2.35}
}

func TestTheNewestFixAnswersUntilItIsTooOld(t *testing.T) {
	c := NewCalls(10 * time.Minute)
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c.Fixed(fix("a", "+33612345678", t0, 48.1))
	c.Fixed(fix("b", "+33612345678", t0.Add(time.Minute), 48.2))
	c.Fixed(fix("late", "+33612345678", t0.Add(30*time.Second), 48.9)) // arrives after b, but older
	j, ok := c.Fix("+33612345678", t0.Add(2*time.Minute))
	if !ok || j.ID != "b" || j.Lat != 48.2 {
		t.Fatalf("fix %+v %v, want b", j, ok)
	}
	if _, ok := c.Fix("+33612345678", t0.Add(11*time.Minute)); ok {
		t.Error("a fix 10 minutes old still answers")
	}
	if _, ok := c.Fix("+33699999999", t0); ok {
		t.Error("a number never seen has a fix")
	}
}

func TestARoutingCountsForItsPSAPOnlyAndOnlyForMaxAge(t *testing.T) {
	c := NewCalls(10 * time.Minute)
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c.Routed("+33612345678", "samu-75", t0)
	c.Routed("+33612345678", "samu-75", t0.Add(-time.Hour)) // an older routing does not shorten it
	if !c.RoutedTo("+33612345678", "samu-75", t0.Add(9*time.Minute)) {
		t.Error("routed 9 minutes ago: not recognised")
	}
	if c.RoutedTo("+33612345678", "samu-69", t0) {
		t.Error("another PSAP counts as routed to")
	}
	if c.RoutedTo("+33612345678", "samu-75", t0.Add(10*time.Minute)) {
		t.Error("routed 10 minutes ago still counts")
	}
}

func TestSweepForgetsOnlyWhatIsTooOld(t *testing.T) {
	c := NewCalls(10 * time.Minute)
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c.Fixed(fix("old", "+33600000001", t0, 48))
	c.Routed("+33600000001", "samu-75", t0)
	c.Fixed(fix("new", "+33600000002", t0.Add(5*time.Minute), 48))
	c.Routed("+33600000003", "samu-75", t0.Add(5*time.Minute))
	c.Sweep(t0.Add(12 * time.Minute))
	if c.Len() != 2 {
		t.Fatalf("%d numbers held after the sweep, want 2", c.Len())
	}
	if _, ok := c.Fix("+33600000002", t0.Add(12*time.Minute)); !ok {
		t.Error("a 7-minute-old fix was swept")
	}
	if !c.RoutedTo("+33600000003", "samu-75", t0.Add(12*time.Minute)) {
		t.Error("a 7-minute-old routing was swept")
	}
}

func TestFixesWithoutANumberOrAnIDAreIgnored(t *testing.T) {
	c := NewCalls(time.Minute)
	c.Fixed(delivery.Job{ID: "x"})
	c.Fixed(delivery.Job{Device: "+33600000001"})
	c.Routed("", "samu-75", time.Now())
	c.Routed("+33600000001", "", time.Now())
	if c.Len() != 0 {
		t.Fatalf("%d numbers held", c.Len())
	}
}

func BenchmarkFix(b *testing.B) {
	c := NewCalls(10 * time.Minute)
	now := time.Now()
	for i := range 100_000 {
		c.Fixed(fix("m", fmt.Sprintf("+336%08d", i), now, 48))
	}
	c.Fixed(fix("m", "+33612345678", now, 48))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Fix("+33612345678", now); !ok {
			b.Fatal("not found")
		}
	}
}

// TestAFixIsAsOldAsItsPosition: the README's example once sent top=20261124141930 nine days
// later, and the fix was served as current, its age counted from its receipt. The age counts
// from the fix's own time (SMS top, HTTPS location_time), bounded by the time of receipt
// when the handset's clock runs ahead.
func TestAFixIsAsOldAsItsPosition(t *testing.T) {
	c := NewCalls(10 * time.Minute)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	stale := fix("stale", "+33612345678", now.Add(-time.Second), 48.1)
	nineDaysAgo := now.Add(-9 * 24 * time.Hour)
	stale.LocatedAt = &nineDaysAgo
	c.Fixed(stale)
	if _, ok := c.Fix("+33612345678", now); ok {
		t.Error("a position nine days old, received a second ago, is served as current")
	}

	ahead := fix("ahead", "+33687654321", now.Add(-11*time.Minute), 48.2)
	tomorrow := now.Add(24 * time.Hour) // the handset's clock is a day ahead
	ahead.LocatedAt = &tomorrow
	c.Fixed(ahead)
	if got := FixTime(ahead); !got.Equal(ahead.ReceivedAt) {
		t.Errorf("fix time %s, want the time of receipt %s", got, ahead.ReceivedAt)
	}
	if _, ok := c.Fix("+33687654321", now); ok {
		t.Error("a fix received 11 minutes ago, dated tomorrow by its handset, is served as current")
	}
	c.Sweep(now)
	if c.Len() != 0 {
		t.Errorf("%d numbers held after the sweep, want none", c.Len())
	}
}
