package cli

import (
	"context"
	"net"
	"path/filepath"
	"time"

	"socle/internal/emergency/psapsim"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

func init() {
	register(command{name: "sim", summary: "run a simulator of a partner system (psap)", run: runSim})
}

func loopbackIPs() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} }

func runSim(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "psap" {
		return usagef("want a simulator: socle sim psap -h")
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
