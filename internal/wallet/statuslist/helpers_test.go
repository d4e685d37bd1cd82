package statuslist

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"sync"
	"testing"
	"time"
)

// clock is an injectable clock shared by issuers and verifiers in tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// listOf builds a list whose first entries hold statuses.
func listOf(t testing.TB, bits int, statuses ...Status) *List {
	t.Helper()
	l, err := NewList(bits, len(statuses))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range statuses {
		if err := l.Set(i, s); err != nil {
			t.Fatal(err)
		}
	}
	return l
}
