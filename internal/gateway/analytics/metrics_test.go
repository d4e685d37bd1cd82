package analytics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/gateway/analytics"
)

func TestMetricsPerAPI(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := analytics.NewMetrics(reg)
	w := analytics.NewWriter(nil, quiet, analytics.WriterOptions{Buffer: 1})
	m.RegisterWriter(w)
	w.Record(analytics.Record{})
	w.Record(analytics.Record{}) // dropped: the buffer holds one

	for _, r := range []analytics.Record{
		{API: "a", Status: 200, Latency: 2 * time.Millisecond, Upstream: time.Millisecond, BytesIn: 10, BytesOut: 100},
		{API: "a", Status: 201, Latency: 30 * time.Millisecond, Upstream: 20 * time.Millisecond, BytesOut: 5},
		{API: "a", Status: 502, Origin: analytics.OriginNetwork, Latency: 10 * time.Second},
		{API: "b", Status: 429, Origin: analytics.OriginGateway, Latency: 100 * time.Microsecond},
	} {
		m.Observe(r)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case s.GetCounter() != nil:
				got[key] = s.GetCounter().GetValue()
			case s.GetHistogram() != nil:
				got[key] = float64(s.GetHistogram().GetSampleCount())
			}
		}
	}
	for key, want := range map[string]float64{
		"socle_gateway_requests_total{api=a,code=2xx,origin=}":        2,
		"socle_gateway_requests_total{api=a,code=5xx,origin=network}": 1,
		"socle_gateway_requests_total{api=b,code=4xx,origin=gateway}": 1,
		"socle_gateway_request_duration_seconds{api=a}":               3,
		"socle_gateway_upstream_duration_seconds{api=a}":              2,
		"socle_gateway_bytes_total{api=a,direction=in}":               10,
		"socle_gateway_bytes_total{api=a,direction=out}":              105,
		"socle_gateway_analytics_dropped_total{}":                     1,
		"socle_gateway_analytics_written_total{}":                     0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if v := got["socle_gateway_upstream_duration_seconds{api=b}"]; v != 0 {
		t.Errorf("%v upstream durations for a call refused by the gateway", v)
	}
}
