package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"socle/internal/gateway/catalog"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
)

// echo is an upstream that says what it received: method, path, query, and the headers the
// gateway adds.
func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Version", r.Header.Get("X-Version"))
		json.NewEncoder(w).Encode(map[string]string{
			"upstream": name, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "body": string(body),
			"consumer": r.Header.Get("X-Socle-Consumer"), "request_id": r.Header.Get("X-Request-Id"),
			"traceparent": r.Header.Get("Traceparent"), "authorization": r.Header.Get("Authorization"),
			"x_api_key": r.Header.Get("X-Api-Key"), "version": r.Header.Get("X-Version"),
		})
	})
}

func decode(t *testing.T, body string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return m
}

const restFile = `
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [%s/population]
      auth: [%s]
  plans:
    - name: bronze
      quota: {per_second: 0, per_day: 0}
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: population, plan: bronze}]
    - name: sans-abonnement
`

func TestAKeyIsAcceptedInEitherHeaderAndNeverReachesTheUpstream(t *testing.T) {
	w := newWorld(t)
	up := w.upstream(echo("a"))
	w.mustApply(fmt.Sprintf(restFile, up, "key"), nil)
	gw := w.gateway()
	key, other := w.key("commune-de-namur"), w.key("sans-abonnement")
	w.until(hasKey(other), gw)
	c := w.client()
	for _, h := range [][]string{{"Authorization", "Bearer " + key}, {"X-API-Key", key}} {
		res, body := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/85073003328?x=1", nil, h...)
		m := decode(t, body)
		if res.StatusCode != 200 || m["path"] != "/population/v1/persons/85073003328" || m["query"] != "x=1" ||
			m["consumer"] != "commune-de-namur" || m["authorization"] != "" || m["x_api_key"] != "" {
			t.Fatalf("%s: %d %v", h[0], res.StatusCode, m)
		}
	}
	for _, c2 := range []struct {
		headers []string
		status  int
		says    string
	}{
		{nil, 401, "no credential"},
		{[]string{"X-API-Key", key[:len(key)-1] + "x"}, 401, "unknown, expired or revoked"},
		{[]string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, "no credential"},
		{[]string{"X-API-Key", other}, 403, "consumer sans-abonnement is not subscribed to population"},
	} {
		res, body := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, c2.headers...)
		if res.StatusCode != c2.status || !strings.Contains(body, c2.says) || res.Header.Get("X-Socle-Error-Origin") != OriginGateway ||
			res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%v: %d %s, want %d saying %q", c2.headers, res.StatusCode, body, c2.status, c2.says)
		}
	}
	if err := catalog.RevokeKey(t.Context(), w.pool, "commune-de-namur", key[6:22]); err != nil {
		t.Fatal(err)
	}
	w.until(func(c *catalog.Catalog) bool { return !hasKey(key)(c) }, gw)
	if res, _ := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, "X-API-Key", key); res.StatusCode != 401 {
		t.Fatalf("a revoked key: %d", res.StatusCode)
	}
}

func TestAClientCertificateBoundToAConsumerIsAcceptedOnTheInterconnectOnly(t *testing.T) {
	w := newWorld(t)
	up := w.upstream(echo("a"))
	namur := w.cert("commune-de-namur", pki.Client)
	stranger := w.cert("stranger", pki.Client)
	pemOf := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	w.mustApply(strings.Replace(fmt.Sprintf(restFile, up, "mtls"), "      subscriptions: [{api: population, plan: bronze}]\n",
		"      subscriptions: [{api: population, plan: bronze}]\n      certificates: [namur.crt]\n", 1),
		map[string]string{"namur.crt": pemOf(namur.Certificate[0])})
	gw := w.gateway()
	w.until(func(c *catalog.Catalog) bool { return len(c.Consumers["commune-de-namur"].Certificates) == 1 }, gw)
	res, body := get(t, w.client(namur), "GET", gw.ic.URL+"/apis/population/v1/persons/1", nil)
	if res.StatusCode != 200 || decode(t, body)["consumer"] != "commune-de-namur" {
		t.Fatalf("bound certificate: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, w.client(stranger), "GET", gw.ic.URL+"/apis/population/v1/persons/1", nil); res.StatusCode != 403 ||
		!strings.Contains(body, "bound to no consumer") {
		t.Fatalf("unbound certificate: %d %s", res.StatusCode, body)
	}
	if res, body := get(t, w.client(namur), "GET", gw.web.URL+"/apis/population/v1/persons/1", nil); res.StatusCode != 401 {
		t.Fatalf("a certificate on the web listener is no credential: %d %s", res.StatusCode, body)
	}
}

// issuer is a JWT issuer serving its key set over HTTPS, whose key can be rotated.
type issuer struct {
	url  string
	mu   sync.Mutex
	keys []jwk.Key // private; the set published is their public keys
}

func newIssuer(t *testing.T, w *world) *issuer {
	is := &issuer{}
	is.rotate(t)
	is.url = w.upstream(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		set := jwk.NewSet()
		for _, k := range is.keys {
			pub, _ := k.PublicKey()
			set.AddKey(pub)
		}
		rw.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(rw).Encode(set)
	}))
	return is
}

