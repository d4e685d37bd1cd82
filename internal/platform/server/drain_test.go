package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
)

// TestADrainingListenerServesAndAsksClientsToReconnect: between SIGTERM and Shutdown a
// listener still answers, on the same connection, but tells the client to close it, so that
// the client's next request goes through the load balancer to a replica that stays.
func TestADrainingListenerServesAndAsksClientsToReconnect(t *testing.T) {
	l := &Listener{Name: "interconnect", Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	defer l.Shutdown(context.Background())
	get := func() *http.Response {
		t.Helper()
		resp, err := http.Get("http://" + l.BoundAddr() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(); r.StatusCode != 200 || r.Close {
		t.Fatalf("before draining: %d, close=%v", r.StatusCode, r.Close)
	}
	l.Drain()
	if r := get(); r.StatusCode != 200 || !r.Close {
		t.Fatalf("draining: %d, close=%v: want the answer and Connection: close", r.StatusCode, r.Close)
	}
}
