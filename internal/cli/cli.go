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

// flags builds a flag set whose -h prints the summary, the usage line, the description and
// the options with their environment variables.
func flags(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("socle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: socle %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parse loads the environment into set, binds it to fs, parses args and validates.
func parse(fs *flag.FlagSet, set *config.Set, args []string) error {
	if set != nil {
		if err := set.LoadEnv(os.Getenv); err != nil {
			return usageError{err}
		}
		set.Bind(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
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
