package portal_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/portal"
	"socle/internal/gateway/registrysim"
	"socle/internal/gateway/spec"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
)

func TestMain(m *testing.M) {
	// Package gateway defines these roles when it registers; this package's tests run without it.
	identity.DefineRole(identity.Role{Name: portal.RoleOwner, Scope: func(s string) (string, error) { return s, nil }})
	identity.DefineRole(identity.Role{Name: portal.RoleAdmin})
	os.Exit(dbtest.Main(m))
}

const gatewayFile = `
gateway:
  apis:
    - name: population
      title: Registre de la population
      description: Personnes, adresses et ménages.
      kind: rest
      upstreams: [https://127.0.0.1:9101/population]
      auth: [key, jwt]
      openapi: population.yaml
    - name: etat-civil
      kind: soap
      upstreams: [https://127.0.0.1:9101/civil-status]
      auth: [key, mtls]
      wsdl: civil-status.wsdl
  plans:
    - name: bronze
      description: essais
      quota: {per_second: 10, per_day: 10000}
`

// fakeAnalytics answers fixed figures: 3 calls to population, one a 5xx, in the hour of at.
type fakeAnalytics struct{ at time.Time }

func (f fakeAnalytics) TopAPIs(context.Context, time.Time, time.Time, int) ([]portal.APIStat, error) {
	return []portal.APIStat{{API: "population", Calls: 3, Errors: 1}, {API: "etat-civil", Calls: 1}}, nil
}
func (f fakeAnalytics) TopConsumers(_ context.Context, api string, _, _ time.Time, _ int) ([]portal.ConsumerStat, error) {
	return []portal.ConsumerStat{{Consumer: "appli-namur", Calls: 3, Errors: 1}}, nil
}
func (f fakeAnalytics) ErrorsByOrigin(_ context.Context, api string, from, to time.Time, b time.Duration) ([]portal.ErrorPoint, error) {
	return []portal.ErrorPoint{{Start: f.at.Truncate(b), Origin: "upstream", Count: 1}}, nil
}
func (f fakeAnalytics) Latency(context.Context, string, time.Time, time.Time) (portal.LatencyStats, error) {
	return portal.LatencyStats{Total: portal.Percentiles{Count: 3, P50: 12 * time.Millisecond, P90: 40 * time.Millisecond, P99: 90 * time.Millisecond, Max: 95 * time.Millisecond}}, nil
}
func (f fakeAnalytics) Usage(_ context.Context, consumer string, from, to time.Time, b time.Duration) ([]portal.UsagePoint, error) {
	return []portal.UsagePoint{{Start: f.at.Truncate(time.Hour), API: "population", Calls: 3, Errors5xx: 1}}, nil
}
func (f fakeAnalytics) ExportCSV(_ context.Context, w io.Writer, api, consumer string, from, to time.Time) error {
	_, err := io.WriteString(w, "time,consumer,api,status\n2026-12-04T08:00:00Z,"+consumer+","+api+",200\n")
	return err
}

// site runs the portal over TLS, with the demo's two APIs and three people: a developer, the
// owner of population, and a gateway administrator.
type site struct {
	t     *testing.T
	srv   *httptest.Server
	pool  *pgxpool.Pool
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	token map[string]string
}

const (
	dev   = "dev@commune.test"
	owner = "owner@registre.test"
	admin = "admin@gateway.test"
)

