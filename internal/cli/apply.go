package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"socle/internal/platform/config"
	"socle/internal/platform/service"
)

func init() {
	register(command{name: "apply", summary: "apply a configuration file: every service's part of it, whole or not at all", run: runApply})
}

func runApply(ctx context.Context, args []string) error {
	var b base
	set := config.New()
	b.register(set)
	fs := flags("apply", "-f FILE.yaml [flags]", `
Reads a configuration file whose top-level keys belong to the services: the emergency
directory (operators, psaps, communes, pdaau, numbering: docs/emergency-directory-file.md),
the API gateway (gateway: docs/gateway.md)... Every part is checked first and every problem is
printed with its file and line; nothing is written unless the whole file is valid, and then
it is applied in one transaction. Applying the same file again changes nothing. Running
servers pick the change up at once.

Example:
  socle apply -f directory.yaml`)
	file := fs.String("f", "", "the file (YAML)")
	if err := parse(fs, set, args); err != nil {
		return err
	}
	if *file == "" {
		return service.Usagef("-f FILE.yaml is required")
	}
	changes, problems, err := prepareFile(*file, service.All())
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("%d errors, nothing applied", len(problems))
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	d, err := b.openDB(ctx, log, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := migrate(ctx, d.Pool, log); err != nil {
		return err
	}
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	reports, problems, err := applyChanges(ctx, tx, changes)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		return fmt.Errorf("%d errors, nothing applied", len(problems))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	for _, r := range reports {
		fmt.Fprintln(stdout, r)
	}
	return nil
}

// prepareFile reads the file at path and has each service owning some of its keys prepare
// its part. err is for a file that cannot be read at all; problems lists everything wrong
// in it.
func prepareFile(path string, defs []service.Definition) ([]service.Change, []string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, []string{fmt.Sprintf("%s: %s", filepath.Base(path), strings.TrimPrefix(err.Error(), "yaml: "))}, nil
	}
	if len(doc.Content) == 0 {
		return nil, []string{filepath.Base(path) + ": the file is empty"}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, []string{fmt.Sprintf("%s:%d: want a mapping of top-level keys (operators:, gateway:...)", filepath.Base(path), root.Line)}, nil
	}
	owner := map[string]int{}
	var known []string
	for i, d := range defs {
		if d.Apply == nil {
			continue
		}
		for _, k := range d.Apply.Keys {
			owner[k] = i
			known = append(known, k)
		}
	}
	slices.Sort(known)
	parts := map[int]*yaml.Node{}
	var problems []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		d, ok := owner[k.Value]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s:%d: unknown key %q (socle reads: %s)", filepath.Base(path), k.Line, k.Value, strings.Join(known, ", ")))
			continue
		}
		if parts[d] == nil {
			parts[d] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line, Column: root.Column}
		}
		parts[d].Content = append(parts[d].Content, k, root.Content[i+1])
	}
	var changes []service.Change
	for i, d := range defs {
		part := parts[i]
		if part == nil {
			continue
		}
		c, ps := d.Apply.Prepare(path, raw, part)
		problems = append(problems, ps...)
		if c != nil {
			changes = append(changes, c)
		}
	}
	return changes, problems, nil
}

// applyChanges applies every change in tx and gathers their reports and problems.
func applyChanges(ctx context.Context, tx pgx.Tx, changes []service.Change) (reports, problems []string, err error) {
	for _, c := range changes {
		r, ps, err := c.Apply(ctx, tx)
		if err != nil {
			return nil, nil, err
		}
		problems = append(problems, ps...)
		if r != "" {
			reports = append(reports, r)
		}
	}
	return reports, problems, nil
}
