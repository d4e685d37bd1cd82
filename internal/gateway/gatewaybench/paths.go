package gatewaybench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"socle/internal/platform/pki"
)

// path is one way to the upstream, started: how the load generator calls it and how much CPU
// the process in the middle has used so far (nil for direct, where there is none).
type path struct {
	name   string
	target *target
	cpu    func() (time.Duration, error)
	pgCPU  func() (time.Duration, error) // the database's, along socle's path
	stop   func()
}

// bench is what every path shares: the CA, the upstream and the certificate files.
type bench struct {
	o        Options
	roots    *x509.CertPool
	caFile   string
	upstream string // https://127.0.0.1:PORT
	// certFile and keyFile are the proxies' server certificate, from the same CA.
	certFile, keyFile string
}

func (b *bench) start(ctx context.Context, name string) (*path, error) {
	switch name {
	case "direct":
		return &path{name: name, target: b.target(b.upstream, nil), stop: func() {}}, nil
	case "bare":
		return b.startBare()
	case "caddy":
		return b.startCaddy()
	case "socle":
		return b.startSocle(ctx)
	}
	return nil, fmt.Errorf("unknown path %q", name)
}

func (b *bench) target(base string, h http.Header) *target {
	return &target{base: base + "/v1/persons/", header: h, client: newClient(b.roots)}
}

func childCPU(c *child) func() (time.Duration, error) {
	return func() (time.Duration, error) { return processCPU(c.pid()) }
}

// startBare runs the bare reverse proxy as a child: `socle bench gateway -role bare-proxy`.
func (b *bench) startBare() (*path, error) {
	argv := append(slices.Clone(b.o.Socle), "bench", "gateway", "-role", roleBareProxy, "-listen", "127.0.0.1:0",
		"-upstream", b.upstream, "-ca", b.caFile, "-cert", b.certFile, "-key", b.keyFile)
	c, line, err := startChild("bare proxy", argv, nil, filepath.Join(b.o.Dir, "bare-proxy.log"), true, 30*time.Second)
	if err != nil {
		return nil, err
	}
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		c.stop()
		return nil, fmt.Errorf("bare proxy: said %q, want \"listening ADDR\"", line)
	}
	return &path{name: "bare", target: b.target("https://"+addr, nil), cpu: childCPU(c), stop: c.stop}, nil
}

// caddyConfig is Caddy's JSON configuration for the bench: TLS on the front with the bench's
// certificate, HTTP/1.1 on both sides, reverse_proxy to the upstream over TLS trusting the
// bench's CA, no admin endpoint, no logs, nothing saved.
func caddyConfig(listen, upstream, caFile, certFile, keyFile string) ([]byte, error) {
	host := strings.TrimPrefix(upstream, "https://")
	type m = map[string]any
	return json.MarshalIndent(m{
		"admin":   m{"disabled": true, "config": m{"persist": false}},
		"logging": m{"logs": m{"default": m{"writer": m{"output": "discard"}}}},
		"apps": m{
			"tls": m{"certificates": m{"load_files": []m{{"certificate": certFile, "key": keyFile}}}},
			"http": m{"servers": m{"bench": m{
				"listen":                  []string{listen},
				"protocols":               []string{"h1"},
				"automatic_https":         m{"disable": true},
				"tls_connection_policies": []m{{}},
				"routes": []m{{"handle": []m{{
					"handler":   "reverse_proxy",
					"upstreams": []m{{"dial": host}},
					"transport": m{
						"protocol":   "http",
						"versions":   []string{"1.1"},
						"tls":        m{"root_ca_pem_files": []string{caFile}},
						"keep_alive": m{"enabled": true, "max_idle_conns": 1024, "max_idle_conns_per_host": 1024, "idle_timeout": "90s"},
					},
				}}}},
			}}},
		},
	}, "", "  ")
}

// startCaddy runs Caddy (built by make bin/caddy from tools/caddy) with caddyConfig.
func (b *bench) startCaddy() (*path, error) {
	if b.o.Caddy == "" {
		return nil, errors.New("no Caddy binary given (-caddy)")
	}
	bin, err := filepath.Abs(b.o.Caddy)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		return nil, fmt.Errorf("%v (make bin/caddy builds it)", err)
	}
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := caddyConfig(listen, b.upstream, b.caFile, b.certFile, b.keyFile)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.o.Dir, "caddy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(file, cfg, 0o600); err != nil {
		return nil, err
	}
	// Caddy's storage and configuration directories: the bench's, not the user's.
	env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	c, _, err := startChild("caddy", []string{bin, "run", "--config", file}, env, filepath.Join(dir, "caddy.log"), false, 0)
	if err != nil {
		return nil, err
	}
	if err := c.waitFor("listening", 30*time.Second, func() bool { return accepts(listen) }); err != nil {
		return nil, err
	}
	return &path{name: "caddy", target: b.target("https://"+listen, nil), cpu: childCPU(c), stop: c.stop}, nil
}

