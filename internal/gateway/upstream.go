package gateway

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"socle/internal/gateway/spec"
)

// target is one upstream URL of an API, with its health. Targets outlive catalogue reloads:
// an API whose upstreams did not change keeps its targets, their health and their counts.
type target struct {
	url *url.URL
	raw string
	// self, for an upstream socle://interconnect/PATH, is where this process's interconnect
	// is bound (service.Env.InterconnectURL); the target's address is read from it once
	// bound.
	self     func() string
	resolved atomic.Pointer[url.URL]
	inflight atomic.Int64
	// failures counts network failures in a row (passive check); down is set after
	// unhealthy of them, or by the active check, and cleared by a success.
	failures  atomic.Int32
	successes atomic.Int32
	down      atomic.Bool
	downSince atomic.Int64 // unix nanoseconds
}

// passiveRetry is how long a target marked down by failed calls is left alone before calls
// try it again (when no active check says it is back first).
const passiveRetry = 10 * time.Second

// where is the target's address: its URL, or for socle's own interconnect the address it is
// bound to (nil before it is).
func (t *target) where() *url.URL {
	if t.self == nil {
		return t.url
	}
	if u := t.resolved.Load(); u != nil {
		return u
	}
	bound := t.self()
	if bound == "" {
		return nil
	}
	u, err := url.Parse(bound)
	if err != nil {
		return nil
	}
	u.Path = t.url.Path
	t.resolved.Store(u)
	return u
}

func (t *target) available(now time.Time) bool {
	return !t.down.Load() || now.UnixNano()-t.downSince.Load() > int64(passiveRetry)
}

func (t *target) failed(unhealthy int) {
	t.successes.Store(0)
	if int(t.failures.Add(1)) >= unhealthy && !t.down.Swap(true) {
		t.downSince.Store(time.Now().UnixNano())
	} else if t.down.Load() {
		t.downSince.Store(time.Now().UnixNano())
	}
}

func (t *target) succeeded(healthy int) {
	t.failures.Store(0)
	if t.down.Load() && int(t.successes.Add(1)) >= healthy {
		t.down.Store(false)
	}
}

// pool is an API's upstreams and how to choose among them.
type pool struct {
	targets   []*target
	balance   string
	unhealthy int
	healthy   int
	next      atomic.Uint64
}

// pick returns a target not in tried: round robin, or the fewer requests in flight of two
// taken at random (least_requests: "the power of two choices"), among the available ones;
// when none is available, any not yet tried, so that a call still has its chance.
func (p *pool) pick(tried []*target) *target {
	now := time.Now()
	n := len(p.targets)
	ok := func(t *target, strict bool) bool {
		for _, u := range tried {
			if u == t {
				return false
			}
		}
		return !strict || t.available(now)
	}
	for _, strict := range []bool{true, false} {
		if p.balance == "least_requests" && n > 1 {
			var best *target
			for range 2 {
				t := p.targets[rand.IntN(n)]
				if ok(t, strict) && (best == nil || t.inflight.Load() < best.inflight.Load()) {
					best = t
				}
			}
			if best != nil {
				return best
			}
		}
		start := int(p.next.Add(1) - 1)
		for i := range n {
			if t := p.targets[(start+i)%n]; ok(t, strict) {
				return t
			}
		}
	}
	return nil
}

// targets keeps one target per upstream URL across reloads, and the active health checks of
// the APIs that ask for them.
type targets struct {
	mu     sync.Mutex
	byURL  map[string]*target
	checks map[string]*check // by API name
	client *http.Client
	logger *slog.Logger
	self   func() string // service.Env.InterconnectURL
}

func newTargets(client *http.Client, logger *slog.Logger, self func() string) *targets {
	return &targets{byURL: map[string]*target{}, checks: map[string]*check{}, client: client, logger: logger, self: self}
}

// pool builds the pool of an API, reusing the targets of URLs already known.
func (ts *targets) pool(a spec.API) *pool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	p := &pool{balance: a.Balance, unhealthy: 3, healthy: 1}
	if a.Health != nil {
		p.unhealthy, p.healthy = a.Health.Unhealthy, a.Health.Healthy
	}
	for _, raw := range a.Upstreams {
		t := ts.byURL[raw]
		if t == nil {
			u, _ := url.Parse(raw) // checked by spec
			u.Path = strings.TrimSuffix(u.Path, "/")
			t = &target{url: u, raw: raw}
			if u.Scheme == spec.SelfScheme {
				t.self = ts.self
			}
			ts.byURL[raw] = t
		}
		p.targets = append(p.targets, t)
	}
	return p
}

// check is the active health check of one API.
type check struct {
	key    string // what it checks: a new one replaces it when this changes
	cancel context.CancelFunc
	done   chan struct{}
}

// sync runs the active checks the APIs ask for, and stops those of APIs gone or changed.
func (ts *targets) sync(ctx context.Context, apis map[string]*apiRoute) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	want := map[string]bool{}
	for name, r := range apis {
		h := r.api.Health
		if h == nil {
			continue
		}
		key := strings.Join(r.api.Upstreams, " ") + "|" + h.Path + "|" + time.Duration(h.Interval).String()
		want[name] = true
		if c := ts.checks[name]; c != nil {
			if c.key == key {
				continue
			}
			c.cancel()
			<-c.done
		}
		cctx, cancel := context.WithCancel(ctx)
		c := &check{key: key, cancel: cancel, done: make(chan struct{})}
		ts.checks[name] = c
		go ts.run(cctx, c, r.pool, *h)
	}
	for name, c := range ts.checks {
		if !want[name] {
			c.cancel()
			<-c.done
			delete(ts.checks, name)
		}
	}
}

func (ts *targets) run(ctx context.Context, c *check, p *pool, h spec.Health) {
	defer close(c.done)
	tick := time.NewTicker(time.Duration(h.Interval))
	defer tick.Stop()
	for {
		for _, t := range p.targets {
			ts.probe(ctx, t, p, h.Path)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (ts *targets) probe(ctx context.Context, t *target, p *pool, path string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := t.where()
	if u == nil {
		return // not bound yet
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+path, nil)
	res, err := ts.client.Do(req)
	if err == nil {
		res.Body.Close()
	}
	switch {
	case ctx.Err() != nil && err != nil:
	case err != nil || res.StatusCode >= 500:
		was := t.down.Load()
		t.failed(p.unhealthy)
		if !was && t.down.Load() {
			ts.logger.Warn("gateway: upstream down", "upstream", t.raw, "error", errText(err, res))
		}
	default:
		was := t.down.Load()
		t.succeeded(p.healthy)
		if was && !t.down.Load() {
			ts.logger.Info("gateway: upstream back", "upstream", t.raw)
		}
	}
}

// stop ends every active check.
func (ts *targets) stop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for name, c := range ts.checks {
		c.cancel()
		<-c.done
		delete(ts.checks, name)
	}
}

func errText(err error, res *http.Response) string {
	if err != nil {
		return err.Error()
	}
	return res.Status
}
