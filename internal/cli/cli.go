// Package cli is socle's command line: a registry of subcommands, one file each, each with
// its own flag set and -h text.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"socle/internal/platform/config"
	"socle/internal/platform/service"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) error
}

// commands is filled by each subcommand's file.
var commands []command

func register(c command) { commands = append(commands, c) }

// allCommands are the platform's commands, then those the registered services add.
func allCommands() []command {
	all := append([]command(nil), commands...)
	for _, d := range service.All() {
		for _, sc := range d.Commands {
			all = append(all, command{name: sc.Name, summary: sc.Summary,
				run: func(ctx context.Context, args []string) error { return sc.Run(ctx, args, stdout) }})
		}
	}
	return all
}

// stdout and stderr are variables so that tests can capture them.
var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
)

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range allCommands() {
		if c.name == args[0] {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := c.run(ctx, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				var u usageError
				fmt.Fprintf(stderr, "socle %s: %v\n", c.name, err)
				if errors.As(err, &u) {
					return 2
				}
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(stderr, "socle: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "socle — the sovereign base platform\n\nUsage: socle <command> [flags]   (socle <command> -h for its flags)\n\nCommands:")
	for _, c := range allCommands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// group answers a command made of subcommands (import, sim, bench) called without one, or
// with -h: the list of its subcommands, what each does, and an example. -h is no mistake.
func group(args []string, name, intro string, subs [][2]string, example string) error {
	w := stderr
	help := len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
	if help {
		w = stdout
	}
	fmt.Fprintf(w, "Usage: socle %s <%s> [flags]   (socle %s <%s> -h for its flags)\n\n%s\n\n", name, "what", name, "what", intro)
	for _, s := range subs {
		fmt.Fprintf(w, "  %-14s %s\n", s[0], s[1])
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", example)
	if help {
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usagef("want one of the above")
	}
	return usagef("unknown %q: want one of the above", args[0])
}

// examples are shown by -h, by command.
var examples = map[string]string{
	"serve":               "  socle serve --demo                  # what `make run` does\n  SOCLE_DATABASE_URL=postgres://socle@db/socle SOCLE_SERVICES=visio socle serve",
	"migrate":             "  socle migrate --status\n  SOCLE_DATABASE_URL=postgres://socle@db/socle socle migrate",
	"apply":               "  socle apply -f directory.yaml",
	"import communes":     "  socle import communes communes-2025.geojson",
	"import departements": "  socle import departements departements-2025.geojson",
	"pki init":            "  socle pki init --dir ./var/pki",
	"pki issue":           "  socle pki issue --dir ./var/pki --name orange --client",
	"sim psap":            "  socle sim psap --addr 127.0.0.1:8444 --pki ./var/pki",
	"sim operator":        "  socle sim operator --addr 127.0.0.1:8445 --pki ./var/pki -by-reference",
	"bench aml":           "  socle bench aml -for 10s",
	"bench resolve":       "  socle bench resolve",
	"bench held":          "  socle bench held",
	"bench visio":         "  socle bench visio",
	"version":             "  socle version",
}

// flags builds a flag set whose -h prints the summary, the usage line, the description and
// the options with their environment variables.
func flags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("socle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: socle %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		if ex := examples[name]; ex != "" {
			fmt.Fprintf(out, "\nExample:\n%s\n", ex)
		}
		fmt.Fprintln(out, "\nFlags:")
		printFlags(out, fs)
	}
	return fs
}

// printFlags lists the flags, each with the kind of its value, its usage, its default and
// its environment variable (the configuration's own flags carry both in their usage).
func printFlags(out io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind := ""
		if k, ok := f.Value.(interface{ Kind() string }); ok {
			kind = k.Kind()
		} else if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool {
			kind, _ = flag.UnquoteUsage(f)
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			kind = ""
		}
		_, usage := flag.UnquoteUsage(f)
		if _, ours := f.Value.(interface{ Kind() string }); !ours && f.DefValue != "" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(out, "  -%s\n    \t%s\n", strings.TrimSpace(f.Name+" "+kind), strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// parse loads the environment into set, binds it to fs, parses args and validates.
func parse(fs *flag.FlagSet, set *config.Set, args []string) error {
	if set != nil {
		if err := set.LoadEnv(os.Getenv); err != nil {
			return usageError{err}
		}
		set.Bind(fs)
	}
	// The flag package would print the whole usage on a mistake, and Main the error again:
	// a mistake is one line naming it, -h the usage, on stdout.
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stdout)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{fmt.Errorf("%w (%s -h lists the flags)", err, fs.Name())}
	}
	if set != nil {
		if err := set.Validate(); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// newLogger sets up log/slog once for the process.
func newLogger(level, format string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(stderr, opts)
	} else {
		h = slog.NewTextHandler(stderr, opts)
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}
