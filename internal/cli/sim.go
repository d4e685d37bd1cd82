package cli

import (
	"context"
	"flag"
	"net"
	"net/http"
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
		return group(args, "sim", "Runs a simulator of a partner system, for operators and PSAPs without their own test system.",
			[][2]string{{"psap", "a PSAP that receives pushed locations over mutual TLS and prints them"},
				{"operator", "an operator's location server (HELD) that answers PSAP queries socle relays"}},
			"socle sim psap --addr 127.0.0.1:8444 --pki ./var/pki")
	}
	fs := flags("sim psap", "[flags]", `
Runs a PSAP (emergency centre) simulator: an HTTPS server that requires a client certificate
signed by the CA, accepts PIDF-LO pushes (POST, Content-Type application/pidf+xml) on any
path, answers 204 and prints one line per location received. The last path element names the
simulated centre, so one simulator serves several PSAPs of the directory.`)
	var srv simServer
	srv.flags(fs, "127.0.0.1:8444", "psap-sim")
	down := fs.Bool("down", false, "answer 503 to everything: a centre out of service")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	if err := parse(fs, nil, args[1:]); err != nil {
		return err
	}
	sim := psapsim.New(stdout)
	sim.SetDown(*down)
	sim.SetDelay(*delay)
	return srv.serve(ctx, "psap-simulator", sim)
}

// simServer is what both simulators stand on: an HTTPS listener requiring client
// certificates of the CA, with a server certificate issued in the PKI directory if none is
// given.
type simServer struct {
	addr, dir, cert, key, ca *string
	name                     string
}

func (s *simServer) flags(fs *flag.FlagSet, addr, certName string) {
	s.name = certName
	s.addr = fs.String("addr", addr, "listen address")
	s.dir = fs.String("pki", "./var/pki", "PKI directory (ca.crt; server certificate "+certName+".crt/.key issued there if missing)")
	s.cert = fs.String("cert", "", "server certificate (default <pki>/"+certName+".crt)")
	s.key = fs.String("key", "", "server key (default <pki>/"+certName+".key)")
	s.ca = fs.String("ca", "", "CA bundle client certificates must chain to (default <pki>/ca.crt)")
}

func (s *simServer) serve(ctx context.Context, name string, handler http.Handler) error {
	log := newLogger("info", "text")
	if *s.cert == "" {
		if _, err := pki.Init(*s.dir); err != nil {
			return err
		}
		if _, err := pki.EnsureIssued(*s.dir, s.name, pki.Request{Name: name, Usage: pki.Server,
			DNSNames: []string{"localhost"}, IPs: loopbackIPs()}); err != nil {
			return err
		}
	}
	pool, err := pki.LoadPool(or(*s.ca, filepath.Join(*s.dir, "ca.crt")))
	if err != nil {
		return err
	}
	tlsCfg, err := server.MutualTLS(or(*s.cert, filepath.Join(*s.dir, s.name+".crt")), or(*s.key, filepath.Join(*s.dir, s.name+".key")), pool)
	if err != nil {
		return err
	}
	l := &server.Listener{Name: name, Addr: *s.addr, TLS: tlsCfg, Handler: server.Middleware(log, handler), Logger: log}
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
it; -delay and -error simulate a slow or failing server, -by-reference a server that answers
with a location URI to dereference (RFC 5985 §6.2.1, RFC 6753).`)
	var srv simServer
	srv.flags(fs, "127.0.0.1:8445", "operator-sim")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	code := fs.String("error", "", "answer every request with this HELD error code (locationUnknown, notLocatable, ...)")
	byRef := fs.Bool("by-reference", false, "answer with a location URI (a locationUriSet), dereferenced by a second request")
	if err := parse(fs, nil, args); err != nil {
		return err
	}
	sim := opsim.New()
	sim.SetDelay(*delay)
	sim.SetError(*code)
	sim.SetByReference(*byRef, "")
	return srv.serve(ctx, "operator-simulator", sim)
}
