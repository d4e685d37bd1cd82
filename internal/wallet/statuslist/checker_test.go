package statuslist

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// issuerSite is a wallet issuer's status endpoint on a real TLS server: a
// Publisher per list path, with a count of the requests it answered.
type issuerSite struct {
	srv     *httptest.Server
	clock   *clock
	fetches atomic.Int32
	accept  atomic.Value
	pubs    map[string]*Publisher
}

func newIssuerSite(t *testing.T, key any, lists ...string) *issuerSite {
	t.Helper()
	s := &issuerSite{clock: newClock(), pubs: map[string]*Publisher{}}
	mux := http.NewServeMux()
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.accept.Store(r.Header.Get("Accept"))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	for _, path := range lists {
		l, _ := NewList(1, 1024)
		p, err := NewPublisher(PublisherOptions{
			URI: s.srv.URL + path, List: l, Signer: Signer{Key: key, KeyID: "k1"},
			TTL: 5 * time.Minute, Validity: time.Hour, Now: s.clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.pubs[path] = p
		mux.Handle("GET "+path, p)
	}
	return s
}

func (s *issuerSite) checker(t *testing.T, key any, mod func(*CheckerOptions)) *Checker {
	t.Helper()
	opts := CheckerOptions{
		Client: s.srv.Client(),
		Keys:   StaticKey(jwa.ES256(), key),
		Now:    s.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := NewChecker(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckerSeesARevokedCredentialAsInvalid(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/statuslists/1")
	// A citizen reports a lost phone: the credential at index 42 is revoked.
	if err := site.pubs["/statuslists/1"].Set(42, Invalid); err != nil {
		t.Fatal(err)
	}
	c := site.checker(t, &key.PublicKey, nil)
	uri := site.srv.URL + "/statuslists/1"
	for idx, want := range map[int]Status{42: Invalid, 41: Valid, 43: Valid} {
		got, err := c.Status(context.Background(), Reference{Idx: idx, URI: uri})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("index %d: %s, want %s", idx, got, want)
		}
	}
	if a, _ := site.accept.Load().(string); a != "application/statuslist+jwt" {
		t.Errorf("Accept = %q", a)
	}
	if n := site.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three checks within ttl, want 1", n)
	}
}

func TestCheckerHonoursTTL(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/statuslists/1")
	c := site.checker(t, &key.PublicKey, nil)
	ref := Reference{Idx: 7, URI: site.srv.URL + "/statuslists/1"}
	ctx := context.Background()

	if s, err := c.Status(ctx, ref); err != nil || s != Valid {
		t.Fatalf("first check: %s, %v", s, err)
	}
	site.pubs["/statuslists/1"].Set(7, Invalid)

	site.clock.Advance(5*time.Minute - time.Second)
	if s, err := c.Status(ctx, ref); err != nil || s != Valid {
		t.Fatalf("within ttl: %s, %v; want the cached VALID", s, err)
	}
	if n := site.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within ttl, want 1", n)
	}

	site.clock.Advance(time.Second)
	if s, err := c.Status(ctx, ref); err != nil || s != Invalid {
		t.Fatalf("after ttl: %s, %v; want INVALID", s, err)
	}
	if n := site.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after ttl, want 2", n)
	}
}

func TestCheckerNeverCachesPastExp(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/statuslists/1")
	ref := Reference{Idx: 1, URI: site.srv.URL + "/statuslists/1"}
	// The verifier would keep the token for a day, but the token expires in
	// an hour (Validity) and the publisher refreshes it then.
	c := site.checker(t, &key.PublicKey, func(o *CheckerOptions) { o.MinTTL = 24 * time.Hour; o.MaxTTL = 48 * time.Hour })
	if _, err := c.Status(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	site.clock.Advance(59 * time.Minute)
	c.Status(context.Background(), ref)
	if n := site.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches before exp, want 1", n)
	}
	site.clock.Advance(time.Minute)
	if _, err := c.Status(context.Background(), ref); err != nil {
		t.Fatal(err)
	}
	if n := site.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches at exp, want 2", n)
	}
}

