package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/registrysim"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
)

// The demo's gateway: the simulated authentic sources (socle sim registry) run in-process,
// published as three APIs, and the wallet's partner APIs (verifier, inbox) of this socle, with
// consumers, their keys, and the people who own and use them.
const (
	demoDir      = "gateway-demo"
	demoKeyFile  = "demo-key.txt"
	demoConsumer = "commune-de-demo"
	// The wallet reads the sources through the gateway with this key (a file, not an import:
	// services do not import each other).
	walletKeyFile  = "wallet-key.txt"
	walletConsumer = "portefeuille-citoyen"
	// A relying party of the wallet's verifier, and an administration that writes to the
	// citizens' inbox: their keys, for scripts and the tests, as the demo key.
	verifierKeyFile  = "verifier-key.txt"
	verifierConsumer = "banque-de-demo"
	inboxKeyFile     = "inbox-key.txt"
	inboxConsumer    = "spf-finances-demo"
)

const demoFile = `# Passerelle de démonstration, écrite par socle serve --demo (make run).
# Demo gateway: the simulated population register and driving licences (REST) and
# civil-status register (SOAP) of socle sim registry, published for a demo consumer. Apply
# your own with socle apply -f.
gateway:
  apis:
    - name: population
      title: Registre national — personnes
      description: Personnes inscrites au registre national simulé (REST, OpenAPI 3.1).
      kind: rest
      upstreams: [https://%[1]s/population]
      auth: [key, jwt, mtls]
      openapi: population.yaml
      health: {path: /healthz, interval: 10s}
      cors: {origins: ["*"]}
    - name: etat-civil
      title: État civil — actes
      description: Actes de naissance et de mariage du registre d'état civil simulé (SOAP 1.1 et 1.2).
      kind: soap
      upstreams: [https://%[1]s/civil-status]
      auth: [key, mtls]
      wsdl: civil-status.wsdl
    - name: permis-de-conduire
      title: Permis de conduire
      description: Permis de conduire du fichier central simulé du SPF Mobilité et Transports (REST, OpenAPI 3.1).
      kind: rest
      upstreams: [https://%[1]s/driving-licences]
      auth: [key, jwt, mtls]
      openapi: driving-licences.yaml
      health: {path: /healthz, interval: 10s}
    - name: verification
      title: Vérification d'attestations du portefeuille
      description: >-
        Le vérificateur OpenID4VP de socle : un fournisseur de services (banque, commune) demande
        au citoyen de présenter des attributs de son portefeuille et reçoit ceux qu'il a divulgués.
      kind: rest
      upstreams: [socle://interconnect/wallet/partners/verifier]
      auth: [key, jwt, mtls]
    - name: ebox
      title: eBox — messages officiels aux citoyens
      description: >-
        Les administrations publient des messages officiels (avec pièces jointes, recommandés
        ou non) dans la boîte aux lettres du citoyen et suivent leur lecture et leur accusé de réception.
      kind: rest
      upstreams: [socle://interconnect/wallet/partners/inbox]
      auth: [key, jwt, mtls]
      max_request_bytes: 15MiB   # 10 MiB of attachments, in base64, and the text
  plans:
    - name: bronze
      description: Essais et petites communes
      quota: {per_second: 10, per_day: 10000}
    - name: argent
      description: Applications en production
      quota: {per_second: 100, per_day: 1000000}
  consumers:
    - name: commune-de-demo
      organisation: Commune de démonstration
      contact: informatique@demo.socle.test
      subscriptions: [{api: population, plan: bronze}, {api: etat-civil, plan: bronze}, {api: permis-de-conduire, plan: bronze}]
    - name: portefeuille-citoyen
      organisation: Portefeuille numérique des citoyens (service wallet de socle)
      contact: portefeuille@demo.socle.test
      subscriptions: [{api: population, plan: argent}, {api: etat-civil, plan: argent}, {api: permis-de-conduire, plan: argent}]
    - name: banque-de-demo
      organisation: Banque de démonstration
      contact: conformite@banque.demo.socle.test
      subscriptions: [{api: verification, plan: argent}]
    - name: spf-finances-demo
      organisation: SPF Finances (démo)
      contact: ebox@finances.demo.socle.test
      subscriptions: [{api: ebox, plan: argent}]
`

