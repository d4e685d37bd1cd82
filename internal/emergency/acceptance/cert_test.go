package acceptance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/platform/pki"
)

var now = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

var operators = map[string]*directory.Operator{
	"orange": {ID: "orange", Name: "Orange", MCCMNC: []string{"208-01", "208-02"}},
	"sfr":    {ID: "sfr", Name: "SFR", MCCMNC: []string{"208-10"}},
}

// cert is a client certificate for the tests, signed by ca, with the key, dates and units
// given (defaults: P-256, valid a year from a month ago, no unit).
type cert struct {
	key       crypto.Signer
	from, to  time.Time
	units     []string
	serverEKU bool
}

func (c cert) issue(t *testing.T, ca *pki.CA) *x509.Certificate {
	t.Helper()
	if c.key == nil {
		c.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if c.from.IsZero() {
		c.from, c.to = now.AddDate(0, -1, 0), now.AddDate(1, 0, 0)
	}
	eku := x509.ExtKeyUsageClientAuth
	if c.serverEKU {
		eku = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "push.orange.example", Organization: []string{"Orange"}, OrganizationalUnit: c.units},
		NotBefore: c.from, NotAfter: c.to, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, c.key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := x509.ParseCertificate(der)
	return out
}

// testCA is a CA valid from 2020 to 2040, so that the tests' certificates, of any dates
// around now, fail or pass on their own dates only.
func testCA(t *testing.T) (*pki.CA, *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "socle acceptance CA (test)", Organization: []string{"socle"}},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &pki.CA{Cert: c, Key: key}, pool
}

func verdicts(r CertReport) map[string]string {
	out := map[string]string{}
	for _, c := range r.Checks {
		out[c.Name] = c.Result + ": " + c.Detail
	}
	return out
}

func TestAGoodCertificateIsAcceptedAndBoundToTheOperatorsNetworks(t *testing.T) {
	ca, roots := testCA(t)
	r := CheckCertificate(cert{}.issue(t, ca), roots, operators["orange"], operators, now)
	if !r.Acceptable() || r.Key != "ECDSA P-256" || strings.Join(r.Networks, ",") != "208-01,208-02" || len(r.Fingerprint) != 64 {
		t.Fatalf("%+v", r)
	}
}

func TestEachFlawOfACertificateIsNamed(t *testing.T) {
	ca, roots := testCA(t)
	other, _ := testCA(t)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, c := range []struct {
		what  string
		cert  *x509.Certificate
		check string
		want  string // the verdict's start
	}{
		{"expired", cert{from: now.AddDate(-2, 0, 0), to: now.AddDate(0, 0, -1)}.issue(t, ca), "validity", "fail: expiré depuis le 2026-12-03"},
		{"not yet valid", cert{from: now.AddDate(0, 0, 2), to: now.AddDate(1, 0, 0)}.issue(t, ca), "validity", "fail: pas encore valide"},
		{"near its end", cert{from: now.AddDate(-1, 0, 0), to: now.AddDate(0, 0, 30)}.issue(t, ca), "validity", "warn: expire dans 30 jours"},
		{"from another CA", cert{}.issue(t, other), "chain", "fail: émis par CN=socle acceptance CA (test),O=socle, qui n'est pas une autorité reconnue"},
		{"a weak RSA key", cert{key: weak}.issue(t, ca), "key", "fail: clé RSA de 1024 bits, trop faible (au moins 2048)"},
		{"another operator's network", cert{units: []string{"208-01", "208-10"}}.issue(t, ca), "networks", "fail: réseaux qui ne sont pas ceux de Orange : 208-10 (l'opérateur SFR)"},
		{"a server certificate", cert{serverEKU: true}.issue(t, ca), "usage", "fail: le certificat n'est pas fait pour l'authentification d'un client TLS"},
	} {
		r := CheckCertificate(c.cert, roots, operators["orange"], operators, now)
		got := verdicts(r)[c.check]
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %s is %q, want %q…", c.what, c.check, got, c.want)
		}
		if r.Acceptable() != strings.HasPrefix(c.want, "warn") {
			t.Errorf("%s: acceptable %v", c.what, r.Acceptable())
		}
		// One flaw, one failed check: the others say what is right.
		fails := 0
		for _, v := range verdicts(r) {
			if strings.HasPrefix(v, "fail") {
				fails++
			}
		}
		if fails > 1 {
			t.Errorf("%s: %d checks failed: %v", c.what, fails, verdicts(r))
		}
	}
}

