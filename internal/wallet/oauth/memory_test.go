package oauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrMemoryFull is returned when a Memory holds its maximum of unexpired entries of a kind.
var ErrMemoryFull = errors.New("oauth: memory store full")

// Memory implements every store of a Server in memory, for tests and a single instance. Each
// kind holds at most a fixed number of entries; expired ones are dropped when it is full.
type Memory struct {
	mu      sync.Mutex
	max     int
	clock   Clock
	pushed  map[string]AuthorizationRequest
	codes   map[string]AuthorizationCode
	preauth map[string]PreAuthorizedGrant
	tokens  map[string]AccessToken
	cnonces map[string]time.Time
}

var (
	_ PARStore     = (*Memory)(nil)
	_ CodeStore    = (*Memory)(nil)
	_ PreAuthStore = (*Memory)(nil)
	_ TokenStore   = (*Memory)(nil)
	_ CNonceStore  = (*Memory)(nil)
)

// NewMemory holds at most max entries of each kind (100 000 when max ≤ 0).
func NewMemory(max int, clock Clock) *Memory {
	if max <= 0 {
		max = 100_000
	}
	return &Memory{
		max: max, clock: clock,
		pushed: map[string]AuthorizationRequest{}, codes: map[string]AuthorizationCode{},
		preauth: map[string]PreAuthorizedGrant{}, tokens: map[string]AccessToken{}, cnonces: map[string]time.Time{},
	}
}

// put stores v under key in m, first dropping expired entries if m is full.
func put[V any](mem *Memory, m map[string]V, key string, v V, expiry func(V) time.Time) error {
	if _, ok := m[key]; !ok && len(m) >= mem.max {
		now := mem.clock.now()
		for k, old := range m {
			if !now.Before(expiry(old)) {
				delete(m, k)
			}
		}
		if len(m) >= mem.max {
			return ErrMemoryFull
		}
	}
	m[key] = v
	return nil
}

// take removes and returns the entry under key.
func take[V any](m map[string]V, key string) (*V, error) {
	v, ok := m[key]
	if !ok {
		return nil, nil
	}
	delete(m, key)
	return &v, nil
}

// SavePushed implements PARStore.
func (m *Memory) SavePushed(_ context.Context, key string, req AuthorizationRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return put(m, m.pushed, key, req, func(r AuthorizationRequest) time.Time { return r.ExpiresAt })
}

// TakePushed implements PARStore.
func (m *Memory) TakePushed(_ context.Context, key string) (*AuthorizationRequest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return take(m.pushed, key)
}

// SaveCode implements CodeStore.
func (m *Memory) SaveCode(_ context.Context, key string, code AuthorizationCode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return put(m, m.codes, key, code, func(c AuthorizationCode) time.Time { return c.ExpiresAt })
}

// TakeCode implements CodeStore.
func (m *Memory) TakeCode(_ context.Context, key string) (*AuthorizationCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return take(m.codes, key)
}

// SavePreAuthorized implements PreAuthStore.
func (m *Memory) SavePreAuthorized(_ context.Context, key string, grant PreAuthorizedGrant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return put(m, m.preauth, key, grant, func(g PreAuthorizedGrant) time.Time { return g.ExpiresAt })
}

// AttemptPreAuthorized implements PreAuthStore.
func (m *Memory) AttemptPreAuthorized(_ context.Context, key string) (*PreAuthorizedGrant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.preauth[key]
	if !ok {
		return nil, nil
	}
	g.Attempts++
	m.preauth[key] = g
	return &g, nil
}

// DeletePreAuthorized implements PreAuthStore.
func (m *Memory) DeletePreAuthorized(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.preauth[key]
	delete(m.preauth, key)
	return ok, nil
}

// SaveToken implements TokenStore.
func (m *Memory) SaveToken(_ context.Context, key string, token AccessToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return put(m, m.tokens, key, token, func(t AccessToken) time.Time { return t.ExpiresAt })
}

// Token implements TokenStore.
func (m *Memory) Token(_ context.Context, key string) (*AccessToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[key]
	if !ok {
		return nil, nil
	}
	return &t, nil
}

// SaveCNonce implements CNonceStore.
func (m *Memory) SaveCNonce(_ context.Context, key string, expiresAt time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return put(m, m.cnonces, key, expiresAt, func(t time.Time) time.Time { return t })
}

// TakeCNonce implements CNonceStore.
func (m *Memory) TakeCNonce(_ context.Context, key string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.cnonces[key]
	delete(m.cnonces, key)
	return t, ok, nil
}
