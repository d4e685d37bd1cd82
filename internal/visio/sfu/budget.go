package sfu

import "time"

const (
	initialEstimate = 50_000_000 // bit/s, until the receiver's feedback says otherwise
	congested       = 0.8        // estimate below this share of what is sent: step down
	stepDownEvery   = 2 * time.Second
	firstStepUp     = 4 * time.Second
	lastStepUp      = 64 * time.Second
)

// budget turns a receiver's bandwidth estimate into a number of simulcast layers to step
// down from what it asked for. The estimate of a send-side estimator never climbs far above
// what is sent, so it can say "too much" but not "more would fit": the budget steps down
// when the estimate falls well below the rate sent, and steps up again after a quiet
// period, which doubles each time a step up is soon followed by a step down.
type budget struct {
	drop       int // layers to step down, 0 to layerCount-1
	lastDown   time.Time
	lastUp     time.Time
	nextUp     time.Time
	upInterval time.Duration
}

// update takes the estimate and the rate sent, both in bit/s, and returns the drop.
// An estimate of 0 means none is known.
func (b *budget) update(now time.Time, estimate, sent uint64) int {
	if b.upInterval == 0 {
		b.upInterval = firstStepUp
	}
	if estimate > 0 && sent > 0 && float64(estimate) < congested*float64(sent) {
		if b.drop < layerCount-1 && now.Sub(b.lastDown) >= stepDownEvery {
			if !b.lastUp.IsZero() && now.Sub(b.lastUp) < 2*b.upInterval {
				b.upInterval = min(2*b.upInterval, lastStepUp)
			} else {
				b.upInterval = firstStepUp
			}
			b.drop++
			b.lastDown = now
		}
		b.nextUp = now.Add(b.upInterval)
		return b.drop
	}
	if b.drop > 0 && !now.Before(b.nextUp) {
		b.drop--
		b.lastUp = now
		b.nextUp = now.Add(b.upInterval)
	}
	return b.drop
}
