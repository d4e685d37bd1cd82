package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"socle/internal/gateway/catalog"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// world is a database, a CA that signs every certificate of the test (upstreams, gateways,
// consumers), and the gateway instances and upstreams started on them.
type world struct {
	t      testing.TB
	ca     *pki.CA
	caPool *x509.CertPool
	dbURL  string
	pool   *pgxpool.Pool
	dir    string
	// closers stop the upstreams, by URL.
	closers map[string]func()
	// self is where the gateways' socle://interconnect/ upstreams are (socle's own
	// interconnect listener, which a test plays).
	self  atomic.Pointer[string]
	socle tls.Certificate
}

func newWorld(t testing.TB) *world {
	ca, err := pki.NewCA("socle test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	url := dbtest.NewURL(t, identity.Migrations(), Migrations())
	db, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &world{t: t, ca: ca, caPool: pool, dbURL: url, pool: db, dir: t.TempDir(), closers: map[string]func(){}}
}

// cert issues a certificate of the test CA.
func (w *world) cert(name string, usage pki.Usage) tls.Certificate {
	w.t.Helper()
	is, err := w.ca.Issue(pki.Request{Name: name, Usage: usage, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}})
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := is.TLSCertificate()
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// upstream starts an HTTPS upstream on loopback and returns its URL.
func (w *world) upstream(h http.Handler) string {
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{w.cert("upstream", pki.Server)}}
	s.StartTLS()
	w.t.Cleanup(s.Close)
	w.closers[s.URL] = s.Close
	return s.URL
}

// instance is one gateway replica: its web listener (keys, JWTs) and its interconnect
// listener (client certificates).
type instance struct {
	g       *Gateway
	web, ic *httptest.Server
}

func (w *world) gateway() *instance {
	w.t.Helper()
	db, err := pgxpool.New(context.Background(), w.dbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(db.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	g, err := New(Config{Retention: 90, KeyOverlap: time.Hour, MaxIdleConn: 64}, service.Env{
		Pool: db, Metrics: prometheus.NewRegistry(), Logger: logger, InterconnectURL: func() string {
			if s := w.self.Load(); s != nil {
				return *s
			}
			return ""
		},
		TLS: service.TLS{ClientCert: w.socleCert(), ClientCAs: w.caPool}})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Start(ctx); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { g.Stop(context.Background()) })
	webMux, icMux := http.NewServeMux(), http.NewServeMux()
	g.Routes(webMux, icMux)
	orgs := identity.Organisations(func() []identity.CertResolver { return []identity.CertResolver{g} })
	i := &instance{g: g}
	i.web = httptest.NewUnstartedServer(server.Middleware(logger, webMux))
	i.web.TLS = w.gatewayTLS()
	i.web.StartTLS()
	w.t.Cleanup(i.web.Close)
	i.ic = httptest.NewUnstartedServer(server.Middleware(logger, orgs(icMux)))
	i.ic.TLS = &tls.Config{Certificates: []tls.Certificate{w.cert("gateway", pki.Server)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: w.caPool}
	i.ic.StartTLS()
	w.t.Cleanup(i.ic.Close)
	return i
}

// socleCert is socle's client certificate, the same for every replica.
func (w *world) socleCert() tls.Certificate {
	w.t.Helper()
	if w.socle.Certificate == nil {
		w.socle = w.cert("socle", pki.Client)
	}
	return w.socle
}

// gatewayTLS is a gateway's server side.
func (w *world) gatewayTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{w.cert("gateway", pki.Server)}}
}

// client calls a gateway: trusting the test CA, with a client certificate if given.
func (w *world) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: w.caPool, Certificates: certs}, MaxIdleConnsPerHost: 64}}
}

// apply applies a file holding a gateway section, with the files it names, as `socle apply`.
func (w *world) apply(text string, files map[string]string) []string {
	w.t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(body), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	path := filepath.Join(w.dir, "socle.yaml")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		w.t.Fatal(err)
	}
	c, problems := prepare(path, []byte(text), doc.Content[0])
	if len(problems) > 0 {
		return problems
	}
	err := pgx.BeginFunc(context.Background(), w.pool, func(tx pgx.Tx) error {
		_, ps, err := c.Apply(context.Background(), tx)
		problems = ps
		if len(ps) > 0 {
			return pgx.ErrTxClosed
		}
		return err
	})
	if err != nil && len(problems) == 0 {
		w.t.Fatal(err)
	}
	return problems
}

func (w *world) mustApply(text string, files map[string]string) {
	w.t.Helper()
	if ps := w.apply(text, files); len(ps) > 0 {
		w.t.Fatal(ps)
	}
}

func (w *world) key(consumer string) string {
	w.t.Helper()
	k, _, err := catalog.IssueKey(context.Background(), w.pool, consumer, "test", "test", "", 0)
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// until waits for every instance to serve a catalogue that satisfies ok (they follow the
// database's notifications), polling on a ticker, at most 10 s.
func (w *world) until(ok func(*catalog.Catalog) bool, is ...*instance) {
	w.t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		all := true
		for _, i := range is {
			all = all && ok(i.g.snap.Load().cat)
		}
		if all {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			w.t.Fatal("the gateways did not load the catalogue expected")
		}
	}
}

func hasKey(key string) func(*catalog.Catalog) bool {
	return func(c *catalog.Catalog) bool { _, err := c.ConsumerOfKey(key, time.Now()); return err == nil }
}

// get calls url with headers.
func get(t *testing.T, c *http.Client, method, url string, body io.Reader, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// records returns the analytics records of the calls once there are n of them: the
// instances write them in batches, a fraction of a second later.
func (w *world) records(n int) []recordRow {
	w.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		rows, err := w.pool.Query(context.Background(), `SELECT consumer, api, operation, status, upstream_status, origin, error
			FROM gateway.requests ORDER BY time`)
		if err != nil {
			w.t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[recordRow])
		if err != nil {
			w.t.Fatal(err)
		}
		if len(out) >= n {
			return out
		}
		select {
		case <-tick.C:
		case <-deadline:
			w.t.Fatalf("%d records written, want %d", len(out), n)
		}
	}
}

type recordRow struct {
	Consumer, API, Operation string
	Status, UpstreamStatus   int
	Origin, Error            string
}
