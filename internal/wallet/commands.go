package wallet

import (
	"context"
	"fmt"
	"time"

	"socle/internal/platform/server"
	"socle/internal/platform/service"
	"socle/internal/wallet/documents"
)

func commands() []service.Command {
	return []service.Command{{Name: "wallet", Summary: "offer credentials and ask for presentations, from scripts",
		Description: "Offers a citizen's document as a credential, from scripts and for operators.",
		Subcommands: []service.Command{{
			Name: "offer", Summary: "print a credential offer of a citizen's document, and its transaction code",
			Synopsis: "--citizen NATIONAL_NUMBER --document pid|birth-certificate|marriage-certificate|driving-licence [--format dc+sd-jwt|mso_mdoc] [flags]", Database: true, Run: runOffer,
			Example: "socle wallet offer --citizen 85031412401 --document pid",
			Description: `
Makes a credential offer (OpenID4VCI 1.0 §4.1) of a citizen's document, as the citizen's page
does, and prints the offer's URI (by reference) on the first line of standard output and the
transaction code the wallet will ask for on the second. The offer is good once, for ten
minutes. The citizen is the account linked to the national number (wallet.citizens).`},
			rotateKeyCommand(),
			verifyRequestCommand,
		}}}
}

func runOffer(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	citizen := fs.String("citizen", "", "the citizen's national register number (11 digits)")
	document := fs.String("document", documents.PID, "the document: pid, birth-certificate, marriage-certificate, driving-licence")
	format := fs.String("format", formatSDJWT, "the credential's format: dc+sd-jwt, or mso_mdoc (ISO/IEC 18013-5) for the driving licence")
	public := fs.String("public-url", "", "socle's public address (empty: SOCLE_PUBLIC_URL, or the web listener of the socle running on -data-dir)")
	if err := env.Parse(args); err != nil {
		return err
	}
	conf := configurationIn(*document, *format)
	switch {
	case len(*citizen) != 11:
		return service.Usagef("--citizen: want a national register number of 11 digits")
	case configurationFor(*document) == "":
		return service.Usagef("--document %q: pid, birth-certificate, marriage-certificate or driving-licence", *document)
	case conf == "":
		return service.Usagef("--format %q: %s is issued as dc+sd-jwt, and the driving licence as mso_mdoc too", *format, *document)
	}
	base := *public
	if base == "" {
		var err error
		if base, err = server.RunningURL(env.DataDir()); err != nil {
			return fmt.Errorf("%w, or --public-url", err)
		}
	}
	pool, err := env.OpenDB(ctx, 2)
	if err != nil {
		return err
	}
	var userID int64
	if err := pool.QueryRow(ctx, `SELECT user_id FROM wallet.citizens WHERE nrn = $1`, *citizen).Scan(&userID); err != nil {
		return fmt.Errorf("no account is linked to %s", *citizen)
	}
	w := &Wallet{pool: pool, publicURL: func() string { return base }}
	of, tx, err := w.newOffer(ctx, userID, []string{conf})
	if err != nil {
		return err
	}
	byRef, _ := w.offerURIs(of)
	fmt.Fprintln(env.Stdout(), byRef)
	fmt.Fprintln(env.Stdout(), tx)
	fmt.Fprintf(env.Stderr(), "offer of %s to %s, good once until %s\n", *document, *citizen, of.ExpiresAt.Format(time.RFC3339))
	return nil
}
