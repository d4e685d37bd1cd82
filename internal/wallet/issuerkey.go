package wallet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
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
	priv  crypto.Signer
	kid   string
	pub   jwk.Key             // public, with kid and alg: the issuer metadata's
	chain []*x509.Certificate // leaf first, for x5c (RFC 7515 §4.1.6)
	alg   jwa.SignatureAlgorithm
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
				Name: "socle wallet issuer", Organization: "socle (development)", Country: "BE", Usage: pki.Signing}); err != nil {
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
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("wallet: issuer certificate: %w", err)
		}
		s.chain = append(s.chain, c)
	}
	if dev && len(s.chain) == 1 {
		// The development pair holds the leaf only: the chain ends with the CA.
		if ca, err := os.ReadFile(filepath.Join(filepath.Dir(certFile), "ca.crt")); err == nil {
			if certs, err := pki.ParseCertificates(ca); err == nil && len(certs) > 0 {
				s.chain = append(s.chain, certs[0])
			}
		}
	}
	var ok bool
	if s.priv, ok = pair.PrivateKey.(crypto.Signer); !ok {
		return nil, errors.New("wallet: issuer key: not a signing key")
	}
	if _, ok := s.priv.Public().(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("wallet: issuer key: %T is not among HAIP's keys (ECDSA P-256, ES256)", s.priv.Public())
	}
	s.alg = jwa.ES256()
	// The key id is the certificate's SHA-256: a new certificate, a new kid.
	sum := sha256.Sum256(s.chain[0].Raw)
	s.kid = hex.EncodeToString(sum[:8])
	pub, err := jwk.Import(s.priv.Public())
	if err != nil {
		return nil, fmt.Errorf("wallet: issuer key: %w", err)
	}
	pub.Set(jwk.KeyIDKey, s.kid)
	pub.Set(jwk.AlgorithmKey, s.alg)
	s.pub = pub
	return s, nil
}
