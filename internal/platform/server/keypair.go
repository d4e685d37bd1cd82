package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// recheck is how often a Keypair looks at its files again: a renewed certificate is served
// within this delay, and a busy listener stats its files at most this often.
const recheck = 10 * time.Second

// Keypair is a certificate and its key, read from files and read again when the files
// change, so that a renewed certificate is served without a restart: cert-manager rewriting
// the files of a mounted Secret, or an operator replacing them at the yearly renewal. A pair
// that fails to load (a certificate copied before its key) leaves the previous one in
// service until the files are whole again.
type Keypair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and times when cert was read
	checked time.Time
	failed  string // the stamp of files that failed to load, not to log it at each check
}

// LoadKeypair reads certFile and keyFile (PEM).
func LoadKeypair(certFile, keyFile string) (*Keypair, error) {
	k := &Keypair{certFile: certFile, keyFile: keyFile}
	stamp, err := k.filesStamp()
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	k.cert, k.stamp, k.checked = cert, stamp, time.Now()
	return k, nil
}

func loadPair(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load %s: %w", certFile, err)
	}
	if cert.Leaf == nil { // Go 1.23+ fills it; keep NotAfter cheap either way
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tls: %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

// filesStamp tells whether the files changed: os.Stat follows the symbolic links through
// which Kubernetes swaps a Secret's files at once.
func (k *Keypair) filesStamp() (string, error) {
	var stamp string
	for _, f := range []string{k.certFile, k.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

// Certificate returns the pair in service, having read the files again if they changed
// since it last looked (at most every 10 s).
func (k *Keypair) Certificate() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.checked) < recheck {
		return k.cert
	}
	k.checked = time.Now()
	stamp, err := k.filesStamp()
	if err != nil || stamp == k.stamp || stamp == k.failed {
		return k.cert
	}
	cert, err := loadPair(k.certFile, k.keyFile)
	if err != nil {
		k.failed = stamp
		slog.Warn("tls: the renewed certificate does not load; the previous one stays in service", "file", k.certFile, "error", err)
		return k.cert
	}
	k.cert, k.stamp, k.failed = cert, stamp, ""
	slog.Info("tls: certificate renewed", "file", k.certFile, "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	return k.cert
}

// GetCertificate is Certificate as tls.Config wants it.
func (k *Keypair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.Certificate(), nil
}

// NotAfter is when the certificate in service expires: the ops metrics publish it so that an
// alert fires well before a forgotten renewal.
func (k *Keypair) NotAfter() time.Time { return k.Certificate().Leaf.NotAfter }