func newSite(t *testing.T) *site {
	t.Helper()
	ctx := context.Background()
	gm, err := database.LoadMigrations("gateway", os.DirFS(".."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	pool := dbtest.New(t, identity.Migrations(), gm)
	g, docs, ps := spec.ParseFile([]byte(gatewayFile), func(name string) ([]byte, error) {
		if name == "population.yaml" {
			return registrysim.OpenAPI(), nil
		}
		return registrysim.WSDL(), nil
	})
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, ps, err := catalog.Apply(ctx, tx, catalog.Declared{Gateway: g, Docs: docs}, "test")
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	people := identity.New(pool, nil)
	s := &site{t: t, pool: pool, token: map[string]string{}}
	for email, grant := range map[string][2]string{dev: {}, owner: {portal.RoleOwner, "population"}, admin: {portal.RoleAdmin, "*"}} {
		u, err := people.AddUser(ctx, email, email, "un mot de passe assez long")
		if err != nil {
			t.Fatal(err)
		}
		if grant[0] != "" {
			if err := people.Grant(ctx, email, grant[0], grant[1]); err != nil {
				t.Fatal(err)
			}
		}
		u, _ = people.Authenticate(ctx, email, "un mot de passe assez long")
		if s.token[email], _, err = people.Login(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s.ca, s.caKey = newCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(s.ca)
	now := time.Now()
	p := portal.New(portal.Deps{Pool: pool, Identity: people, Logger: slog.New(slog.DiscardHandler), ClientCAs: roots,
		Analytics: fakeAnalytics{at: now}, KeyOverlap: 7 * 24 * time.Hour})
	mux := http.NewServeMux()
	people.Routes(mux)
	p.Routes(mux)
	s.srv = httptest.NewTLSServer(people.Middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request as who ("" for nobody), as a browser asking for a page unless accept
// says otherwise; it does not follow redirects.
func (s *site) do(who, method, path string, form url.Values, accept string) answer {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if accept == "" {
		accept = "text/html"
	}
	req.Header.Set("Accept", accept)
	if who != "" {
		req.AddCookie(&http.Cookie{Name: identity.CookieName, Value: s.token[who]})
	}
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (s *site) get(who, path string) answer { return s.do(who, "GET", path, nil, "") }
func (s *site) post(who, path string, form url.Values) answer {
	return s.do(who, "POST", path, form, "")
}

func (s *site) catalog() *catalog.Catalog {
	s.t.Helper()
	c, err := catalog.Load(context.Background(), s.pool)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func TestTheCatalogueIsPublicInFrenchAndInEnglish(t *testing.T) {
	s := newSite(t)
	a := s.get("", "/portal/")
	if a.status != 200 || !strings.Contains(a.body, "Catalogue des API") || !strings.Contains(a.body, `href="/portal/apis/population?lang=fr"`) ||
		!strings.Contains(a.body, "Registre de la population") || !strings.Contains(a.body, "clé d&#39;API, jeton JWT") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP: %q", csp)
	}
	a = s.get("", "/portal/?lang=en")
	if !strings.Contains(a.body, "API catalogue") || !strings.Contains(a.body, "client certificate (interconnect)") {
		t.Fatal(a.body)
	}
	a = s.get("", "/portal/guide?lang=en")
	for _, want := range []string{"RFC 9457", "traceparent", "Idempotency-Key", "RateLimit-Remaining", "2026-12-04T09:30:00+01:00"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the guide does not speak of %s", want)
		}
	}
}

func TestARESTAPIsDocumentation(t *testing.T) {
	s := newSite(t)
	a := s.get("", "/portal/apis/population")
	if a.status != 200 || !strings.Contains(a.body, "/apis/population/v1/persons") || !strings.Contains(a.body, "searchPersons") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if !strings.Contains(a.body, `id="swagger"`) && !strings.Contains(a.body, "Swagger UI) n&#39;est pas installée") {
		t.Fatal("neither the viewer nor the note saying it is missing")
	}
	a = s.get("", "/portal/apis/population/viewer.json")
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
		Paths   map[string]any         `json:"paths"`
	}
	if err := json.Unmarshal([]byte(a.body), &doc); err != nil || len(doc.Servers) != 1 || doc.Servers[0].URL != "/apis/population" || len(doc.Paths) == 0 {
		t.Fatalf("%v %+v", err, doc)
	}
	a = s.get("", "/portal/apis/population/openapi.yaml")
	if a.body != string(registrysim.OpenAPI()) || !strings.HasPrefix(a.header.Get("Content-Type"), "application/yaml") {
		t.Fatal("the document is not served as stored")
	}
	if a = s.get("", "/portal/apis/population/openapi.json"); !json.Valid([]byte(a.body)) {
		t.Fatal("openapi.json is not JSON")
	}
	if a = s.get("", "/portal/apis/nowhere"); a.status != 404 {
		t.Fatal(a.status)
	}
}

func TestASOAPAPIsOperationsComeFromItsWSDL(t *testing.T) {
	s := newSite(t)
	a := s.get("", "/portal/apis/etat-civil?lang=en")
	if a.status != 200 || !strings.Contains(a.body, "SOAPAction") || !strings.Contains(a.body, `href="/apis/etat-civil?wsdl"`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if !regexp.MustCompile(`<h3 id="op-[A-Za-z]+">`).MatchString(a.body) || !strings.Contains(a.body, "Input — <code>") {
		t.Fatal("no operation with its input message")
	}
	if a = s.get("", "/portal/apis/etat-civil/service.wsdl"); a.body != string(registrysim.WSDL()) {
		t.Fatal("the WSDL is not served as stored")
	}
}

// The whole way of a developer: register an application, ask for a subscription, which the
// API's owner approves; get a key, shown once, which the gateway then accepts; replace it,
// revoke it.
func TestAnApplicationFromRegistrationToKey(t *testing.T) {
	s := newSite(t)
	if a := s.get("", "/portal/apps/"); a.status != http.StatusSeeOther || !strings.HasPrefix(a.header.Get("Location"), "/login?") {
		t.Fatalf("anonymous: %d %s", a.status, a.header.Get("Location"))
	}
	bad := url.Values{"name": {"Appli Namur"}, "contact": {"personne"}}
	a := s.post(dev, "/portal/apps/", bad)
	if a.status != 422 || !strings.Contains(a.body, `href="#f-name"`) || !strings.Contains(a.body, `href="#f-contact"`) || !strings.Contains(a.body, `value="Appli Namur"`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	a = s.do(dev, "POST", "/portal/apps/", bad, "application/json")
	var p struct {
		Status int
		Errors []struct{ Field, Reason string }
	}
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || a.status != 422 || p.Status != 422 || len(p.Errors) != 2 || p.Errors[0].Field != "f-name" ||
		!strings.HasPrefix(a.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	a = s.post(dev, "/portal/apps/", url.Values{"name": {"appli-namur"}, "organisation": {"Ville de Namur"}, "contact": {"api@namur.be"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/portal/apps/appli-namur/?done=done.registered" {
		t.Fatalf("%d %s", a.status, a.header.Get("Location"))
	}
	if a = s.get(owner, "/portal/apps/appli-namur/"); a.status != 403 {
		t.Fatalf("another person sees the application: %d", a.status)
	}
	a = s.post(dev, "/portal/apps/appli-namur/subscriptions", url.Values{"api": {"population"}, "plan": {"bronze"}})
	if a.status != http.StatusSeeOther {
		t.Fatal(a.status, a.body)
	}
	if sub := s.catalog().Consumers["appli-namur"].Subscriptions["population"]; sub.Status != catalog.Pending {
		t.Fatal(sub.Status)
	}

	// The owner of population sees the request and approves it; the developer may not.
	if a = s.get(dev, "/portal/manage/"); a.status != 403 {
		t.Fatalf("the developer manages: %d", a.status)
	}
	a = s.get(owner, "/portal/manage/")
	if !strings.Contains(a.body, `action="/portal/manage/subscriptions/appli-namur/population?lang=fr"`) {
		t.Fatal(a.body)
	}
	if a = s.post(dev, "/portal/manage/subscriptions/appli-namur/population", url.Values{"decision": {"approve"}}); a.status != 403 {
		t.Fatalf("the developer approves their own request: %d", a.status)
	}
	if a = s.post(owner, "/portal/manage/subscriptions/appli-namur/population", url.Values{"decision": {"approve"}}); a.status != http.StatusSeeOther {
		t.Fatal(a.status, a.body)
	}
	sub := s.catalog().Consumers["appli-namur"].Subscriptions["population"]
	if sub.Status != catalog.Approved || sub.DecidedBy != owner || sub.DecidedAt == nil {
		t.Fatalf("%+v", sub)
	}

	// A key, shown once.
	a = s.post(dev, "/portal/apps/appli-namur/keys", url.Values{"label": {"production"}})
	key := regexp.MustCompile(`socle_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`).FindString(a.body)
	if a.status != 201 || key == "" || a.header.Get("Cache-Control") != "no-store" || !strings.Contains(a.body, "ne sera plus jamais affichée") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if a = s.get(dev, "/portal/apps/appli-namur/"); strings.Contains(a.body, key) || !strings.Contains(a.body, "production") {
		t.Fatal("the key is shown again, or not listed")
	}
	k, err := s.catalog().ConsumerOfKey(key, time.Now())
	if err != nil || k.Consumer != "appli-namur" || k.CreatedBy != dev {
		t.Fatalf("%+v %v", k, err)
	}
	// Replaced: the old key works for the overlap, beside the new one.
	a = s.post(dev, "/portal/apps/appli-namur/keys", url.Values{"replace": {k.ID}, "label": {"production"}})
	fresh := regexp.MustCompile(`socle_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`).FindString(a.body)
	cat := s.catalog()
	if _, err := cat.ConsumerOfKey(key, time.Now().Add(6*24*time.Hour)); err != nil {
		t.Fatal("the replaced key stopped before the overlap's end")
	}
	if _, err := cat.ConsumerOfKey(key, time.Now().Add(8*24*time.Hour)); err == nil {
		t.Fatal("the replaced key works after the overlap")
	}
	if _, err := cat.ConsumerOfKey(fresh, time.Now()); err != nil {
		t.Fatal("the new key does not work")
	}
	if a = s.post(dev, "/portal/apps/appli-namur/keys/"+k.ID+"/revoke", url.Values{}); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
	if _, err := s.catalog().ConsumerOfKey(key, time.Now()); err == nil {
		t.Fatal("a revoked key works")
	}
	// A program gets the key as JSON.
	a = s.do(dev, "POST", "/portal/apps/appli-namur/keys", url.Values{}, "application/json")
	var issued struct{ ID, Key string }
	if json.Unmarshal([]byte(a.body), &issued); a.status != 201 || !catalog.LooksLikeKey(issued.Key) {
		t.Fatalf("%d %s", a.status, a.body)
	}
}

func TestTheUsageChartIsSVGWithTheSameFiguresInATable(t *testing.T) {
	s := newSite(t)
	s.post(dev, "/portal/apps/", url.Values{"name": {"appli-namur"}, "contact": {"api@namur.be"}})
	a := s.get(dev, "/portal/apps/appli-namur/")
	for _, want := range []string{`<svg class="chart"`, `role="img"`, `<title id="usage-calls-t">Appels par heure et par API</title>`,
		"3 appels en 24 heures", "0 erreurs 4xx (de l&#39;appelant) et 1 erreurs 5xx", `<th scope="col">population</th>`, `href="/portal/apps/appli-namur/usage.csv"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("no %s", want)
		}
	}
	a = s.get(dev, "/portal/apps/appli-namur/usage.csv")
	if !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") || !strings.Contains(a.body, ",appli-namur,,200") {
		t.Fatal(a.header, a.body)
	}
}

func TestACertificateMustChainToThePlatformsClientCA(t *testing.T) {
	s := newSite(t)
	s.post(dev, "/portal/apps/", url.Values{"name": {"appli-namur"}, "contact": {"api@namur.be"}})
	stranger, strangerKey := newCA(t)
	a := s.post(dev, "/portal/apps/appli-namur/certificates", url.Values{"pem": {leaf(t, stranger, strangerKey, "appli.namur.be")}})
	if a.status != 422 || !strings.Contains(a.body, "autorité de certification de la plateforme") || !strings.Contains(a.body, `href="#f-pem"`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if a = s.post(dev, "/portal/apps/appli-namur/certificates", url.Values{"pem": {"pas un certificat"}}); a.status != 422 {
		t.Fatal(a.status)
	}
	a = s.post(dev, "/portal/apps/appli-namur/certificates", url.Values{"pem": {leaf(t, s.ca, s.caKey, "appli.namur.be")}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("%d %s", a.status, a.body)
	}
	certs := s.catalog().Consumers["appli-namur"].Certificates
	if len(certs) != 1 || certs[0].Subject != "CN=appli.namur.be" {
		t.Fatalf("%+v", certs)
	}
	a = s.get(dev, "/portal/apps/appli-namur/")
	if !strings.Contains(a.body, certs[0].Fingerprint) || !strings.Contains(a.body, "CN=appli.namur.be") {
		t.Fatal("the certificate is not shown with its fingerprint")
	}
	if a = s.post(dev, "/portal/apps/appli-namur/certificates/"+certs[0].Fingerprint+"/unbind", url.Values{}); a.status != http.StatusSeeOther {
		t.Fatal(a.status)
	}
}

func TestAnOwnerEditsTheirAPIWhichBecomesThePortals(t *testing.T) {
	s := newSite(t)
	if a := s.get(owner, "/portal/manage/apis/etat-civil"); a.status != 403 {
		t.Fatalf("the owner of population edits etat-civil: %d", a.status)
	}
	a := s.get(owner, "/portal/manage/apis/population")
	if a.status != 200 || !strings.Contains(a.body, "déclarée dans un fichier") || !strings.Contains(a.body, "https://127.0.0.1:9101/population") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	form := url.Values{"title": {"Population"}, "upstreams": {"https://127.0.0.1:9101/population\nftp://ailleurs"}, "auth": {"key"},
		"timeout": {"10s"}, "retries": {"9"}, "max_request_bytes": {"1MiB"}, "max_response_bytes": {"10MiB"}, "origins": {"https://appli.namur.be"}}
	a = s.post(owner, "/portal/manage/apis/population", form)
	if a.status != 422 || !strings.Contains(a.body, `href="#f-upstreams"`) || !strings.Contains(a.body, `href="#f-retries"`) {
		t.Fatalf("%d %s", a.status, a.body)
	}
	form.Set("upstreams", "https://127.0.0.1:9101/population\nhttps://127.0.0.1:9102/population")
	form.Set("retries", "2")
	// Balancing, the health check and the header rules, a bad rule first.
	form.Set("balance", "least_requests")
	form.Set("health_path", "/healthz")
	form.Set("health_interval", "5s")
	form.Set("request_set", "X-Source: socle\nsans deux-points")
	form.Set("response_remove", "Server")
	if a = s.post(owner, "/portal/manage/apis/population", form); a.status != 422 || !strings.Contains(a.body, `href="#f-headers"`) ||
		!strings.Contains(a.body, "« sans deux-points » : attendu « Nom: valeur »") {
		t.Fatalf("a header rule without a colon: %d %s", a.status, a.body)
	}
	form.Set("request_set", "X-Source: socle")
	if a = s.post(owner, "/portal/manage/apis/population", form); a.status != http.StatusSeeOther {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if api := s.catalog().APIs["population"]; api.Spec.Balance != "least_requests" || api.Spec.Health == nil || api.Spec.Health.Path != "/healthz" ||
		api.Spec.Health.Interval != spec.Duration(5*time.Second) || api.Spec.Headers.Request.Set["X-Source"] != "socle" ||
		len(api.Spec.Headers.Response.Remove) != 1 || api.Spec.Headers.Response.Remove[0] != "Server" {
		t.Fatalf("%+v", api.Spec)
	}
	if a = s.get(owner, "/portal/manage/apis/population"); !strings.Contains(a.body, `value="least_requests" selected`) ||
		!strings.Contains(a.body, ">X-Source: socle</textarea>") {
		t.Fatalf("the form shows what was saved: %s", a.body)
	}
	api := s.catalog().APIs["population"]
	if api.Source != catalog.FromPortal || api.UpdatedBy != owner || len(api.Spec.Upstreams) != 2 || *api.Spec.Retries != 2 ||
		api.Spec.Timeout != spec.Duration(10*time.Second) || api.Spec.CORS == nil || api.Spec.CORS.Origins[0] != "https://appli.namur.be" ||
		string(api.Doc) != string(registrysim.OpenAPI()) {
		t.Fatalf("%+v", api)
	}
	// Plans are the administrators'.
	plan := url.Values{"name": {"argent"}, "per_second": {"50"}, "per_day": {"100000"}}
	if a = s.post(owner, "/portal/manage/plans", plan); a.status != 403 {
		t.Fatal(a.status)
	}
	if a = s.post(admin, "/portal/manage/plans", plan); a.status != http.StatusSeeOther {
		t.Fatal(a.status, a.body)
	}
	if p := s.catalog().Plans["argent"]; p == nil || p.Quota.PerDay != 100000 {
		t.Fatalf("%+v", p)
	}
}

func TestAnalyticsForOwnersOnly(t *testing.T) {
	s := newSite(t)
	if a := s.get(dev, "/portal/analytics"); a.status != 403 {
		t.Fatal(a.status)
	}
	a := s.get(owner, "/portal/analytics?period=7d")
	if a.status != 200 || !strings.Contains(a.body, `<option value="7d" selected>`) || !strings.Contains(a.body, `id="errors-population-t"`) ||
		!strings.Contains(a.body, "appli-namur") || !strings.Contains(a.body, "<td>12,0</td>") {
		t.Fatalf("%d %s", a.status, a.body)
	}
	if strings.Contains(a.body, `<th scope="row">etat-civil</th>`) {
		t.Fatal("the owner of population sees etat-civil's figures")
	}
	if a = s.get(owner, "/portal/analytics.csv?api=etat-civil"); a.status != 403 {
		t.Fatal(a.status)
	}
	if a = s.get(owner, "/portal/analytics.csv?api=population"); a.status != 200 || !strings.Contains(a.body, ",population,200") {
		t.Fatal(a.status, a.body)
	}
	if a = s.get(admin, "/portal/analytics"); !strings.Contains(a.body, `<th scope="row">etat-civil</th>`) {
		t.Fatal("the administrator does not see every API")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(12 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
