// Package service is the registry of socle's services. A service is one folder: its package
// registers a Definition from an init function, and one blank import in
// internal/services makes it part of the binary. `socle serve`, `socle migrate`,
// `--print-config`, the home page, the roles a grant may name and the command line all loop
// over the registry; none of them names a service. (Caddy registers its modules the same
// way: caddy.RegisterModule from init, and a file of blank imports.)
//
// The contract of a service:
//
//   - New builds it from its configuration and the platform's Env, and does nothing else:
//     no goroutine, no connection, no listening socket, no file written. A configuration
//     that cannot work is refused here, with the setting named.
//   - Start acquires what the service runs on (pools, sockets, subscriptions, goroutines)
//     and returns once it can serve. If it fails halfway it releases what it took before
//     returning its error: a Resources value makes that the default.
//   - Stop releases everything Start took, waiting for work in flight up to its context's
//     deadline, and may be called after a failed Start or twice.
//   - Services never import each other.
//
// The contract of a command (Definition.Commands; see Command):
//
//   - A command declares what its -h shows (Synopsis, Description, Example) and which of the
//     platform's options it takes (Database, Bench); the platform builds its flag set from
//     them, and prints its help: usage line, description, example, and every flag with its
//     default and, for the platform's options, its SOCLE_ variable.
//   - Run declares the command's own flags on env.Flags(), calls env.Parse(args) and returns
//     its error as is (flag.ErrHelp after -h, a UsageError naming a mistake); then it works,
//     writing its results on env.Stdout(), its progress and the errors it lists on
//     env.Stderr(). It reports a mistake in the command line as a UsageError (socle prints
//     it on one line and exits with 2), anything else as an error (exit 1).
//   - It gets what it needs of the platform from env, never from internal/cli. What it
//     opens through env (OpenDB) is closed when Run returns.
//   - A command with Subcommands is a group (`socle sim psap`). A service adds subcommands to
//     a group of the platform's or another service's by declaring a group of the same name:
//     `socle bench` is the platform's, its benchmarks the services'. Any other clash of names
//     is a programming error, refused when the command line is assembled.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/platform/bus"
	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/platform/mail"
	"socle/internal/web"
)

// Service is a running service: its lifecycle and its routes.
type Service interface {
	Name() string
	// Start acquires what the service needs and begins its background work.
	Start(ctx context.Context) error
	// Stop releases what Start acquired.
	Stop(ctx context.Context) error
	// Routes mounts the service's handlers: web for people and public APIs, interconnect for
	// organisations authenticated by client certificate.
	Routes(web, interconnect *http.ServeMux)
	// Ready reports whether the service can take traffic.
	Ready(ctx context.Context) error
}

// Env is what the platform gives every service.
type Env struct {
	Pool     *pgxpool.Pool
	Bus      *bus.Bus
	Metrics  *prometheus.Registry
	Logger   *slog.Logger
	Identity *identity.Store
	TLS      TLS
	// DataDir is the platform's data directory; a service keeps its files in folders named
	// for it.
	DataDir string
	// Demo: the platform runs with its demo data (`make run`).
	Demo bool
	// Stdout is where the demo's simulators say what they receive.
	Stdout io.Writer
	// PublicURL is the web listener's address as others reach it, https://host[:port]
	// (SOCLE_PUBLIC_URL, or where the listener is bound), without a final slash; empty until
	// the listeners are bound, so a service reads it when it serves, not in New.
	PublicURL func() string
	// InterconnectURL is where this process's interconnect listener (mutual TLS) is bound,
	// https://host:port, as PublicURL is the web's: empty until the listeners are bound. The
	// gateway calls the services it publishes from this socle there (upstream
	// socle://interconnect/...).
	InterconnectURL func() string
	// Mail sends the platform's mail: through SOCLE_SMTP_RELAY, or with --demo and no relay
	// to the demo's mailbox (<data-dir>/mail).
	Mail mail.Sender
}

