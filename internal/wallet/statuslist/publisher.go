package statuslist

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PublisherOptions configure a [Publisher].
type PublisherOptions struct {
	URI    string // the list's URI, the tokens' sub (§5.1); required
	List   *List  // initial statuses; copied; required
	Signer Signer // required
	// TTL is the token's ttl claim and the HTTP max-age (§5.1, §13.7);
	// 5 min when zero. Validity is exp - iat; 24 h when zero, and at least
	// twice TTL so that a cached copy never outlives its exp.
	TTL            time.Duration
	Validity       time.Duration
	Now            func() time.Time // time.Now when nil
	AggregationURI string
}

// Publisher holds one status list and serves its current Status List Token
// (§8.1, §8.2). It signs a new token only when the list changed or the
// current one would expire before a copy fetched now is due for refresh
// (iat + Validity - TTL). It is safe for concurrent use.
type Publisher struct {
	opts PublisherOptions

	mu     sync.Mutex
	list   *List
	dirty  bool
	token  []byte
	iat    time.Time
	exp    time.Time
	etag   string
	signed int // number of signatures made, for tests and metrics
}

// NewPublisher returns a Publisher for opts.List.
func NewPublisher(opts PublisherOptions) (*Publisher, error) {
	if opts.URI == "" || opts.List == nil || opts.Signer.Key == nil {
		return nil, errors.New("statuslist: publisher needs a URI, a list and a signer")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TTL == 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.Validity == 0 {
		opts.Validity = 24 * time.Hour
	}
	if opts.TTL < time.Second || opts.Validity < 2*opts.TTL {
		return nil, errors.New("statuslist: TTL must be at least 1 s and Validity at least twice TTL")
	}
	return &Publisher{opts: opts, list: opts.List.Clone(), dirty: true}, nil
}

// Set changes the status of entry i, e.g. to [Invalid] when a citizen
// revokes a credential; the next token served reflects it.
func (p *Publisher) Set(i int, s Status) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old, err := p.list.Get(i)
	if err != nil {
		return err
	}
	if old == s {
		return nil
	}
	if err := p.list.Set(i, s); err != nil {
		return err
	}
	p.dirty = true
	return nil
}

// Get returns the status of entry i as the issuer knows it.
func (p *Publisher) Get(i int) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.list.Get(i)
}

// Signatures returns how many tokens the Publisher has signed.
func (p *Publisher) Signatures() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signed
}

// Token returns the current Status List Token and its expiry, signing a new
// one if needed.
func (p *Publisher) Token() ([]byte, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	if err := p.refreshLocked(now); err != nil {
		return nil, time.Time{}, err
	}
	return p.token, p.exp, nil
}

func (p *Publisher) refreshLocked(now time.Time) error {
	if p.token != nil && !p.dirty && now.Add(p.opts.TTL).Before(p.exp) {
		return nil
	}
	t := Token{
		Subject:        p.opts.URI,
		IssuedAt:       now,
		Expiry:         now.Add(p.opts.Validity),
		TTL:            p.opts.TTL,
		List:           p.list,
		AggregationURI: p.opts.AggregationURI,
	}
	tok, err := t.Sign(p.opts.Signer)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(tok)
	p.token, p.iat, p.exp, p.dirty = tok, t.IssuedAt, t.Expiry, false
	p.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	p.signed++
	return nil
}

// ServeHTTP answers GET and HEAD with the current token as
// application/statuslist+jwt (§8.2), Cache-Control max-age from the ttl
// (never beyond exp), an ETag, and CORS for browser-based clients (§8.1).
// It answers 406 to an Accept header that excludes the JWT format and 501
// to the historical `time` query it does not support (§8.4).
func (p *Publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Query().Has("time") {
		http.Error(w, "historical resolution is not supported", http.StatusNotImplemented)
		return
	}
	w.Header().Set("Vary", "Accept")
	if !acceptsJWT(r.Header.Values("Accept")) {
		http.Error(w, "only "+MediaType+" is served", http.StatusNotAcceptable)
		return
	}
	p.mu.Lock()
	now := p.opts.Now()
	err := p.refreshLocked(now)
	tok, iat, exp, etag := p.token, p.iat, p.exp, p.etag
	p.mu.Unlock()
	if err != nil {
		http.Error(w, "status list unavailable", http.StatusInternalServerError)
		return
	}
	maxAge := min(p.opts.TTL, exp.Sub(now)) / time.Second
	h := w.Header()
	h.Set("Content-Type", MediaType)
	h.Set("Cache-Control", "public, max-age="+strconv.FormatInt(int64(maxAge), 10))
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", iat, bytes.NewReader(tok))
}

// acceptsJWT reports whether the Accept header values admit
// application/statuslist+jwt (RFC 9110 §12.5.1); no header admits anything.
func acceptsJWT(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			if mt == MediaType || mt == "application/*" || mt == "*/*" {
				return true
			}
		}
	}
	return false
}

var _ http.Handler = (*Publisher)(nil)
