package wallet

import (
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"socle/internal/platform/pki"
)

// signer is the issuer's signing key and its certificate chain: credentials and status lists
// carry the chain in their x5c header (HAIP 1.0 asks for x5c in SD-JWT VCs and in Status List
// Tokens), and its key id.
type signer struct {
	key  jwk.Key  // private, with kid and alg
	pub  jwk.Key  // public, with kid and alg
	x5c  []string // base64 (standard, padded) DER, leaf first (RFC 7515 §4.1.6)
	leaf *x509.Certificate
	alg  jwa.SignatureAlgorithm
}

// issuerFiles are where the issuer's key and certificate are; the default pair is made from
// the development CA under the data directory when missing.
func issuerFiles(cfg Config, dataDir string) (certFile, keyFile string, fromDevCA bool) {
	if cfg.IssuerCert != "" {
		return cfg.IssuerCert, cfg.IssuerKey, false
	}
	dir := filepath.Join(dataDir, "pki")
	return filepath.Join(dir, "wallet-issuer.crt"), filepath.Join(dir, "wallet-issuer.key"), true
}

// loadSigner reads the issuer's key pair, making it from the development CA when it is the
// default pair and missing.
func loadSigner(cfg Config, dataDir string) (*signer, error) {
	certFile, keyFile, dev := issuerFiles(cfg, dataDir)
	if dev {
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if _, err := pki.EnsureIssued(filepath.Dir(certFile), "wallet-issuer", pki.Request{
				Name: "socle wallet issuer", Organization: "socle (development)", Usage: pki.Signing}); err != nil {
				return nil, fmt.Errorf("wallet: issuer key: %w", err)
			}
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("wallet: issuer key: %w", err)
	}
	s := &signer{}
	for _, der := range pair.Certificate {
		s.x5c = append(s.x5c, base64.StdEncoding.EncodeToString(der))
	}
	if s.leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		return nil, fmt.Errorf("wallet: issuer certificate: %w", err)
	}
	if dev && len(pair.Certificate) == 1 {
		// The development pair holds the leaf only: the chain ends with the CA.
		if ca, err := os.ReadFile(filepath.Join(filepath.Dir(certFile), "ca.crt")); err == nil {
			if certs, err := pki.ParseCertificates(ca); err == nil && len(certs) > 0 {
				s.x5c = append(s.x5c, base64.StdEncoding.EncodeToString(certs[0].Raw))
			}
		}
	}
	signerKey, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("wallet: issuer key: not a signing key")
	}
	if s.key, err = jwk.Import(signerKey); err != nil {
		return nil, fmt.Errorf("wallet: issuer key: %w", err)
	}
	switch s.key.KeyType().String() {
	case "EC":
		s.alg = jwa.ES256()
	default:
		return nil, fmt.Errorf("wallet: issuer key: %s keys are not among HAIP's (ES256)", s.key.KeyType())
	}
	// The key id is the certificate's SHA-256: a new certificate, a new kid.
	sum := sha256.Sum256(s.leaf.Raw)
	kid := hex.EncodeToString(sum[:8])
	s.key.Set(jwk.KeyIDKey, kid)
	s.key.Set(jwk.AlgorithmKey, s.alg)
	if s.pub, err = s.key.PublicKey(); err != nil {
		return nil, err
	}
	return s, nil
}
