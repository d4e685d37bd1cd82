package cli

import (
	"context"
	"fmt"

	"socle/internal/platform/config"
	"socle/internal/platform/database"
)

func init() {
	register(command{name: "migrate", summary: "bring every service's database schema up to date", run: runMigrate})
}

func runMigrate(ctx context.Context, args []string) error {
	var b base
	set := config.New()
	b.register(set)
	fs := flags("migrate", "[flags]", `
Applies the pending steps of every service's schema, each in its own transaction. Steps are
append-only; running it again does nothing. With no SOCLE_DATABASE_URL it works on the private
cluster under <data-dir>/postgres (created if needed).`)
	status := fs.Bool("status", false, "only print how many steps each schema lacks")
	if err := parse(fs, set, args); err != nil {
		return err
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	d, err := b.openDB(ctx, log, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if *status {
		for _, m := range allMigrations() {
			n, err := database.Pending(ctx, d.Pool, m)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-12s version %d, %d pending\n", m.Schema, len(m.Steps)-n, n)
		}
		return nil
	}
	if err := migrate(ctx, d.Pool, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrate: every schema is up to date")
	return nil
}
