package wallet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/sdjwt"
)

// rpSite is the wallet with its verifier: the web listener for wallets, and the interconnect
// listener the gateway calls with socle's client certificate (gw).
type rpSite struct {
	*issuerSite
	ic     *httptest.Server
	gw     *http.Client // socle's certificate, as the gateway calls
	holder *ecdsa.PrivateKey
	doc    documents.Document // the PID issued
}

func newRPSite(t *testing.T) *rpSite {
	s := &rpSite{issuerSite: newIssuerSite(t)}
	// Status lists are read on the test server, whose certificate is the test's.
	checker, err := s.w.statusChecker(s.srv.Client(), s.w.verifier.v.Roots)
	if err != nil {
		t.Fatal(err)
	}
	s.w.verifier.v.Status = checker
	ca, err := pki.LoadCA(s.w.dataDir + "/pki")
	if err != nil {
		t.Fatal(err)
	}
	self, err := ca.Issue(pki.Request{Name: "socle", Usage: pki.Client})
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := self.TLSCertificate()
	ic := http.NewServeMux()
	s.w.verifierPartnerRoutes(ic)
	s.ic = httptest.NewUnstartedServer(identity.Organisations(func() []identity.CertResolver {
		return []identity.CertResolver{identity.Self(cert)}
	})(ic))
	s.ic.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s.ic.StartTLS()
	t.Cleanup(s.ic.Close)
	tr := s.ic.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	s.gw = &http.Client{Transport: tr}
	s.holder, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return s
}

// api calls the partner API as the gateway does for consumer.
func (s *rpSite) api(t *testing.T, client *http.Client, method, path, consumer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.ic.URL+path, rd)
	if consumer != "" {
		req.Header.Set("X-Socle-Consumer", consumer)
		req.Header.Set("X-Socle-Organisation", url.PathEscape("Banque de démonstration"))
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// pid issues the test citizen a PID bound to the holder's key.
func (s *rpSite) pid(t *testing.T) (*sdjwt.SDJWT, string) {
	t.Helper()
	pub, _ := jwk.Import(s.holder.Public())
	s.doc = exampleDocument(s.w.issuer(), documents.PID)
	creds, _, err := s.w.issue(t.Context(), s.uid, "pid_dc_sd_jwt", s.doc, []proof{{key: s.holder.Public(), jwk: pub}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := sdjwt.Parse(creds[0]["credential"])
	if err != nil {
		t.Fatal(err)
	}
	var id string
	s.w.pool.QueryRow(t.Context(), `SELECT id FROM wallet.issued ORDER BY issued_at DESC LIMIT 1`).Scan(&id)
	return c, id
}

const pidQuery = `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},
 "claims":[{"path":["family_name"]},{"path":["birthdate"]}]}]}`

// request makes a presentation request as banque-de-demo.
func (s *rpSite) request(t *testing.T, mode string) map[string]any {
	t.Helper()
	code, m := s.api(t, s.gw, "POST", pathVerifierAPI, "banque-de-demo", map[string]any{"dcql_query": json.RawMessage(pidQuery), "response_mode": mode})
	if code != 201 || !strings.HasPrefix(m["request_uri"].(string), "openid4vp://?") {
		t.Fatalf("%d %v", code, m)
	}
	return m
}

// walletAnswer is the holder's side: resolve the request URI, check the request object's
// signature and client_id, present family_name and birthdate (plus given_name, which the
// relying party must not see), and post the answer. It returns the response endpoint's
// status and body.
func (s *rpSite) walletAnswer(t *testing.T, requestURI string, cred *sdjwt.SDJWT, nonceOverride string) (int, map[string]any, string, url.Values) {
	t.Helper()
	u, _ := url.Parse(requestURI)
	res, err := s.srv.Client().Get(u.Query().Get("request_uri"))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/oauth-authz-req+jwt" {
		t.Fatalf("%d %s", res.StatusCode, obj)
	}
	msg, err := jws.Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	chain, _ := msg.Signatures()[0].ProtectedHeaders().X509CertChain()
	der, _ := chain.Get(0)
	raw, _ := base64.StdEncoding.DecodeString(string(der))
	leaf, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(obj, jws.WithKey(jwa.ES256(), leaf.PublicKey)); err != nil {
		t.Fatal(err)
	}
	var ro struct {
		ClientID, Nonce, State, ResponseURI, ResponseMode string
		ClientMetadata                                    struct{ JWKS json.RawMessage }
	}
	var claims map[string]any
	json.Unmarshal(msg.Payload(), &claims)
	ro.ClientID, ro.Nonce, ro.State = claims["client_id"].(string), claims["nonce"].(string), claims["state"].(string)
	ro.ResponseURI, ro.ResponseMode = claims["response_uri"].(string), claims["response_mode"].(string)
	sum := sha256sum(leaf.Raw)
	if ro.ClientID != "x509_hash:"+sum || ro.ClientID != u.Query().Get("client_id") || leaf.Subject.Organization[0] != "Banque de démonstration" {
		t.Fatalf("client_id %s, leaf %s", ro.ClientID, leaf.Subject)
	}
	nonce := ro.Nonce
	if nonceOverride != "" {
		nonce = nonceOverride
	}
	p, err := cred.Present(sdjwt.KeyBinding{Key: s.holder, Alg: "ES256", Audience: ro.ClientID, Nonce: nonce},
		sdjwt.Path{"family_name"}, sdjwt.Path{"birthdate"}, sdjwt.Path{"given_name"})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	if ro.ResponseMode == "direct_post.jwt" {
		md, _ := json.Marshal(claims["client_metadata"].(map[string]any)["jwks"])
		set, err := jwk.Parse(md)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := set.Key(0)
		b, _ := json.Marshal(map[string]any{"vp_token": map[string]any{"pid": []string{p}}, "state": ro.State})
		enc, err := jwe.Encrypt(b, jwe.WithKey(jwa.ECDH_ES(), key), jwe.WithContentEncryption(jwa.A128GCM()))
		if err != nil {
			t.Fatal(err)
		}
		form.Set("response", string(enc))
	} else {
		vp, _ := json.Marshal(map[string]any{"pid": []string{p}})
		form.Set("vp_token", string(vp))
		form.Set("state", ro.State)
	}
	code, body := s.postForm(t, ro.ResponseURI, form)
	return code, body, ro.ResponseURI, form
}

func sha256sum(b []byte) string {
	return strings.TrimPrefix(verifierClientID(b), "x509_hash:")
}

func (s *rpSite) postForm(t *testing.T, uri string, form url.Values) (int, map[string]any) {
	t.Helper()
	res, err := s.srv.Client().PostForm(uri, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func TestARelyingPartySeesExactlyTheClaimsAsked(t *testing.T) {
	s := newRPSite(t)
	cred, _ := s.pid(t)
	for _, mode := range []string{"direct_post.jwt", "direct_post"} {
		t.Run(mode, func(t *testing.T) {
			req := s.request(t, mode)
			code, body, uri, form := s.walletAnswer(t, req["request_uri"].(string), cred, "")
			if code != 200 {
				t.Fatalf("%d %v", code, body)
			}
			code, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string)+"?wait=5", "banque-de-demo", nil)
			got := m["result"].(map[string]any)["credentials"].(map[string]any)["pid"].([]any)[0].(map[string]any)
			if code != 200 || m["status"] != "accepted" || got["vct"] != "urn:eudi:pid:1" || got["status"] != "VALID" ||
				!reflect.DeepEqual(got["claims"], map[string]any{"family_name": s.doc.Claims["family_name"], "birthdate": s.doc.Claims["birthdate"]}) {
				t.Fatalf("%d %v", code, m)
			}
			// The claims are given once, then forgotten.
			_, m = s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string), "banque-de-demo", nil)
			if m["status"] != "accepted" || m["result"] != nil || m["result_read"] != true {
				t.Fatalf("%v", m)
			}
			// A second answer, the same replayed, is refused.
			if code, body := s.postForm(t, uri, form); code != 400 || body["error"] != "invalid_request" {
				t.Fatalf("replay: %d %v", code, body)
			}
		})
	}
}

