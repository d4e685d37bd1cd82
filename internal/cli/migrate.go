package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

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
	status := fs.Bool("status", false, "only print where each schema stands, and what a rollback may do")
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
		var all []database.Status
		for _, m := range allMigrations() {
			st, err := database.ReadStatus(ctx, d.Pool, m)
			if err != nil {
				return err
			}
			all = append(all, st)
		}
		printStatus(stdout, all)
		return nil
	}
	if err := migrate(ctx, d.Pool, log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrate: every schema is up to date")
	return nil
}

// printStatus tells, per schema, what is applied and pending, and then what a rollback may
// do: which releases that migrated this database may run on it again. A release knows at
// least every step applied up to its own last migration (steps are numbered in release
// order), and may run as long as no contract step lies beyond that (database.Status).
func printStatus(w io.Writer, all []database.Status) {
	type release struct {
		name string
		last time.Time
	}
	var releases []release
	seen := map[string]int{}
	for _, st := range all {
		floor := "no contract step: earlier releases run on it"
		if st.Floor > 0 {
			floor = fmt.Sprintf("step %d contracts it: a release must know it", st.Floor)
		}
		fmt.Fprintf(w, "%-10s step %d of %d known to this binary, %d pending; %s\n", st.Schema, st.Applied, st.Known, st.Pending, floor)
		for _, a := range st.Ahead {
			kind := "expand"
			if a.Contract {
				kind = "contract"
			}
			fmt.Fprintf(w, "%-10s   step %d %s: %s, applied by %s on %s\n", "", a.Version, a.Name, kind, orDash(a.AppliedBy), a.AppliedAt.UTC().Format(time.DateTime))
		}
		for _, a := range st.Steps {
			if a.AppliedBy == "" {
				continue
			}
			i, ok := seen[a.AppliedBy]
			if !ok {
				i = len(releases)
				seen[a.AppliedBy] = i
				releases = append(releases, release{name: a.AppliedBy})
			}
			if a.AppliedAt.After(releases[i].last) {
				releases[i].last = a.AppliedAt
			}
		}
	}
	if len(releases) == 0 {
		fmt.Fprintln(w, "rollback: no release recorded its migrations here yet")
		return
	}
	slices.SortFunc(releases, func(a, b release) int { return a.last.Compare(b.last) })
	for _, r := range releases {
		var blocking []string
		for _, st := range all {
			knew := 0
			for _, a := range st.Steps {
				if !a.AppliedAt.After(r.last) {
					knew = max(knew, a.Version)
				}
			}
			if knew < st.Floor {
				blocking = append(blocking, fmt.Sprintf("%s step %d", st.Schema, st.Floor))
			}
		}
		if blocking == nil {
			fmt.Fprintf(w, "rollback to %s: possible, it runs on this schema\n", r.name)
		} else {
			fmt.Fprintf(w, "rollback to %s: refused, it predates contract steps (%s)\n", r.name, strings.Join(blocking, ", "))
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
