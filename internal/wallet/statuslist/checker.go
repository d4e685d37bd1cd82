package statuslist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ErrFetch is returned when a Status List Token could not be fetched.
var ErrFetch = errors.New("statuslist: fetching the status list token failed")

// CheckerOptions configure a [Checker]. Zero values take the defaults noted.
type CheckerOptions struct {
	Client *http.Client     // http.DefaultClient when nil; redirects are limited and must stay on https
	Keys   KeyResolver      // required
	Now    func() time.Time // time.Now when nil
	Leeway time.Duration    // clock skew tolerated on exp, iat, nbf

	MaxEntries       int           // lists kept in the cache; 64
	MaxResponseBytes int64         // largest token accepted; 1 MiB
	MaxListBytes     int           // largest decompressed list; DefaultMaxListBytes
	Timeout          time.Duration // per fetch; 10 s

	// Bounds on how long a token is cached (§11.5, §13.7): a token's ttl is
	// clamped to [MinTTL, MaxTTL]; a token without ttl is kept until its exp
	// or DefaultTTL, whichever comes first, and never past MaxTTL.
	MinTTL     time.Duration // 10 s
	MaxTTL     time.Duration // 24 h
	DefaultTTL time.Duration // 5 min
}

// Checker answers the status of Referenced Tokens for a verifier (§8): it
// fetches Status List Tokens over HTTPS, verifies them and caches them for
// their ttl, never past their exp. It is safe for concurrent use.
type Checker struct {
	opts   CheckerOptions
	client *http.Client

	mu       sync.Mutex
	cache    map[string]*cacheEntry
	inflight map[string]*fetchCall
}

// fetchCall is one fetch that concurrent checks of the same URI wait for.
type fetchCall struct {
	done chan struct{}
	list *List
	err  error
}

type cacheEntry struct {
	list       *List
	freshUntil time.Time
	lastUsed   time.Time
}

// NewChecker returns a Checker; opts.Keys is required.
func NewChecker(opts CheckerOptions) (*Checker, error) {
	if opts.Keys == nil {
		return nil, errors.New("statuslist: checker needs a key resolver")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 64
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 1 << 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MinTTL <= 0 {
		opts.MinTTL = 10 * time.Second
	}
	if opts.MaxTTL <= 0 {
		opts.MaxTTL = 24 * time.Hour
	}
	if opts.DefaultTTL <= 0 {
		opts.DefaultTTL = 5 * time.Minute
	}
	if opts.MaxTTL < opts.MinTTL {
		return nil, errors.New("statuslist: MaxTTL below MinTTL")
	}
	base := opts.Client
	if base == nil {
		base = http.DefaultClient
	}
	client := *base
	// §8.2 lets the provider redirect and §11.4 asks clients to bound
	// redirects (RFC 9110 §15.4); they must also stay on https.
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("statuslist: too many redirects")
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("statuslist: redirect to %s refused", req.URL.Scheme)
		}
		if base.CheckRedirect != nil {
			return base.CheckRedirect(req, via)
		}
		return nil
	}
	return &Checker{
		opts: opts, client: &client,
		cache: map[string]*cacheEntry{}, inflight: map[string]*fetchCall{},
	}, nil
}

// Status returns the status of the entry ref points to (§8.3 steps 2 to 7).
// An error means no statement can be made and the Referenced Token should be
// rejected; an index beyond the list's end is such an error
// (ErrIndexOutOfRange).
func (c *Checker) Status(ctx context.Context, ref Reference) (Status, error) {
	if err := ref.Validate(); err != nil {
		return 0, err
	}
	l, err := c.list(ctx, ref.URI)
	if err != nil {
		return 0, err
	}
	return l.Get(ref.Idx)
}

// Forget drops the cached token for uri, if any.
func (c *Checker) Forget(uri string) {
	c.mu.Lock()
	delete(c.cache, uri)
	c.mu.Unlock()
}

func (c *Checker) list(ctx context.Context, uri string) (*List, error) {
	now := c.opts.Now()
	c.mu.Lock()
	if e, ok := c.cache[uri]; ok && now.Before(e.freshUntil) {
		e.lastUsed = now
		c.mu.Unlock()
		return e.list, nil
	}
	// One fetch per URI at a time: the others wait for its result.
	if call, ok := c.inflight[uri]; ok {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.list, call.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v", ErrFetch, ctx.Err())
		}
	}
	call := &fetchCall{done: make(chan struct{})}
	c.inflight[uri] = call
	c.mu.Unlock()

	// The fetch is not tied to the first caller's cancellation, which would
	// fail the callers waiting for it; the Timeout still bounds it.
	tok, err := c.fetch(context.WithoutCancel(ctx), uri)

	c.mu.Lock()
	delete(c.inflight, uri)
	if err == nil {
		now = c.opts.Now()
		if _, ok := c.cache[uri]; !ok && len(c.cache) >= c.opts.MaxEntries {
			c.evictLocked()
		}
		c.cache[uri] = &cacheEntry{list: tok.List, freshUntil: now.Add(c.lifetime(tok, now)), lastUsed: now}
		call.list = tok.List
	}
	call.err = err
	c.mu.Unlock()
	close(call.done)
	return call.list, call.err
}

// lifetime is how long a fetched token is used before a fresh copy is
// fetched: §13.7's recommended "ttl after the time of fetching", bounded as
// §11.5 asks, and never beyond exp (§8.3 step 4c).
func (c *Checker) lifetime(t *Token, now time.Time) time.Duration {
	d := t.TTL
	if d == 0 {
		d = c.opts.DefaultTTL
	}
	d = max(c.opts.MinTTL, min(d, c.opts.MaxTTL))
	if !t.Expiry.IsZero() {
		d = min(d, t.Expiry.Sub(now))
	}
	return d
}

// evictLocked drops the least recently used entry.
func (c *Checker) evictLocked() {
	var oldest string
	var at time.Time
	for k, e := range c.cache {
		if oldest == "" || e.lastUsed.Before(at) {
			oldest, at = k, e.lastUsed
		}
	}
	delete(c.cache, oldest)
}

func (c *Checker) fetch(ctx context.Context, uri string) (*Token, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("%w: %q is not an https URI", ErrFetch, uri)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	// §8.1: content negotiation for the JWT format.
	req.Header.Set("Accept", MediaType)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%w: %s answered %s", ErrFetch, uri, resp.Status)
	}
	// §8.2: the provider must answer with the JWT media type.
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != MediaType {
		return nil, fmt.Errorf("%w: content type %q", ErrFetch, resp.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFetch, err)
	}
	if int64(len(body)) > c.opts.MaxResponseBytes {
		return nil, fmt.Errorf("%w: response above %d bytes", ErrFetch, c.opts.MaxResponseBytes)
	}
	return ParseToken(ctx, body, VerifyOptions{
		URI:          uri,
		Keys:         c.opts.Keys,
		Now:          c.opts.Now,
		Leeway:       c.opts.Leeway,
		MaxListBytes: c.opts.MaxListBytes,
	})
}
