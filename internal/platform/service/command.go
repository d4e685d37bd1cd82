package service

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Command is a subcommand a service adds to `socle` (see the contract in the package
// comment): `socle NAME [flags] [arguments]`, or, with Subcommands, a group:
// `socle NAME SUB [flags] [arguments]`.
type Command struct {
	// Name is the word that calls the command; Summary is its line in `socle -h`, or in its
	// group's list (a group's line ends with its subcommands' names).
	Name, Summary string
	// Synopsis follows "Usage: socle NAME" in -h ("-f FILE.yaml [flags]"); Description says
	// what the command does; Example is one command line or more, shown under "Example:".
	// A group's Description introduces the list of its subcommands; its example is its
	// first subcommand's.
	Synopsis, Description, Example string
	// Database: the command opens the database (env.OpenDB). It takes the options that say
	// where the database is and how to log, as `socle serve` reads them: -data-dir,
	// -database-url, -postgres-user, -log-level and -log-format, each with its SOCLE_
	// variable.
	Database bool
	// Bench: the command is a benchmark. It takes -cpuprofile FILE (a CPU profile of the
	// whole run) and logs warnings only. With Database its database is a scratch one: a
	// private cluster under -data-dir (default: a temporary directory, removed at the end), or
	// the database SOCLE_DATABASE_URL names, which it may fill; and the garbage collector
	// runs as `socle serve` sets it.
	Bench bool
	// Run runs the command; nil for a group.
	Run func(ctx context.Context, args []string, env CommandEnv) error
	// Subcommands make the command a group; they are commands without subcommands.
	Subcommands []Command
}

// CommandEnv is what the platform gives a command while it runs.
type CommandEnv interface {
	// Stdout takes what the command produces; Stderr its progress and the errors it lists.
	Stdout() io.Writer
	Stderr() io.Writer
	// Flags is the command's flag set, its -h made from the Command: Run declares its own
	// flags on it, then calls Parse. Its positional arguments are Flags().Args().
	Flags() *flag.FlagSet
	// Parse reads the environment variables of the platform's options, then args, and checks
	// them. After -h it returns flag.ErrHelp, for a mistake a UsageError naming it: Run
	// returns either as is.
	Parse(args []string) error
	// Logger is the process's logger, and log/slog's default: as -log-level and -log-format
	// say for a Database command, warnings only for a benchmark, info otherwise.
	Logger() *slog.Logger
	// DataDir is the platform's data directory (-data-dir), or a benchmark's scratch
	// directory; empty for a command that takes no database.
	DataDir() string
	// OpenDB opens the command's database with up to maxConns connections, as `socle serve`
	// does — starting the private PostgreSQL cluster under the data directory when no URL is
	// given — and brings every schema up to date. It is closed when Run returns.
	OpenDB(ctx context.Context, maxConns int32) (*pgxpool.Pool, error)
}

// UsageError is a mistake in the command line: socle prints it on one line and exits with
// status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return UsageError{fmt.Errorf(format, args...)}
}

// checkCommands refuses commands that cannot work: a missing name or summary, a name taken
// twice, a command that is neither a group nor runs.
func checkCommands(cs []Command, group string) error {
	seen := map[string]bool{}
	for _, c := range cs {
		where := strings.TrimSpace(group + " " + c.Name)
		switch {
		case c.Name == "" || strings.ContainsAny(c.Name, " \t") || strings.HasPrefix(c.Name, "-"):
			return fmt.Errorf("command %q: a name is one word", where)
		case seen[c.Name]:
			return fmt.Errorf("command %q: declared twice", where)
		case group != "" && c.Summary == "":
			return fmt.Errorf("command %q: a subcommand needs a summary", where)
		case group == "" && c.Summary == "" && len(c.Subcommands) == 0:
			return fmt.Errorf("command %q: a summary is required", where)
		case (c.Run == nil) == (len(c.Subcommands) == 0):
			return fmt.Errorf("command %q: either Run or Subcommands", where)
		case group != "" && len(c.Subcommands) > 0:
			return fmt.Errorf("command %q: subcommands have no subcommands", where)
		}
		seen[c.Name] = true
		if err := checkCommands(c.Subcommands, where); err != nil {
			return err
		}
	}
	return nil
}
