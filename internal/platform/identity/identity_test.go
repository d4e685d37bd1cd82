package identity

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// clock is a time that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// logBuffer collects what the store logs, to check that no secret is ever in it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newStore is a store on a fresh database, with a hand-moved clock and a log kept in memory.
func newStore(t *testing.T) (*Store, *clock, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	s := New(dbtest.New(t, Migrations()), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	s.Now = c.now
	return s, c, logs
}

const goodPassword = "correct horse battery staple"

// addUser creates an account with grants, or fails the test.
func addUser(t *testing.T, s *Store, email string, grants ...Grant) *User {
	t.Helper()
	ctx := context.Background()
	u, err := s.AddUser(ctx, email, "Camille Martin", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if err := s.Grant(ctx, email, g.Role, g.Scope); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestCanAndScopes(t *testing.T) {
	editor75and2A := &User{Grants: []Grant{{RoleEditor, "2A"}, {RoleEditor, "75"}}}
	approverEverywhere := &User{Grants: []Grant{{RoleApprover, "*"}, {RoleEditor, "13"}}}
	admin := &User{Grants: []Grant{{RoleAdmin, "*"}}}
	disabledAdmin := &User{Disabled: true, Grants: []Grant{{RoleAdmin, "*"}}}
	nobody := &User{}
	var anonymous *User

	for _, c := range []struct {
		name        string
		u           *User
		role, scope string
		can         bool
	}{
		{"an editor edits the départements granted", editor75and2A, RoleEditor, "75", true},
		{"an editor edits Corsica when granted 2A", editor75and2A, RoleEditor, "2A", true},
		{"an editor does not edit other départements", editor75and2A, RoleEditor, "13", false},
		{"an editor does not approve", editor75and2A, RoleApprover, "75", false},
		{"an editor of some départements is not an editor of all", editor75and2A, RoleEditor, "*", false},
		{"a grant on * covers every département", approverEverywhere, RoleApprover, "971", true},
		{"a grant on * covers the question about all", approverEverywhere, RoleApprover, "*", true},
		{"a grant on * covers only its role", approverEverywhere, RoleEditor, "75", false},
		{"approving does not imply editing", approverEverywhere, RoleEditor, "971", false},
		{"an admin may do anything", admin, RoleEditor, "2B", true},
		{"an admin may do anything, even unknown roles", admin, "visio.host", "*", true},
		{"a disabled admin may do nothing", disabledAdmin, RoleEditor, "75", false},
		{"no grant, no right", nobody, RoleEditor, "75", false},
		{"nobody signed in, no right", anonymous, RoleEditor, "75", false},
	} {
		if got := c.u.Can(c.role, c.scope); got != c.can {
			t.Errorf("%s: Can(%q, %q) = %v", c.name, c.role, c.scope, got)
		}
	}

	for _, c := range []struct {
		name string
		u    *User
		role string
		want []string
	}{
		{"the départements granted, sorted", editor75and2A, RoleEditor, []string{"2A", "75"}},
		{"none for a role not held", editor75and2A, RoleApprover, nil},
		{"* when granted on *", approverEverywhere, RoleApprover, []string{"*"}},
		{"the other role's scopes are its own", approverEverywhere, RoleEditor, []string{"13"}},
		{"* for an admin", admin, RoleApprover, []string{"*"}},
		{"none for a disabled account", disabledAdmin, RoleApprover, nil},
		{"none for nobody", anonymous, RoleEditor, nil},
	} {
		if got := c.u.Scopes(c.role); !slices.Equal(got, c.want) {
			t.Errorf("%s: Scopes(%q) = %q, want %q", c.name, c.role, got, c.want)
		}
	}
}

func TestAGrantNamesADefinedRoleOnAScopeItsRoleAccepts(t *testing.T) {
	for in, want := range map[string]string{"75": "75", "2a": "2A", " 13 ": "13", "*": "*"} {
		if got, err := CheckGrant(RoleEditor, in); err != nil || got != want {
			t.Errorf("CheckGrant(editor, %q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "00", "20", "2C", "75056", "all", "**"} {
		if _, err := CheckGrant(RoleEditor, bad); err == nil {
			t.Errorf("CheckGrant(editor, %q) accepted", bad)
		}
	}
	if _, err := CheckGrant(RoleAdmin, "75"); err == nil {
		t.Error("admin granted on one département: admin is every scope or nothing")
	}
	if _, err := CheckGrant("pdaau.reader", "75"); err == nil || !strings.Contains(err.Error(), RoleEditor) {
		t.Errorf("unknown role: %v, want refused with the defined roles listed", err)
	}
}

func TestARoleIsDefinedOnce(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a role defined twice was accepted")
		}
	}()
	DefineRole(Role{Name: RoleEditor})
}

func TestEmailsAreBareLowerCaseAddresses(t *testing.T) {
	if got, err := NormalizeEmail("  Camille.Martin@Interieur.Gouv.FR "); err != nil || got != "camille.martin@interieur.gouv.fr" {
		t.Errorf("got %q, %v", got, err)
	}
	for _, bad := range []string{"", "camille", "Camille <c@x.fr>", "c@", "@x.fr", "a@b@c"} {
		if _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
}