// gatewayFile is the `gateway:` section socle's gateway is configured with: one REST API
// on the upstream with key authentication, a plan whose quota the bench does not reach (so
// that it is counted but never refuses), one consumer subscribed to it.
const gatewayFile = `gateway:
  apis:
    - name: bench
      kind: rest
      upstreams: [%s]
      auth: [key]
  plans:
    - name: bench
      quota: {per_second: 1000000, per_day: 0}
  consumers:
    - name: bench
      subscriptions: [{api: bench, plan: bench}]
`

// startSocle runs socle's gateway as a child — `socle serve --services gateway` on the
// bench's database, configured first with `socle apply` and given a key with `socle gateway
// key issue` — and calls it at /apis/bench/ with that key.
func (b *bench) startSocle(ctx context.Context) (*path, error) {
	if b.o.DatabaseURL == "" {
		return nil, fmt.Errorf("no database: %v", b.o.DatabaseErr)
	}
	dir := b.socleDir()
	env := []string{"SOCLE_DATABASE_URL=" + b.o.DatabaseURL, "SOCLE_DATA_DIR=" + dir, "SOCLE_LOG_LEVEL=warn",
		"SOCLE_CLIENT_CA=" + b.caFile}
	file := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, gatewayFile, b.upstream), 0o600); err != nil {
		return nil, err
	}
	socle := func(args ...string) []string { return append(slices.Clone(b.o.Socle), args...) }
	if _, err := runTool(ctx, socle("apply", "-f", file), env); err != nil {
		return nil, err
	}
	out, err := runTool(ctx, socle("gateway", "key", "issue", "--consumer", "bench"), env)
	if err != nil {
		return nil, err
	}
	key := strings.TrimSpace(out)
	if key == "" || strings.ContainsAny(key, " \n") {
		return nil, fmt.Errorf("gateway key issue: want the key on one line, got %q", out)
	}
	bound := filepath.Join(dir, "listeners.json")
	os.Remove(bound)
	c, _, err := startChild("socle", socle("serve", "--services", "gateway", "--web-addr", "127.0.0.1:0",
		"--interconnect-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--data-dir", dir), env,
		filepath.Join(dir, "serve.log"), false, 0)
	if err != nil {
		return nil, err
	}
	var addrs map[string]string
	if err := c.waitFor("serving", time.Minute, func() bool {
		raw, err := os.ReadFile(bound)
		return err == nil && json.Unmarshal(raw, &addrs) == nil
	}); err != nil {
		return nil, err
	}
	web := addrs["web"]
	if _, _, err := net.SplitHostPort(web); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: no web listener: %s", bound, addrs)
	}
	p := &path{name: "socle", target: b.target("https://"+web+"/apis/bench", http.Header{"X-Api-Key": {key}}),
		cpu: childCPU(c), stop: c.stop}
	if b.o.PostgresData != "" {
		if pid, err := postmasterPID(b.o.PostgresData); err == nil {
			p.pgCPU = func() (time.Duration, error) { return treeCPU(pid) }
		}
	}
	return p, nil
}

// socleDir is the socle child's data directory. Its PKI is made before anything else, and
// every certificate of the bench comes from its CA: the upstream's, which socle's gateway
// must trust, and the proxies'.
func (b *bench) socleDir() string { return filepath.Join(b.o.Dir, "socle") }

// setUp makes the PKI and starts the upstream; it returns a function that stops it.
func (b *bench) setUp() (func(), error) {
	pkiDir := filepath.Join(b.socleDir(), "pki")
	if err := os.MkdirAll(b.socleDir(), 0o700); err != nil {
		return nil, err
	}
	if _, err := pki.Init(pkiDir); err != nil {
		return nil, err
	}
	ca, err := pki.LoadCA(pkiDir)
	if err != nil {
		return nil, err
	}
	b.caFile = filepath.Join(pkiDir, "ca.crt")
	b.roots = x509.NewCertPool()
	b.roots.AddCert(ca.Cert)
	certs := filepath.Join(b.o.Dir, "certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	loopback := pki.Request{Organization: "socle bench", Usage: pki.Server, DNSNames: []string{"localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	for _, name := range []string{"upstream", "proxy"} {
		if _, err := os.Stat(filepath.Join(certs, name+".crt")); err == nil {
			continue // a previous run's, in a -data-dir kept
		}
		r := loopback
		r.Name = name
		iss, err := ca.Issue(r)
		if err != nil {
			return nil, err
		}
		if err := iss.Save(certs, name); err != nil {
			return nil, err
		}
	}
	b.certFile, b.keyFile = filepath.Join(certs, "proxy.crt"), filepath.Join(certs, "proxy.key")
	up, err := tls.LoadX509KeyPair(filepath.Join(certs, "upstream.crt"), filepath.Join(certs, "upstream.key"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.upstream = "https://" + ln.Addr().String()
	return httpServer(ln, up, upstreamHandler()), nil
}
