package gatewaybench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// target is one way to the upstream, as the load generator calls it.
type target struct {
	base   string // URL before the person's id: https://ADDR/v1/persons/
	header http.Header
	client *http.Client
}

// maxConns bounds the load generator's connections to a path: at 2,000 requests/s, 256
// connections carry the load until requests take 128 ms, far beyond what is measured, so
// they do not limit the pacing. Without a bound, a stall (the machine busy with something
// else) would have every request that falls due open a connection of its own, and the
// handshakes of thousands of them would keep the machine busy long after the stall, until
// the bench ran out of file descriptors. Requests beyond it wait for a connection, and
// that wait is in their latency.
const maxConns = 256

// newClient is the load generator's client for one path: HTTP/1.1 over TLS with keep-alive,
// and enough idle connections kept that neither phase waits for a handshake once warm.
func newClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxConnsPerHost:     maxConns,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ClientSessionCache: tls.NewLRUClientSessionCache(64)},
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

func (t *target) close() { t.client.CloseIdleConnections() }

// call fetches one person and checks the answer.
func (t *target) call(ctx context.Context, id int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+strconv.Itoa(id), nil)
	if err != nil {
		return err
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return err
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("GET %s%d: status %d", t.base, id, resp.StatusCode)
	case n < minBody:
		return fmt.Errorf("GET %s%d: %d bytes, want the person's ~1 KB", t.base, id, n)
	}
	return nil
}

// run is what one phase measured along one path.
type run struct {
	sent, ok int
	took     time.Duration
	lat      []time.Duration // answered requests only, sorted (paced phase)
	late     []time.Duration // how late the generator sent each request, sorted (paced phase)
	err      error           // the first failure
}

// failures keeps the first error of a phase and counts them all.
type failures struct {
	n     atomic.Int64
	once  sync.Once
	first error
}

func (f *failures) add(err error) {
	f.n.Add(1)
	f.once.Do(func() { f.first = err })
}

// paced sends rate requests a second for d, open loop: each request leaves at its scheduled
// time whether or not the previous ones were answered, on an idle connection or a new one
// (up to maxConns), and its latency runs from that scheduled time, so that a stall delays
// the requests queued behind it in the figures as it would for real callers (no coordinated
// omission). How late the generator itself sent them is measured too (run.late).
func paced(ctx context.Context, t *target, rate int, d time.Duration) run {
	total := max(1, int(float64(rate)*d.Seconds()))
	lat := make([]time.Duration, total)
	late := make([]time.Duration, total)
	var fail failures
	var wg sync.WaitGroup
	start := time.Now()
	sent := pace(ctx, start, total, rate, func(i int, at time.Time) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			late[i] = time.Since(at)
			if err := t.call(ctx, 1+i%100_000); err != nil {
				lat[i] = -1
				fail.add(err)
				return
			}
			lat[i] = time.Since(at)
		}()
	})
	wg.Wait()
	r := run{sent: sent, took: time.Since(start), err: fail.first}
	r.lat = slices.DeleteFunc(lat[:sent], func(l time.Duration) bool { return l < 0 })
	slices.Sort(r.lat)
	r.late = late[:sent]
	slices.Sort(r.late)
	r.ok = len(r.lat)
	if r.err == nil && ctx.Err() != nil {
		r.err = ctx.Err()
	}
	return r
}

// pace calls send(i, at) for i from 0 to total-1 at start + i/rate seconds and returns how
// many it called before ctx ended. It waits on an OS thread of its own with nanosleep and a
// timer slack of 1 µs: Go's own timers wake a process whose goroutines all wait up to a
// millisecond late, twice the interval at 2,000 requests/s, which would burst the requests
// and blur every path's latency alike.
func pace(ctx context.Context, start time.Time, total, rate int, send func(i int, at time.Time)) int {
	sent := make(chan int)
	go func() {
		// The thread is given back as it was, not ended with the goroutine: a child started
		// from it, with Pdeathsig, would be killed with it.
		runtime.LockOSThread()
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0)
		defer runtime.UnlockOSThread()
		defer syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0) // 0: the default again
		i := 0
		for ; i < total && ctx.Err() == nil; i++ {
			at := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
			// Again after a signal (the runtime's preemption) cut a sleep short.
			for wait := time.Until(at); wait > 0; wait = time.Until(at) {
				ts := syscall.NsecToTimespec(int64(wait))
				syscall.Nanosleep(&ts, nil)
			}
			send(i, at)
		}
		sent <- i
	}()
	return <-sent
}

// prSetTimerSlack is PR_SET_TIMERSLACK (linux/prctl.h): the calling thread's timer slack, in
// ns.
const prSetTimerSlack = 29

// closed keeps c requests in flight for d, each sent as soon as the one before it on its
// worker is answered: the path's throughput at that concurrency. Requests in flight at the
// end are awaited, not cancelled, so that no connection is cut and every request the path's
// CPU time paid for is counted.
func closed(ctx context.Context, t *target, c int, d time.Duration) run {
	var ok atomic.Int64
	var fail failures
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := 1 + w; ctx.Err() == nil && time.Now().Before(deadline); id += c {
				if err := t.call(ctx, id%100_000+1); err != nil {
					fail.add(err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	n := int(ok.Load())
	return run{sent: n + int(fail.n.Load()), ok: n, took: time.Since(start), err: fail.first}
}

// percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

var errNoAnswer = errors.New("no request answered")
