package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run calls Main as the shell would and returns the exit code and what it printed.
func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	stdout, stderr = &out, &errb
	defer func() { stdout, stderr = os.Stdout, os.Stderr }()
	code := Main(args)
	return code, out.String(), errb.String()
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range allCommands() {
		args := []string{c.Name, "-h"}
		if c.Name == "pki" {
			args = []string{"pki", "issue", "-h"}
		}
		code, out, errs := run(args...)
		if code != 0 || !strings.Contains(out+errs, "Usage: socle "+c.Name) {
			t.Errorf("socle %s -h: exit %d\n%s%s", c.Name, code, out, errs)
		}
		for _, sub := range c.Subcommands {
			code, out, errs := run(c.Name, sub.Name, "-h")
			if code != 0 || !strings.Contains(out, "Usage: socle "+c.Name+" "+sub.Name) || !strings.Contains(out, "\nFlags:\n") {
				t.Errorf("socle %s %s -h: exit %d\n%s%s", c.Name, sub.Name, code, out, errs)
			}
			if !strings.Contains(summary(c), sub.Name) {
				t.Errorf("socle -h: %s does not name %s: %q", c.Name, sub.Name, summary(c))
			}
		}
		if len(c.Subcommands) > 0 {
			if code, _, errs := run(c.Name); code != 2 || !strings.Contains(errs, "socle "+c.Name+": want one of the above") {
				t.Errorf("socle %s alone: %d %s", c.Name, code, errs)
			}
			if code, _, errs := run(c.Name, "frobnicate"); code != 2 || !strings.Contains(errs, `unknown "frobnicate"`) {
				t.Errorf("socle %s frobnicate: %d %s", c.Name, code, errs)
			}
		}
	}
	if code, _, errs := run("frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %s", code, errs)
	}
}

// TestABadFlagIsOneLine: a mistake names itself on one line, and exits with 2.
func TestABadFlagIsOneLine(t *testing.T) {
	for _, c := range allCommands() {
		lines := [][]string{{c.Name, "-no-such-flag"}}
		if c.Name == "pki" || c.Name == "user" {
			continue // the subcommand comes first; their tests see to it
		}
		if len(c.Subcommands) > 0 {
			lines = nil
			for _, sub := range c.Subcommands {
				lines = append(lines, []string{c.Name, sub.Name, "-no-such-flag"})
			}
		}
		for _, args := range lines {
			code, out, errs := run(args...)
			want := "socle " + c.Name + ": flag provided but not defined: -no-such-flag (socle " + strings.Join(args[:len(args)-1], " ") + " -h lists the flags)\n"
			if code != 2 || errs != want || out != "" {
				t.Errorf("socle %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
			}
		}
	}
}

func TestPKIInitAndIssue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if code, out, errs := run("pki", "init", "--dir", dir); code != 0 || !strings.Contains(out, "written") {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	if code, out, _ := run("pki", "init", "--dir", dir); code != 0 || !strings.Contains(out, "nothing written") {
		t.Fatalf("second init: %d %s", code, out)
	}
	if code, out, errs := run("pki", "issue", "--dir", dir, "--name", "orange", "--client"); code != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("issue: %d %s %s", code, out, errs)
	}
	for _, name := range []string{"orange.crt", "orange.key", "ca.crt", "ca.key", "server.crt", "server.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if code, _, errs := run("pki", "issue", "--dir", dir, "--name", "x", "--ip", "not-an-ip"); code != 2 || !strings.Contains(errs, `--ip "not-an-ip" is not an IP address`) {
		t.Errorf("bad ip: %d %s", code, errs)
	}
}

func TestPrintConfigRedactsSecretsAndNamesBadValues(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", "postgres://socle:hunter2@db:5432/socle")
	code, out, _ := run("serve", "--print-config")
	if code != 0 || strings.Contains(out, "hunter2") || !strings.Contains(out, "SOCLE_DATABASE_URL") {
		t.Fatalf("print-config: %d\n%s", code, out)
	}
	t.Setenv("SOCLE_LOCATION_RETENTION", "forever")
	code, _, errs := run("serve", "--print-config")
	if code != 2 || !strings.Contains(errs, "SOCLE_LOCATION_RETENTION=forever: want a positive duration") {
		t.Fatalf("bad value: %d %s", code, errs)
	}
	// Fixes held in memory for the pull may not outlive the retention of personal data.
	t.Setenv("SOCLE_LOCATION_RETENTION", "2h")
	t.Setenv("SOCLE_EMERGENCY_PULL_MAX_AGE", "3h")
	code, _, errs = run("serve", "--print-config")
	if code != 2 || !strings.Contains(errs, "SOCLE_EMERGENCY_PULL_MAX_AGE (3h0m0s) must not exceed SOCLE_LOCATION_RETENTION (2h0m0s)") {
		t.Fatalf("pull age past retention: %d %s", code, errs)
	}
}
