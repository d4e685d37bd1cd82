package wallet

import (
	"context"
	"path/filepath"

	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func init() {
	service.Register(service.Definition{
		Name:       "wallet",
		Order:      40,
		NewConfig:  func() service.Config { return &Config{} },
		Migrations: []database.Migrations{Migrations()},
		Home: web.Home{
			Title: web.Text{FR: "Portefeuille numérique du citoyen", EN: "Citizen's digital wallet"},
			Summary: web.Text{
				FR: "Les documents que les sources authentiques tiennent pour chaque citoyen — identité, actes d'état civil — délivrés à son portefeuille européen comme attestations vérifiables.",
				EN: "The documents the authentic sources hold for each citizen — identity, civil-status certificates — issued to their European wallet as verifiable credentials.",
			},
			Links: []web.Link{{Path: "/wallet/", Text: web.Text{FR: "Mes documents — connexion requise", EN: "My documents — sign-in required"}}},
		},
		Commands: append(commands(), benchCommand()),
		Demo:     runDemo,
		New: func(c service.Config, env service.Env) (service.Service, error) {
			return New(*c.(*Config), env)
		},
	})
}

// demoCitizens are the people of the simulated population register (socle sim registry,
// whose first five persons are fixed and documented), given built-in accounts.
var demoCitizens = []struct{ email, name, nrn string }{
	{"sophie.lambert@demo.socle.test", "Sophie Lambert (démo)", "85031412401"},
	{"thomas.renard@demo.socle.test", "Thomas Renard (démo)", "83110203774"},
	{"lotte.peeters@demo.socle.test", "Lotte Peeters (demo)", "92072121866"},
	{"jonas.schmitz@demo.socle.test", "Jonas Schmitz (Demo)", "01020915329"},
}

// runDemo creates the demo citizens' accounts, each linked to its national number (written
// on its line of the demo accounts' file).
func runDemo(ctx context.Context, _ service.Config, env service.Env) (func(), error) {
	accounts := filepath.Join(env.DataDir, identity.DemoAccountsFile)
	c := citizens{env.Pool}
	for _, d := range demoCitizens {
		if err := env.Identity.DemoAccountNoted(ctx, accounts, d.email, d.name, "nrn="+d.nrn); err != nil {
			return nil, err
		}
		u, err := env.Identity.UserByEmail(ctx, d.email)
		if err != nil {
			return nil, err
		}
		if err := c.link(ctx, u.ID, d.nrn); err != nil {
			return nil, err
		}
	}
	// Wallets the demo knows: the EU reference wallet, and the independent holder of socle's
	// tests (tests/wallet), which reads its code in the redirect without following it.
	_, err := env.Pool.Exec(ctx, `INSERT INTO wallet.clients (id, name, redirect_uris) VALUES
		('eudi-wallet', 'EUDI reference wallet', '{eu.europa.ec.euidi://authorization}'),
		('socle-node-holder', 'socle test holder', '{http://127.0.0.1/cb}')
		ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return nil, err
	}
	// Two messages of the demo administration in Sophie Lambert's inbox (docs/wallet.md).
	if err := demoInbox(ctx, env.Pool); err != nil {
		return nil, err
	}
	return func() {}, nil
}
