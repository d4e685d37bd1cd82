package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type settings struct {
	dir      string
	password string
	addr     string
	ttl      time.Duration
	workers  int
}

func table(s *settings) *Set {
	c := New()
	c.String(&s.dir, "data-dir", "./var", "where socle keeps its state")
	c.Secret(&s.password, "database-password", "the password")
	c.Addr(&s.addr, "web-addr", ":8080", "web listener")
	c.Duration(&s.ttl, "location-retention", 24*time.Hour, "how long locations are kept")
	c.Int(&s.workers, "workers", 8, 1, 256, "delivery workers")
	return c
}

func TestDefaultsThenEnvironmentThenFlags(t *testing.T) {
	var s settings
	c := table(&s)
	env := map[string]string{"SOCLE_DATA_DIR": "/srv/socle", "SOCLE_WORKERS": "4"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse([]string{"-workers", "16"}); err != nil {
		t.Fatal(err)
	}
	if s.dir != "/srv/socle" || s.workers != 16 || s.ttl != 24*time.Hour || s.addr != ":8080" {
		t.Fatalf("got %+v", s)
	}
}

func TestBadValuesNameTheVariableAndTheRule(t *testing.T) {
	var s settings
	c := table(&s)
	env := map[string]string{"SOCLE_WEB_ADDR": "8080", "SOCLE_WORKERS": "0", "SOCLE_LOCATION_RETENTION": "one day"}
	err := c.LoadEnv(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{
		"SOCLE_WEB_ADDR=8080: want host:port",
		"SOCLE_WORKERS=0: want an integer from 1 to 256",
		"SOCLE_LOCATION_RETENTION=one day: want a positive duration",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestSecretsAreReadFromFilesAndNeverShown(t *testing.T) {
	var s settings
	c := table(&s)
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("hunter2\n"), 0o600)
	env := map[string]string{"SOCLE_DATABASE_PASSWORD_FILE": f}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if s.password != "hunter2" {
		t.Fatalf("password = %q", s.password)
	}
	var out bytes.Buffer
	c.Dump(&out)
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "(redacted)") {
		t.Fatalf("dump leaks or hides badly:\n%s", out.String())
	}
	env = map[string]string{"SOCLE_DATABASE_PASSWORD": "x", "SOCLE_WORKERS": "nope"}
	if err := table(&s).LoadEnv(func(k string) string { return env[k] }); strings.Contains(err.Error(), "x:") {
		t.Fatalf("error shows a secret: %v", err)
	}
}
