package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyzSaysWhichCheckFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	for _, c := range []struct {
		checks []Check
		status int
		body   string
	}{
		{[]Check{{"database", ok}, {"emergency", ok}}, 200, `"database":"ok"`},
		{[]Check{{"database", down}, {"emergency", ok}}, 503, `"database":"connection refused"`},
	} {
		rec := httptest.NewRecorder()
		OpsHandler(reg, c.checks).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("readyz: %d %s", rec.Code, rec.Body)
		}
	}
}

func TestEveryRequestGetsADistinctIDAndPanicsBecomeProblems(t *testing.T) {
	h := Middleware(slog.New(slog.NewTextHandler(io.Discard, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		if RequestID(r.Context()) == "" {
			t.Error("no request id in the context")
		}
	}))
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		id := rec.Header().Get("X-Request-Id")
		if id == "" || seen[id] {
			t.Fatalf("request id %q repeated or missing", id)
		}
		seen[id] = true
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/panic", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(rec.Body.String(), rec.Header().Get("X-Request-Id")) {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
}

func TestWarmServesEveryRequestEvenWhenAllItsGoroutinesAreBusy(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	h := Warm(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started.Done()
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}))
	// More slow requests than warm goroutines: none of them waits for another.
	n := 4*runtime.GOMAXPROCS(0) + 8
	started.Add(n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
		}()
	}
	started.Wait() // every slow request is running at once
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fast", nil))
	if rec.Body.String() != "/fast" {
		t.Fatalf("fast request while all were busy: %q", rec.Body.String())
	}
	close(release)
	wg.Wait()
}

func TestAPanicOnAWarmGoroutineReachesTheMiddleware(t *testing.T) {
	var logs strings.Builder
	h := Middleware(slog.New(slog.NewTextHandler(&logs, nil)), Warm(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	})))
	for range 3 { // the warm goroutine survives to serve the next one
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("status %d, want 500", rec.Code)
		}
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}
