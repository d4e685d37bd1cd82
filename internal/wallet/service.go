// Package wallet is the State side of the citizen's digital identity wallet (MyGov.be's, in
// seed 004): the documents the authentic sources hold for a citizen, read live through the
// service platform's gateway, issued to any EU-conformant wallet as verifiable credentials
// (OpenID4VCI 1.0, HAIP 1.0, SD-JWT VC, mdoc) and revocable; verified for relying parties
// (OpenID4VP 1.0, verifierservice.go); and the official inbox (eBox, inbox.go). See
// docs/wallet.md.
package wallet

import (
	"context"
	"crypto/tls"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/oauth"
	"socle/internal/wallet/sources"
	"socle/internal/web"
)

// Config is the wallet's configuration table.
type Config struct {
	SourcesURL  string
	SourcesKey  string
	Population  string
	CivilStatus string
	Authority   string
	IssuerCert  string
	IssuerKey   string
	// ProviderTrust and ClientAttestation: wallet attestations (attestation.go).
	ProviderTrust     string
	ClientAttestation string

	DrivingLicences string // the central file of driving licences' API on the gateway
	// The issuer's keys in a PKCS#11 token (issuerkey.go).
	PKCS11Module, PKCS11Token, PKCS11PIN, PKCS11Key string
	// VerifierTrust is a PEM bundle of issuers' roots the verifier trusts beside socle's CA.
	VerifierTrust string
	// VerifierKey signs request objects; VerifierCA (a directory with ca.crt and ca.key)
	// issues relying parties' access certificates for it.
	VerifierKey string
	VerifierCA  string
}

// Register declares the wallet's settings.
func (c *Config) Register(s *config.Set) {
	s.String(&c.SourcesURL, "wallet-sources-url", "", "the API gateway through which the wallet reads the authentic sources, https://host[:port] (empty: this socle's own, SOCLE_PUBLIC_URL)")
	s.Secret(&c.SourcesKey, "wallet-sources-key", "the wallet's consumer key at that gateway (empty in the demo: the key the gateway's demo wrote)")
	s.String(&c.Population, "wallet-population-api", "population", "the population register's API on the gateway")
	s.String(&c.CivilStatus, "wallet-civil-status-api", "etat-civil", "the civil-status register's API on the gateway")
	s.String(&c.DrivingLicences, "wallet-driving-licence-api", "permis-de-conduire", "the central file of driving licences' API on the gateway")
	s.String(&c.Authority, "wallet-issuing-authority", "SPF Intérieur — Registre national", "the issuing authority the credentials name (the PID's issuing_authority)")
	s.String(&c.IssuerCert, "wallet-issuer-cert", "", "PEM certificate chain of the key that signs credentials, leaf first (empty: <data-dir>/pki/wallet-issuer.crt, made from the development CA)")
	s.String(&c.IssuerKey, "wallet-issuer-key", "", "its private key (PEM, ECDSA P-256)")
	s.String(&c.ProviderTrust, "wallet-provider-trust", "", "the wallet providers whose attestations socle trusts (HAIP): a PEM bundle of CA certificates, or a JWKS of their keys by kid (empty: none; wallets are public clients)")
	s.String(&c.ClientAttestation, "wallet-client-attestation", attestationOptional, "optional: a wallet attestation is checked when sent; required: wallets without one are refused at the PAR and token endpoints")
	s.String(&c.PKCS11Module, "wallet-pkcs11-module", "", "the PKCS#11 module (.so) of the token holding the issuer's keys (empty: key files); with it, SOCLE_WALLET_ISSUER_CERT alone is the key's certificate, or socle's CA issues one")
	s.String(&c.PKCS11Token, "wallet-pkcs11-token", "", "the label of that token")
	s.Secret(&c.PKCS11PIN, "wallet-pkcs11-pin", "the token's user PIN")
	s.String(&c.PKCS11Key, "wallet-pkcs11-key", "socle-wallet-issuer", "the label of the issuer's key in the token (made there when missing; rotations add -DATE)")
	s.String(&c.VerifierTrust, "wallet-verifier-trust", "", "PEM bundle of the roots of credential issuers the verifier trusts, beside socle's CA")
	s.String(&c.VerifierKey, "wallet-verifier-key", "", "the verifier's signing key, PEM ECDSA P-256 (empty: <data-dir>/pki/wallet-verifier.key, made from the development CA)")
	s.String(&c.VerifierCA, "wallet-verifier-ca", "", "directory with ca.crt and ca.key, the CA that issues relying parties' access certificates (empty: <data-dir>/pki)")
	s.Check(func() error {
		switch {
		case c.PKCS11Module != "" && (c.PKCS11Token == "" || c.PKCS11Key == ""):
			return fmt.Errorf("SOCLE_WALLET_PKCS11_MODULE needs SOCLE_WALLET_PKCS11_TOKEN and SOCLE_WALLET_PKCS11_KEY")
		case c.PKCS11Module != "" && c.IssuerKey != "":
			return fmt.Errorf("SOCLE_WALLET_ISSUER_KEY: the key is in the PKCS#11 token; give its certificate alone")
		case c.PKCS11Module == "" && (c.IssuerCert == "") != (c.IssuerKey == ""):
			return fmt.Errorf("SOCLE_WALLET_ISSUER_CERT and SOCLE_WALLET_ISSUER_KEY go together")
		case c.ClientAttestation != attestationOptional && c.ClientAttestation != attestationRequired:
			return fmt.Errorf("SOCLE_WALLET_CLIENT_ATTESTATION: %q: optional or required", c.ClientAttestation)
		case c.ClientAttestation == attestationRequired && c.ProviderTrust == "":
			return fmt.Errorf("SOCLE_WALLET_CLIENT_ATTESTATION=required needs SOCLE_WALLET_PROVIDER_TRUST")
		}
		return nil
	})
}

