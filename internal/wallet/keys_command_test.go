package wallet

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/service"
)

// commandEnv is a service.CommandEnv on a site's database and data directory.
type commandEnv struct {
	pool      *pgxpool.Pool
	dataDir   string
	fs        *flag.FlagSet
	out, errs bytes.Buffer
	opened    bool
}

func (e *commandEnv) Stdout() io.Writer    { return &e.out }
func (e *commandEnv) Stderr() io.Writer    { return &e.errs }
func (e *commandEnv) Flags() *flag.FlagSet { return e.fs }
func (e *commandEnv) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (e *commandEnv) DataDir() string      { return e.dataDir }
func (e *commandEnv) Parse(args []string) error {
	e.fs.SetOutput(io.Discard)
	if err := e.fs.Parse(args); err != nil {
		return service.UsageError{Err: err}
	}
	return nil
}
func (e *commandEnv) OpenDB(context.Context, int32) (*pgxpool.Pool, error) {
	e.opened = true
	return e.pool, nil
}

func TestRotateKeyMakesTheKeyEveryReplicaSignsWith(t *testing.T) {
	s := newIssuerSite(t)
	first := s.w.signer().kid
	run := func(args ...string) (*commandEnv, error) {
		e := &commandEnv{pool: s.w.pool, dataDir: s.w.dataDir, fs: flag.NewFlagSet("rotate-key", flag.ContinueOnError)}
		return e, runRotateKey(t.Context(), args, e)
	}
	if e, err := run("--cert", "c.pem"); !errors.As(err, new(service.UsageError)) || e.opened {
		t.Fatalf("--cert alone: %v (database opened: %v)", err, e.opened)
	}
	e, err := run()
	if err != nil {
		t.Fatal(err)
	}
	kid := strings.TrimSpace(e.out.String())
	if kid == first || len(kid) != 16 || !strings.Contains(e.errs.String(), first) || !strings.Contains(e.errs.String(), kid) {
		t.Fatalf("printed %q, and the registry:\n%s", kid, e.errs.String())
	}
	if err := s.w.keys.reload(t.Context()); err != nil || s.w.signer().kid != kid {
		t.Fatalf("the running replica signs with %s, want %s (%v)", s.w.signer().kid, kid, err)
	}
	// In a token, the new key is made there: an operator's pair is refused.
	t.Setenv("SOCLE_WALLET_PKCS11_MODULE", "/nowhere/libsofthsm2.so")
	t.Setenv("SOCLE_WALLET_PKCS11_TOKEN", "t")
	if e, err := run("--cert", "c.pem", "--key", "k.pem"); !errors.As(err, new(service.UsageError)) || e.opened {
		t.Fatalf("--cert with a token: %v", err)
	}
}
