package emergency

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"socle/internal/emergency/acceptance"
	"socle/internal/emergency/demo"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/pdaauweb"
	"socle/internal/emergency/psapsim"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
	"socle/internal/web"

	"go.yaml.in/yaml/v3"
)

func init() {
	service.Register(service.Definition{
		Name:       "emergency",
		Order:      10,
		NewConfig:  func() service.Config { return &Config{} },
		Migrations: []database.Migrations{schema.Migrations()},
		Roles:      append(slices.Clone(pdaauweb.Roles), acceptance.Roles...),
		Home: web.Home{
			Title: web.Text{FR: "Localisation des appels d'urgence", EN: "Emergency caller location"},
			Summary: web.Text{
				FR: "Les opérateurs poussent la localisation de l'appelant (AML) sur l'interconnexion en TLS mutuel ; socle l'achemine vers le centre de traitement (PSAP) compétent.",
				EN: "Operators push the caller's location (AML) to the interconnect over mutual TLS; socle routes it to the responsible emergency centre (PSAP).",
			},
			Links: []web.Link{{Path: "/emergency/pdaau/", Text: web.Text{
				FR: "Tables de routage (PDAAU) : dépôt, approbation, publication — connexion requise",
				EN: "Routing tables (PDAAU): upload, approval, publication — sign-in required",
			}}},
		},
		Commands: commands(),
		Apply: &service.Apply{Keys: directory.Keys, Prepare: func(path string, raw []byte, _ *yaml.Node) (service.Change, []string) {
			c, errs := directory.Prepare(path, raw)
			if c == nil {
				return nil, errs
			}
			return c, errs
		}},
		Demo: runDemo,
		New: func(cfg service.Config, env service.Env) (service.Service, error) {
			return New(*cfg.(*Config), Deps{Pool: env.Pool, Bus: env.Bus, Registry: env.Metrics, Logger: env.Logger,
				ClientCert: env.TLS.ClientCert, RootCAs: env.TLS.ClientCAs, Identity: env.Identity, DataDir: env.DataDir})
		},
	})
}

// runDemo writes the demo directory next to the PKI, applies it, runs the PSAP simulator the
// demo PSAPs point at, and gives the demo its routing-table editor and approver.
func runDemo(ctx context.Context, c service.Config, env service.Env) (stop func(), err error) {
	cfg := c.(*Config)
	// The simulator is bound first: the demo PSAPs point at the address it got (port 0 in
	// SOCLE_DEMO_PSAP_ADDR lets the system pick a free one).
	if err := demo.Certificates(env.DataDir, cfg.DemoPSAPAddr); err != nil {
		return nil, err
	}
	if !cfg.DemoPSAPSimulator {
		if err := applyDemo(ctx, cfg, env, cfg.DemoPSAPAddr); err != nil {
			return nil, err
		}
		return func() {}, nil
	}
	pkiDir := filepath.Join(env.DataDir, "pki")
	ca, err := pki.LoadPool(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	simTLS, err := server.MutualTLS(filepath.Join(pkiDir, "psap-sim.crt"), filepath.Join(pkiDir, "psap-sim.key"), ca)
	if err != nil {
		return nil, err
	}
	l := &server.Listener{Name: "psap-simulator", Addr: cfg.DemoPSAPAddr, TLS: simTLS, Handler: psapsim.New(env.Stdout), Logger: env.Logger}
	if err := l.Listen(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			l.Shutdown(context.Background())
		}
	}()
	if err := applyDemo(ctx, cfg, env, l.BoundAddr()); err != nil {
		return nil, err
	}
	go l.Serve()
	return func() { l.Shutdown(context.Background()) }, nil
}

// applyDemo writes and applies the demo directory, its PSAPs at psapAddr, and creates the
// demo's routing-table editor and approver.
func applyDemo(ctx context.Context, cfg *Config, env service.Env, psapAddr string) error {
	file, err := demo.Directory(env.DataDir, psapAddr)
	if err != nil {
		return err
	}
	rep, err := directory.ApplyFile(ctx, env.Pool, file)
	var list directory.Errors
	if errors.As(err, &list) {
		return fmt.Errorf("demo directory: %v", list)
	}
	if err != nil {
		return err
	}
	env.Logger.Info("demo directory applied", "file", file, "report", rep.String())
	if cfg.FallbackPSAP == "" {
		cfg.FallbackPSAP = demo.FallbackPSAP
	}
	accounts := filepath.Join(env.DataDir, identity.DemoAccountsFile)
	for _, a := range []struct {
		email, name string
		grants      []identity.Grant
	}{
		{"redacteur@demo.socle.test", "Rédacteur CCED (démo)", []identity.Grant{{Role: pdaauweb.RoleEditor, Scope: "75"}, {Role: pdaauweb.RoleEditor, Scope: "69"}}},
		{"approbateur@demo.socle.test", "Approbateur préfecture (démo)", []identity.Grant{{Role: pdaauweb.RoleApprover, Scope: identity.AllScopes}}},
		{"testeur@demo.socle.test", "Testeur opérateur (démo)", []identity.Grant{{Role: acceptance.RoleTester, Scope: "demo-mobile"}}},
	} {
		if err := env.Identity.DemoAccount(ctx, accounts, a.email, a.name, a.grants...); err != nil {
			return err
		}
	}
	return nil
}
