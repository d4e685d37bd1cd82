package registrysim

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
)

// Command is `socle sim registry`, for the gateway's `sim` group.
func Command() service.Command {
	return service.Command{Name: "registry", Summary: "simulated Belgian authentic sources: a population register and driving licences (REST), a civil-status register (SOAP)",
		Synopsis: "[flags]", Example: "socle sim registry --addr 127.0.0.1:9101 --pki ./var/pki", Run: runRegistry,
		Description: `
Runs three simulated authentic sources of the Federal Service Platform on one HTTPS server,
for the API gateway's demo and tests: the population register, REST/JSON under /population/
(OpenAPI 3.1 at /population/openapi.yaml), the civil-status register, SOAP 1.1 and 1.2 at
/civil-status (WSDL at /civil-status?wsdl), and the central file of driving licences,
REST/JSON under /driving-licences/ (OpenAPI 3.1 at /driving-licences/openapi.yaml). The
population is fake, the same for the same -seed; its first five persons are socle's demo
persons, 85.03.14-124.01 (Sophie Lambert, Namur) first. The server certificate registry-sim.crt is issued in the PKI directory if
missing; with -client-ca, clients must present a certificate of that CA. One line is printed
per request: method, path or SOAP operation, status.`}
}

func runRegistry(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	addr := fs.String("addr", "127.0.0.1:9101", "listen address")
	dir := fs.String("pki", "./var/pki", "PKI directory (CA; server certificate registry-sim.crt/.key issued there if missing)")
	seed := fs.Int64("seed", DefaultSeed, "seed of the simulated population")
	persons := fs.Int("persons", DefaultPersons, "number of persons (at least the five demo persons)")
	clientCA := fs.String("client-ca", "", "CA bundle: when given, clients must present a certificate signed by it")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *persons < 5 {
		return service.Usagef("-persons %d: at least 5, the demo persons", *persons)
	}
	cfg, err := simTLS(*dir, *clientCA)
	if err != nil {
		return err
	}
	s, err := Start(ctx, Options{Addr: *addr, TLS: cfg, Seed: *seed, Persons: *persons, Log: env.Stdout()})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr(), "registry simulator on %s: %s/population/openapi.yaml, %s/civil-status?wsdl, %s/driving-licences/openapi.yaml (%d persons, seed %d)\n",
		s.URL(), s.URL(), s.URL(), s.URL(), len(s.Registry.persons), *seed)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Close(sctx)
}

// simTLS is the server's TLS: its certificate from the development PKI in dir, issued there
// for loopback if missing, and client certificates required when clientCA is given.
func simTLS(dir, clientCA string) (*tls.Config, error) {
	if _, err := pki.Init(dir); err != nil {
		return nil, err
	}
	const name = "registry-sim"
	if _, err := pki.EnsureIssued(dir, name, pki.Request{Name: "registry-simulator", Organization: "socle", Usage: pki.Server,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}); err != nil {
		return nil, err
	}
	cert, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if clientCA == "" {
		return server.ServerTLS(cert, key)
	}
	pool, err := pki.LoadPool(clientCA)
	if err != nil {
		return nil, err
	}
	return server.MutualTLS(cert, key, pool)
}
