package analytics

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the gateway's per-API Prometheus metrics.
type Metrics struct {
	reg      prometheus.Registerer
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	upstream *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	apis     sync.Map // API name → *apiMetrics
}

// Gateway latencies: from a cached or refused call (under a millisecond) to a slow SOAP
// backend at the end of its timeout.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	codes   = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}
	origins = [...]string{"", OriginGateway, OriginNetwork, OriginUpstream}
)

// NewMetrics registers the per-API metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socle_gateway_requests_total",
			Help: "API calls, by API, status class of the answer (1xx..5xx) and origin of the failure ('' when none, gateway, network, upstream).",
		}, []string{"api", "code", "origin"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "socle_gateway_request_duration_seconds",
			Help:    "Time from request received to answer sent, by API.",
			Buckets: durationBuckets,
		}, []string{"api"}),
		upstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "socle_gateway_upstream_duration_seconds",
			Help:    "Time spent waiting for the upstream, by API, for calls that reached for it.",
			Buckets: durationBuckets,
		}, []string{"api"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socle_gateway_bytes_total",
			Help: "Body bytes, by API and direction (in: from the client, out: to the client).",
		}, []string{"api", "direction"}),
	}
	reg.MustRegister(m.requests, m.duration, m.upstream, m.bytes)
	return m
}

// RegisterWriter exports w's counts as socle_gateway_analytics_written_total and
// socle_gateway_analytics_dropped_total, on the registry of NewMetrics.
func (m *Metrics) RegisterWriter(w *Writer) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "socle_gateway_analytics_written_total",
			Help: "Call records written to the database.",
		}, func() float64 { return float64(w.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "socle_gateway_analytics_dropped_total",
			Help: "Call records lost: buffer full, database unreachable for too long, or rows refused.",
		}, func() float64 { return float64(w.Dropped()) }),
	)
}

// apiMetrics are one API's children, bound once: Observe looks them up without allocating.
type apiMetrics struct {
	duration, upstream prometheus.Observer
	in, out            prometheus.Counter
	requests           [len(codes)][len(origins)]atomic.Pointer[counter] // made at first use
}

type counter struct{ prometheus.Counter }

// Observe counts r in the metrics of its API.
func (m *Metrics) Observe(r Record) {
	a := m.api(r.API)
	a.duration.Observe(r.Latency.Seconds())
	if r.Upstream > 0 {
		a.upstream.Observe(r.Upstream.Seconds())
	}
	if r.BytesIn > 0 {
		a.in.Add(float64(r.BytesIn))
	}
	if r.BytesOut > 0 {
		a.out.Add(float64(r.BytesOut))
	}
	code := 0
	if c := r.Status / 100; c >= 1 && c <= 5 {
		code = c
	}
	origin := 1 // anything unknown is the gateway's, as in the database
	for i, o := range origins {
		if r.Origin == o {
			origin = i
			break
		}
	}
	c := a.requests[code][origin].Load()
	if c == nil {
		c = &counter{m.requests.WithLabelValues(r.API, codes[code], origins[origin])}
		a.requests[code][origin].Store(c) // a racing twin stores the same child
	}
	c.Inc()
}

func (m *Metrics) api(name string) *apiMetrics {
	if a, ok := m.apis.Load(name); ok {
		return a.(*apiMetrics)
	}
	a := &apiMetrics{
		duration: m.duration.WithLabelValues(name),
		upstream: m.upstream.WithLabelValues(name),
		in:       m.bytes.WithLabelValues(name, "in"),
		out:      m.bytes.WithLabelValues(name, "out"),
	}
	actual, _ := m.apis.LoadOrStore(name, a)
	return actual.(*apiMetrics)
}
