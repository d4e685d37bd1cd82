package directory_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/pki"
)

// Each organisation's certificate expiry is a metric, from the directory as applied: the
// yearly renewals' alert reads it.
func TestTheOrganisationsCertificatesExpiryIsAMetric(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	if _, err := directory.ApplyFile(context.Background(), pool, file); err != nil {
		t.Fatal(err)
	}
	operator, err := pki.LoadCertificates(filepath.Join(filepath.Dir(file), "..", "pki", "demo-operator.crt"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(directory.CertificateExpiry(pool))
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].Metric) != 2 {
		t.Fatalf("%v, %v; want one series for the demo operator and one for the demo PSAP", mfs, err)
	}
	for _, m := range mfs[0].Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["kind"] == "operator" && int64(m.Gauge.GetValue()) != operator[0].NotAfter.Unix() {
			t.Fatalf("the operator %s's expiry: %v, want %v", labels["organisation"], m.Gauge.GetValue(), operator[0].NotAfter.Unix())
		}
		if labels["kind"] != "operator" && labels["kind"] != "psap" || strings.TrimSpace(labels["organisation"]) == "" {
			t.Fatalf("labels %v", labels)
		}
	}
}