// Wallet is the wallet service.
type Wallet struct {
	cfg       Config
	pool      *pgxpool.Pool
	logger    *slog.Logger
	people    *identity.Store
	publicURL func() string
	dataDir   string
	citizens  citizens
	tlsRoots  *tls.Config
	site      *web.Site
	keys      *keyring
	status    statusCache
	auth      authServer
	// attestation checks wallet attestations; nil when no provider is trusted.
	attestation *oauth.AttestationVerifier
	providers   oauth.ProviderKeys
	stop        func()
	srcMu       sync.Mutex
	src         *sources.Client
	// metadata is the issuer's metadata, made once (issuerMetadata).
	metadataOnce sync.Once
	metadata     map[string]any
	verifier     *verifierState // the OpenID4VP verifier (verifierservice.go)
}

// New builds the wallet; Start makes it serve.
func New(cfg Config, env service.Env) (*Wallet, error) {
	if cfg.SourcesURL != "" && !strings.HasPrefix(cfg.SourcesURL, "https://") {
		return nil, fmt.Errorf("SOCLE_WALLET_SOURCES_URL: %q: an https URL", cfg.SourcesURL)
	}
	w := &Wallet{cfg: cfg, pool: env.Pool, logger: env.Logger, people: env.Identity, publicURL: env.PublicURL,
		dataDir: env.DataDir, citizens: citizens{env.Pool}}
	// The gateway is trusted as the platform trusts: the system's roots for a production
	// certificate, socle's CA for the demo's.
	w.tlsRoots = pki.TrustAny(pki.SystemAnd(env.TLS.ClientCAs)...)
	if cfg.ProviderTrust != "" {
		p, err := providerTrust(cfg.ProviderTrust)
		if err != nil {
			return nil, err
		}
		w.providers = p
	}
	return w, nil
}

func (w *Wallet) Name() string { return "wallet" }

// Start loads the issuer's keys (making the development one if need be) and reads their
// registry again every keyReload; every minute it purges the authorisation server's expired
// state, the expired credentials' records, and the inbox's messages past their retention.
func (w *Wallet) Start(ctx context.Context) error {
	w.keys = &keyring{pool: w.pool, cfg: w.cfg, dataDir: w.dataDir, logger: w.logger}
	if err := w.keys.start(ctx); err != nil {
		w.keys.close()
		return err
	}
	if err := w.startVerifier(); err != nil {
		w.keys.close()
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		keys := time.NewTicker(keyReload)
		defer keys.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-keys.C:
				if err := w.keys.reload(bg); err != nil {
					w.logger.Warn("wallet: issuer keys", "error", err)
				}
			case <-t.C:
				if err := (stateStore{w.pool}).purge(bg); err != nil {
					w.logger.Warn("wallet: purge", "error", err)
				}
				if n, err := (issuedStore{w.pool}).purge(bg, time.Now()); err != nil {
					w.logger.Warn("wallet: purge", "error", err)
				} else if n > 0 {
					w.logger.Info("wallet: expired credentials' records purged", "count", n)
				}
				if n, err := (inboxStore{w.pool}).purge(bg, time.Now()); err != nil {
					w.logger.Warn("wallet: inbox: purge", "error", err)
				} else if n > 0 {
					w.logger.Info("wallet: inbox: messages past their retention purged", "messages", n)
				}
				if err := w.purgeVerifier(bg); err != nil {
					w.logger.Warn("wallet: purge presentation requests", "error", err)
				}
			}
		}
	}()
	w.stop = func() { cancel(); <-done; w.keys.close() }
	return nil
}

