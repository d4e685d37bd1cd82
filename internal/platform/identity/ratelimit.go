package identity

import (
	"sync"
	"time"
)

// Sign-in attempts: at most LoginAttempts failures per email and client address in any
// LoginWindow. Counted in memory, per process: a restart or another replica starts afresh,
// which still bounds guessing to a few dozen tries an hour.
const (
	LoginAttempts = 10
	LoginWindow   = 15 * time.Minute
)

// limiter keeps, per key, the times of the recent failures.
type limiter struct {
	max    int
	window time.Duration

	mu    sync.Mutex
	fails map[string][]time.Time
	swept time.Time
}

func newLimiter(max int, window time.Duration) *limiter {
	return &limiter{max: max, window: window, fails: map[string][]time.Time{}}
}

// wait returns how long key must wait before its next attempt; zero when it may try now.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	recent := l.recent(key, now)
	if len(recent) < l.max {
		return 0
	}
	return recent[len(recent)-l.max].Add(l.window).Sub(now)
}

// fail records a failed attempt of key.
func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.recent(key, now)
	if len(recent) >= l.max {
		recent = recent[len(recent)-l.max+1:]
	}
	l.fails[key] = append(recent, now)
}

// reset forgets key's failures, after a success.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

// recent drops key's failures older than the window and returns the rest, oldest first.
func (l *limiter) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-l.window)) {
		i++
	}
	if i == len(ts) {
		delete(l.fails, key)
		return nil
	}
	if i > 0 {
		l.fails[key] = ts[i:]
	}
	return ts[i:]
}

// sweep forgets the keys with no recent failure, once per window, so that the map does not
// grow with every address that ever failed.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.window {
		return
	}
	l.swept = now
	for k := range l.fails {
		l.recent(k, now)
	}
}