func (is *issuer) rotate(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	k.Set(jwk.KeyIDKey, "k"+strconv.Itoa(len(is.keys)+1))
	k.Set(jwk.AlgorithmKey, jwa.ES256())
	is.keys = []jwk.Key{k} // the old key is withdrawn at once: the harshest rotation
}

func (is *issuer) token(t *testing.T, iss, sub string, exp time.Duration) string {
	is.mu.Lock()
	k := is.keys[0]
	is.mu.Unlock()
	tok, _ := jwt.NewBuilder().Issuer(iss).Subject(sub).Audience([]string{"socle-gateway"}).IssuedAt(time.Now()).Expiration(time.Now().Add(exp)).Build()
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestAJWTIsCheckedAgainstItsIssuersKeysAndFollowsTheirRotation(t *testing.T) {
	w := newWorld(t)
	up := w.upstream(echo("a"))
	is := newIssuer(t, w)
	file := fmt.Sprintf(restFile, up, "jwt") + fmt.Sprintf(`  jwt_issuers:
    - issuer: https://idp.example.be
      jwks: %s/jwks
      audience: socle-gateway
`, is.url)
	file = strings.Replace(file, "      subscriptions: [{api: population, plan: bronze}]\n",
		"      subscriptions: [{api: population, plan: bronze}]\n      jwt: [{issuer: https://idp.example.be, subject: app-namur}]\n", 1)
	w.mustApply(file, nil)
	gw := w.gateway()
	w.until(func(c *catalog.Catalog) bool { return len(c.Issuers) == 1 }, gw)
	c := w.client()
	call := func(tok string) (int, string) {
		res, body := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, "Authorization", "Bearer "+tok)
		return res.StatusCode, body
	}
	if st, body := call(is.token(t, "https://idp.example.be", "app-namur", time.Minute)); st != 200 || decode(t, body)["consumer"] != "commune-de-namur" {
		t.Fatalf("a valid token: %d %s", st, body)
	}
	for _, c2 := range []struct {
		tok    string
		status int
		says   string
	}{
		{is.token(t, "https://idp.example.be", "app-namur", -time.Hour), 401, "exp"},
		{is.token(t, "https://other.example.be", "app-namur", time.Minute), 401, "issuer the gateway does not accept"},
		{is.token(t, "https://idp.example.be", "app-inconnue", time.Minute), 403, "bound to no consumer"},
	} {
		if st, body := call(c2.tok); st != c2.status || !strings.Contains(body, c2.says) {
			t.Errorf("%d %s, want %d saying %q", st, body, c2.status, c2.says)
		}
	}
	// The issuer rotates its key: a token signed with the new one names a kid the gateway
	// has not seen, which makes it fetch the set again.
	is.rotate(t)
	if st, body := call(is.token(t, "https://idp.example.be", "app-namur", time.Minute)); st != 200 {
		t.Fatalf("after the issuer's key rotation: %d %s", st, body)
	}
}

func TestQuotasAreExactAcrossTwoGatewaysUnderConcurrentLoad(t *testing.T) {
	w := newWorld(t)
	up := w.upstream(echo("a"))
	w.mustApply(strings.Replace(fmt.Sprintf(restFile, up, "key"), "per_day: 0", "per_day: 120", 1), nil)
	a, b := w.gateway(), w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), a, b)
	c := w.client()
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for _, gw := range []*instance{a, b} {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 25 {
					res, _ := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, "X-API-Key", key)
					switch res.StatusCode {
					case 200:
						ok.Add(1)
					case 429:
						if res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit-Remaining") != "0" {
							t.Error("a 429 without Retry-After and RateLimit-*")
						}
						limited.Add(1)
					default:
						t.Errorf("status %d", res.StatusCode)
					}
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != 120 || limited.Load() != 280 {
		t.Fatalf("400 calls through 2 gateways against 120 a day: %d admitted, %d refused; want exactly 120 and 280", ok.Load(), limited.Load())
	}
}