func TestARequestSignedBySoclesAcceptanceCAGivesAnAcceptableCertificate(t *testing.T) {
	ca, roots := testCA(t)
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "anything the operator wrote"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	up, err := ParseUpload(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil || up.CSR == nil {
		t.Fatalf("%+v %v", up, err)
	}
	c, _, err := ca.SignCSR(up.CSR, pki.Request{Name: "orange", Organization: "Orange", Units: []string{"208-01"}})
	if err != nil {
		t.Fatal(err)
	}
	r := CheckCertificate(c, roots, operators["orange"], operators, time.Now())
	if !r.Acceptable() || r.Key != "RSA 2048" || strings.Join(r.Networks, ",") != "208-01" || c.Subject.CommonName != "orange" {
		t.Fatalf("%+v", r)
	}
}

func TestAnUploadIsOneCertificateOrOneRequestAndNeverAKey(t *testing.T) {
	ca, _ := testCA(t)
	one := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert{}.issue(t, ca).Raw})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	for _, c := range []struct {
		what string
		b    []byte
		want string
	}{
		{"empty", nil, "the file is empty"},
		{"two certificates", append(append([]byte{}, one...), one...), "one certificate or request per file"},
		{"a private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), "this is a private key"},
		{"text", []byte("bonjour"), "neither PEM nor DER"},
		{"a broken certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "the certificate cannot be read"},
	} {
		_, err := ParseUpload(c.b)
		if !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.what, err)
		}
	}
	if up, err := ParseUpload(one); err != nil || up.Cert == nil {
		t.Fatalf("one certificate: %v", err)
	}
}

// FuzzParseUpload: whatever is uploaded, ParseUpload returns exactly one of a certificate, a
// request or an error, and a certificate it returns is the bytes it was given (PEM or DER).
func FuzzParseUpload(f *testing.F) {
	ca, err := pki.NewCA("fuzz", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ca.CertPEM)
	f.Add(ca.Cert.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		up, err := ParseUpload(b)
		n := 0
		if up.Cert != nil {
			n++
		}
		if up.CSR != nil {
			n++
		}
		if (err == nil) != (n == 1) || n > 1 {
			t.Fatalf("err %v with %d results", err, n)
		}
		if err != nil && !errors.Is(err, ErrUpload) {
			t.Fatalf("an error that is not ErrUpload: %v", err)
		}
		if up.Cert != nil {
			if blk, _ := pem.Decode(b); blk != nil && string(blk.Bytes) != string(up.Cert.Raw) || blk == nil && string(b) != string(up.Cert.Raw) {
				t.Fatal("the certificate returned is not the one uploaded")
			}
		}
	})
}

func TestASignedCertificateLivesUntilASeptemberAtLeastSixMonthsAway(t *testing.T) {
	for _, c := range []struct{ signed, until string }{
		{"2026-12-04", "2027-09-30"}, {"2027-03-15", "2027-09-30"}, {"2027-04-01", "2028-09-30"}, {"2027-08-15", "2028-09-30"},
	} {
		at, _ := time.Parse(time.DateOnly, c.signed)
		if got := nextRenewal(at).Format(time.DateOnly); got != c.until {
			t.Errorf("signed %s: until %s, want %s", c.signed, got, c.until)
		}
	}
}
