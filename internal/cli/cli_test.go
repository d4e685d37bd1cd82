package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socle/internal/platform/database/dbtest"
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
	for _, c := range commands {
		args := []string{c.name, "-h"}
		if c.name == "pki" {
			args = []string{"pki", "issue", "-h"}
		}
		if sub, ok := map[string]string{"sim": "psap", "bench": "aml", "import": "communes"}[c.name]; ok {
			args = []string{c.name, sub, "-h"}
		}
		code, out, errs := run(args...)
		if code != 0 || !strings.Contains(out+errs, "Usage: socle "+c.name) {
			t.Errorf("socle %s -h: exit %d\n%s%s", c.name, code, out, errs)
		}
	}
	if code, out, errs := run("sim", "operator", "-h"); code != 0 || !strings.Contains(out+errs, "Usage: socle sim operator") {
		t.Errorf("socle sim operator -h: %d %s%s", code, out, errs)
	}
	if code, _, errs := run("frobnicate"); code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %s", code, errs)
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

func TestApplyPrintsEveryErrorAndExitsWithOne(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	file := filepath.Join(t.TempDir(), "directory.yaml")
	os.WriteFile(file, []byte("psaps:\n  - id: Bad Id\n    name: ''\n    routing_number: '12'\n    endpoint: ftp://x\n"), 0o644)
	code, _, errs := run("apply", "-f", file)
	if code != 1 || !strings.Contains(errs, "4 errors, nothing applied") ||
		!strings.Contains(errs, `directory.yaml:2: psaps[0] (id "Bad Id"): routing_number "12"`) {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if code, _, errs := run("apply"); code != 2 || !strings.Contains(errs, "-f FILE.yaml is required") {
		t.Fatalf("no file: exit %d %s", code, errs)
	}
}

func TestImportCommunesRefusesABadFileNamingTheFeature(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	file := filepath.Join(t.TempDir(), "communes.geojson")
	os.WriteFile(file, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"nom":"X"},"geometry":null}]}`), 0o644)
	code, _, errs := run("import", "communes", file)
	if code != 1 || !strings.Contains(errs, "feature 0: properties.code missing") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	code, out, errs := run("import", "communes", "../emergency/demo/communes.geojson")
	if code != 0 || !strings.Contains(out, "import: 8 communes (8 appeared, 0 vanished, 0 changed)") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

func TestImportDepartementsReplacesTheSet(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	dir := t.TempDir()
	square := func(code, name string, x float64) string {
		return fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"nom":%q},"geometry":{"type":"Polygon","coordinates":[[[%v,48],[%v,48],[%v,49],[%v,48]]]}}`, code, name, x, x+1, x+1, x)
	}
	write := func(features ...string) string {
		f := filepath.Join(dir, "departements.geojson")
		os.WriteFile(f, []byte(`{"type":"FeatureCollection","features":[`+strings.Join(features, ",")+`]}`), 0o644)
		return f
	}
	if code, out, errs := run("import", "departements", write(square("75", "Paris", 2), square("92", "Hauts-de-Seine", 1))); code != 0 ||
		!strings.Contains(out, "import: 2 departements (2 appeared, 0 vanished, 0 changed)") {
		t.Fatalf("first import: %d %s %s", code, out, errs)
	}
	if code, out, errs := run("import", "departements", write(square("75", "Paris", 2))); code != 0 ||
		!strings.Contains(out, "(0 appeared, 1 vanished, 0 changed)") || !strings.Contains(out, "vanished: 92") {
		t.Fatalf("second import: %d %s %s", code, out, errs)
	}
}
