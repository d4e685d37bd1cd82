package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

// BenchmarkCall is a call through the gateway — key, quota counted in PostgreSQL, analytics —
// and BenchmarkBareProxy the same call through a bare httputil.ReverseProxy: in-process, with
// the same client and upstream, so that the difference of their ns/op is the gateway's work
// (`socle bench gateway` measures each in a process of its own).
func BenchmarkCall(b *testing.B) {
	benchCall(b, func(w *world, up string) (string, []string) {
		w.mustApply(fmt.Sprintf(`
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [%s]
      auth: [key]
  plans:
    - name: large
      quota: {per_second: 100000000, per_day: 1000000000}
  consumers:
    - name: bench
      subscriptions: [{api: population, plan: large}]
`, up), nil)
		gw := w.gateway()
		key := w.key("bench")
		w.until(hasKey(key), gw)
		return gw.web.URL + "/apis/population/v1/persons/85031412401", []string{"X-API-Key", key}
	})
}

func BenchmarkBareProxy(b *testing.B) {
	benchCall(b, func(w *world, up string) (string, []string) {
		u, _ := url.Parse(up)
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = w.client().Transport
		s := httptest.NewUnstartedServer(p)
		s.TLS = w.gatewayTLS()
		s.StartTLS()
		b.Cleanup(s.Close)
		return s.URL + "/v1/persons/85031412401", nil
	})
}

func benchCall(b *testing.B, through func(w *world, up string) (url string, headers []string)) {
	w := newWorld(b)
	body := []byte(fmt.Sprintf(`{"nrn":"85031412401","familyName":"Lambert","padding":%q}`, make([]byte, 900)))
	up := w.upstream(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.Write(body)
	}))
	target, headers := through(w, up)
	c := w.client()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", target, nil)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			res, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
