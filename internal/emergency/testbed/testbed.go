// Package testbed assembles a real emergency push path on loopback — development PKI, PSAP
// simulator over mutual TLS, demo directory, operator location server, proxy — for
// integration tests and `socle bench aml|held`. The emergency service runs on it behind a
// mutual-TLS interconnect listener through emergency.StartLoopback: the bed does not import
// the service, whose benchmarks stand on it.
package testbed

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/demo"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/psapsim"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

// Bed is the PKI, the PSAP simulator and the demo directory file.
type Bed struct {
	DataDir       string
	PKIDir        string
	CA            *x509.CertPool
	Sim           *psapsim.Sim
	SimAddr       string
	DirectoryFile string
	sim           *server.Listener
}

// New prepares a bed in dataDir (PKI, demo files) and starts the PSAP simulator on a free
// loopback port.
func New(dataDir string, logger *slog.Logger) (*Bed, error) {
	b := &Bed{DataDir: dataDir, PKIDir: filepath.Join(dataDir, "pki")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.SimAddr = ln.Addr().String()
	ln.Close()
	if b.DirectoryFile, err = demo.Install(dataDir, b.SimAddr); err != nil {
		return nil, err
	}
	if _, err := pki.EnsureIssued(b.PKIDir, "socle-client", pki.Request{Name: "socle", Usage: pki.Client}); err != nil {
		return nil, err
	}
	if b.CA, err = pki.LoadPool(filepath.Join(b.PKIDir, "ca.crt")); err != nil {
		return nil, err
	}
	simTLS, err := server.MutualTLS(filepath.Join(b.PKIDir, "psap-sim.crt"), filepath.Join(b.PKIDir, "psap-sim.key"), b.CA)
	if err != nil {
		return nil, err
	}
	b.Sim = psapsim.New(nil)
	b.sim = &server.Listener{Name: "psap-simulator", Addr: b.SimAddr, TLS: simTLS, Handler: b.Sim, Logger: logger}
	if err := b.sim.Listen(); err != nil {
		return nil, err
	}
	go b.sim.Serve()
	return b, nil
}

// Close stops the simulator.
func (b *Bed) Close() { b.sim.Shutdown(context.Background()) }

// Apply loads the demo directory into the database.
func (b *Bed) Apply(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := directory.ApplyFile(ctx, pool, b.DirectoryFile)
	return err
}

// Client returns an HTTPS client presenting the certificate name.crt of the bed's PKI (or
// none when name is empty), trusting the bed's CA, with up to conns connections.
func (b *Bed) Client(name string, conns int) (*http.Client, error) {
	cfg := &tls.Config{RootCAs: b.CA, MinVersion: tls.VersionTLS12}
	if name != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(b.PKIDir, name+".crt"), filepath.Join(b.PKIDir, name+".key"))
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute,
	}}, nil
}

