package cli

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/config"
	"socle/internal/platform/memory"
	"socle/internal/platform/service"
)

// commandEnv is what a service's command gets from the platform (service.CommandEnv).
type commandEnv struct {
	cmd            service.Command
	fs             *flag.FlagSet
	set            *config.Set // the database options of a Database command that is no benchmark
	base           base
	cpuprofile     string
	log            *slog.Logger
	stdout, stderr io.Writer
	undo           []func() // what release undoes, the last first
}

var _ service.CommandEnv = (*commandEnv)(nil)

// newCommandEnv prepares the flag set of `socle name` with the platform's options c takes.
func newCommandEnv(name string, c service.Command) *commandEnv {
	e := &commandEnv{cmd: c, stdout: stdout, stderr: stderr, fs: newFlagSet(name, c.Synopsis, c.Description, c.Example)}
	switch {
	case c.Bench:
		e.fs.StringVar(&e.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
		if c.Database {
			e.fs.StringVar(&e.base.DataDir, "data-dir", "", "where to keep the benchmark's database cluster and files (default: a temporary directory, removed)")
		}
	case c.Database:
		e.set = config.New()
		e.base.register(e.set)
	}
	return e
}

func (e *commandEnv) Stdout() io.Writer    { return e.stdout }
func (e *commandEnv) Stderr() io.Writer    { return e.stderr }
func (e *commandEnv) Flags() *flag.FlagSet { return e.fs }
func (e *commandEnv) DataDir() string      { return e.base.DataDir }
func (e *commandEnv) Logger() *slog.Logger {
	if e.log == nil {
		return slog.Default()
	}
	return e.log
}

func (e *commandEnv) Parse(args []string) error {
	if err := parse(e.fs, e.set, args); err != nil {
		return err
	}
	switch {
	case e.cmd.Bench:
		e.log = newLogger("warn", "text")
	case e.cmd.Database:
		e.log = newLogger(e.base.LogLevel, e.base.LogFormat)
	default:
		e.log = newLogger("info", "text")
	}
	if e.cmd.Bench && e.cmd.Database {
		e.base.DatabaseURL, e.base.PostgresUser = os.Getenv("SOCLE_DATABASE_URL"), "socle"
		if e.base.DataDir == "" {
			tmp, err := os.MkdirTemp("", "socle-bench-")
			if err != nil {
				return err
			}
			e.undo = append(e.undo, func() { os.RemoveAll(tmp) })
			os.Chmod(tmp, 0o711) // the cluster's system user must reach its directory
			e.base.DataDir = tmp
		}
	}
	if e.cpuprofile != "" {
		f, err := os.Create(e.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		e.undo = append(e.undo, func() { pprof.StopCPUProfile(); f.Close() })
	}
	return nil
}

func (e *commandEnv) OpenDB(ctx context.Context, maxConns int32) (*pgxpool.Pool, error) {
	if !e.cmd.Database {
		return nil, errors.New("OpenDB: the command does not declare Database")
	}
	log := e.Logger()
	d, err := e.base.openDB(ctx, log, maxConns)
	if err != nil {
		return nil, err
	}
	e.undo = append(e.undo, d.Close)
	if err := migrate(ctx, d.Pool, log); err != nil {
		return nil, err
	}
	if e.cmd.Bench {
		// The benchmark runs socle in this process: with the garbage collector's settings of
		// `socle serve`.
		gcctx, stopGC := context.WithCancel(ctx)
		go memory.Floor(gcctx, defaultHeapFloor, log)
		e.undo = append(e.undo, stopGC)
	}
	return d.Pool, nil
}

// release closes what the command opened through its environment.
func (e *commandEnv) release() {
	for i := len(e.undo) - 1; i >= 0; i-- {
		e.undo[i]()
	}
	e.undo = nil
}