// TLS is the platform's certificate material towards other organisations.
type TLS struct {
	// ClientCert is socle's certificate when it calls an organisation (a PSAP, an operator).
	ClientCert tls.Certificate
	// ClientCAs verifies the certificates of organisations that call socle, and of those it
	// calls when they have no CA of their own.
	ClientCAs *x509.CertPool
}

// Config is a service's configuration table: Register declares its settings (each an
// environment variable SOCLE_<NAME> and a flag) on the platform's set.
type Config interface {
	Register(s *config.Set)
}

// Definition is what a service registers.
type Definition struct {
	// Name is the service's name: in SOCLE_SERVICES, logs, metrics and its URL paths.
	Name string
	// Order places the service on the home page and in the default SOCLE_SERVICES.
	Order int
	// NewConfig returns the service's configuration table with its zero values; the
	// platform registers it, fills it and hands it to New.
	NewConfig func() Config
	// Migrations are the service's database schemas, in order.
	Migrations []database.Migrations
	// Roles are the roles the service defines: grants name them.
	Roles []identity.Role
	Home  web.Home
	// Commands are the service's subcommands of `socle`, and the subcommands it adds to the
	// platform's groups (`socle bench`).
	Commands []Command
	// Apply, if set, is the service's part of the file `socle apply -f` reads.
	Apply *Apply
	// Demo, if set, puts the service's demo data in place before New when the platform runs
	// with --demo (`make run`): it may adjust cfg, and returns what stops what it started.
	Demo func(ctx context.Context, cfg Config, env Env) (stop func(), err error)
	// New builds the service (see the contract in the package comment).
	New func(cfg Config, env Env) (Service, error)
}

var (
	mu      sync.Mutex
	defined []Definition
)

// Register adds a service. It panics on a definition that cannot work or a name taken
// twice: both are programming errors, found when the binary starts.
func Register(d Definition) {
	mu.Lock()
	defer mu.Unlock()
	switch {
	case d.Name == "" || strings.ToLower(d.Name) != d.Name || strings.ContainsAny(d.Name, " ,_"):
		panic(fmt.Sprintf("service: name %q: lower case, no space, comma or underscore", d.Name))
	case d.New == nil || d.NewConfig == nil:
		panic(fmt.Sprintf("service %s: New and NewConfig are required", d.Name))
	case slices.ContainsFunc(defined, func(o Definition) bool { return o.Name == d.Name }):
		panic(fmt.Sprintf("service %s: registered twice", d.Name))
	}
	if err := checkCommands(d.Commands, ""); err != nil {
		panic(fmt.Sprintf("service %s: %v", d.Name, err))
	}
	for _, r := range d.Roles {
		identity.DefineRole(r)
	}
	defined = append(defined, d)
	slices.SortStableFunc(defined, func(a, b Definition) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// All returns every registered service, in order.
func All() []Definition {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(defined)
}

// Names returns the names of every registered service, in order.
func Names() []string {
	var out []string
	for _, d := range All() {
		out = append(out, d.Name)
	}
	return out
}

// Lookup returns the service called name.
func Lookup(name string) (Definition, bool) {
	for _, d := range All() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}

// Resources is what a Start has acquired, released in reverse order. A Start adds each
// resource as it takes it, and calls Release if it fails later; Stop calls Release too.
type Resources struct {
	mu       sync.Mutex
	releases []func(context.Context) error
}

// Add records how to release one resource.
func (r *Resources) Add(release func(context.Context) error) {
	r.mu.Lock()
	r.releases = append(r.releases, release)
	r.mu.Unlock()
}

// AddFunc records a release that cannot fail (a cancel, a Close without error).
func (r *Resources) AddFunc(release func()) {
	r.Add(func(context.Context) error { release(); return nil })
}

// Release releases everything, the last acquired first, and forgets it: a second call does
// nothing. Every release runs; their errors are joined.
func (r *Resources) Release(ctx context.Context) error {
	r.mu.Lock()
	rs := r.releases
	r.releases = nil
	r.mu.Unlock()
	var errs []error
	for i := len(rs) - 1; i >= 0; i-- {
		errs = append(errs, rs[i](ctx))
	}
	return errors.Join(errs...)
}
