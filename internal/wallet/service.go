// Package wallet is the State side of the citizen's digital identity wallet (MyGov.be's, in
// seed 004): the documents the authentic sources hold for a citizen, read live through the
// service platform's gateway, issued to any EU-conformant wallet as verifiable credentials
// (OpenID4VCI 1.0, HAIP 1.0, SD-JWT VC) and revocable; and verified for relying parties
// (OpenID4VP 1.0, verifierservice.go). The official inbox is still to come (docs/wallet.md).
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
	s.String(&c.Authority, "wallet-issuing-authority", "SPF Intérieur — Registre national", "the issuing authority the credentials name (the PID's issuing_authority)")
	s.String(&c.IssuerCert, "wallet-issuer-cert", "", "PEM certificate chain of the key that signs credentials, leaf first (empty: <data-dir>/pki/wallet-issuer.crt, made from the development CA)")
	s.String(&c.IssuerKey, "wallet-issuer-key", "", "its private key (PEM, ECDSA P-256)")
	s.String(&c.VerifierTrust, "wallet-verifier-trust", "", "PEM bundle of the roots of credential issuers the verifier trusts, beside socle's CA")
	s.String(&c.VerifierKey, "wallet-verifier-key", "", "the verifier's signing key, PEM ECDSA P-256 (empty: <data-dir>/pki/wallet-verifier.key, made from the development CA)")
	s.String(&c.VerifierCA, "wallet-verifier-ca", "", "directory with ca.crt and ca.key, the CA that issues relying parties' access certificates (empty: <data-dir>/pki)")
	s.Check(func() error {
		if (c.IssuerCert == "") != (c.IssuerKey == "") {
			return fmt.Errorf("SOCLE_WALLET_ISSUER_CERT and SOCLE_WALLET_ISSUER_KEY go together")
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
	signer    *signer
	status    statusCache
	auth      authServer
	stop      func()
	srcMu     sync.Mutex
	src       *sources.Client
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
	return w, nil
}

func (w *Wallet) Name() string { return "wallet" }

// Start loads the issuer's key (making the development one if need be), and purges the
// authorisation server's expired state every minute.
func (w *Wallet) Start(ctx context.Context) error {
	s, err := loadSigner(w.cfg, w.dataDir)
	if err != nil {
		return err
	}
	w.signer = s
	if err := w.startVerifier(); err != nil {
		return err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if err := (stateStore{w.pool}).purge(bg); err != nil {
					w.logger.Warn("wallet: purge", "error", err)
				}
				if err := w.purgeVerifier(bg); err != nil {
					w.logger.Warn("wallet: purge presentation requests", "error", err)
				}
			}
		}
	}()
	w.stop = func() { cancel(); <-done }
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
	w.src = &sources.Client{Base: base, Key: key, Population: w.cfg.Population, CivilStatus: w.cfg.CivilStatus,
		HTTP: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: w.tlsRoots, ForceAttemptHTTP2: true}}}
	return w.src, nil
}

// issuer is who the credentials say issued them.
func (w *Wallet) issuer() documents.Issuer {
	return documents.Issuer{Authority: w.cfg.Authority, Country: "BE", VCTBase: w.publicURL() + "/wallet/vct"}
}

// Routes mounts the citizen's pages.
func (w *Wallet) Routes(webMux, interconnect *http.ServeMux) {
	w.verifierRoutes(webMux, interconnect)
	w.site = web.NewSite(web.Text{FR: "Mon portefeuille", EN: "My wallet"}, "/wallet/", templateFiles, template.FuncMap{
		"join": strings.Join,
	}, "templates/*.html")
	w.site.Nav = []web.Link{{Path: "/wallet/", Text: web.Text{FR: "Mes documents", EN: "My documents"}},
		{Path: "/wallet/issued", Text: web.Text{FR: "Attestations délivrées", EN: "Issued credentials"}}}
	w.site.Logger = w.logger
	h := func(pattern string, fn web.HandlerFunc) { webMux.Handle(pattern, w.people.Require(w.site.Handle(fn))) }
	h("GET /wallet/{$}", w.index)
	h("POST /wallet/offers/new/{configuration}", w.makeOffer)
	h("GET /wallet/issued", w.issued)
	h("POST /wallet/issued/{id}/revoke", w.revoke)
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
