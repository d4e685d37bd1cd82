package wallet

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"socle/internal/platform/pki"
)

// signer is the issuer's signing key and its certificate chain: credentials and status lists
// carry the chain in their x5c header (HAIP 1.0 asks for x5c in SD-JWT VCs and in Status List
// Tokens), and its key id.
type signer struct {
	priv  crypto.Signer
	kid   string
	pub   jwk.Key             // public, with kid and alg: the issuer metadata's
	chain []*x509.Certificate // leaf first, for x5c (RFC 7515 §4.1.6)
	alg   jwa.SignatureAlgorithm
}

// publicKey is the public side of a key of the registry, from its certificate: what
// /.well-known/jwt-vc-issuer publishes. The key id is the certificate's SHA-256: a new
// certificate, a new kid.
func publicKey(chain []*x509.Certificate) (kid string, pub jwk.Key, err error) {
	if len(chain) == 0 {
		return "", nil, errors.New("wallet: issuer key: no certificate")
	}
	if k, ok := chain[0].PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		return "", nil, fmt.Errorf("wallet: issuer key: %T is not among HAIP's keys (ECDSA P-256, ES256)", chain[0].PublicKey)
	}
	sum := sha256.Sum256(chain[0].Raw)
	kid = hex.EncodeToString(sum[:8])
	if pub, err = jwk.Import(chain[0].PublicKey); err != nil {
		return "", nil, fmt.Errorf("wallet: issuer key: %w", err)
	}
	pub.Set(jwk.KeyIDKey, kid)
	pub.Set(jwk.AlgorithmKey, jwa.ES256())
	pub.Set(jwk.KeyUsageKey, "sig")
	return kid, pub, nil
}

// newSigner pairs a private key with its chain, which must certify it.
func newSigner(priv crypto.Signer, chain []*x509.Certificate) (*signer, error) {
	kid, pub, err := publicKey(chain)
	if err != nil {
		return nil, err
	}
	if k, ok := priv.Public().(*ecdsa.PublicKey); !ok || !k.Equal(chain[0].PublicKey) {
		return nil, errors.New("wallet: issuer key: the certificate is not the key's")
	}
	return &signer{priv: priv, kid: kid, pub: pub, chain: chain, alg: jwa.ES256()}, nil
}

// Key sources of wallet.issuer_keys.
const (
	sourceFile   = "file"
	sourcePKCS11 = "pkcs11"
)

// keyReload is how often a replica reads the registry again: a rotation made elsewhere (socle
// wallet rotate-key, another replica's settings) reaches it within that. Until then it signs
// with the previous key, which stays published: nothing a verifier sees breaks.
const keyReload = 5 * time.Second

// keyring is the issuer's keys, as wallet.issuer_keys lists them: the current signer, and the
// public keys to publish.
type keyring struct {
	pool    *pgxpool.Pool
	cfg     Config
	dataDir string
	logger  *slog.Logger
	hsm     token // the PKCS#11 token, when the settings name one

	mu        sync.Mutex // one reload at a time
	current   atomic.Pointer[signer]
	published atomic.Pointer[[]jwk.Key]
}

// pkcs11 says whether the issuer's keys live in a PKCS#11 token.
func (c Config) pkcs11() bool { return c.PKCS11Module != "" }

// token is a PKCS#11 token holding the issuer's keys (pkcs11.go).
type token interface {
	find(label string) (crypto.Signer, error) // nil, nil: no such key
	generate(label string) (crypto.Signer, error)
	close() error
}

func (k *keyring) close() {
	if k.hsm != nil {
		k.hsm.close()
		k.hsm = nil
	}
}

// start opens the token if any, makes sure the key the settings name is in the registry, and
// reads the registry. A key the settings name that the registry does not know yet becomes
// the current one (changing SOCLE_WALLET_ISSUER_CERT/_KEY or _PKCS11_KEY rotates); one it
// knows changes nothing, so that a replica started with the first key's settings after
// `socle wallet rotate-key` does not turn back to it.
func (k *keyring) start(ctx context.Context) error {
	if k.cfg.pkcs11() && k.hsm == nil {
		hsm, err := openHSM(k.cfg)
		if err != nil {
			return err
		}
		k.hsm = hsm
	}
	src, ref, s, err := k.configured(ctx)
	if err != nil {
		return err
	}
	if err := k.register(ctx, s, src, ref, false); err != nil {
		return err
	}
	return k.reload(ctx)
}

