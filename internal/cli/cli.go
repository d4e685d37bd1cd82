// Package cli is socle's command line: the platform's subcommands, one file each, and the
// services' (service.Command, run with the environment of env.go), each with its own flag
// set and -h text.
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
	"slices"
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

// groups are the platform's groups of subcommands, which the services fill.
var groups = []service.Command{{Name: "bench", Summary: "measure a path against its baseline",
	Description: "Measures a path against a baseline measured in the same run, and prints both and their ratio."}}

// allCommands are the platform's commands and the registered services', by name.
func allCommands() []service.Command {
	all, err := assemble(commands, groups, service.All())
	if err != nil {
		panic(err) // a programming error, found when the binary starts
	}
	return all
}

// assemble lists the platform's commands and groups and the services' commands, a group's
// subcommands gathered from every service that adds to it, by name. A group nobody fills is
// left out; any other clash of names is an error.
func assemble(platform []command, platformGroups []service.Command, defs []service.Definition) ([]service.Command, error) {
	var all []service.Command
	for _, c := range platform {
		all = append(all, service.Command{Name: c.name, Summary: c.summary,
			Run: func(ctx context.Context, args []string, _ service.CommandEnv) error { return c.run(ctx, args) }})
	}
	all = append(all, platformGroups...)
	for _, d := range defs {
		for _, c := range d.Commands {
			i := slices.IndexFunc(all, func(o service.Command) bool { return o.Name == c.Name })
			if i < 0 {
				all = append(all, c)
				continue
			}
			g := &all[i]
			if g.Run != nil || c.Run != nil {
				return nil, fmt.Errorf("service %s: command %q is taken", d.Name, c.Name)
			}
			for _, sub := range c.Subcommands {
				if slices.ContainsFunc(g.Subcommands, func(o service.Command) bool { return o.Name == sub.Name }) {
					return nil, fmt.Errorf("service %s: command %q %q is taken", d.Name, c.Name, sub.Name)
				}
			}
			g.Subcommands = append(slices.Clip(g.Subcommands), c.Subcommands...)
			g.Summary, g.Description, g.Example = or(g.Summary, c.Summary), or(g.Description, c.Description), or(g.Example, c.Example)
		}
	}
	all = slices.DeleteFunc(all, func(c service.Command) bool { return c.Run == nil && len(c.Subcommands) == 0 })
	for _, c := range all {
		if c.Summary == "" {
			return nil, fmt.Errorf("command %q has no summary", c.Name)
		}
	}
	slices.SortStableFunc(all, func(a, b service.Command) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

// summary is a command's line in socle -h: a group's ends with its subcommands.
func summary(c service.Command) string {
	if len(c.Subcommands) == 0 {
		return c.Summary
	}
	var names []string
	for _, s := range c.Subcommands {
		names = append(names, s.Name)
	}
	return c.Summary + " (" + strings.Join(names, ", ") + ")"
}

// stdout and stderr are variables so that tests can capture them.
var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
)

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(args []string) int {
	if len(args) == 0 || isHelp(args) {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range allCommands() {
		if c.Name == args[0] {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := runCommand(ctx, c, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "socle %s: %v\n", c.Name, err)
				if errors.As(err, new(service.UsageError)) {
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
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, summary(c))
	}
}

func usagef(format string, args ...any) error { return service.Usagef(format, args...) }

// isHelp reports whether args ask for help: -h, --help or help.
func isHelp(args []string) bool {
	return len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")
}

// runCommand runs a command, or the subcommand of a group that args names.
func runCommand(ctx context.Context, c service.Command, args []string) error {
	if c.Run != nil {
		return runLeaf(ctx, c.Name, c, args)
	}
	if len(args) > 0 {
		for _, sub := range c.Subcommands {
			if sub.Name == args[0] {
				return runLeaf(ctx, c.Name+" "+sub.Name, sub, args[1:])
			}
		}
	}
	return group(args, c)
}

// runLeaf runs one command with its environment, and closes what it opened through it.
func runLeaf(ctx context.Context, name string, c service.Command, args []string) error {
	env := newCommandEnv(name, c)
	defer env.release()
	return c.Run(ctx, args, env)
}

// group answers a group (import, sim, bench) called without a subcommand, or with -h: the
// list of its subcommands, what each does, and an example. -h is no mistake.
func group(args []string, g service.Command) error {
	w := stderr
	help := isHelp(args)
	if help {
		w = stdout
	}
	fmt.Fprintf(w, "Usage: socle %s <what> [flags]   (socle %s <what> -h for its flags)\n\n%s\n\n", g.Name, g.Name, strings.TrimSpace(g.Description))
	for _, s := range g.Subcommands {
		fmt.Fprintf(w, "  %-14s %s\n", s.Name, s.Summary)
	}
	if ex := or(g.Example, g.Subcommands[0].Example); ex != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", indent(ex))
	}
	if help {
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usagef("want one of the above")
	}
	return usagef("unknown %q: want one of the above", args[0])
}

// indent puts two spaces before each line of an example.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n  ")
}

// examples are shown by -h, by platform command (a service's commands carry their own).
var examples = map[string]string{
	"serve":     "socle serve --demo                  # what `make run` does\nSOCLE_DATABASE_URL=postgres://socle@db/socle SOCLE_SERVICES=visio socle serve",
	"migrate":   "socle migrate --status\nSOCLE_DATABASE_URL=postgres://socle@db/socle socle migrate",
	"pki init":  "socle pki init --dir ./var/pki",
	"pki issue": "socle pki issue --dir ./var/pki --name orange --client",
	"version":   "socle version",
}

// flags builds the flag set of a platform command (see newFlagSet).
func flags(name, synopsis, description string) *flag.FlagSet {
	return newFlagSet(name, synopsis, description, examples[name])
}

// newFlagSet builds a flag set whose -h prints the usage line, the description, the example
// and the options with their defaults and environment variables.
func newFlagSet(name, synopsis, description, example string) *flag.FlagSet {
	fs := flag.NewFlagSet("socle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: socle %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		if example != "" {
			fmt.Fprintf(out, "\nExample:\n%s\n", indent(example))
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
			return service.UsageError{Err: err}
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
		return service.UsageError{Err: fmt.Errorf("%w (%s -h lists the flags)", err, fs.Name())}
	}
	if set != nil {
		if err := set.Validate(); err != nil {
			return service.UsageError{Err: err}
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
