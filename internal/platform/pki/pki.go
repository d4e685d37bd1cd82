// Package pki is socle's development public key infrastructure: a CA, server certificates
// for loopback, and client certificates for the organisations that talk to the interconnect.
// Production uses certificates from a real CA; this exists so that `make run` and the tests
// use real mutual TLS from the first minute.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CA is a certificate authority that can issue certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Usage says what an issued certificate is for.
type Usage int

// Usages.
const (
	Server Usage = iota
	Client
	ServerAndClient
	// Signing is a key that signs documents (credentials, status lists), not connections:
	// no extended key usage.
	Signing
)

// Request describes a certificate to issue.
type Request struct {
	Name         string // subject common name
	Organization string
	Units        []string // subject organizational units (a network, "208-01", for an operator)
	Country      string   // subject countryName, ISO 3166-1 alpha-2 (an mdoc issuer's: ISO/IEC 18013-5 Annex B.1.4)
	DNSNames     []string
	IPs          []net.IP
	Usage        Usage
	// NotBefore and NotAfter default to five minutes ago and one year from now.
	NotBefore, NotAfter time.Time
}

// Issued is a certificate and its key.
type Issued struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
}

// backdate absorbs clock skew between socle and its peers: a certificate issued now is
// usable at once by a peer whose clock is a little behind.
const backdate = 5 * time.Minute

// NewCA creates a self-signed CA. ECDSA P-256: small and fast handshakes, supported by every
// TLS stack operators and PSAPs use. MaxPathLen 0: this CA signs leaves only.
func NewCA(commonName string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"socle"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// LoadCA reads ca.crt and ca.key from dir.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("pki: no CA in %s: run socle pki init --dir %s first", dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pki: %s: no PEM certificate", filepath.Join(dir, "ca.crt"))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", filepath.Join(dir, "ca.crt"), err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("pki: %s: no PEM key", filepath.Join(dir, "ca.key"))
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", filepath.Join(dir, "ca.key"), err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %s: not a signing key", filepath.Join(dir, "ca.key"))
	}
	return &CA{Cert: cert, Key: signer, CertPEM: certPEM}, nil
}

// Save writes ca.crt (0644) and ca.key (0600) in dir, refusing to overwrite.
func (ca *CA) Save(dir string) error {
	keyPEM, err := marshalKey(ca.Key)
	if err != nil {
		return err
	}
	return writePair(dir, "ca", ca.CertPEM, keyPEM)
}

// Issue signs a new leaf certificate with a fresh P-256 key.
func (ca *CA) Issue(r Request) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, certPEM, err := ca.sign(r, &key.PublicKey)
	if err != nil {
		return nil, err
	}
	keyPEM, err := marshalKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// SignCSR signs the key of a certificate signing request, whose own signature must hold, as a
// client certificate with the subject and validity of r (what the request asks for beyond its
// key is not taken: the CA decides who the holder is).
func (ca *CA) SignCSR(csr *x509.CertificateRequest, r Request) (*x509.Certificate, []byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, nil, fmt.Errorf("pki: the request's signature does not hold: %w", err)
	}
	r.Usage = Client
	return ca.sign(r, csr.PublicKey)
}

// Certify signs a certificate r describes for a key held elsewhere (a PKCS#11 token's): the
// CA learns the public key only.
func (ca *CA) Certify(pub crypto.PublicKey, r Request) (*x509.Certificate, []byte, error) {
	return ca.sign(r, pub)
}

