package oauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrReplayStoreFull is returned when a MemoryReplay holds its maximum of unexpired entries:
// it refuses rather than forget an entry early, which would let a replay through.
var ErrReplayStoreFull = errors.New("replay store full")

// MemoryReplay is a ReplayStore in memory, for one instance, holding at most a fixed number
// of unexpired entries.
type MemoryReplay struct {
	mu    sync.Mutex
	max   int
	until map[string]time.Time
	clock Clock
}

var _ ReplayStore = (*MemoryReplay)(nil)

// NewMemoryReplay holds at most max entries (100 000 when max ≤ 0).
func NewMemoryReplay(max int, clock Clock) *MemoryReplay {
	if max <= 0 {
		max = 100_000
	}
	return &MemoryReplay{max: max, until: make(map[string]time.Time), clock: clock}
}

// Seen implements ReplayStore.
func (m *MemoryReplay) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.now()
	if t, ok := m.until[key]; ok && now.Before(t) {
		return true, nil
	}
	if len(m.until) >= m.max {
		m.sweep(now)
		if len(m.until) >= m.max {
			return false, ErrReplayStoreFull
		}
	}
	m.until[key] = until
	return false, nil
}

// Len is the number of entries held, expired ones included until the next sweep.
func (m *MemoryReplay) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.until)
}

func (m *MemoryReplay) sweep(now time.Time) {
	for k, t := range m.until {
		if !now.Before(t) {
			delete(m.until, k)
		}
	}
}
