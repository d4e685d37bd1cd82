package cli

import (
	"context"
	"net"
	"path/filepath"
	"time"

	"socle/internal/emergency/opsim"
	"socle/internal/emergency/psapsim"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

func init() {
	register(command{name: "sim", summary: "run a simulator of a partner system (psap, operator)", run: runSim})
}

func loopbackIPs() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} }

func runSim(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "operator" {
		return runSimOperator(ctx, args[1:])
	}
	if len(args) == 0 || args[0] != "psap" {
		return usagef("want a simulator: socle sim psap -h, socle sim operator -h")
	}
	fs := flags("sim psap", "[flags]", `
Runs a PSAP (emergency centre) simulator: an HTTPS server that requires a client certificate
signed by the CA, accepts PIDF-LO pushes (POST, Content-Type application/pidf+xml) on any
path, answers 204 and prints one line per location received. The last path element names the
simulated centre, so one simulator serves several PSAPs of the directory.`)
	addr := fs.String("addr", "127.0.0.1:8444", "listen address")
	dir := fs.String("pki", "./var/pki", "PKI directory (ca.crt; server certificate psap-sim.crt/.key issued there if missing)")
	cert := fs.String("cert", "", "server certificate (default <pki>/psap-sim.crt)")
	key := fs.String("key", "", "server key (default <pki>/psap-sim.key)")
	ca := fs.String("ca", "", "CA bundle client certificates must chain to (default <pki>/ca.crt)")
	down := fs.Bool("down", false, "answer 503 to everything: a centre out of service")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	if err := parse(fs, nil, args[1:]); err != nil {
		return err
	}
	log := newLogger("info", "text")
	if *cert == "" {
		if _, err := pki.Init(*dir); err != nil {
			return err
		}
		if _, err := pki.EnsureIssued(*dir, "psap-sim", pki.Request{Name: "psap-simulator", Usage: pki.Server,
			DNSNames: []string{"localhost"}, IPs: loopbackIPs()}); err != nil {
			return err
		}
	}
	pool, err := pki.LoadPool(or(*ca, filepath.Join(*dir, "ca.crt")))
	if err != nil {
		return err
	}
	tlsCfg, err := server.MutualTLS(or(*cert, filepath.Join(*dir, "psap-sim.crt")), or(*key, filepath.Join(*dir, "psap-sim.key")), pool)
	if err != nil {
		return err
	}
	sim := psapsim.New(stdout)
	sim.SetDown(*down)
	sim.SetDelay(*delay)
	l := &server.Listener{Name: "psap-simulator", Addr: *addr, TLS: tlsCfg, Handler: sim, Logger: log}
	if err := l.Listen(); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Shutdown(sctx)
	}()
	return l.Serve()
}

func runSimOperator(ctx context.Context, args []string) error {
	fs := flags("sim operator", "[flags]", `
Runs a reference operator location server: HTTPS with client certificates signed by the CA,
answering HELD location requests (RFC 5985, POST, application/held+xml) on any path as an
operator would: the serving cell's area (a circle) for mobile numbers (+33 6, +33 7), the
line's civic address for the others. Operators without their own server test socle against
it; -delay and -error simulate a slow or failing server.`)
	addr := fs.String("addr", "127.0.0.1:8445", "listen address")
	dir := fs.String("pki", "./var/pki", "PKI directory (ca.crt; server certificate operator-sim.crt/.key issued there if missing)")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	code := fs.String("error", "", "answer every request with this HELD error code (locationUnknown, notLocatable, ...)")
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	log := newLogger("info", "text")
	if _, err := pki.Init(*dir); err != nil {
		return err
	}
	if _, err := pki.EnsureIssued(*dir, "operator-sim", pki.Request{Name: "operator-simulator", Usage: pki.Server,
		DNSNames: []string{"localhost"}, IPs: loopbackIPs()}); err != nil {
		return err
	}
	pool, err := pki.LoadPool(filepath.Join(*dir, "ca.crt"))
	if err != nil {
		return err
	}
	tlsCfg, err := server.MutualTLS(filepath.Join(*dir, "operator-sim.crt"), filepath.Join(*dir, "operator-sim.key"), pool)
	if err != nil {
		return err
	}
	sim := opsim.New()
	sim.SetDelay(*delay)
	sim.SetError(*code)
	l := &server.Listener{Name: "operator-simulator", Addr: *addr, TLS: tlsCfg, Handler: server.Middleware(log, sim), Logger: log}
	if err := l.Listen(); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l.Shutdown(sctx)
	}()
	return l.Serve()
}
