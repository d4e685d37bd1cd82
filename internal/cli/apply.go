package cli

import (
	"context"
	"errors"
	"fmt"

	"socle/internal/emergency/directory"
	"socle/internal/platform/config"
)

func init() {
	register(command{name: "apply", summary: "load the emergency directory (operators, PSAPs, communes, PDAAU) from a file", run: runApply})
}

func runApply(ctx context.Context, args []string) error {
	var b base
	set := config.New()
	b.register(set)
	fs := flags("apply", "-f FILE.yaml [flags]", `
Reads a directory file (see docs/emergency-directory-file.md) and applies it in one
transaction: every entry is checked first, all errors are printed with their file and line,
and nothing is written unless everything is valid. Applying the same file again changes
nothing. Running servers pick up the change at once.`)
	file := fs.String("f", "", "the directory file (YAML)")
	if err := parse(fs, set, args); err != nil {
		return err
	}
	if *file == "" {
		return usagef("-f FILE.yaml is required")
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
	rep, err := directory.ApplyFile(ctx, d.Pool, *file)
	var list directory.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(stderr, e)
		}
		return fmt.Errorf("%d errors, nothing applied", len(list))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, rep)
	return nil
}
