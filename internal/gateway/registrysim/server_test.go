package registrysim

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

// start runs a simulator over HTTPS with a development PKI of its own, and returns it with a
// client that trusts it.
func start(t *testing.T, log io.Writer) (*Server, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.ServerTLS(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(t.Context(), Options{TLS: cfg, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	roots, err := pki.LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return s, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

func TestStartRequiresTLS(t *testing.T) {
	if _, err := Start(t.Context(), Options{}); err == nil {
		t.Fatal("Start without TLS served anyway")
	}
}

func TestHealthzAndOneLinePerRequest(t *testing.T) {
	var log syncBuffer
	s, c := start(t, &log)
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Errorf("URL() = %s", s.URL())
	}
	res, err := c.Get(s.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", res.Status)
	}
	post(t, c, s.URL()+"/civil-status", "text/xml; charset=utf-8", SOAPAction("GetBirthCertificate"), envelope11("GetBirthCertificate", NRNEmmaRenard))
	want := "GET /healthz 200\nPOST /civil-status GetBirthCertificate 200\n"
	if got := log.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