func runDemo(ctx context.Context, c service.Config, env service.Env) (stop func(), err error) {
	cfg := c.(*Config)
	pkiDir := filepath.Join(env.DataDir, "pki")
	if _, err := pki.EnsureIssued(pkiDir, "registry-sim", pki.Request{Name: "localhost", Organization: "socle (registre simulé)",
		Usage: pki.Server, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		return nil, fmt.Errorf("gateway demo: %w", err)
	}
	// The authentic sources take calls from the service platform only: socle's client
	// certificate, as the Federal Service Platform calls them.
	tlsConf, err := server.MutualTLS(filepath.Join(pkiDir, "registry-sim.crt"), filepath.Join(pkiDir, "registry-sim.key"), env.TLS.ClientCAs)
	if err != nil {
		return nil, fmt.Errorf("gateway demo: %w", err)
	}
	sim, err := registrysim.Start(ctx, registrysim.Options{Addr: cfg.DemoRegistryAddr, TLS: tlsConf})
	if err != nil {
		return nil, fmt.Errorf("gateway demo: registry simulator: %w", err)
	}
	defer func() {
		if err != nil {
			sim.Close(context.Background())
		}
	}()
	dir := filepath.Join(env.DataDir, demoDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	host := strings.TrimPrefix(sim.URL(), "https://")
	for name, body := range map[string][]byte{
		"gateway.yaml":          []byte(fmt.Sprintf(demoFile, host)),
		"population.yaml":       registrysim.OpenAPI(),
		"civil-status.wsdl":     registrysim.WSDL(),
		"driving-licences.yaml": registrysim.LicencesOpenAPI(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			return nil, err
		}
	}
	if err := applyDemo(ctx, env, filepath.Join(dir, "gateway.yaml")); err != nil {
		return nil, err
	}
	for consumer, file := range map[string]string{demoConsumer: demoKeyFile, walletConsumer: walletKeyFile,
		verifierConsumer: verifierKeyFile, inboxConsumer: inboxKeyFile} {
		if err := demoKey(ctx, env, consumer, filepath.Join(dir, file)); err != nil {
			return nil, err
		}
	}
	accounts := filepath.Join(env.DataDir, identity.DemoAccountsFile)
	for _, a := range []struct {
		email, name string
		grants      []identity.Grant
	}{
		{"proprietaire@demo.socle.test", "Propriétaire d'API, registre national (démo)", []identity.Grant{{Role: RoleOwner, Scope: "population"}, {Role: RoleOwner, Scope: "etat-civil"}}},
		{"developpeur@demo.socle.test", "Développeuse d'une commune (démo)", nil},
	} {
		if err := env.Identity.DemoAccount(ctx, accounts, a.email, a.name, a.grants...); err != nil {
			return nil, err
		}
	}
	env.Logger.Info("gateway demo: authentic sources simulated", "url", sim.URL(), "file", filepath.Join(dir, "gateway.yaml"))
	return func() { sim.Close(context.Background()) }, nil
}

// applyDemo applies the demo's gateway file as `socle apply -f` would.
func applyDemo(ctx context.Context, env service.Env, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	ch, problems := prepare(path, raw, doc.Content[0])
	if len(problems) > 0 {
		return fmt.Errorf("gateway demo: %s", strings.Join(problems, "; "))
	}
	return pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
		rep, problems, err := ch.Apply(ctx, tx)
		if len(problems) > 0 {
			return fmt.Errorf("gateway demo: %s", strings.Join(problems, "; "))
		}
		if err == nil {
			env.Logger.Info("gateway demo applied", "report", rep)
		}
		return err
	})
}

// demoKey gives a demo consumer a key, written to path (readable by its owner only), unless
// the key written there is still one of its keys.
func demoKey(ctx context.Context, env service.Env, consumer, path string) error {
	if b, err := os.ReadFile(path); err == nil {
		cat, err := catalog.Load(ctx, env.Pool)
		if err != nil {
			return err
		}
		if k, err := cat.ConsumerOfKey(strings.TrimSpace(string(b)), time.Now()); err == nil && k.Consumer == consumer {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, _, err := catalog.IssueKey(ctx, env.Pool, consumer, "démo", "socle serve --demo", "", 0)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(key+"\n"), 0o600)
}
