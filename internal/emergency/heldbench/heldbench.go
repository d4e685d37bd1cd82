// Package heldbench measures the location pull: HELD queries from a PSAP through socle to
// the operator simulator, against the same queries sent straight to the simulator in the same
// run, so that what socle adds (mutual TLS hop, audit write, numbering lookup, re-encoding)
// is what the difference shows.
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
	For  time.Duration // per phase, in one-second windows taken in turns
}

// Phase is what one phase measured.
type Phase struct {
	Sent, OK int
	Rate     float64
	P50, P99 time.Duration
}

// Result is the two phases.
type Result struct {
	Direct, Socle Phase
}

// Run sends paced queries for numbers of prefix (served by the simulator at simURL) to
// socle at socleURL and straight to the simulator, open loop at o.Rate. The two phases take
// turns in one-second windows (direct then socle, then socle then direct, ...) so that
// whatever else the machine does at a given moment weighs on both alike; each phase's
// figures gather its windows.
func Run(ctx context.Context, psap *http.Client, socleURL, simURL, prefix string, o Options, log io.Writer) (Result, error) {
	var r Result
	// Warm both paths' connections.
	for _, u := range []string{simURL, socleURL + "/emergency/v1/held"} {
		if _, err := query(ctx, psap, u, prefix+"0000000"); err != nil {
			return r, fmt.Errorf("warm-up %s: %w", u, err)
		}
	}
	const window = time.Second
	windows := max(1, int(o.For/window))
	fmt.Fprintf(log, "%d queries/s, %d windows of %s each straight to the operator simulator and through socle, in turns\n",
		o.Rate, windows, window)
	var direct, socle []time.Duration
	var ds, ss time.Duration
	urls := [2]string{simURL, socleURL + "/emergency/v1/held"}
	for w := 0; w < windows; w++ {
		order := [2]int{0, 1}
		if w%2 == 1 {
			order = [2]int{1, 0}
		}
		for _, which := range order {
			lat, took, err := paced(ctx, psap, urls[which], prefix, o.Rate, window)
			if err != nil {
				return r, err
			}
			if which == 0 {
				direct, ds = append(direct, lat...), ds+took
			} else {
				socle, ss = append(socle, lat...), ss+took
			}
		}
	}
	sent := windows * int(float64(o.Rate)*window.Seconds())
	return Result{Direct: phase(direct, sent, ds), Socle: phase(socle, sent, ss)}, nil
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
	fmt.Fprintf(w, `
HELD location pull at %d queries/s (mutual TLS, PostgreSQL audit, operator simulator, loopback)
  through socle             %7.0f queries/s   p50 %s  p99 %s   (%d/%d answered)
baseline: the same queries straight to the operator simulator
  direct                    %7.0f queries/s   p50 %s  p99 %s   (%d/%d answered)
  added by socle            p50 %s  p99 %s   (target p99 <= 2 ms)
`, o.Rate, r.Socle.Rate, ms(r.Socle.P50), ms(r.Socle.P99), r.Socle.OK, r.Socle.Sent,
		r.Direct.Rate, ms(r.Direct.P50), ms(r.Direct.P99), r.Direct.OK, r.Direct.Sent,
		ms(r.Socle.P50-r.Direct.P50), ms(r.Socle.P99-r.Direct.P99))
}
