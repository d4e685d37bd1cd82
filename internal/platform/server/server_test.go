package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
