package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestInitCreatesACAAndALoopbackServerCertificateOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	created, err := Init(dir)
	if err != nil || !created {
		t.Fatalf("first init: %v %v", created, err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	created, err = Init(dir)
	if err != nil || created {
		t.Fatalf("second init created %v, %v; want nothing", created, err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if !bytes.Equal(before, after) {
		t.Fatal("second init changed the CA")
	}
	for _, name := range []string{"ca.key", "server.key"} {
		fi, _ := os.Stat(filepath.Join(dir, name))
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	pool, _ := LoadPool(filepath.Join(dir, "ca.crt"))
	certs, _ := LoadCertificates(filepath.Join(dir, "server.crt"))
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", host, err)
		}
	}
}

func TestIssuingNeverOverwritesAndRefusesPathsAsNames(t *testing.T) {
	dir := t.TempDir()
	Init(dir)
	ca, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := ca.Issue(Request{Name: "op", Usage: Client})
	if err := iss.Save(dir, "op"); err != nil {
		t.Fatal(err)
	}
	if err := iss.Save(dir, "op"); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("overwrite: %v", err)
	}
	if _, err := ca.Issue(Request{Name: "../evil"}); err == nil {
		t.Fatal("a name with a path was accepted")
	}
	if _, err := LoadCA(t.TempDir()); err == nil || !strings.Contains(err.Error(), "socle pki init") {
		t.Fatalf("missing CA: %v", err)
	}
}

// handshake runs a mutual-TLS server on 127.0.0.1 and connects with client; it returns the
// error either side saw.
func handshake(t *testing.T, dir string, client *tls.Certificate) error {
	t.Helper()
	pool, _ := LoadPool(filepath.Join(dir, "ca.crt"))
	srvCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srvCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		err = c.(*tls.Conn).Handshake()
		if err == nil {
			c.Write([]byte("ok"))
		}
		srvErr <- err
	}()
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
	if err == nil {
		// TLS 1.3 reports client-certificate refusals on the first read.
		_, err = io.ReadAll(conn)
		conn.Close()
	}
	if serr := <-srvErr; serr != nil {
		return serr
	}
	return err
}

func TestMutualTLSAcceptsOnlyValidClientsOfTheCA(t *testing.T) {
	dir := t.TempDir()
	Init(dir)
	ca, _ := LoadCA(dir)
	issue := func(ca *CA, r Request) *tls.Certificate {
		iss, err := ca.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := iss.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	other, _ := NewCA("another CA", time.Hour)
	cases := []struct {
		name   string
		client *tls.Certificate
		ok     bool
	}{
		{"a client of the CA", issue(ca, Request{Name: "op", Usage: Client}), true},
		{"no certificate", nil, false},
		{"a client of an unknown CA", issue(other, Request{Name: "op", Usage: Client}), false},
		{"an expired client", issue(ca, Request{Name: "op", Usage: Client,
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), false},
		{"a server-only certificate used as client", issue(ca, Request{Name: "op", Usage: Server}), false},
	}
	for _, c := range cases {
		err := handshake(t, dir, c.client)
		if (err == nil) != c.ok {
			t.Errorf("%s: handshake error %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
