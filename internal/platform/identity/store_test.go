package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAccountsAreCreatedOncePerEmailWithAGoodPassword(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	u, err := s.AddUser(ctx, "Camille.Martin@Interieur.gouv.fr", "  Camille Martin ", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Email != "camille.martin@interieur.gouv.fr" || u.Name != "Camille Martin" || len(u.Grants) != 0 {
		t.Errorf("added %+v", u)
	}
	if _, err := s.AddUser(ctx, "CAMILLE.MARTIN@interieur.gouv.fr", "Other", goodPassword); !errors.Is(err, ErrUserExists) {
		t.Errorf("same email in other case: %v", err)
	}
	if _, err := s.AddUser(ctx, "b@x.fr", "B", "too short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
	if _, err := s.AddUser(ctx, "not an email", "B", goodPassword); err == nil || !strings.Contains(err.Error(), `email "not an email"`) {
		t.Errorf("bad email: %v", err)
	}
	if _, err := s.AddUser(ctx, "b@x.fr", " ", goodPassword); err == nil || !strings.Contains(err.Error(), "name is empty") {
		t.Errorf("empty name: %v", err)
	}
	var stored string
	s.pool.QueryRow(ctx, `SELECT password_hash FROM identity.users WHERE id = $1`, u.ID).Scan(&stored)
	if !strings.HasPrefix(stored, "$argon2id$") {
		t.Errorf("stored %q, want an argon2id hash", stored)
	}
}

func TestAuthenticateAcceptsOnlyTheRightPasswordOfAnEnabledAccount(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	addUser(t, s, "camille@x.fr", Grant{RoleEditor, "75"})

	u, err := s.Authenticate(ctx, " Camille@X.fr", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "camille@x.fr" || !u.Can(RoleEditor, "75") {
		t.Errorf("authenticated %+v", u)
	}

	_, wrong := s.Authenticate(ctx, "camille@x.fr", "not the password at all")
	_, unknown := s.Authenticate(ctx, "nobody@x.fr", goodPassword)
	_, malformed := s.Authenticate(ctx, "not an address", goodPassword)
	for name, err := range map[string]error{"wrong password": wrong, "unknown email": unknown, "malformed email": malformed} {
		if err != ErrBadCredentials {
			t.Errorf("%s: %v, want exactly ErrBadCredentials (the same answer, whichever it is)", name, err)
		}
	}

	if err := s.SetDisabled(ctx, "camille@x.fr", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "camille@x.fr", goodPassword); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled account: %v", err)
	}
	if _, err := s.Authenticate(ctx, "camille@x.fr", "not the password at all"); err != ErrBadCredentials {
		t.Errorf("disabled account, wrong password: %v; it must not tell that the account exists", err)
	}
	s.SetDisabled(ctx, "camille@x.fr", false)
	if _, err := s.Authenticate(ctx, "camille@x.fr", goodPassword); err != nil {
		t.Errorf("enabled again: %v", err)
	}
}

func TestUnknownEmailsTakeAsLongAsWrongPasswords(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	addUser(t, s, "camille@x.fr")
	fastest := func(email string) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			s.Authenticate(ctx, email, "not the password at all")
			best = min(best, time.Since(start))
		}
		return best
	}
	wrong, unknown := fastest("camille@x.fr"), fastest("nobody@x.fr")
	// Both compute one argon2id hash; the fastest of five runs filters out scheduling noise.
	if unknown < wrong/2 {
		t.Errorf("unknown email answered in %v, wrong password in %v: the difference tells which accounts exist", unknown, wrong)
	}
}

func TestAnOutdatedHashIsUpgradedAtSignIn(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	old := current
	current = argonParams{memory: 8192, time: 1, threads: 1}
	u := addUser(t, s, "camille@x.fr")
	current = old
	if _, err := s.Authenticate(ctx, "camille@x.fr", goodPassword); err != nil {
		t.Fatal(err)
	}
	var stored string
	s.pool.QueryRow(ctx, `SELECT password_hash FROM identity.users WHERE id = $1`, u.ID).Scan(&stored)
	if outdated(stored) {
		t.Errorf("still %q after sign-in", stored)
	}
}

func TestGrantsAndRevocations(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	addUser(t, s, "camille@x.fr")
	addUser(t, s, "alex@x.fr")
	for _, g := range [][2]string{{RoleEditor, "75"}, {RoleEditor, "2a"}, {RoleApprover, "*"}, {RoleEditor, "75"}} {
		if err := s.Grant(ctx, "camille@x.fr", g[0], g[1]); err != nil {
			t.Fatalf("grant %v: %v", g, err)
		}
	}
	users, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users[0].Email != "alex@x.fr" || users[1].Email != "camille@x.fr" {
		t.Fatalf("users %+v, want alex then camille", users)
	}
	want := []Grant{{RoleApprover, "*"}, {RoleEditor, "2A"}, {RoleEditor, "75"}}
	if !slices.Equal(users[1].Grants, want) {
		t.Errorf("grants %v, want %v (sorted, 2a as 2A, the repeated grant once)", users[1].Grants, want)
	}
	if len(users[0].Grants) != 0 {
		t.Errorf("alex has %v", users[0].Grants)
	}

	if err := s.Revoke(ctx, "camille@x.fr", RoleEditor, "2A"); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "camille@x.fr", RoleEditor, "2A"); !errors.Is(err, ErrNoGrant) {
		t.Errorf("revoking twice: %v", err)
	}
	if err := s.Grant(ctx, "nobody@x.fr", RoleEditor, "75"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("grant to nobody: %v", err)
	}
	if err := s.Revoke(ctx, "nobody@x.fr", RoleEditor, "75"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("revoke from nobody: %v", err)
	}
	for _, bad := range [][2]string{{"pdaau.reader", "75"}, {RoleEditor, "20"}, {RoleAdmin, "75"}} {
		if err := s.Grant(ctx, "camille@x.fr", bad[0], bad[1]); err == nil {
			t.Errorf("grant %v accepted", bad)
		}
	}
	u, _ := s.Authenticate(ctx, "camille@x.fr", goodPassword)
	if !slices.Equal(u.Scopes(RoleEditor), []string{"75"}) || !u.Can(RoleApprover, "971") {
		t.Errorf("after revoking: %v", u.Grants)
	}
}

