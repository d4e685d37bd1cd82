package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
)

func TestUserAddGrantRevokeList(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	pw := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pw, []byte("correct horse battery staple\n"), 0o600)

	if code, out, errs := run("user", "add", "Camille@X.fr", "--name", "Camille Martin", "--password-file", pw); code != 0 ||
		!strings.Contains(out, "user: camille@x.fr (Camille Martin) added") {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	stdin = strings.NewReader("another long passphrase\n")
	defer func() { stdin = os.Stdin }()
	if code, out, errs := run("user", "add", "--password-file", "-", "alex@x.fr", "--name", "Alex Petit"); code != 0 {
		t.Fatalf("add, password on stdin: %d %s %s", code, out, errs)
	}
	for _, g := range [][]string{{"pdaau.editor", "75"}, {"pdaau.editor", "2a"}, {"pdaau.approver", "*"}} {
		if code, out, errs := run("user", "grant", "camille@x.fr", g[0], g[1]); code != 0 || !strings.Contains(out, "may act as") {
			t.Fatalf("grant %v: %d %s %s", g, code, out, errs)
		}
	}
	if code, _, errs := run("user", "revoke", "camille@x.fr", "pdaau.approver", "*"); code != 0 {
		t.Fatalf("revoke: %d %s", code, errs)
	}
	if code, _, errs := run("user", "disable", "alex@x.fr"); code != 0 {
		t.Fatalf("disable: %d %s", code, errs)
	}
	code, out, errs := run("user", "list")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "EMAIL") ||
		!strings.Contains(lines[1], "alex@x.fr") || !strings.Contains(lines[1], "disabled") ||
		!strings.Contains(lines[2], "Camille Martin") || !strings.HasSuffix(lines[2], "pdaau.editor:2A pdaau.editor:75") {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out+errs, "correct horse") {
		t.Error("a password was printed")
	}
}

func TestUserErrorsNameTheBadArgument(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	dir := t.TempDir()
	short, good := filepath.Join(dir, "short"), filepath.Join(dir, "good")
	os.WriteFile(short, []byte("hunter2\n"), 0o600)
	os.WriteFile(good, []byte("correct horse battery staple"), 0o600)

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"user"}, 2, "want a subcommand"},
		{[]string{"user", "frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{[]string{"user", "add", "camille@x.fr", "--password-file", good}, 2, "--name is required"},
		{[]string{"user", "add", "camille@x.fr", "--name", "C"}, 2, "--password-file is required"},
		{[]string{"user", "add", "camille@x.fr", "--name", "C", "--password-file", short}, 2, "--password-file " + short + ": password too weak: it has 7 characters, at least 12 are required"},
		{[]string{"user", "add", "camille@x.fr", "--name", "C", "--password-file", filepath.Join(dir, "missing")}, 2, "--password-file: open "},
		{[]string{"user", "add", "camille", "--name", "C", "--password-file", good}, 2, `EMAIL "camille" is not an address`},
		{[]string{"user", "grant", "camille@x.fr", "pdaau.reader", "75"}, 2, `ROLE "pdaau.reader" is not one of acceptance.tester, admin, gateway.admin, gateway.owner, pdaau.approver, pdaau.editor`},
		{[]string{"user", "grant", "camille@x.fr", "pdaau.editor", "20"}, 2, `scope "20" is not a département code`},
		{[]string{"user", "grant", "camille@x.fr", "admin", "75"}, 2, "admin is granted on scope * only"},
		{[]string{"user", "grant", "camille@x.fr", "pdaau.editor"}, 2, "socle user grant wants EMAIL ROLE SCOPE, got 2 arguments"},
		{[]string{"user", "list", "extra"}, 2, "takes no arguments"},
		{[]string{"user", "grant", "nobody@x.fr", "pdaau.editor", "75"}, 1, "nobody@x.fr: identity: no such user"},
		{[]string{"user", "revoke", "nobody@x.fr", "pdaau.editor", "75"}, 1, "no such user"},
	} {
		code, out, errs := run(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("socle %s: exit %d, want %d with %q\n%s%s", strings.Join(c.args, " "), code, c.code, c.want, out, errs)
		}
		if strings.Contains(errs, "hunter2") {
			t.Errorf("socle %s printed the password", strings.Join(c.args, " "))
		}
	}
	run("user", "add", "camille@x.fr", "--name", "C", "--password-file", good)
	if code, _, errs := run("user", "add", "camille@x.fr", "--name", "C", "--password-file", good); code != 1 || !strings.Contains(errs, "already exists") {
		t.Errorf("twice: %d %s", code, errs)
	}
	if code, _, errs := run("user", "revoke", "camille@x.fr", "pdaau.editor", "75"); code != 1 || !strings.Contains(errs, "camille@x.fr has no role pdaau.editor on scope 75") {
		t.Errorf("revoke what was not granted: %d %s", code, errs)
	}
}

func TestUserTokenPrintsATokenOnceAndRevokes(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	stdin = strings.NewReader("correct horse battery staple\n")
	defer func() { stdin = os.Stdin }()
	if code, out, errs := run("user", "add", "camille@x.fr", "--name", "Camille", "--password-file", "-"); code != 0 {
		t.Fatalf("add: %d %s %s", code, out, errs)
	}
	code, out, errs := run("user", "token", "--email", "camille@x.fr", "--name", "dépôt", "--days", "7")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), identity.TokenPrefix) {
		t.Fatalf("token: %d %q %s", code, out, errs)
	}
	if code, _, errs := run("user", "token", "--email", "camille@x.fr", "--days", "400"); code != 2 || !strings.Contains(errs, "--days 400") {
		t.Fatalf("--days 400: %d %s", code, errs)
	}
	if code, out, errs := run("user", "token", "--email", "camille@x.fr", "--revoke"); code != 0 || !strings.Contains(out, "1 token(s)") {
		t.Fatalf("revoke: %d %q %s", code, out, errs)
	}
}