// sign makes the certificate r describes for pub.
func (ca *CA) sign(r Request, pub crypto.PublicKey) (*x509.Certificate, []byte, error) {
	if err := checkName(r.Name); err != nil {
		return nil, nil, err
	}
	now := time.Now()
	if r.NotBefore.IsZero() {
		r.NotBefore = now.Add(-backdate)
	}
	if r.NotAfter.IsZero() {
		r.NotAfter = now.AddDate(1, 0, 0)
	}
	if !r.NotAfter.After(r.NotBefore) {
		return nil, nil, errors.New("pki: NotAfter must be after NotBefore")
	}
	subject := pkix.Name{CommonName: r.Name, OrganizationalUnit: r.Units}
	if r.Organization != "" {
		subject.Organization = []string{r.Organization}
	}
	if r.Country != "" {
		subject.Country = []string{r.Country}
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        subject,
		NotBefore:      r.NotBefore,
		NotAfter:       r.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		DNSNames:       r.DNSNames,
		IPAddresses:    r.IPs,
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		tmpl.SubjectKeyId = keyID(k)
	}
	switch r.Usage {
	case Server:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case Client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case ServerAndClient:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: %w", r.Name, err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// Save writes name.crt (0644) and name.key (0600) in dir, refusing to overwrite.
func (i *Issued) Save(dir, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return writePair(dir, name, i.CertPEM, i.KeyPEM)
}

// TLSCertificate is the pair as crypto/tls wants it.
func (i *Issued) TLSCertificate() (tls.Certificate, error) {
	return tls.X509KeyPair(i.CertPEM, i.KeyPEM)
}

// Init makes dir hold a development CA and a server certificate for localhost, 127.0.0.1
// and ::1. It keeps what exists and reports whether it created anything.
func Init(dir string) (bool, error) {
	var ca *CA
	created := false
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); errors.Is(err, os.ErrNotExist) {
		if ca, err = NewCA("socle development CA", 10*365*24*time.Hour); err != nil {
			return false, err
		}
		if err := ca.Save(dir); err != nil {
			return false, err
		}
		created = true
	}
	made, err := EnsureIssued(dir, "server", Request{Name: "localhost", Organization: "socle", Usage: Server,
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}})
	return created || made, err
}

// EnsureIssued issues name.crt/name.key in dir with the CA of dir, unless they exist.
func EnsureIssued(dir, name string, r Request) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, name+".crt")); err == nil {
		return false, nil
	}
	ca, err := LoadCA(dir)
	if err != nil {
		return false, err
	}
	iss, err := ca.Issue(r)
	if err != nil {
		return false, err
	}
	return true, iss.Save(dir, name)
}

// LoadPool reads PEM bundles into a certificate pool.
func LoadPool(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		certs, err := LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// LoadCertificates reads every CERTIFICATE block of a PEM file.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	out, err := ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return out, nil
}

// ParseCertificates reads every CERTIFICATE block of PEM text, skipping other blocks; at
// least one is needed.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// Fingerprint is the SHA-256 of the certificate's DER, in lower-case hex: how the directory
// binds a client certificate to an organisation.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1)) // never zero
}

// keyID is the RFC 5280 §4.2.1.2 method (1) key identifier, with SHA-256 truncated to 160 bits.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

func marshalKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func checkName(name string) error {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return fmt.Errorf("pki: name %q must be a file name without path separators", name)
	}
	return nil
}

// writePair writes the certificate and key, the key never readable by others, refusing to
// overwrite either: losing a CA key by accident would invalidate every certificate issued.
func writePair(dir, name string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{filepath.Join(dir, name+".key"), keyPEM, 0o600}, {filepath.Join(dir, name+".crt"), certPEM, 0o644}} {
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("pki: %s exists: refusing to overwrite it", f.path)
		}
		if err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		_, err = fh.Write(f.data)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("pki: write %s: %w", f.path, err)
		}
	}
	return nil
}

// TrustAny is a client TLS configuration that accepts a server whose chain and name verify
// against any of pools: the system's roots and socle's CA, say. crypto/tls verifies against
// one pool, and x509.CertPool cannot be merged (it lists no certificates); so verification
// is done by VerifyConnection, the standard library's way to verify otherwise, with
// InsecureSkipVerify only turning off the built-in check it replaces.
func TrustAny(pools ...*x509.CertPool) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		err := errors.New("no trusted roots")
		for _, p := range pools {
			if p == nil {
				continue
			}
			if _, err = cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: p, Intermediates: inter}); err == nil {
				return nil
			}
		}
		return err
	}}
}

// SystemAnd is the system's roots (when the system has them) and pools: TrustAny's usual
// argument.
func SystemAnd(pools ...*x509.CertPool) []*x509.CertPool {
	if sys, err := x509.SystemCertPool(); err == nil {
		return append([]*x509.CertPool{sys}, pools...)
	}
	return pools
}
