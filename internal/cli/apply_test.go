package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"socle/internal/platform/database/dbtest"
)

// One file may hold every service's part: the emergency directory's keys and the gateway's.
const applyFile = `
psaps:
  - id: samu-75
    name: SAMU de Paris
    routing_number: "0100000015"
    endpoint: https://127.0.0.1:8444/psap/samu-75
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [https://127.0.0.1:9101/population]
      auth: [key]
  plans:
    - name: bronze
      quota: {per_second: 10, per_day: 10000}
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: population, plan: bronze}]
`

func writeFile(t *testing.T, body string) string {
	path := filepath.Join(t.TempDir(), "socle.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestApplyAppliesEveryServicesPartOfOneFile(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	code, out, errs := run("apply", "-f", writeFile(t, applyFile))
	if code != 0 || !strings.Contains(out, "gateway: APIs +1") || !strings.Contains(out, "1 PSAP") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := run("apply", "-f", writeFile(t, applyFile)); code != 0 || !strings.Contains(out, "gateway: nothing changed") {
		t.Fatalf("again: exit %d\n%s", code, out)
	}
	// A script gets a key of a consumer the file declared, alone on its line.
	code, out, errs = run("gateway", "key", "issue", "--consumer", "commune-de-namur", "--label", "batch")
	if code != 0 || !regexp.MustCompile(`^socle_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$`).MatchString(out) || !strings.Contains(errs, "shown this once") {
		t.Fatalf("key issue: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := run("gateway", "key", "issue", "--consumer", "personne"); code != 1 || !strings.Contains(errs, `no consumer "personne"`) {
		t.Fatalf("a key for nobody: exit %d %s", code, errs)
	}
	if code, _, errs := run("gateway", "key", "issue"); code != 2 || !strings.Contains(errs, "--consumer NAME is required") {
		t.Fatalf("no consumer: exit %d %s", code, errs)
	}
}

func TestApplyListsEveryProblemOfEveryPartAndAppliesNothing(t *testing.T) {
	t.Setenv("SOCLE_DATABASE_URL", dbtest.NewURL(t))
	bad := strings.NewReplacer(`routing_number: "0100000015"`, `routing_number: "12"`,
		"kind: rest", "kind: graphql", "plan: bronze}", "plan: gold}").Replace(applyFile) + "mystery: 1\n"
	code, out, errs := run("apply", "-f", writeFile(t, bad))
	for _, want := range []string{
		`socle.yaml:19: unknown key "mystery"`,
		`socle.yaml:3: psaps[0] (id "samu-75"): routing_number "12"`,
		`socle.yaml:9: gateway.apis[population].kind: "graphql": rest or soap`,
		`socle.yaml:17: gateway.consumers[commune-de-namur].subscriptions[0].plan: "gold": no such plan in this file`,
		"4 errors, nothing applied",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q", want)
		}
	}
	if code != 1 || out != "" {
		t.Fatalf("exit %d, printed %q\n%s", code, out, errs)
	}
	if t.Failed() {
		t.Log(errs)
	}
	// Nothing was applied: the same file without its mistakes adds everything.
	if code, out, _ := run("apply", "-f", writeFile(t, applyFile)); code != 0 || !strings.Contains(out, "gateway: APIs +1") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