func (w *Wallet) Stop(ctx context.Context) error {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	return nil
}

func (w *Wallet) Ready(ctx context.Context) error { return w.pool.Ping(ctx) }

// sources is the client of the authentic sources, made when first needed (the gateway's
// address is known once the listeners are bound) and kept, with its connections.
func (w *Wallet) sources() (*sources.Client, error) {
	w.srcMu.Lock()
	defer w.srcMu.Unlock()
	if w.src != nil {
		return w.src, nil
	}
	base := w.cfg.SourcesURL
	if base == "" {
		base = w.publicURL()
	}
	key := w.cfg.SourcesKey
	if key == "" {
		b, err := os.ReadFile(filepath.Join(w.dataDir, "gateway-demo", "wallet-key.txt"))
		if err != nil {
			return nil, fmt.Errorf("wallet: no key for the gateway (SOCLE_WALLET_SOURCES_KEY): %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	w.src = &sources.Client{Base: base, Key: key, Population: w.cfg.Population, CivilStatus: w.cfg.CivilStatus, DrivingLicences: w.cfg.DrivingLicences,
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: w.tlsRoots, ForceAttemptHTTP2: true}}}
	return w.src, nil
}

// issuer is who the credentials say issued them.
func (w *Wallet) issuer() documents.Issuer {
	return documents.Issuer{Authority: w.cfg.Authority, Country: "BE", VCTBase: w.publicURL() + "/wallet/vct"}
}

// Routes mounts the citizen's pages.
func (w *Wallet) Routes(webMux, icMux *http.ServeMux) {
	w.verifierRoutes(webMux, icMux)
	w.site = web.NewSite(web.Text{FR: "Mon portefeuille", EN: "My wallet"}, "/wallet/", templateFiles, template.FuncMap{
		"join": strings.Join,
	}, "templates/*.html")
	w.site.Nav = []web.Link{{Path: "/wallet/", Text: web.Text{FR: "Mes documents", EN: "My documents"}},
		{Path: "/wallet/issued", Text: web.Text{FR: "Attestations délivrées", EN: "Issued credentials"}},
		{Path: "/wallet/inbox", Text: web.Text{FR: "Boîte aux lettres", EN: "Inbox"}}}
	w.site.Logger = w.logger
	h := func(pattern string, fn web.HandlerFunc) { webMux.Handle(pattern, w.people.Require(w.site.Handle(fn))) }
	h("GET /wallet/{$}", w.index)
	h("POST /wallet/offers/new/{configuration}", w.makeOffer)
	h("GET /wallet/issued", w.issued)
	h("POST /wallet/issued/{id}/revoke", w.revoke)
	w.inboxRoutes(icMux, h) // the official inbox: the senders' API, the citizen's pages
	webMux.HandleFunc("GET /wallet/offers/{id}", w.serveOffer)
	webMux.HandleFunc("GET /.well-known/openid-credential-issuer", w.issuerMetadata)
	webMux.HandleFunc("GET /.well-known/oauth-authorization-server", w.authorizationServerMetadata)
	webMux.HandleFunc("GET /.well-known/jwt-vc-issuer", w.jwtVCIssuerMetadata)
	webMux.HandleFunc("GET /wallet/vct/{kind}", w.typeMetadata)
	webMux.HandleFunc("GET /wallet/status/{list}", w.serveStatus)
	h("GET "+pathAuthorize, w.authorize)
	h("POST "+pathAuthorize, w.approve)
	for path, fn := range map[string]http.HandlerFunc{pathToken: w.token, pathPAR: w.par, pathNonce: w.nonce,
		pathCredential: w.credential, pathNotification: w.notification} {
		webMux.HandleFunc("POST "+path, fn)
		// Wallets prove who they are with DPoP keys and tokens, not the browser's cookie.
		if w.people != nil {
			w.people.AllowCrossOrigin(path)
		}
	}
}
