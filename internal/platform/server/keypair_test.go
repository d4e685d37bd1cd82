package server

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"socle/internal/platform/pki"
)

// A certificate renewed in its files — as cert-manager rewrites a mounted Secret — is what
// the next handshake gets, without a restart; a half-written renewal (a certificate without
// its key yet) leaves the previous pair in service.
func TestARenewedCertificateIsServedWithoutARestart(t *testing.T) {
	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	issue := func(days int) *pki.Issued {
		t.Helper()
		i, err := ca.Issue(pki.Request{Name: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
			Usage: pki.Server, NotAfter: time.Now().Add(time.Duration(days) * 24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	write := func(name string, b []byte) {
		t.Helper()
		// As Kubernetes does: a new file renamed over the old one.
		if err := os.WriteFile(name+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(name+".new", name); err != nil {
			t.Fatal(err)
		}
	}
	first := issue(90)
	write(certFile, first.CertPEM)
	write(keyFile, first.KeyPEM)
	k, err := LoadKeypair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", k.ServerTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if got := served(); got.SerialNumber.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want the first certificate's", got.SerialNumber)
	}

	renewed := issue(365)
	write(certFile, renewed.CertPEM) // the key is not there yet
	k.mu.Lock()
	k.checked = time.Time{} // the 10 s between looks at the files have passed
	k.mu.Unlock()
	if got := served(); got.SerialNumber.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatalf("with the key not yet renewed, served serial %v, want the first certificate still", got.SerialNumber)
	}
	write(keyFile, renewed.KeyPEM)
	k.mu.Lock()
	k.checked = time.Time{}
	k.mu.Unlock()
	if got := served(); got.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v after the renewal, want the renewed certificate's", got.SerialNumber)
	}
	if !k.NotAfter().Equal(renewed.Cert.NotAfter) {
		t.Fatalf("NotAfter %v, want the renewed certificate's %v", k.NotAfter(), renewed.Cert.NotAfter)
	}
}
