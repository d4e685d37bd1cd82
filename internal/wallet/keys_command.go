package wallet

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"socle/internal/platform/config"
	"socle/internal/platform/service"
)

// rotateKeyCommand is `socle wallet rotate-key`.
func rotateKeyCommand() service.Command {
	return service.Command{Name: "rotate-key", Summary: "make a new issuer key, which signs from then on; the previous ones stay published",
		Synopsis: "[--cert FILE --key FILE] [flags]", Database: true, Run: runRotateKey,
		Example: "socle wallet rotate-key",
		Description: `
Makes a new key for the wallet's credentials and status lists, and makes it the current one in
the key registry (wallet.issuer_keys), which every replica reads again within 5 seconds. With
the issuer's keys in files, the new pair is issued by socle's CA under the data directory
(<data-dir>/pki/wallet-issuer-DATE.crt/.key), or is --cert/--key, a pair an operator's CA
issued, on a disk the replicas share. In a PKCS#11 token (SOCLE_WALLET_PKCS11_MODULE and the
other SOCLE_WALLET_PKCS11_ settings, read from the environment as socle serve reads them), the
new key is made in the token, labelled SOCLE_WALLET_PKCS11_KEY-DATE, and socle's CA certifies
it. The previous keys stay in /.well-known/jwt-vc-issuer until the last credential each
signed expires (a PID after 90 days, a certificate after a year). Prints the new key's kid,
then the registry on standard error.`}
}

func runRotateKey(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	certFile := fs.String("cert", "", "PEM certificate chain of the new key, leaf first (key files only; empty: issued by socle's CA)")
	keyFile := fs.String("key", "", "its private key, PEM, ECDSA P-256")
	if err := env.Parse(args); err != nil {
		return err
	}
	set := config.New()
	var cfg Config
	cfg.Register(set)
	if err := set.LoadEnv(os.Getenv); err != nil {
		return err
	}
	if err := set.Validate(); err != nil {
		return err
	}
	switch {
	case (*certFile == "") != (*keyFile == ""):
		return service.Usagef("--cert and --key go together")
	case *certFile != "" && cfg.pkcs11():
		return service.Usagef("--cert, --key: the issuer's keys are in the PKCS#11 token, where the new key is made")
	}
	pool, err := env.OpenDB(ctx, 2)
	if err != nil {
		return err
	}
	k := &keyring{pool: pool, cfg: cfg, dataDir: env.DataDir(), logger: env.Logger()}
	defer k.close()
	// The registry starts with the key the settings name, if serve has not run yet.
	if err := k.start(ctx); err != nil {
		return err
	}
	s, err := k.rotate(ctx, *certFile, *keyFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout(), s.kid)
	rows, err := pool.Query(ctx, `SELECT k.kid, k.source, k.created_at, k.retired_at, max(i.expires_at)
		FROM wallet.issuer_keys k LEFT JOIN wallet.issued i ON i.kid = k.kid
		GROUP BY k.kid ORDER BY k.created_at DESC`)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(env.Stderr(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "kid\tsource\tcreated\tretired\tlast credential expires")
	for rows.Next() {
		var kid, src string
		var created time.Time
		var retired, last *time.Time
		if err := rows.Scan(&kid, &src, &created, &retired, &last); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", kid, src, created.UTC().Format(time.RFC3339), orDash(retired), orDash(last))
	}
	tw.Flush()
	return rows.Err()
}

func orDash(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}
