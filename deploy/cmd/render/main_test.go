package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"socle/deploy/render"
)

// TestRenderWritesEverySet: `go run ./cmd/render -out DIR` writes DIR/<set>.yaml for each
// value set, each a stream of the set's objects, what make deploy-check applies.
func TestRenderWritesEverySet(t *testing.T) {
	out := t.TempDir()
	if err := run("../../helm/socle", "../../testdata", out); err != nil {
		t.Fatal(err)
	}
	sets, err := render.ValueSets("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	for name := range sets {
		b, err := os.ReadFile(filepath.Join(out, name+".yaml"))
		if err != nil {
			t.Fatalf("value set %s: %v", name, err)
		}
		if n := strings.Count(string(b), "\n---\n") + 1; n < 15 || !strings.Contains(string(b), "kind: NetworkPolicy") {
			t.Errorf("%s.yaml: %d documents, no NetworkPolicy: not a whole rendering", name, n)
		}
	}
	if err := run("../../helm/socle", t.TempDir(), out); err == nil || !strings.Contains(err.Error(), "no values-*.yaml") {
		t.Errorf("an empty values directory: %v", err)
	}
}