// configured is the key the settings name: the pair of files (by default the development
// one, made from socle's CA under the data directory when missing), or the token's key of
// label SOCLE_WALLET_PKCS11_KEY (made in the token when missing).
func (k *keyring) configured(ctx context.Context) (src, ref string, s *signer, err error) {
	if k.cfg.pkcs11() {
		priv, err := k.hsm.find(k.cfg.PKCS11Key)
		if err != nil {
			return "", "", nil, fmt.Errorf("wallet: PKCS#11 key %q: %w", k.cfg.PKCS11Key, err)
		}
		if priv == nil {
			k.logger.Warn("wallet: the issuer's key is not in the token: making it", "label", k.cfg.PKCS11Key)
			if priv, err = k.hsm.generate(k.cfg.PKCS11Key); err != nil {
				return "", "", nil, fmt.Errorf("wallet: PKCS#11 key %q: %w", k.cfg.PKCS11Key, err)
			}
		}
		// The certificate socle's CA gave this key before, if any: a new one at every start
		// would make a new kid, a rotation each time.
		chain, err := knownChain(ctx, k.pool, k.cfg.PKCS11Key, priv)
		if err == nil && (chain == nil || k.cfg.IssuerCert != "") {
			chain, err = k.certify(priv, k.cfg.IssuerCert)
		}
		if err != nil {
			return "", "", nil, err
		}
		s, err := newSigner(priv, chain)
		return sourcePKCS11, k.cfg.PKCS11Key, s, err
	}
	certFile, keyFile := k.cfg.IssuerCert, k.cfg.IssuerKey
	if certFile == "" {
		dir := filepath.Join(k.dataDir, "pki")
		certFile, keyFile = filepath.Join(dir, "wallet-issuer.crt"), filepath.Join(dir, "wallet-issuer.key")
		if _, err := pki.EnsureIssued(dir, "wallet-issuer", issuerRequest()); err != nil {
			return "", "", nil, fmt.Errorf("wallet: issuer key: %w", err)
		}
	}
	s, err = loadFilePair(certFile, keyFile, k.dataDir)
	return sourceFile, keyFile, s, err
}

// knownChain is the chain the registry holds for the token's key of label, nil if none.
func knownChain(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, label string, priv crypto.Signer) ([]*x509.Certificate, error) {
	rows, err := db.Query(ctx, `SELECT chain_pem FROM wallet.issuer_keys WHERE source = $1 AND ref = $2 ORDER BY created_at DESC`,
		sourcePKCS11, label)
	if err != nil {
		return nil, fmt.Errorf("wallet: the issuer's keys: %w", err)
	}
	chains, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("wallet: the issuer's keys: %w", err)
	}
	for _, c := range chains {
		// A token emptied and filled again holds another key under the same label.
		if chain, err := pki.ParseCertificates([]byte(c)); err == nil && len(chain) > 0 {
			if pub, ok := priv.Public().(*ecdsa.PublicKey); ok && pub.Equal(chain[0].PublicKey) {
				return chain, nil
			}
		}
	}
	return nil, nil
}

func issuerRequest() pki.Request {
	return pki.Request{Name: "socle wallet issuer", Organization: "socle (development)", Country: "BE", Usage: pki.Signing}
}

// certify is the chain of a token's key: read from certFile, or issued now by socle's
// development CA (the data directory's) for its public key, which the CA alone sees.
func (k *keyring) certify(priv crypto.Signer, certFile string) ([]*x509.Certificate, error) {
	if certFile != "" {
		chain, err := pki.LoadCertificates(certFile)
		if err != nil {
			return nil, fmt.Errorf("wallet: issuer certificate: %w", err)
		}
		return chain, nil
	}
	dir := filepath.Join(k.dataDir, "pki")
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return nil, fmt.Errorf("wallet: no certificate for the token's key (SOCLE_WALLET_ISSUER_CERT) and no development CA: %w", err)
	}
	leaf, _, err := ca.Certify(priv.Public(), issuerRequest())
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{leaf, ca.Cert}, nil
}