func TestAChangeAppliesWhileServingWithoutAFailedOrHalfOldCall(t *testing.T) {
	w := newWorld(t)
	up1, up2 := w.upstream(echo("one")), w.upstream(echo("two"))
	version := func(v int) string {
		up := up1
		if v%2 == 1 {
			up = up2
		}
		return fmt.Sprintf(`
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [%s]
      auth: [key]
      headers:
        request: {set: {X-Version: "v%d"}}
        response: {set: {X-Served-Version: "v%d"}}
  plans:
    - name: bronze
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: population, plan: bronze}]
`, up, v, v)
	}
	w.mustApply(version(0), nil)
	a, b := w.gateway(), w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), a, b)
	c := w.client()
	stop := make(chan struct{})
	var calls, failed, mixed atomic.Int64
	var wg sync.WaitGroup
	for _, gw := range []*instance{a, b} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					res, body := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, "X-API-Key", key)
					calls.Add(1)
					if res.StatusCode != 200 {
						failed.Add(1)
						continue
					}
					m := decode(t, body)
					// The request's rule, the response's rule and the upstream must be those of
					// one version.
					want := map[string]string{"v0": "one", "v2": "one", "v4": "one", "v1": "two", "v3": "two", "v5": "two"}
					if m["version"] != res.Header.Get("X-Served-Version") || want[m["version"]] != m["upstream"] {
						mixed.Add(1)
					}
				}
			}()
		}
	}
	// Calls run under each version and across each change: the next change waits until
	// twenty more calls have been answered.
	callsAfter := func(n int64) {
		target := calls.Load() + n
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(30 * time.Second)
		for calls.Load() < target {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatalf("the calls stopped at %d", calls.Load())
			}
		}
	}
	for v := 1; v <= 5; v++ {
		callsAfter(20)
		w.mustApply(version(v), nil)
		w.until(func(c *catalog.Catalog) bool {
			return c.APIs["population"].Spec.Headers.Request.Set["X-Version"] == "v"+strconv.Itoa(v)
		}, a, b)
	}
	callsAfter(20)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || mixed.Load() != 0 {
		t.Fatalf("%d calls during 5 changes: %d failed, %d served half-old, half-new; want none", calls.Load(), failed.Load(), mixed.Load())
	}
}

