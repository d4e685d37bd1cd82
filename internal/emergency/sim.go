package emergency

import (
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"socle/internal/emergency/acceptance"
	"socle/internal/emergency/opsim"
	"socle/internal/emergency/psapsim"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
)

// simCommands is `socle sim`: simulators of the partner systems.
func simCommands() service.Command {
	return service.Command{Name: "sim", Summary: "run a simulator of a partner system",
		Description: "Runs a simulator of a partner system, for operators and PSAPs without their own test system.",
		Subcommands: []service.Command{
			{Name: "psap", Summary: "a PSAP that receives pushed locations over mutual TLS and prints them",
				Synopsis: "[flags]", Example: "socle sim psap --addr 127.0.0.1:8444 --pki ./var/pki", Run: runSimPSAP,
				Description: `
Runs a PSAP (emergency centre) simulator: an HTTPS server that requires a client certificate
signed by the CA, accepts PIDF-LO pushes (POST, Content-Type application/pidf+xml) on any
path, answers 204 and prints one line per location received. The last path element names the
simulated centre, so one simulator serves several PSAPs of the directory.`},
			{Name: "operator", Summary: "an operator's location server (HELD) that answers PSAP queries socle relays",
				Synopsis: "[flags]", Example: "socle sim operator --addr 127.0.0.1:8445 --pki ./var/pki -by-reference", Run: runSimOperator,
				Description: `
Runs a reference operator location server: HTTPS with client certificates signed by the CA,
answering HELD location requests (RFC 5985, POST, application/held+xml) on any path as an
operator would: the serving cell's area (a circle) for mobile numbers (+33 6, +33 7), the
line's civic address for the others. Operators without their own server test socle against
it; -delay and -error simulate a slow or failing server, -by-reference a server that answers
with a location URI to dereference (RFC 5985 §6.2.1, RFC 6753).`},
		}}
}

func runSimPSAP(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	var srv simServer
	srv.flags(fs, "127.0.0.1:8444", "psap-sim")
	down := fs.Bool("down", false, "answer 503 to everything: a centre out of service")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	if err := env.Parse(args); err != nil {
		return err
	}
	sim := psapsim.New(env.Stdout())
	sim.SetDown(*down)
	sim.SetDelay(*delay)
	return srv.serve(ctx, env, "psap-simulator", sim)
}

func runSimOperator(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	var srv simServer
	srv.flags(fs, "127.0.0.1:8445", "operator-sim")
	delay := fs.Duration("delay", 0, "wait this long before each answer")
	code := fs.String("error", "", "answer every request with this HELD error code (locationUnknown, notLocatable, ...)")
	byRef := fs.Bool("by-reference", false, "answer with a location URI (a locationUriSet), dereferenced by a second request")
	campaign := fs.String("campaign", "", "socle's interconnect (https://host:port): first send one message of each PUSH case of an acceptance campaign")
	pushCert := fs.String("push-cert", "", "the operator's client certificate for the campaign (default <pki>/demo-operator.crt)")
	pushKey := fs.String("push-key", "", "its key (default <pki>/demo-operator.key)")
	network := fs.String("network", "001-01", "the operator's network, MCC-MNC")
	foreign := fs.String("foreign", "208-20", "another operator's network, MCC-MNC, for the case socle must refuse")
	wrongNetwork := fs.Bool("wrong-network", false, "broken: every campaign message carries the other operator's network")
	badML := fs.Bool("bad-ml", false, "broken: the campaign's SMS carry an ml that is not their length")
	if err := env.Parse(args); err != nil {
		return err
	}
	sim := opsim.New()
	sim.SetDelay(*delay)
	sim.SetError(*code)
	sim.SetByReference(*byRef, "")
	if *campaign != "" {
		p, err := player(*srv.dir, *pushCert, *pushKey, *campaign, *network, *foreign)
		if err != nil {
			return err
		}
		p.WrongNetwork, p.BadML = *wrongNetwork, *badML
		sent, err := p.Push(ctx)
		for _, s := range sent {
			fmt.Fprintf(env.Stdout(), "%-22s %d %s\n", s.What, s.Status, strings.TrimSpace(s.Answer))
		}
		if err != nil {
			return err
		}
	}
	return srv.serve(ctx, env, "operator-simulator", sim)
}

// player is the operator's side of a campaign's PUSH cases, from the flags.
func player(pkiDir, certFile, keyFile, url, network, foreign string) (acceptance.Player, error) {
	split := func(flag, v string) ([2]string, error) {
		mcc, mnc, ok := strings.Cut(v, "-")
		if !ok || len(mcc) != 3 || len(mnc) < 2 || len(mnc) > 3 {
			return [2]string{}, service.Usagef("-%s %q is not MCC-MNC, such as 208-01", flag, v)
		}
		return [2]string{mcc, mnc}, nil
	}
	n, err := split("network", network)
	if err != nil {
		return acceptance.Player{}, err
	}
	f, err := split("foreign", foreign)
	if err != nil {
		return acceptance.Player{}, err
	}
	cert, err := tls.LoadX509KeyPair(cmp.Or(certFile, filepath.Join(pkiDir, "demo-operator.crt")), cmp.Or(keyFile, filepath.Join(pkiDir, "demo-operator.key")))
	if err != nil {
		return acceptance.Player{}, fmt.Errorf("sim operator: the campaign's certificate: %w", err)
	}
	roots, err := pki.LoadPool(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		return acceptance.Player{}, err
	}
	mk := func(c tls.Certificate) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: []tls.Certificate{c}}}}
	}
	p := acceptance.Player{Client: mk(cert), URL: url, Network: n, Foreign: f}
	// The wrong certificate: one of the same CA, registered nowhere (issued here when the
	// CA's key is at hand, as in the development PKI).
	if _, err := pki.EnsureIssued(pkiDir, "operator-sim-other", pki.Request{Name: "autre-operateur.example", Usage: pki.Client}); err == nil {
		if other, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "operator-sim-other.crt"), filepath.Join(pkiDir, "operator-sim-other.key")); err == nil {
			p.Wrong = mk(other)
		}
	}
	return p, nil
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

func (s *simServer) serve(ctx context.Context, env service.CommandEnv, name string, handler http.Handler) error {
	log := env.Logger()
	if *s.cert == "" {
		if _, err := pki.Init(*s.dir); err != nil {
			return err
		}
		if _, err := pki.EnsureIssued(*s.dir, s.name, pki.Request{Name: name, Usage: pki.Server,
			DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}); err != nil {
			return err
		}
	}
	pool, err := pki.LoadPool(cmp.Or(*s.ca, filepath.Join(*s.dir, "ca.crt")))
	if err != nil {
		return err
	}
	tlsCfg, err := server.MutualTLS(cmp.Or(*s.cert, filepath.Join(*s.dir, s.name+".crt")), cmp.Or(*s.key, filepath.Join(*s.dir, s.name+".key")), pool)
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
