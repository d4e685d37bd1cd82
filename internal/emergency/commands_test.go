package emergency_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
)

// commandLine runs the service's commands as socle would, on a database of its own shared by
// the runs of one test. (socle's own environment, its help and its exit codes, are tested
// in internal/cli.)
type commandLine struct {
	t    *testing.T
	pool *pgxpool.Pool
}

// run runs `socle args...` and returns what it printed and its error, which socle turns into
// an exit code: a service.UsageError 2, any other 1.
func (c *commandLine) run(args ...string) (string, string, error) {
	c.t.Helper()
	def, _ := service.Lookup("emergency")
	cmd, rest, ok := find(def.Commands, args)
	if !ok {
		c.t.Fatalf("socle %s: no such command of the emergency service", strings.Join(args, " "))
	}
	env := &commandEnv{line: c, fs: flag.NewFlagSet("socle "+cmd.Name, flag.ContinueOnError)}
	err := cmd.Run(context.Background(), rest, env)
	return env.out.String(), env.errs.String(), err
}

// find finds the command args name, in a group if need be, and returns its arguments.
func find(cs []service.Command, args []string) (service.Command, []string, bool) {
	for _, c := range cs {
		if len(args) > 0 && c.Name == args[0] {
			if c.Run != nil {
				return c, args[1:], true
			}
			return find(c.Subcommands, args[1:])
		}
	}
	return service.Command{}, nil, false
}

// commandEnv is a service.CommandEnv on the test's database.
type commandEnv struct {
	line      *commandLine
	fs        *flag.FlagSet
	out, errs bytes.Buffer
}

func (e *commandEnv) Stdout() io.Writer    { return &e.out }
func (e *commandEnv) Stderr() io.Writer    { return &e.errs }
func (e *commandEnv) Flags() *flag.FlagSet { return e.fs }
func (e *commandEnv) Logger() *slog.Logger { return testbed.Discard() }
func (e *commandEnv) DataDir() string      { return "" }
func (e *commandEnv) Parse(args []string) error {
	e.fs.SetOutput(io.Discard)
	err := e.fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return service.UsageError{Err: err}
	}
	return err
}

func (e *commandEnv) OpenDB(context.Context, int32) (*pgxpool.Pool, error) {
	if e.line.pool == nil {
		e.line.pool = dbtest.New(e.line.t, identity.Migrations(), schema.Migrations())
	}
	return e.line.pool, nil
}

func isUsage(err error) bool { return errors.As(err, new(service.UsageError)) }

func TestImportCommunesRefusesABadFileNamingTheFeature(t *testing.T) {
	socle := &commandLine{t: t}
	file := filepath.Join(t.TempDir(), "communes.geojson")
	os.WriteFile(file, []byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"nom":"X"},"geometry":null}]}`), 0o644)
	_, _, err := socle.run("import", "communes", file)
	if err == nil || isUsage(err) || !strings.Contains(err.Error(), "feature 0: properties.code missing") {
		t.Fatalf("%v", err)
	}
	if socle.pool != nil {
		t.Error("a bad file opened the database")
	}
	out, errs, err := socle.run("import", "communes", "demo/communes.geojson")
	if err != nil || !strings.Contains(out, "import: 8 communes (8 appeared, 0 vanished, 0 changed)") {
		t.Fatalf("%v\n%s%s", err, out, errs)
	}
	if _, _, err := socle.run("import", "communes"); !isUsage(err) || !strings.Contains(err.Error(), "want one file: socle import communes FILE.geojson") {
		t.Fatalf("no file: %v", err)
	}
}

func TestImportDepartementsReplacesTheSet(t *testing.T) {
	socle := &commandLine{t: t}
	dir := t.TempDir()
	square := func(code, name string, x float64) string {
		return fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"nom":%q},"geometry":{"type":"Polygon","coordinates":[[[%v,48],[%v,48],[%v,49],[%v,48]]]}}`, code, name, x, x+1, x+1, x)
	}
	write := func(features ...string) string {
		f := filepath.Join(dir, "departements.geojson")
		os.WriteFile(f, []byte(`{"type":"FeatureCollection","features":[`+strings.Join(features, ",")+`]}`), 0o644)
		return f
	}
	if out, errs, err := socle.run("import", "departements", write(square("75", "Paris", 2), square("92", "Hauts-de-Seine", 1))); err != nil ||
		!strings.Contains(out, "import: 2 departements (2 appeared, 0 vanished, 0 changed)") {
		t.Fatalf("first import: %v %s %s", err, out, errs)
	}
	if out, errs, err := socle.run("import", "departements", write(square("75", "Paris", 2))); err != nil ||
		!strings.Contains(out, "(0 appeared, 1 vanished, 0 changed)") || !strings.Contains(out, "vanished: 92") {
		t.Fatalf("second import: %v %s %s", err, out, errs)
	}
}