func TestEachErrorSaysWhereItCameFromAndUpstreamErrorsPassThroughUnchanged(t *testing.T) {
	w := newWorld(t)
	testDone := make(chan struct{})
	t.Cleanup(func() { close(testDone) })
	up := w.upstream(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing"):
			rw.Header().Set("Content-Type", "application/problem+json")
			rw.Header().Set("X-Upstream-Own", "yes")
			rw.WriteHeader(404)
			io.WriteString(rw, `{"type":"urn:registre:personne-inconnue","title":"Personne inconnue"}`)
		case strings.HasSuffix(r.URL.Path, "/slow"):
			// It never answers while the test runs: an answer made when its request ends (an
			// empty 200) must not be what the gateway could be seen forwarding.
			select {
			case <-r.Context().Done():
				http.Error(rw, "the slow upstream's request ended", http.StatusServiceUnavailable)
			case <-testDone:
			}
		default:
			io.WriteString(rw, "ok")
		}
	}))
	dead := w.upstream(http.NotFoundHandler())
	deadURL := dead
	w.mustApply(fmt.Sprintf(`
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [%s]
      auth: [key]
      timeout: 300ms
    - name: down
      kind: rest
      upstreams: [%s]
      auth: [key]
  plans:
    - name: bronze
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: population, plan: bronze}, {api: down, plan: bronze}]
`, up, deadURL), nil)
	closeServer(t, w, deadURL)
	gw := w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), gw)
	c := w.client()
	res, body := get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/missing", nil, "X-API-Key", key)
	if res.StatusCode != 404 || body != `{"type":"urn:registre:personne-inconnue","title":"Personne inconnue"}` ||
		res.Header.Get("X-Upstream-Own") != "yes" || res.Header.Get("X-Socle-Error-Origin") != OriginUpstream {
		t.Fatalf("the upstream's 404: %d %q %v", res.StatusCode, body, res.Header)
	}
	res, body = get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/slow", nil, "X-API-Key", key)
	if res.StatusCode != 504 || res.Header.Get("X-Socle-Error-Origin") != OriginNetwork || !strings.Contains(body, "upstream-timeout") {
		t.Fatalf("a slow upstream: %d %v %s", res.StatusCode, res.Header, body)
	}
	res, body = get(t, c, "GET", gw.web.URL+"/apis/down/x", nil, "X-API-Key", key)
	if res.StatusCode != 502 || res.Header.Get("X-Socle-Error-Origin") != OriginNetwork || !strings.Contains(body, "upstream-unreachable") {
		t.Fatalf("an upstream down: %d %s", res.StatusCode, body)
	}
	get(t, c, "GET", gw.web.URL+"/apis/population/v1/persons/1", nil, "X-API-Key", "socle_0000000000000000_"+strings.Repeat("A", 43))
	origins := map[string]string{}
	for _, r := range w.records(4) {
		origins[fmt.Sprintf("%s %d", r.API, r.Status)] = r.Origin
	}
	want := map[string]string{"population 404": OriginUpstream, "population 504": OriginNetwork, "down 502": OriginNetwork, "population 401": OriginGateway}
	for k, v := range want {
		if origins[k] != v {
			t.Errorf("record %s: origin %q, want %q (all: %v)", k, origins[k], v, origins)
		}
	}
}

func TestAnIdempotentCallIsTriedOnAnotherUpstreamAndATooLargeBodyIsRefused(t *testing.T) {
	w := newWorld(t)
	good := w.upstream(echo("good"))
	bad := w.upstream(http.NotFoundHandler())
	w.mustApply(fmt.Sprintf(`
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [%s, %s]
      auth: [key]
      retries: 1
      max_request_bytes: 1KiB
  plans:
    - name: bronze
      quota: {per_day: 100}
  consumers:
    - name: commune-de-namur
      subscriptions: [{api: population, plan: bronze}]
`, bad, good), nil)
	closeServer(t, w, bad)
	gw := w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), gw)
	c := w.client()
	for i := range 4 {
		res, body := get(t, c, "GET", gw.web.URL+"/apis/population/x", nil, "X-API-Key", key)
		if res.StatusCode != 200 || decode(t, body)["upstream"] != "good" {
			t.Fatalf("call %d with one upstream down: %d %s", i, res.StatusCode, body)
		}
		res, body = get(t, c, "POST", gw.web.URL+"/apis/population/x", strings.NewReader("{}"), "X-API-Key", key)
		if res.StatusCode != 200 {
			t.Fatalf("a POST whose connection never opened goes elsewhere: %d %s", res.StatusCode, body)
		}
	}
	res, body := get(t, c, "POST", gw.web.URL+"/apis/population/x", strings.NewReader(strings.Repeat("x", 2000)), "X-API-Key", key)
	if res.StatusCode != 413 || res.Header.Get("X-Socle-Error-Origin") != OriginGateway {
		t.Fatalf("a body over the limit: %d %s", res.StatusCode, body)
	}
	if _, day, _ := gw.g.quota.Used(t.Context(), "commune-de-namur", "population", time.Now()); day != 8 {
		t.Fatalf("%d calls counted; want 8: the refused one is not", day)
	}
}

func TestTheRequestIdAndTraceGoUpAndComeBack(t *testing.T) {
	w := newWorld(t)
	w.mustApply(fmt.Sprintf(restFile, w.upstream(echo("a")), "key"), nil)
	gw := w.gateway()
	key := w.key("commune-de-namur")
	w.until(hasKey(key), gw)
	in := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res, body := get(t, w.client(), "GET", gw.web.URL+"/apis/population/x", nil, "X-API-Key", key, "Traceparent", in)
	m := decode(t, body)
	tp := m["traceparent"]
	if m["request_id"] == "" || m["request_id"] != res.Header.Get("X-Request-Id") ||
		!strings.HasPrefix(tp, in[:36]) || tp == in || !strings.HasSuffix(tp, "-01") || res.Header.Get("Traceparent") != tp {
		t.Fatalf("request id %q (answer %q), traceparent sent %q, answer %q", m["request_id"], res.Header.Get("X-Request-Id"), tp, res.Header.Get("Traceparent"))
	}
}

