package acceptance

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
)

func TestMain(m *testing.M) {
	identity.DefineRole(Roles[0])
	os.Exit(dbtest.Main(m))
}

// pages is the campaign pages on a real database, the directory's two operators, and a
// tester of Orange signed in.
func pages(t *testing.T) (*Acceptance, *httptest.Server, func(method, path, contentType string, body []byte) (int, string)) {
	t.Helper()
	pool := dbtest.New(t, identity.Migrations(), schema.Migrations())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ca, roots := testCA(t)
	snap := &directory.Snapshot{Operators: operators}
	a := &Acceptance{Store: &Store{Pool: pool}, Directory: func() *directory.Snapshot { return snap }, CA: ca, Roots: roots, Logger: quiet}
	people := identity.New(pool, quiet)
	ctx := context.Background()
	u, err := people.AddUser(ctx, "testeur@orange.example", "Testeur", "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	people.Grant(ctx, u.Email, RoleTester, "orange")
	token, _, _ := people.Login(ctx, u)
	mux := http.NewServeMux()
	(&Web{A: a, Identity: people}).Routes(mux)
	srv := httptest.NewTLSServer(people.Middleware(mux))
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	do := func(method, path, contentType string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Accept", "text/html")
		req.AddCookie(&http.Cookie{Name: identity.CookieName, Value: token})
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	return a, srv, do
}

func upload(name string, b []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(b)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestATesterSendsARequestAndGetsTheOperatorsCertificateChecked(t *testing.T) {
	a, _, do := pages(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	ct, body := upload("orange.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if status, page := do("POST", "/emergency/acceptance/orange/certificates", ct, body); status != http.StatusSeeOther {
		t.Fatalf("upload: %d\n%s", status, page)
	}
	status, page := do("GET", "/emergency/acceptance/orange/", "", nil)
	for _, want := range []string{"CN=orange", "télécharger le certificat signé", `level-operational">conforme`} {
		if status != 200 || !strings.Contains(page, want) {
			t.Errorf("the operator's page lacks %s", want)
		}
	}
	certs, _ := a.Store.Certificates(context.Background(), "orange")
	if len(certs) != 1 || !certs[0].SignedHere {
		t.Fatalf("%+v", certs)
	}
	if _, ok := a.Organisation(certs[0].Report.Fingerprint); !ok {
		t.Fatal("the signed certificate cannot push")
	}
}

func TestAPrivateKeyIsRefusedAndAnotherOperatorIsNotTheTesters(t *testing.T) {
	a, _, do := pages(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	ct, body := upload("orange.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}))
	status, page := do("POST", "/emergency/acceptance/orange/certificates", ct, body)
	if status != http.StatusUnprocessableEntity || !strings.Contains(page, "this is a private key") {
		t.Fatalf("a key: %d", status)
	}
	if certs, _ := a.Store.Certificates(context.Background(), ""); len(certs) != 0 {
		t.Fatal("something was registered")
	}
	if status, _ := do("GET", "/emergency/acceptance/sfr/", "", nil); status != http.StatusForbidden {
		t.Fatalf("another operator's page: %d", status)
	}
	if status, _ := do("POST", "/emergency/acceptance/sfr/certificates", ct, body); status != http.StatusForbidden {
		t.Fatalf("another operator's upload: %d", status)
	}
}

func TestTheSeptemberRenewalSaysWhoIsUpToDate(t *testing.T) {
	deadline := renewalDeadline(time.Date(2027, 8, 1, 0, 0, 0, 0, time.UTC))
	if deadline.Format(time.DateOnly) != "2027-09-30" || renewalDeadline(time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC)).Year() != 2028 {
		t.Fatalf("deadline %s", deadline)
	}
	old := Registered{Report: CertReport{Fingerprint: "old", NotAfter: deadline.AddDate(0, -1, 0), Checks: []Check{{Result: Pass}}}}
	renewed := Registered{Report: CertReport{Fingerprint: "new", NotAfter: deadline.AddDate(1, 0, 0), Checks: []Check{{Result: Pass}}}}
	yes := true
	for _, c := range []struct {
		certs     []Registered
		campaigns []Campaign
		want      string
	}{
		{[]Registered{old}, []Campaign{{Fingerprint: "old", Passed: &yes}}, "due"},
		{[]Registered{renewed, old}, nil, "campaign"},
		{[]Registered{renewed, old}, []Campaign{{Fingerprint: "new", Passed: &yes}}, "renewed"},
	} {
		if got := renewalState(c.certs, c.campaigns, deadline); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}
