// Package identity knows the people (agents) who sign in to socle's web pages: their
// accounts, argon2id password hashes, roles per scope (a département, or * for all), and
// sessions carried by a cookie. It serves the sign-in form and the middleware that puts the
// signed-in user into each request's context.
package identity

import (
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database"
)

// A grant gives a role on a scope. The platform defines admin, everything everywhere; every
// other role is defined by the service it belongs to (service.Definition.Roles), with what
// its scopes are: identity knows no service.
const (
	// RoleAdmin may do anything on every scope; it is only granted on scope "*".
	RoleAdmin = "admin"
	// AllScopes is the scope of a grant that covers every scope of its role.
	AllScopes = "*"
)

// Role is a role a grant may name.
type Role struct {
	// Name is namespaced by its service: "pdaau.editor".
	Name string
	// Description says what it allows, for `socle user -h`.
	Description string
	// Scope checks a scope of the role and returns it normalised (a département "2a" is
	// "2A"); nil: the role is granted on "*" only. "*" itself is always accepted.
	Scope func(scope string) (string, error)
}

var (
	rolesMu sync.RWMutex
	roles   = map[string]Role{RoleAdmin: {Name: RoleAdmin, Description: "may do anything on every scope (granted on * only)"}}
)

// DefineRole adds a role; the service registry calls it for each service's roles. A name
// defined twice panics: two services would share a role without knowing it.
func DefineRole(r Role) {
	rolesMu.Lock()
	defer rolesMu.Unlock()
	if _, dup := roles[r.Name]; dup || r.Name == "" {
		panic(fmt.Sprintf("identity: role %q defined twice or unnamed", r.Name))
	}
	roles[r.Name] = r
}

// Roles returns the roles a grant may name, sorted by name.
func Roles() []Role {
	rolesMu.RLock()
	defer rolesMu.RUnlock()
	out := make([]Role, 0, len(roles))
	for _, r := range roles {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func roleNames() []string {
	var names []string
	for _, r := range Roles() {
		names = append(names, r.Name)
	}
	return names
}

// Session lifetimes: a session ends 12 h after sign-in, or after 2 h without a request.
const (
	SessionLifetime = 12 * time.Hour
	SessionIdle     = 2 * time.Hour
)

// CookieName is the session cookie.
const CookieName = "socle_session"

// Errors. Authenticate answers ErrBadCredentials alike for an unknown email and a wrong
// password, so that the answer does not tell which accounts exist.
var (
	ErrBadCredentials = errors.New("identity: wrong email or password")
	ErrDisabled       = errors.New("identity: account disabled")
	ErrNoSession      = errors.New("identity: no valid session")
	ErrUnknownUser    = errors.New("identity: no such user")
	ErrUserExists     = errors.New("identity: a user with this email already exists")
	ErrNoGrant        = errors.New("identity: no such grant")
	ErrWeakPassword   = errors.New("identity: password too weak")
)

// User is an agent and what they may do.
type User struct {
	ID        int64
	Email     string
	Name      string
	Disabled  bool
	CreatedAt time.Time
	Grants    []Grant // sorted by role, then scope
}

// Grant is a role on a scope: a département code (75, 2A, 971) or "*".
type Grant struct {
	Role  string
	Scope string
}

// Can reports whether u may act as role on scope. An admin may do anything; a grant on "*"
// covers every scope; a disabled user may do nothing.
func (u *User) Can(role, scope string) bool {
	if u == nil || u.Disabled {
		return false
	}
	for _, g := range u.Grants {
		if g.Role == RoleAdmin || g.Role == role && (g.Scope == AllScopes || g.Scope == scope) {
			return true
		}
	}
	return false
}

// Scopes returns the scopes on which u holds role, sorted: ["*"] when that is every scope
// (an admin, or a grant on "*"), nil when none.
func (u *User) Scopes(role string) []string {
	if u == nil || u.Disabled {
		return nil
	}
	var out []string
	for _, g := range u.Grants {
		if g.Role == RoleAdmin || g.Role == role && g.Scope == AllScopes {
			return []string{AllScopes}
		}
		if g.Role == role {
			out = append(out, g.Scope)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Store keeps users, grants and sessions in the identity schema, and serves the sign-in
// pages.
type Store struct {
	// Now is the clock; tests replace it to move time.
	Now func() time.Time

	pool    *pgxpool.Pool
	logger  *slog.Logger
	limiter *limiter
	csrf    *http.CrossOriginProtection
	oidc    *provider // nil: built-in accounts only
}

// New returns a store on pool, a database migrated with Migrations.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Store {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Store{Now: time.Now, pool: pool, logger: logger.With("component", "identity")}
	s.limiter = newLimiter(LoginAttempts, LoginWindow)
	s.csrf = http.NewCrossOriginProtection()
	s.csrf.SetDenyHandler(http.HandlerFunc(crossOriginDenied))
	return s
}

func (s *Store) now() time.Time { return s.Now() }

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the identity schema's steps.
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("identity", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}

// NormalizeEmail trims and lower-cases an address and checks that it is a bare address
// (agent@example.gouv.fr, no display name).
func NormalizeEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" || len(e) > 254 {
		return "", fmt.Errorf("identity: email %q is not an address such as agent@example.gouv.fr", email)
	}
	return e, nil
}

// CheckGrant checks that role is defined and scope valid for it, and returns the scope
// normalised (2a → 2A). Admin is granted on "*" only.
func CheckGrant(role, scope string) (string, error) {
	rolesMu.RLock()
	r, ok := roles[role]
	rolesMu.RUnlock()
	if !ok {
		return "", fmt.Errorf("identity: role %q is not one of %s", role, strings.Join(roleNames(), ", "))
	}
	sc := strings.TrimSpace(scope)
	switch {
	case sc == AllScopes:
		return sc, nil
	case r.Scope == nil:
		return "", fmt.Errorf("identity: role %s is granted on scope * only (it covers every scope), not %q", role, scope)
	}
	sc, err := r.Scope(sc)
	if err != nil {
		return "", fmt.Errorf("identity: role %s: %w", role, err)
	}
	return sc, nil
}
