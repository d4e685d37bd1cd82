package registrysim

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/pki"
)

// commandEnv is the platform's side of a command, as far as `socle sim registry` uses it.
type commandEnv struct {
	stdout, stderr io.Writer
	fs             *flag.FlagSet
}

func (e *commandEnv) Stdout() io.Writer                                    { return e.stdout }
func (e *commandEnv) Stderr() io.Writer                                    { return e.stderr }
func (e *commandEnv) Flags() *flag.FlagSet                                 { return e.fs }
func (e *commandEnv) Parse(args []string) error                            { return e.fs.Parse(args) }
func (e *commandEnv) Logger() *slog.Logger                                 { return slog.New(slog.DiscardHandler) }
func (e *commandEnv) DataDir() string                                      { return "" }
func (e *commandEnv) OpenDB(context.Context, int32) (*pgxpool.Pool, error) { return nil, nil }

// TestCommandServesWithTheDevelopmentPKI: `socle sim registry` issues its certificate in the
// PKI directory, says where it listens, serves, prints a line per request, and stops with
// its context.
func TestCommandServesWithTheDevelopmentPKI(t *testing.T) {
	cmd := Command()
	if cmd.Name != "registry" || cmd.Summary == "" || cmd.Run == nil {
		t.Fatalf("command %+v", cmd)
	}
	dir := t.TempDir()
	errR, errW := io.Pipe()
	outR, outW := io.Pipe()
	env := &commandEnv{stdout: outW, stderr: errW, fs: flag.NewFlagSet("registry", flag.ContinueOnError)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.Run(ctx, []string{"-addr", "127.0.0.1:0", "-pki", dir, "-persons", "20"}, env) }()

	banner, err := bufio.NewReader(errR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, errR)
	url := regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+`).FindString(banner)
	if url == "" {
		t.Fatalf("no address in %q", banner)
	}
	roots, err := pki.LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	lines := bufio.NewReader(outR)
	go func() {
		res, err := c.Get(url + "/population/v1/persons/85031412401")
		if err == nil {
			res.Body.Close()
		}
	}()
	if line, err := lines.ReadString('\n'); err != nil || line != "GET /population/v1/persons/85031412401 200\n" {
		t.Errorf("printed %q, %v", line, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestClientCAMakesClientCertificatesRequired(t *testing.T) {
	dir := t.TempDir()
	open, err := simTLS(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	mutual, err := simTLS(dir, filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if open.ClientAuth != tls.NoClientCert || mutual.ClientAuth != tls.RequireAndVerifyClientCert || mutual.ClientCAs == nil {
		t.Errorf("client auth %v without -client-ca, %v with it", open.ClientAuth, mutual.ClientAuth)
	}
}