func TestACORSPreflightIsAnsweredWithoutCredentials(t *testing.T) {
	w := newWorld(t)
	w.mustApply(strings.Replace(fmt.Sprintf(restFile, w.upstream(echo("a")), "key"), "      auth: [key]\n",
		"      auth: [key]\n      cors: {origins: [\"https://app.namur.be\"]}\n", 1), nil)
	gw := w.gateway()
	w.until(func(c *catalog.Catalog) bool { return c.APIs["population"] != nil }, gw)
	res, _ := get(t, w.client(), "OPTIONS", gw.web.URL+"/apis/population/x", nil, "Origin", "https://app.namur.be", "Access-Control-Request-Method", "GET")
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "https://app.namur.be" || !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	res, _ = get(t, w.client(), "OPTIONS", gw.web.URL+"/apis/population/x", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("another origin is allowed")
	}
}

// closeServer stops the upstream at url: its port then refuses connections.
func closeServer(t *testing.T, w *world, url string) {
	t.Helper()
	w.closers[url]()
}

// A service this socle publishes on its own gateway (the wallet's verifier and inbox) is
// called at socle's interconnect, wherever it is bound, as socle: its client certificate,
// which identity.Self names, and the consumer and its organisation in headers it may believe.
func TestAnUpstreamOfThisSocleIsCalledAtItsInterconnectAsSocle(t *testing.T) {
	w := newWorld(t)
	gw := w.gateway()
	var seen struct{ org *identity.Organisation }
	ic := httptest.NewUnstartedServer(identity.Organisations(func() []identity.CertResolver {
		return []identity.CertResolver{identity.Self(w.socleCert())}
	})(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen.org = identity.CallerFrom(r.Context()).Org
		rw.Header().Set("X-Organisation", r.Header.Get("X-Socle-Organisation"))
		echo("self").ServeHTTP(rw, r)
	})))
	ic.TLS = &tls.Config{Certificates: []tls.Certificate{w.cert("socle", pki.Server)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: w.caPool}
	ic.StartTLS()
	t.Cleanup(ic.Close)

	file := `
gateway:
  apis:
    - name: verification
      kind: rest
      upstreams: [socle://interconnect/wallet/partners/verifier]
      auth: [key]
  plans:
    - name: bronze
      quota: {per_second: 0, per_day: 0}
  consumers:
    - name: banque-de-demo
      organisation: Banque de démonstration
      subscriptions: [{api: verification, plan: bronze}]
`
	w.mustApply(file, nil)
	key := w.key("banque-de-demo")
	w.until(hasKey(key), gw)
	c := w.client()
	// Before socle's interconnect is bound, the call fails as an unreachable upstream would.
	if res, body := get(t, c, "POST", gw.web.URL+"/apis/verification/v1/requests", nil, "X-API-Key", key); res.StatusCode != 502 {
		t.Fatalf("before the interconnect is bound: %d %s", res.StatusCode, body)
	}
	w.self.Store(&ic.URL)
	res, body := get(t, c, "POST", gw.web.URL+"/apis/verification/v1/requests", nil, "X-API-Key", key, "X-Socle-Organisation", "forged")
	m := decode(t, body)
	if res.StatusCode != 200 || m["path"] != "/wallet/partners/verifier/v1/requests" || m["consumer"] != "banque-de-demo" {
		t.Fatalf("%d %v", res.StatusCode, m)
	}
	if org, _ := url.PathUnescape(res.Header.Get("X-Organisation")); org != "Banque de démonstration" {
		t.Errorf("X-Socle-Organisation: %q, want the consumer's organisation, percent-encoded", res.Header.Get("X-Organisation"))
	}
	if seen.org == nil || seen.org.Kind != identity.KindSocle {
		t.Errorf("the interconnect saw %+v, want socle itself", seen.org)
	}
	if ps := w.apply(strings.Replace(file, "socle://interconnect/", "socle://elsewhere/", 1), nil); len(ps) != 1 || !strings.Contains(ps[0], "socle://interconnect/PATH") {
		t.Errorf("another host of scheme socle: %v", ps)
	}
}