// loadFilePair reads a key pair of files. The development pair holds the leaf only: its
// chain ends with the data directory's CA.
func loadFilePair(certFile, keyFile, dataDir string) (*signer, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("wallet: issuer key: %w", err)
	}
	var chain []*x509.Certificate
	for _, der := range pair.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("wallet: issuer certificate: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 1 && chain[0].Subject.String() != chain[0].Issuer.String() {
		if cas, err := pki.LoadCertificates(filepath.Join(dataDir, "pki", "ca.crt")); err == nil && len(cas) > 0 &&
			chain[0].CheckSignatureFrom(cas[0]) == nil {
			chain = append(chain, cas[0])
		}
	}
	priv, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("wallet: issuer key: not a signing key")
	}
	return newSigner(priv, chain)
}

func chainPEM(chain []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range chain {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// register records a key in the registry. With rotate, it becomes the current key, the
// current one retired; without, only if the registry has no current key or does not know it.
func (k *keyring) register(ctx context.Context, s *signer, src, ref string, rotate bool) error {
	if src == sourceFile && !filepath.IsAbs(ref) {
		abs, err := filepath.Abs(ref)
		if err != nil {
			return err
		}
		ref = abs
	}
	// A data directory shared by replicas may be mounted elsewhere on each: a file under it
	// is named relative to it.
	if dir, err := filepath.Abs(k.dataDir); src == sourceFile && err == nil && k.dataDir != "" {
		if rel, err := filepath.Rel(dir, ref); err == nil && !strings.HasPrefix(rel, "..") {
			ref = rel
		}
	}
	return pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
		// One rotation at a time, across replicas.
		if _, err := tx.Exec(ctx, `LOCK TABLE wallet.issuer_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var known, anyCurrent bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM wallet.issuer_keys WHERE kid = $1),
			EXISTS (SELECT 1 FROM wallet.issuer_keys WHERE retired_at IS NULL)`, s.kid).Scan(&known, &anyCurrent); err != nil {
			return err
		}
		if !known && !rotate && src == sourcePKCS11 {
			// Two replicas starting at once each had socle's CA certify the token's key:
			// the first one's certificate stands.
			chain, err := knownChain(ctx, tx, ref, s.priv)
			if err != nil {
				return err
			}
			known = chain != nil
		}
		if known && !rotate {
			return nil
		}
		if known {
			return fmt.Errorf("wallet: key %s was the issuer's already: a rotation makes a new key", s.kid)
		}
		if _, err := tx.Exec(ctx, `UPDATE wallet.issuer_keys SET retired_at = now() WHERE retired_at IS NULL`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO wallet.issuer_keys (kid, source, ref, chain_pem) VALUES ($1, $2, $3, $4)`,
			s.kid, src, ref, chainPEM(s.chain)); err != nil {
			return fmt.Errorf("wallet: register issuer key: %w", err)
		}
		if !anyCurrent {
			// The credentials issued before the registry were signed by the first key.
			if _, err := tx.Exec(ctx, `UPDATE wallet.issued SET kid = $1 WHERE kid IS NULL`, s.kid); err != nil {
				return err
			}
		}
		k.logger.Info("wallet: issuer key now current", "kid", s.kid, "source", src)
		return nil
	})
}

// reload reads the registry: the current key (loaded when it changed), and the keys to
// publish — the current one, and each retired one while a credential it signed is unexpired
// or a status list token it signed may still be cached (statusValidity).
func (k *keyring) reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	var kid, src, ref string
	err := k.pool.QueryRow(ctx, `SELECT kid, source, ref FROM wallet.issuer_keys WHERE retired_at IS NULL`).Scan(&kid, &src, &ref)
	if err != nil {
		return fmt.Errorf("wallet: the issuer's current key: %w", err)
	}
	if cur := k.current.Load(); cur == nil || cur.kid != kid {
		s, err := k.load(ctx, kid, src, ref)
		if err != nil {
			return err
		}
		k.current.Store(s)
		k.logger.Info("wallet: signing with issuer key", "kid", kid)
	}
	rows, err := k.pool.Query(ctx, `SELECT chain_pem FROM wallet.issuer_keys k WHERE retired_at IS NULL
		OR retired_at > now() - $1::interval
		OR EXISTS (SELECT 1 FROM wallet.issued i WHERE i.kid = k.kid AND i.expires_at > now())
		ORDER BY created_at DESC`, statusValidity)
	if err != nil {
		return fmt.Errorf("wallet: the issuer's keys: %w", err)
	}
	chains, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("wallet: the issuer's keys: %w", err)
	}
	var keys []jwk.Key
	for _, c := range chains {
		chain, err := pki.ParseCertificates([]byte(c))
		if err != nil {
			return fmt.Errorf("wallet: the issuer's keys: %w", err)
		}
		_, pub, err := publicKey(chain)
		if err != nil {
			return err
		}
		keys = append(keys, pub)
	}
	k.published.Store(&keys)
	return nil
}

// load loads the private key of a key of the registry.
func (k *keyring) load(ctx context.Context, kid, src, ref string) (*signer, error) {
	var chainText string
	if err := k.pool.QueryRow(ctx, `SELECT chain_pem FROM wallet.issuer_keys WHERE kid = $1`, kid).Scan(&chainText); err != nil {
		return nil, err
	}
	chain, err := pki.ParseCertificates([]byte(chainText))
	if err != nil {
		return nil, fmt.Errorf("wallet: issuer key %s: %w", kid, err)
	}
	var priv crypto.Signer
	switch src {
	case sourceFile:
		if !filepath.IsAbs(ref) {
			ref = filepath.Join(k.dataDir, ref)
		}
		b, err := os.ReadFile(ref)
		if err != nil {
			return nil, fmt.Errorf("wallet: issuer key %s: %w", kid, err)
		}
		pair, err := tls.X509KeyPair([]byte(chainText), b)
		if err != nil {
			return nil, fmt.Errorf("wallet: issuer key %s (%s): %w", kid, ref, err)
		}
		priv, _ = pair.PrivateKey.(crypto.Signer)
	case sourcePKCS11:
		if k.hsm == nil {
			return nil, fmt.Errorf("wallet: issuer key %s is in a PKCS#11 token: set SOCLE_WALLET_PKCS11_MODULE", kid)
		}
		p, err := k.hsm.find(ref)
		if err != nil || p == nil {
			return nil, fmt.Errorf("wallet: issuer key %s: no key %q in the token (%v)", kid, ref, err)
		}
		priv = p
	default:
		return nil, fmt.Errorf("wallet: issuer key %s: unknown source %q", kid, src)
	}
	s, err := newSigner(priv, chain)
	if err != nil {
		return nil, fmt.Errorf("wallet: issuer key %s: %w", kid, err)
	}
	return s, nil
}

// rotate makes a new key — in the token, or a file pair from socle's CA under the data
// directory, or the pair certFile/keyFile an operator's CA issued — and makes it current.
func (k *keyring) rotate(ctx context.Context, certFile, keyFile string) (*signer, error) {
	stamp := time.Now().UTC().Format("20060102T150405")
	var (
		s        *signer
		src, ref string
		err      error
	)
	switch {
	case k.cfg.pkcs11():
		ref, src = k.cfg.PKCS11Key+"-"+stamp, sourcePKCS11
		priv, gerr := k.hsm.generate(ref)
		if gerr != nil {
			return nil, fmt.Errorf("wallet: new key in the token: %w", gerr)
		}
		// The key is born in the token: socle's CA certifies it (an operator's CA would need
		// a certificate request, which socle does not make yet).
		chain, cerr := k.certify(priv, "")
		if cerr != nil {
			return nil, cerr
		}
		s, err = newSigner(priv, chain)
	case certFile != "":
		src, ref = sourceFile, keyFile
		s, err = loadFilePair(certFile, keyFile, k.dataDir)
	default:
		dir, name := filepath.Join(k.dataDir, "pki"), "wallet-issuer-"+stamp
		if _, err := pki.EnsureIssued(dir, name, issuerRequest()); err != nil {
			return nil, fmt.Errorf("wallet: new issuer key: %w", err)
		}
		src, ref = sourceFile, filepath.Join(dir, name+".key")
		s, err = loadFilePair(filepath.Join(dir, name+".crt"), ref, k.dataDir)
	}
	if err != nil {
		return nil, err
	}
	if err := k.register(ctx, s, src, ref, true); err != nil {
		return nil, err
	}
	return s, k.reload(ctx)
}

// signer is the key that signs now.
func (w *Wallet) signer() *signer { return w.keys.current.Load() }
