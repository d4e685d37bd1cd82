package statuslist

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func newTestPublisher(t *testing.T) (*Publisher, *clock, any) {
	t.Helper()
	key := newKey(t)
	clk := newClock()
	l, _ := NewList(2, 64)
	p, err := NewPublisher(PublisherOptions{
		URI: listURI, List: l, Signer: Signer{Key: key},
		TTL: 5 * time.Minute, Validity: time.Hour, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, clk, &key.PublicKey
}

func get(p http.Handler, header http.Header, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func TestPublisherServesTheTokenWithCachingHeaders(t *testing.T) {
	p, clk, pub := newTestPublisher(t)
	p.Set(3, Suspended)
	w := get(p, http.Header{"Accept": {MediaType}}, "/statuslists/1")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	for name, want := range map[string]string{
		"Content-Type":                "application/statuslist+jwt",
		"Cache-Control":               "public, max-age=300",
		"Access-Control-Allow-Origin": "*",
		"Vary":                        "Accept",
	} {
		if got := w.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	tok, err := ParseToken(context.Background(), w.Body.Bytes(), VerifyOptions{
		URI: listURI, Keys: StaticKey(jwa.ES256(), pub), Now: clk.Now, Bits: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := tok.List.Get(3); s != Suspended {
		t.Errorf("entry 3 = %s", s)
	}
	if tok.TTL != 5*time.Minute || tok.Expiry.Sub(tok.IssuedAt) != time.Hour {
		t.Errorf("ttl %s, validity %s", tok.TTL, tok.Expiry.Sub(tok.IssuedAt))
	}

	// A conditional request with the ETag is answered 304.
	w2 := get(p, http.Header{"If-None-Match": {w.Header().Get("ETag")}}, "/statuslists/1")
	if w2.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d", w2.Code)
	}
}

func TestPublisherReSignsOnlyOnChangeOrNearExpiry(t *testing.T) {
	p, clk, _ := newTestPublisher(t)
	get(p, nil, "/")
	get(p, nil, "/")
	if n := p.Signatures(); n != 1 {
		t.Fatalf("%d signatures for two unchanged GETs, want 1", n)
	}
	p.Set(5, Valid) // already VALID: no change
	get(p, nil, "/")
	if n := p.Signatures(); n != 1 {
		t.Fatalf("%d signatures after a no-op Set, want 1", n)
	}
	p.Set(5, Invalid)
	p.Set(6, Invalid) // two changes, one new token
	get(p, nil, "/")
	if n := p.Signatures(); n != 2 {
		t.Fatalf("%d signatures after a change, want 2", n)
	}
	// The token lives an hour; once a copy fetched now would outlive it
	// within its ttl (55 minutes on), a new one is signed.
	clk.Advance(55*time.Minute - time.Second)
	w := get(p, nil, "/")
	if n := p.Signatures(); n != 2 {
		t.Fatalf("%d signatures before the refresh point, want 2", n)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control %q", cc)
	}
	clk.Advance(time.Second)
	get(p, nil, "/")
	if n := p.Signatures(); n != 3 {
		t.Fatalf("%d signatures at the refresh point, want 3", n)
	}
}

func TestPublisherRefusals(t *testing.T) {
	p, _, _ := newTestPublisher(t)
	if w := get(p, http.Header{"Accept": {"text/html"}}, "/"); w.Code != http.StatusNotAcceptable {
		t.Errorf("Accept text/html: %d", w.Code)
	}
	if w := get(p, http.Header{"Accept": {"application/statuslist+cwt"}}, "/"); w.Code != http.StatusNotAcceptable {
		t.Errorf("Accept CWT: %d", w.Code)
	}
	if w := get(p, http.Header{"Accept": {"application/statuslist+jwt;q=0, text/html"}}, "/"); w.Code != http.StatusNotAcceptable {
		t.Errorf("Accept q=0: %d", w.Code)
	}
	if w := get(p, http.Header{"Accept": {"text/html, */*;q=0.1"}}, "/"); w.Code != http.StatusOK {
		t.Errorf("Accept */*: %d", w.Code)
	}
	if w := get(p, nil, "/?time=1686925000"); w.Code != http.StatusNotImplemented {
		t.Errorf("historical request: %d", w.Code)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	if err := p.Set(64, Invalid); err == nil {
		t.Error("Set beyond the list")
	}
	if err := p.Set(0, 0x04); err == nil {
		t.Error("Set a value wider than 2 bits")
	}
}
