package directory

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// CertificateExpiry publishes, per operator and PSAP, when the newest of its client
// certificates expires: the organisations renew them every year (the project groups the
// renewals in September), and an alert 30 days before tells that a renewal is missing from
// the directory while there is time to add it next to the old one.
func CertificateExpiry(pool *pgxpool.Pool) prometheus.Collector { return expiry{pool} }

type expiry struct{ pool *pgxpool.Pool }

var expiryDesc = prometheus.NewDesc("socle_emergency_certificate_not_after_seconds",
	"When the newest client certificate of an operator or PSAP expires (Unix time).",
	[]string{"kind", "organisation"}, nil)

func (expiry) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

// Collect reads the directory's certificates at each scrape: a few rows, and always what the
// last `socle apply` left, whichever replica applied it.
func (e expiry) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := e.pool.Query(ctx, `
		SELECT CASE WHEN operator_id IS NULL THEN 'psap' ELSE 'operator' END, coalesce(operator_id, psap_id), max(not_after)
		FROM emergency.certificates GROUP BY 1, 2`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(expiryDesc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var kind, org string
		var notAfter time.Time
		if err := rows.Scan(&kind, &org, &notAfter); err != nil {
			ch <- prometheus.NewInvalidMetric(expiryDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(notAfter.Unix()), kind, org)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(expiryDesc, err)
	}
}
