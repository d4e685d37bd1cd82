package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// issuerSite is the wallet on a real database, behind the platform's identity middleware, at
// the address of its test server. (The gateway and the registers are exercised by the Node
// holder and the browser test, end to end.)
type issuerSite struct {
	w   *Wallet
	srv *httptest.Server
	uid int64
}

// newIssuerSite is the wallet with the settings configure changes.
func newIssuerSite(t *testing.T, configure ...func(*Config)) *issuerSite {
	var cfg Config
	for _, c := range configure {
		c(&cfg)
	}
	return newIssuerSiteWith(t, cfg, "")
}

// newIssuerSiteWith is newIssuerSite with the settings cfg (the issuer's key, say), on the
// data directory dir (empty: a new one).
func newIssuerSiteWith(t testing.TB, cfg Config, dir string) *issuerSite {
	pool := dbtest.New(t, identity.Migrations(), Migrations())
	if dir == "" {
		dir = t.TempDir()
	}
	if _, err := pki.Init(dir + "/pki"); err != nil {
		t.Fatal(err)
	}
	people := identity.New(pool, slog.New(slog.DiscardHandler))
	u, err := people.AddUser(t.Context(), "sophie.lambert@demo.socle.test", "Sophie", "correct horse battery staple 42")
	if err != nil {
		t.Fatal(err)
	}
	s := &issuerSite{uid: u.ID}
	cfg.Population, cfg.CivilStatus, cfg.Authority = "population", "etat-civil", "test"
	if cfg.ClientAttestation == "" {
		cfg.ClientAttestation = attestationOptional
	}
	w, err := New(cfg, service.Env{Pool: pool,
		Logger: slog.New(slog.DiscardHandler), Identity: people, DataDir: dir, PublicURL: func() string { return s.srv.URL }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Stop(context.Background()) })
	if err := w.citizens.link(t.Context(), u.ID, "85031412401"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	w.Routes(mux, http.NewServeMux())
	s.w, s.srv = w, httptest.NewTLSServer(people.Middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// dpop signs a DPoP proof (RFC 9449 §4.2) for a request.
func dpop(t *testing.T, key *ecdsa.PrivateKey, method, uri string) string {
	pub, _ := jwk.Import(key.Public())
	h := jws.NewHeaders()
	h.Set(jws.TypeKey, "dpop+jwt")
	h.Set(jws.JWKKey, pub)
	tok, _ := jwt.NewBuilder().JwtID(uuid.NewString()).IssuedAt(time.Now()).Claim("htm", method).Claim("htu", uri).Build()
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *issuerSite) post(t *testing.T, path string, body io.Reader, headers ...string) (*http.Response, map[string]any) {
	req, _ := http.NewRequest("POST", s.srv.URL+path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

func TestAnOfferIsReadByReferenceUntilItExpires(t *testing.T) {
	s := newIssuerSite(t)
	of, tx, err := s.w.newOffer(t.Context(), s.uid, []string{"pid_dc_sd_jwt"})
	if err != nil || len(tx) != 6 {
		t.Fatalf("%v %q", err, tx)
	}
	res, err := s.srv.Client().Get(s.srv.URL + "/wallet/offers/" + of.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	grant, _ := doc["grants"].(map[string]any)["urn:ietf:params:oauth:grant-type:pre-authorized_code"].(map[string]any)
	if res.StatusCode != 200 || doc["credential_issuer"] != s.srv.URL || grant["pre-authorized_code"] != of.Code ||
		grant["tx_code"].(map[string]any)["length"] != float64(6) || strings.Contains(res.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("%d %v", res.StatusCode, doc)
	}
	s.w.pool.Exec(t.Context(), `UPDATE wallet.offers SET expires_at = now() - interval '1 second'`)
	for _, id := range []string{of.ID, "nope"} {
		res, _ := s.srv.Client().Get(s.srv.URL + "/wallet/offers/" + id)
		if res.StatusCode != 404 {
			t.Errorf("offer %s: %d, want 404", id, res.StatusCode)
		}
	}
}

func TestTheTokenEndpointRefusesAWrongTransactionCodeAndLocksTheGrant(t *testing.T) {
	s := newIssuerSite(t)
	of, tx, _ := s.w.newOffer(t.Context(), s.uid, []string{"pid_dc_sd_jwt"})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	redeem := func(code, txCode string, withDPoP bool) (*http.Response, map[string]any) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:pre-authorized_code"}, "pre-authorized_code": {code}, "tx_code": {txCode}}
		h := []string{"Content-Type", "application/x-www-form-urlencoded"}
		if withDPoP {
			h = append(h, "DPoP", dpop(t, key, "POST", s.srv.URL+pathToken))
		}
		return s.post(t, pathToken, strings.NewReader(form.Encode()), h...)
	}
	if res, body := redeem(of.Code, tx, false); res.StatusCode < 400 || body["error"] == nil {
		t.Fatalf("without DPoP: %d %v", res.StatusCode, body)
	}
	wrong := "000000"
	if wrong == tx {
		wrong = "111111"
	}
	if res, body := redeem(of.Code, wrong, true); res.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a wrong transaction code: %d %v", res.StatusCode, body)
	}
	res, body := redeem(of.Code, tx, true)
	if res.StatusCode != 200 || body["token_type"] != "DPoP" || body["access_token"] == nil {
		t.Fatalf("the right one: %d %v", res.StatusCode, body)
	}
	if res, body := redeem(of.Code, tx, true); res.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("a second redemption: %d %v", res.StatusCode, body)
	}
}

func TestTheCredentialEndpointWantsADPoPBoundToken(t *testing.T) {
	s := newIssuerSite(t)
	res, _ := s.post(t, pathCredential, strings.NewReader(`{"credential_configuration_id":"pid_dc_sd_jwt"}`), "Content-Type", "application/json")
	if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "DPoP") {
		t.Fatalf("no token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	res, _ = s.post(t, pathCredential, strings.NewReader(`{}`), "Authorization", "Bearer abc")
	if res.StatusCode != 401 {
		t.Fatalf("a bearer token: %d", res.StatusCode)
	}
	res, body := s.post(t, pathNonce, nil)
	if res.StatusCode != 200 || body["c_nonce"] == "" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("nonce: %d %v %v", res.StatusCode, body, res.Header)
	}
}

func TestTheIssuerDescribesItself(t *testing.T) {
	s := newIssuerSite(t)
	res, err := s.srv.Client().Get(s.srv.URL + "/.well-known/openid-credential-issuer")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	json.NewDecoder(res.Body).Decode(&md)
	res.Body.Close()
	confs := md["credential_configurations_supported"].(map[string]any)
	pid := confs["pid_dc_sd_jwt"].(map[string]any)
	if md["credential_issuer"] != s.srv.URL || md["credential_endpoint"] != s.srv.URL+pathCredential || pid["vct"] != "urn:eudi:pid:1" ||
		pid["format"] != "dc+sd-jwt" || len(confs) != 5 {
		t.Fatalf("%v", md)
	}
	mdl, _ := confs["driving_licence_mso_mdoc"].(map[string]any)
	if mdl["format"] != "mso_mdoc" || mdl["doctype"] != "org.iso.18013.5.1.mDL" || mdl["vct"] != nil ||
		mdl["credential_metadata"].(map[string]any)["claims"].([]any)[0].(map[string]any)["path"].([]any)[0] != "org.iso.18013.5.1" {
		t.Fatalf("the driving licence as an mdoc: %v", mdl)
	}
	if dl, _ := confs["driving_licence_dc_sd_jwt"].(map[string]any); dl["vct"] != s.srv.URL+"/wallet/vct/driving-licence" ||
		len(dl["credential_metadata"].(map[string]any)["claims"].([]any)) != 12 {
		t.Fatalf("the driving licence's configuration: %v", dl)
	}
	res, _ = s.srv.Client().Get(s.srv.URL + "/wallet/vct/birth-certificate")
	var tm map[string]any
	json.NewDecoder(res.Body).Decode(&tm)
	res.Body.Close()
	if tm["vct"] != s.srv.URL+"/wallet/vct/birth-certificate" {
		t.Fatalf("type metadata: %v", tm)
	}
	res, _ = s.srv.Client().Get(s.srv.URL + "/wallet/status/1")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/statuslist+jwt" || strings.Count(string(b), ".") != 2 {
		t.Fatalf("status list: %d %q", res.StatusCode, b)
	}
}