func TestSessionsLastTwelveHoursAtMostAndTwoHoursIdle(t *testing.T) {
	s, clock, _ := newStore(t)
	ctx := context.Background()
	u := addUser(t, s, "camille@x.fr", Grant{RoleEditor, "75"})

	token, expires, err := s.Login(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 43 || strings.ContainsAny(token, "+/=") {
		t.Errorf("token %q: want 32 bytes in unpadded base64url", token)
	}
	if !expires.Equal(clock.now().Add(12 * time.Hour)) {
		t.Errorf("expires %v", expires)
	}
	got, err := s.UserBySession(ctx, token)
	if err != nil || got.ID != u.ID || !got.Can(RoleEditor, "75") {
		t.Fatalf("fresh session: %+v %v", got, err)
	}

	// Used every 1 h 50, it lives until the 12th hour, not a second longer.
	for elapsed := time.Duration(0); elapsed+110*time.Minute < 12*time.Hour; elapsed += 110 * time.Minute {
		clock.advance(110 * time.Minute)
		if _, err := s.UserBySession(ctx, token); err != nil {
			t.Fatalf("active session refused after %v: %v", elapsed+110*time.Minute, err)
		}
	}
	clock.advance(expires.Sub(clock.now()))
	if _, err := s.UserBySession(ctx, token); !errors.Is(err, ErrNoSession) {
		t.Errorf("at 12 h: %v", err)
	}

	// Left alone 2 h, it ends.
	idle, _, _ := s.Login(ctx, u)
	clock.advance(2*time.Hour - time.Second)
	if _, err := s.UserBySession(ctx, idle); err != nil {
		t.Fatalf("idle 1 h 59 min 59 s: %v", err)
	}
	clock.advance(2 * time.Hour)
	if _, err := s.UserBySession(ctx, idle); !errors.Is(err, ErrNoSession) {
		t.Errorf("idle 2 h: %v", err)
	}

	// Signing out ends it at once; so does a garbage or a made-up token.
	out, _, _ := s.Login(ctx, u)
	if err := s.Logout(ctx, out); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{out, "", "garbage", strings.Repeat("A", 43)} {
		if _, err := s.UserBySession(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}

func TestTheDatabaseKeepsOnlyTheHashOfTokens(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	u := addUser(t, s, "camille@x.fr")
	token, _, _ := s.Login(ctx, u)
	var id []byte
	if err := s.pool.QueryRow(ctx, `SELECT id FROM identity.sessions`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256([]byte(token)); string(id) != string(sum[:]) {
		t.Errorf("session id %x, want the SHA-256 of the token, %x", id, sum)
	}
}

func TestDisablingOrChangingThePasswordEndsSessions(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := context.Background()
	u := addUser(t, s, "camille@x.fr")
	a, _, _ := s.Login(ctx, u)
	if err := s.SetPassword(ctx, "camille@x.fr", "another long passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserBySession(ctx, a); !errors.Is(err, ErrNoSession) {
		t.Errorf("session after password change: %v", err)
	}
	if _, err := s.Authenticate(ctx, "camille@x.fr", "another long passphrase"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := s.SetPassword(ctx, "camille@x.fr", "short"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short new password: %v", err)
	}
	if err := s.SetPassword(ctx, "nobody@x.fr", "another long passphrase"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("unknown user: %v", err)
	}
	b, _, _ := s.Login(ctx, u)
	s.SetDisabled(ctx, "camille@x.fr", true)
	if _, err := s.UserBySession(ctx, b); !errors.Is(err, ErrNoSession) {
		t.Errorf("session after disabling: %v", err)
	}
}

func TestPurgeDeletesEndedSessionsOnly(t *testing.T) {
	s, clock, _ := newStore(t)
	ctx := context.Background()
	u := addUser(t, s, "camille@x.fr")
	active, _, _ := s.Login(ctx, u)
	s.Login(ctx, u) // left idle
	clock.advance(90 * time.Minute)
	s.UserBySession(ctx, active)
	clock.advance(time.Hour)
	n, err := s.PurgeSessions(ctx)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want the idle one", n, err)
	}
	if _, err := s.UserBySession(ctx, active); err != nil {
		t.Errorf("the active session was purged: %v", err)
	}
	clock.advance(12 * time.Hour)
	if n, _ := s.PurgeSessions(ctx); n != 1 {
		t.Errorf("purged %d after 12 h, want 1", n)
	}
}