// Discard is a logger that drops everything.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Push sends an AML body as an operator would and returns the status and body.
func Push(ctx context.Context, c *http.Client, url, contentType string, body []byte, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/emergency/v1/aml", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("push: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// RegisterPSAP gives the demo PSAP psapID a client certificate (issued as certName in the
// bed's PKI), applies the directory, and returns a client presenting it.
func (b *Bed) RegisterPSAP(ctx context.Context, pool *pgxpool.Pool, psapID, certName string, conns int) (*http.Client, error) {
	if _, err := pki.EnsureIssued(b.PKIDir, certName, pki.Request{Name: psapID, Usage: pki.Client}); err != nil {
		return nil, err
	}
	if err := b.editDirectory("/psap/"+psapID+"\n", "/psap/"+psapID+"\n    certificates: [../pki/"+certName+".crt]\n"); err != nil {
		return nil, err
	}
	if err := b.Apply(ctx, pool); err != nil {
		return nil, err
	}
	return b.Client(certName, conns)
}

// StartOperatorServer runs handler as an operator's location server over mutual TLS on
// loopback and returns its URL.
func (b *Bed) StartOperatorServer(handler http.Handler, logger *slog.Logger) (string, func(), error) {
	if _, err := pki.EnsureIssued(b.PKIDir, "opsim", pki.Request{Name: "opsim", Usage: pki.Server, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		return "", nil, err
	}
	cfg, err := server.MutualTLS(filepath.Join(b.PKIDir, "opsim.crt"), filepath.Join(b.PKIDir, "opsim.key"), b.CA)
	if err != nil {
		return "", nil, err
	}
	l, err := ServeLoopback("opsim", cfg, handler, logger)
	if err != nil {
		return "", nil, err
	}
	return "https://" + l.BoundAddr() + "/held", func() { l.Shutdown(context.Background()) }, nil
}

// ServeNumbers makes the demo operator serve the numbering-plan prefixes given (as mobile
// lines) with its location server at url, and applies the directory.
func (b *Bed) ServeNumbers(ctx context.Context, pool *pgxpool.Pool, url string, prefixes ...string) error {
	csv := "prefix,operator,kind\n"
	for _, p := range prefixes {
		csv += p + ",demo-mobile,mobile\n"
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(b.DirectoryFile), "numbering.csv"), []byte(csv), 0o644); err != nil {
		return err
	}
	if err := b.editDirectory("    certificates: [../pki/demo-operator.crt]\n",
		"    certificates: [../pki/demo-operator.crt]\n    location_endpoint: "+url+"\n"); err != nil {
		return err
	}
	if err := b.editDirectory("pdaau: [pdaau.csv]\n", "pdaau: [pdaau.csv]\nnumbering: [numbering.csv]\n"); err != nil {
		return err
	}
	return b.Apply(ctx, pool)
}

func (b *Bed) editDirectory(old, new string) error {
	s, err := os.ReadFile(b.DirectoryFile)
	if err != nil {
		return err
	}
	if !strings.Contains(string(s), old) {
		return fmt.Errorf("testbed: %q not in the directory file", old)
	}
	return os.WriteFile(b.DirectoryFile, []byte(strings.Replace(string(s), old, new, 1)), 0o644)
}

// StartProxy runs a bare mutual-TLS reverse proxy to upstream on loopback — the listener
// socle's interconnect has, and socle's client certificate and HTTP/2 towards the upstream —
// doing no work of its own: what one more hop costs, for benchmarks to compare socle with.
// It returns the URL that reaches upstream through it.
func (b *Bed) StartProxy(upstream string, logger *slog.Logger) (string, func(), error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return "", nil, err
	}
	client, err := tls.LoadX509KeyPair(filepath.Join(b.PKIDir, "socle-client.crt"), filepath.Join(b.PKIDir, "socle-client.key"))
	if err != nil {
		return "", nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.URL.Path = target.Path },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{client}, RootCAs: b.CA,
				ClientSessionCache: tls.NewLRUClientSessionCache(64)},
			ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		},
	}
	cfg, err := server.MutualTLS(filepath.Join(b.PKIDir, "server.crt"), filepath.Join(b.PKIDir, "server.key"), b.CA)
	if err != nil {
		return "", nil, err
	}
	l, err := ServeLoopback("proxy", cfg, proxy, logger)
	if err != nil {
		return "", nil, err
	}
	return "https://" + l.BoundAddr() + target.Path, func() { l.Shutdown(context.Background()) }, nil
}

// serveLoopback serves handler over TLS on a free loopback port.
func ServeLoopback(name string, cfg *tls.Config, handler http.Handler, logger *slog.Logger) (*server.Listener, error) {
	l := &server.Listener{Name: name, Addr: "127.0.0.1:0", TLS: cfg, Handler: handler, Logger: logger}
	if err := l.Listen(); err != nil {
		return nil, err
	}
	go l.Serve()
	return l, nil
}

// StartSink runs an HTTPS server over mutual TLS on loopback (certificate name from the bed's
// PKI) that answers 202 to every POST after reading its body, and counts them: the far end of
// the cutover's forwarding in `socle bench aml -forward`, standing for a legacy platform that
// keeps up. It returns its URL, the count, and how to stop it.
func (b *Bed) StartSink(name string, logger *slog.Logger) (string, func() int64, func(), error) {
	if _, err := pki.EnsureIssued(b.PKIDir, name, pki.Request{Name: name, Usage: pki.Server, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		return "", nil, nil, err
	}
	cfg, err := server.MutualTLS(filepath.Join(b.PKIDir, name+".crt"), filepath.Join(b.PKIDir, name+".key"), b.CA)
	if err != nil {
		return "", nil, nil, err
	}
	var n atomic.Int64
	l, err := ServeLoopback(name, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}), logger)
	if err != nil {
		return "", nil, nil, err
	}
	return "https://" + l.BoundAddr() + "/aml", n.Load, func() { l.Shutdown(context.Background()) }, nil
}
