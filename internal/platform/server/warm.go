package server

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
)

// Warm runs each request of next on one of a few goroutines that live as long as the process,
// when one is idle, and on the request's own goroutine otherwise: it never queues a request.
//
// Why: net/http starts every request (every HTTP/2 stream) on a new goroutine with a small
// stack, and a handler that decodes XML (HELD, PIDF-LO, AML) grows that stack two or three
// times over, copying it each time — a tenth of the CPU of `socle bench held`. A goroutine
// that stays keeps the stack it grew (figures in docs/performance.md, location pull).
func Warm(next http.Handler) http.Handler {
	work := make(chan func())
	for range max(8, 4*runtime.GOMAXPROCS(0)) {
		go func() {
			for f := range work {
				f()
			}
		}()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var panicked any
		done := make(chan struct{})
		run := func() {
			defer close(done)
			defer func() {
				// Carried back to the request's goroutine, where net/http and Middleware
				// handle it; a worker must not die of it.
				if v := recover(); v != nil {
					if v != http.ErrAbortHandler {
						v = fmt.Errorf("%v\n%s", v, debug.Stack())
					}
					panicked = v
				}
			}()
			next.ServeHTTP(w, r)
		}
		select {
		case work <- run:
		default:
			// Every warm goroutine is busy (waiting on an operator, say): no waiting here.
			run()
		}
		<-done
		if panicked != nil {
			panic(panicked)
		}
	})
}
