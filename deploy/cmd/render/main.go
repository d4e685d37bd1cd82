// Command render writes socle's chart rendered for each value set of deploy/testdata, one
// multi-document YAML per set, DIR/<set>.yaml: what `make deploy-check` sends to a real
// kube-apiserver for a server-side dry run. Run it from deploy/: go run ./cmd/render -out DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"socle/deploy/render"
)

func main() {
	out := flag.String("out", "", "directory to write <set>.yaml into (created if missing)")
	chartDir := flag.String("chart", "helm/socle", "the chart")
	valuesDir := flag.String("values", "testdata", "where the values-<set>.yaml files are")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "render: -out DIR is required")
		os.Exit(2)
	}
	if err := run(*chartDir, *valuesDir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(chartDir, valuesDir, out string) error {
	ch, err := render.Load(chartDir)
	if err != nil {
		return err
	}
	sets, err := render.ValueSets(valuesDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(sets))
	for name := range sets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		vals, err := render.ReadValues(sets[name])
		if err != nil {
			return err
		}
		docs, err := render.Render(ch, vals, render.Release)
		if err != nil {
			return fmt.Errorf("value set %s: %w", name, err)
		}
		path := filepath.Join(out, name+".yaml")
		if err := os.WriteFile(path, render.Stream(docs), 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d objects\n", path, len(docs))
	}
	return nil
}