func TestVerifierRefusals(t *testing.T) {
	s := newRPSite(t)
	cred, credID := s.pid(t)

	t.Run("not through the gateway", func(t *testing.T) {
		// Without socle's certificate: a relying party calling the interconnect itself.
		code, m := s.api(t, s.ic.Client(), "POST", pathVerifierAPI, "banque-de-demo", map[string]any{"dcql_query": json.RawMessage(pidQuery)})
		if code != 403 || !strings.Contains(m["type"].(string), "not-through-the-gateway") {
			t.Fatalf("%d %v", code, m)
		}
	})
	t.Run("another consumer's request", func(t *testing.T) {
		req := s.request(t, "direct_post")
		if code, _ := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string), "spf-finances-demo", nil); code != 404 {
			t.Fatal(code)
		}
	})
	t.Run("bad DCQL", func(t *testing.T) {
		code, m := s.api(t, s.gw, "POST", pathVerifierAPI, "banque-de-demo", map[string]any{"dcql_query": map[string]any{
			"credentials": []any{map[string]any{"id": "pid", "format": "dc+sd-jwt"}}}})
		errs, _ := m["errors"].([]any)
		if code != 400 || len(errs) != 1 || errs[0].(map[string]any)["field"] != "dcql_query.credentials[0].meta" {
			t.Fatalf("%d %v", code, m)
		}
	})
	t.Run("wrong nonce", func(t *testing.T) {
		req := s.request(t, "direct_post.jwt")
		code, body, _, _ := s.walletAnswer(t, req["request_uri"].(string), cred, "a-nonce-of-another-request")
		if code != 400 || !strings.Contains(body["error_description"].(string), "nonce") {
			t.Fatalf("%d %v", code, body)
		}
		_, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string), "banque-de-demo", nil)
		if m["status"] != "refused" || m["result"].(map[string]any)["error"] != "invalid_request" {
			t.Fatalf("%v", m)
		}
	})
	t.Run("request object by POST", func(t *testing.T) {
		// OpenID4VP 1.0 §5.10: the wallet posts its nonce, which the signed request carries back.
		req := s.request(t, "direct_post")
		u, _ := url.Parse(req["request_uri"].(string))
		res, err := s.srv.Client().PostForm(u.Query().Get("request_uri"), url.Values{"wallet_nonce": {"wn-42"}})
		if err != nil {
			t.Fatal(err)
		}
		obj, _ := io.ReadAll(res.Body)
		res.Body.Close()
		msg, err := jws.Parse(obj)
		if err != nil {
			t.Fatal(err, string(obj))
		}
		var claims map[string]any
		json.Unmarshal(msg.Payload(), &claims)
		if claims["wallet_nonce"] != "wn-42" || claims["response_mode"] != "direct_post" {
			t.Fatalf("%v", claims)
		}
	})
	t.Run("expired request", func(t *testing.T) {
		req := s.request(t, "direct_post")
		s.w.pool.Exec(t.Context(), `UPDATE wallet.presentation_requests SET expires_at = now() - interval '1 second' WHERE id = $1`, req["id"])
		u, _ := url.Parse(req["request_uri"].(string))
		res, err := s.srv.Client().Get(u.Query().Get("request_uri"))
		if err != nil || res.StatusCode != 404 {
			t.Fatal(err, res.StatusCode)
		}
		res.Body.Close()
		_, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string), "banque-de-demo", nil)
		if m["status"] != "expired" {
			t.Fatalf("%v", m)
		}
	})
	t.Run("revoked credential", func(t *testing.T) {
		if err := (issuedStore{s.w.pool}).revoke(t.Context(), s.uid, credID); err != nil {
			t.Fatal(err)
		}
		req := s.request(t, "direct_post.jwt")
		code, body, _, _ := s.walletAnswer(t, req["request_uri"].(string), cred, "")
		if code != 400 || body["error"] != "access_denied" {
			t.Fatalf("%d %v", code, body)
		}
		_, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string), "banque-de-demo", nil)
		if m["status"] != "refused" || !strings.Contains(m["result"].(map[string]any)["error_description"].(string), "INVALID") {
			t.Fatalf("%v", m)
		}
	})
	t.Run("purged after retention", func(t *testing.T) {
		s.w.pool.Exec(t.Context(), `UPDATE wallet.presentation_requests SET created_at = now() - interval '2 hours'`)
		if err := s.w.purgeVerifier(t.Context()); err != nil {
			t.Fatal(err)
		}
		var n int
		s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.presentation_requests`).Scan(&n)
		if n != 0 {
			t.Fatal(n)
		}
	})
}

func TestTheVerifierKeyFromConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, key any) string {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		f := dir + "/" + name
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if k, err := loadSigningKey(write("p256.pem", p256)); err != nil || !k.(*ecdsa.PrivateKey).Equal(p256) {
		t.Fatal(err)
	}
	if _, err := loadSigningKey(write("p384.pem", p384)); err == nil || !strings.Contains(err.Error(), "P-256") {
		t.Fatal(err)
	}
	if _, err := loadSigningKey(dir + "/none.pem"); err == nil {
		t.Fatal("a missing file accepted")
	}
}

func TestALongPollReturnsWhenTheWalletAnswers(t *testing.T) {
	s := newRPSite(t)
	cred, _ := s.pid(t)
	req := s.request(t, "direct_post")
	// Nothing yet: a short wait ends pending.
	if _, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string)+"?wait=1", "banque-de-demo", nil); m["status"] != "pending" {
		t.Fatalf("%v", m)
	}
	if code, m := s.api(t, s.gw, "GET", pathVerifierAPI+"/"+req["id"].(string)+"?wait=soon", "banque-de-demo", nil); code != 400 {
		t.Fatalf("%d %v", code, m)
	}
	got := make(chan map[string]any, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.ic.URL+pathVerifierAPI+"/"+req["id"].(string)+"?wait=30", nil)
		req.Header.Set("X-Socle-Consumer", "banque-de-demo")
		var m map[string]any
		if res, err := s.gw.Do(req); err == nil {
			json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
		}
		got <- m
	}()
	if code, body, _, _ := s.walletAnswer(t, req["request_uri"].(string), cred, ""); code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	if m := <-got; m["status"] != "accepted" || m["result"] == nil {
		t.Fatalf("%v", m)
	}
}