func TestCheckerCacheIsBounded(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/l/1", "/l/2", "/l/3")
	c := site.checker(t, &key.PublicKey, func(o *CheckerOptions) { o.MaxEntries = 2 })
	check := func(path string) {
		t.Helper()
		if _, err := c.Status(context.Background(), Reference{Idx: 0, URI: site.srv.URL + path}); err != nil {
			t.Fatal(err)
		}
	}
	check("/l/1")
	site.clock.Advance(time.Second)
	check("/l/2")
	site.clock.Advance(time.Second)
	check("/l/3") // evicts /l/1, the least recently used
	check("/l/2")
	if n := site.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	check("/l/1")
	if n := site.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches after eviction, want 4", n)
	}
}

func TestCheckerRefusals(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/statuslists/1")
	now := site.clock.Now()
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	serve := func(path, contentType string, body func(uri string) []byte) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.Write(body(srv.URL + path))
		})
	}
	sign := func(tok *Token) []byte {
		b, err := tok.Sign(Signer{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	serve("/wrong-sub", MediaType, func(string) []byte {
		return sign(sampleToken(now, listOf(t, 1, Invalid)))
	})
	serve("/text", "text/plain", func(uri string) []byte {
		return sign(&Token{Subject: uri, IssuedAt: now, List: listOf(t, 1, Invalid)})
	})
	serve("/big", MediaType, func(string) []byte { return []byte(strings.Repeat("a", 8192)) })
	serve("/expired", MediaType, func(uri string) []byte {
		return sign(&Token{Subject: uri, IssuedAt: now.Add(-2 * time.Hour), Expiry: now.Add(-time.Hour), List: listOf(t, 1, Invalid)})
	})
	serve("/bomb", MediaType, func(uri string) []byte {
		l, _ := NewList(1, 8<<20)
		return sign(&Token{Subject: uri, IssuedAt: now, List: l})
	})
	mux.HandleFunc("GET /redirect-to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/wrong-sub", http.StatusFound)
	})

	c, err := NewChecker(CheckerOptions{
		Client: srv.Client(), Keys: StaticKey(jwa.ES256(), &key.PublicKey), Now: site.clock.Now,
		MaxResponseBytes: 4096, MaxListBytes: 1 << 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	good := site.checker(t, &key.PublicKey, nil)
	other := site.checker(t, &newKey(t).PublicKey, nil)
	cases := []struct {
		name string
		c    *Checker
		ref  Reference
		want error
	}{
		{"index beyond the list", good, Reference{Idx: 1024, URI: site.srv.URL + "/statuslists/1"}, ErrIndexOutOfRange},
		{"signed by a key the verifier does not trust", other, Reference{Idx: 0, URI: site.srv.URL + "/statuslists/1"}, ErrSignature},
		{"sub names another list", c, Reference{Idx: 0, URI: srv.URL + "/wrong-sub"}, ErrSubject},
		{"served as text/plain", c, Reference{Idx: 0, URI: srv.URL + "/text"}, ErrFetch},
		{"response above the bound", c, Reference{Idx: 0, URI: srv.URL + "/big"}, ErrFetch},
		{"expired token", c, Reference{Idx: 0, URI: srv.URL + "/expired"}, ErrExpired},
		{"list decompresses beyond the bound", c, Reference{Idx: 0, URI: srv.URL + "/bomb"}, ErrTooLarge},
		{"not found", c, Reference{Idx: 0, URI: srv.URL + "/nothing"}, ErrFetch},
		{"plain http", c, Reference{Idx: 0, URI: "http://wallet.example.be/statuslists/1"}, ErrFetch},
		{"redirect to http", c, Reference{Idx: 0, URI: srv.URL + "/redirect-to-http"}, ErrFetch},
		{"negative index", c, Reference{Idx: -1, URI: srv.URL + "/wrong-sub"}, ErrReference},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.c.Status(context.Background(), tc.ref)
			if !errors.Is(err, tc.want) {
				t.Fatalf("status %s, err = %v, want %v", s, err, tc.want)
			}
		})
	}
}

func TestCheckerConcurrentChecksShareOneFetch(t *testing.T) {
	key := newKey(t)
	site := newIssuerSite(t, key, "/statuslists/1")
	site.pubs["/statuslists/1"].Set(9, Invalid)
	c := site.checker(t, &key.PublicKey, nil)
	ref := Reference{Idx: 9, URI: site.srv.URL + "/statuslists/1"}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			s, err := c.Status(context.Background(), ref)
			if err == nil && s != Invalid {
				err = errors.New("not INVALID: " + s.String())
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := site.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 8 concurrent checks, want 1", n)
	}
}
