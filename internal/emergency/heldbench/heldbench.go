// Package heldbench measures the location pull: HELD queries from a PSAP through socle to
// the operator simulator, against the same queries sent straight to the simulator in the same
// run, so that what socle adds (a mutual-TLS hop, the audit journal, the look-ups, parsing and
// re-encoding) is what the difference shows. A bare reverse proxy on the same path, also in
// the same run, shows how much of that one more hop costs on the machine by itself.
package heldbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"socle/internal/emergency/held"
)

// Options of a run.
type Options struct {
	Rate int           // queries per second
	For  time.Duration // per path, in one-second windows taken in turns
}

// Targets are the three ways to the simulator's HELD endpoint.
type Targets struct {
	Direct string // the simulator itself
	Proxy  string // through a bare mutual-TLS reverse proxy
	Socle  string // through socle's POST /emergency/v1/held
}

// Phase is what one path measured.
type Phase struct {
	Sent, OK int
	Rate     float64
	P50, P99 time.Duration
}

// Result is the three paths.
type Result struct {
	Direct, Proxy, Socle Phase
}

const window = time.Second

// Run sends paced queries, open loop at o.Rate, for numbers of prefix (which the simulator
// serves) along each path. The paths take turns in one-second windows, in an order that
// rotates, so that whatever else the machine does at a given moment weighs on all alike;
// each path's figures gather its windows. Each path is first warmed up for a window,
// unmeasured: connections and TLS sessions reach the state they keep under load.
func Run(ctx context.Context, psap *http.Client, t Targets, prefix string, o Options, log io.Writer) (Result, error) {
	urls := [3]string{t.Direct, t.Proxy, t.Socle}
	for _, u := range urls {
		if _, _, err := paced(ctx, psap, u, prefix, o.Rate, window); err != nil {
			return Result{}, fmt.Errorf("warm-up %s: %w", u, err)
		}
	}
	windows := max(1, int(o.For/window))
	fmt.Fprintf(log, "%d queries/s, %d windows of %s along each path (direct, bare proxy, socle), in turns\n",
		o.Rate, windows, window)
	var lat [3][]time.Duration
	var took [3]time.Duration
	for w := 0; w < windows; w++ {
		for i := range urls {
			which := (w + i) % len(urls)
			l, d, err := paced(ctx, psap, urls[which], prefix, o.Rate, window)
			if err != nil {
				return Result{}, err
			}
			lat[which], took[which] = append(lat[which], l...), took[which]+d
		}
	}
	sent := windows * int(float64(o.Rate)*window.Seconds())
	return Result{Direct: phase(lat[0], sent, took[0]), Proxy: phase(lat[1], sent, took[1]), Socle: phase(lat[2], sent, took[2])}, nil
}

func phase(lat []time.Duration, sent int, took time.Duration) Phase {
	p := Phase{Sent: sent, OK: len(lat), Rate: float64(len(lat)) / took.Seconds()}
	if len(lat) > 0 {
		slices.Sort(lat)
		p.P50, p.P99 = lat[len(lat)*50/100], lat[len(lat)*99/100]
	}
	return p
}

func query(ctx context.Context, c *http.Client, url, digits string) (time.Duration, error) {
	body, err := held.EncodeRequest(held.Request{Device: "tel:+" + digits, ResponseTime: 3 * time.Second})
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", held.MediaType)
	req.Header.Set("Accept", held.MediaType) // RFC 5985 §8, which the operator simulator holds clients to
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if _, err := held.ParseResponse(b); err != nil {
		return 0, fmt.Errorf("answer %d: %w", resp.StatusCode, err)
	}
	return d, nil
}

// paced sends rate queries a second for d to url and returns their latencies and how long
// the window took, answers included.
func paced(ctx context.Context, c *http.Client, url, prefix string, rate int, d time.Duration) ([]time.Duration, time.Duration, error) {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, total)
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		digits := fmt.Sprintf("%s%07d", prefix, rand.IntN(10_000_000))
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := query(ctx, c, url, digits)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			lat = append(lat, d)
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

// Print writes the figures.
func (r Result) Print(w io.Writer, o Options) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	line := func(name string, p Phase) string {
		return fmt.Sprintf("  %-24s %7.0f queries/s   p50 %s  p99 %s   (%d/%d answered)\n", name, p.Rate, ms(p.P50), ms(p.P99), p.OK, p.Sent)
	}
	fmt.Fprintf(w, "\nHELD location pull at %d queries/s (mutual TLS, audit journal, operator simulator, loopback)\n", o.Rate)
	fmt.Fprint(w, line("through socle", r.Socle))
	fmt.Fprint(w, "baselines: the same queries straight to the operator simulator, and through a bare proxy\n")
	fmt.Fprint(w, line("direct", r.Direct))
	fmt.Fprint(w, line("bare mTLS proxy", r.Proxy))
	fmt.Fprintf(w, "  added by socle            p50 %s  p99 %s   (target p99 <= 2 ms)\n", ms(r.Socle.P50-r.Direct.P50), ms(r.Socle.P99-r.Direct.P99))
	fmt.Fprintf(w, "  added by a bare proxy     p50 %s  p99 %s   (one more hop, no work)\n", ms(r.Proxy.P50-r.Direct.P50), ms(r.Proxy.P99-r.Direct.P99))
}
