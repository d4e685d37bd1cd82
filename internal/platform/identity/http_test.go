package identity

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"socle/internal/web"
)

// site is socle's web listener reduced to what identity mounts, and a browser on it: a
// cookie jar, and redirects shown rather than followed.
type site struct {
	t      *testing.T
	store  *Store
	clock  *clock
	logs   *logBuffer
	srv    *httptest.Server
	client *http.Client
}

func newSite(t *testing.T) *site {
	t.Helper()
	s, c, logs := newStore(t)
	mux := http.NewServeMux()
	s.Routes(mux)
	mux.Handle("GET /pdaau/{dep}", s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		fmt.Fprintf(w, "%s may edit %s: %v", u.Email, r.PathValue("dep"), u.Can(RoleEditor, r.PathValue("dep")))
	})))
	mux.Handle("POST /pdaau/{dep}", s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "draft saved")
	})))
	mux.HandleFunc("POST /apis/{name}/", func(w http.ResponseWriter, r *http.Request) {
		_, signedIn := UserFrom(r.Context())
		fmt.Fprintf(w, "called with a key, signed in: %v", signedIn)
	})
	s.AllowCrossOrigin("/apis/")
	srv := httptest.NewTLSServer(s.Middleware(mux))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &site{t: t, store: s, clock: c, logs: logs, srv: srv, client: client}
}

// do sends a request; headers come as name, value pairs.
func (s *site) do(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn posts the form as the browser does from the sign-in page.
func (s *site) signIn(email, password, next string) (*http.Response, string) {
	s.t.Helper()
	return s.do("POST", "/login", url.Values{"email": {email}, "password": {password}, "next": {next}},
		"Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
}

func TestTheSignInPageIsAnAccessibleFormInFrenchOrEnglish(t *testing.T) {
	w := newSite(t)
	resp, body := w.do("GET", "/login?next=/pdaau/75", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Language") != "fr" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`<html lang="fr">`, `<h1>Se connecter</h1>`,
		`<label for="email">Adresse électronique`, `id="email" name="email" type="email" autocomplete="username"`,
		`<label for="password">Mot de passe</label>`, `type="password" autocomplete="current-password"`,
		`<input type="hidden" name="next" value="/pdaau/75">`, `action="/login?lang=fr"`,
		`<link rel="stylesheet" href="` + web.Stylesheet() + `">`, `href="/login?lang=en&amp;next=%2Fpdaau%2F75"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("French page lacks %s", want)
		}
	}
	if strings.Contains(body, `role="alert"`) {
		t.Error("an alert before any attempt")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q: the form must not be framed", csp)
	}
	_, en := w.do("GET", "/login", nil, "Accept-Language", "en-GB,en;q=0.9")
	_, en2 := w.do("GET", "/login?lang=en", nil)
	for _, b := range []string{en, en2} {
		if !strings.Contains(b, `<html lang="en">`) || !strings.Contains(b, "<h1>Sign in</h1>") || !strings.Contains(b, "Email address") {
			t.Errorf("English page:\n%s", b)
		}
	}
}

func TestSignInSetsASafeCookieAndGoesBackToThePage(t *testing.T) {
	w := newSite(t)
	w.store.AddUser(t.Context(), "camille@x.fr", "Camille Martin", goodPassword)
	w.store.Grant(t.Context(), "camille@x.fr", RoleEditor, "75")

	// Asking for a protected page leads to the form, which remembers the page.
	resp, _ := w.do("GET", "/pdaau/75?tab=draft", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fpdaau%2F75%3Ftab%3Ddraft" {
		t.Fatalf("anonymous page: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, _ = w.signIn("camille@x.fr", goodPassword, "/pdaau/75?tab=draft")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/pdaau/75?tab=draft" {
		t.Fatalf("sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == "socle_session" {
			c = k
		}
	}
	if c == nil {
		t.Fatal("no socle_session cookie")
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/", c)
	}
	if d := time.Duration(c.MaxAge) * time.Second; d != 12*time.Hour {
		t.Errorf("cookie lives %v, want the session's 12 h", d)
	}

	_, body := w.do("GET", "/pdaau/75", nil)
	if body != "camille@x.fr may edit 75: true" {
		t.Errorf("signed-in page: %q", body)
	}
	if resp, _ := w.do("GET", "/login?next=/pdaau/13", nil); resp.Header.Get("Location") != "/pdaau/13" {
		t.Errorf("the form, signed in: %d %q; want straight to the page", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Signing out ends the session: the cookie no longer opens the page.
	resp, _ = w.do("POST", "/logout", url.Values{}, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?signed_out=1" {
		t.Fatalf("sign-out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := w.store.UserBySession(t.Context(), c.Value); err == nil {
		t.Error("the session outlived sign-out")
	}
	if resp, _ := w.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", resp.StatusCode)
	}
	if _, body := w.do("GET", "/login?signed_out=1", nil); !strings.Contains(body, `role="status">Vous êtes déconnecté.`) {
		t.Error("the form does not say the sign-out happened")
	}

	if logs := w.logs.String(); strings.Contains(logs, goodPassword) || strings.Contains(logs, c.Value) {
		t.Errorf("a password or a token is in the log:\n%s", logs)
	}
}

func TestSignInNeverRedirectsToAnotherSite(t *testing.T) {
	w := newSite(t)
	w.store.AddUser(t.Context(), "camille@x.fr", "Camille Martin", goodPassword)
	for _, next := range []string{
		"https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
		"evil.example", "/\t/evil.example", "https:evil.example", "/login", "",
	} {
		resp, _ := w.signIn("camille@x.fr", goodPassword, next)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("next=%q: %d to %q, want / ", next, resp.StatusCode, loc)
		}
	}
	for _, next := range []string{"/pdaau/75", "/pdaau/2A/versions?page=2#top", "/%2F%2Fevil.example"} {
		if got := localPath(next); got != next {
			t.Errorf("local path %q refused (%q)", next, got)
		}
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	w := newSite(t)
	w.store.AddUser(t.Context(), "camille@x.fr", "Camille Martin", goodPassword)
	w.signIn("camille@x.fr", goodPassword, "/")

	for name, headers := range map[string][]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		"Origin of another host":    {"Origin", "https://evil.example"},
	} {
		for _, path := range []string{"/pdaau/75", "/logout", "/login"} {
			form := url.Values{"email": {"camille@x.fr"}, "password": {goodPassword}}
			resp, body := w.do("POST", path, form, headers...)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/problem+json" ||
				!strings.Contains(body, `"type":"urn:socle:problem:cross-origin-request"`) {
				t.Errorf("%s, POST %s: %d %s", name, path, resp.StatusCode, body)
			}
		}
	}
	// The session survived the forged sign-out, and the same site's own post goes through.
	if resp, body := w.do("POST", "/pdaau/75", url.Values{}, "Sec-Fetch-Site", "same-origin", "Origin", w.srv.URL); resp.StatusCode != 200 {
		t.Errorf("same-origin post: %d %s", resp.StatusCode, body)
	}
	// An API called with a key takes requests from other sites' pages.
	if resp, body := w.do("POST", "/apis/population/", url.Values{}, "Sec-Fetch-Site", "cross-site", "Origin", "https://app.namur.be"); resp.StatusCode != 200 {
		t.Errorf("cross-site POST to an API: %d %s", resp.StatusCode, body)
	}
	// Reading is always allowed: a link from elsewhere opens the page.
	if resp, _ := w.do("GET", "/pdaau/75", nil, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 200 {
		t.Errorf("cross-site GET: %d", resp.StatusCode)
	}
}

func TestAnonymousAPICallsGetProblem401(t *testing.T) {
	w := newSite(t)
	for _, c := range []struct{ method, accept string }{{"GET", "application/json"}, {"POST", ""}, {"POST", "text/html"}} {
		resp, body := w.do(c.method, "/pdaau/75", url.Values{}, "Accept", c.accept)
		var p map[string]any
		json.Unmarshal([]byte(body), &p)
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" ||
			p["type"] != "urn:socle:problem:unauthenticated" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s Accept %q: %d %v %s", c.method, c.accept, resp.StatusCode, resp.Header, body)
		}
	}
}

func TestWrongCredentialsAreAnnouncedAndTheEmailKept(t *testing.T) {
	w := newSite(t)
	w.store.AddUser(t.Context(), "camille@x.fr", "Camille Martin", goodPassword)
	resp, body := w.signIn("camille@x.fr", "not the password at all", "/pdaau/75")
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("%d %v", resp.StatusCode, resp.Cookies())
	}
	for _, want := range []string{
		`<title>Erreur — Connexion — socle</title>`,
		`role="alert" id="login-error">Adresse électronique ou mot de passe incorrect.`,
		`value="camille@x.fr"`, `aria-invalid="true"`, `value="/pdaau/75"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(body, "not the password at all") {
		t.Error("the page echoes the password")
	}
	_, unknown := w.signIn("nobody@x.fr", "not the password at all", "/")
	if !strings.Contains(unknown, "Adresse électronique ou mot de passe incorrect.") {
		t.Error("an unknown email gets another message than a wrong password")
	}
	w.store.SetDisabled(t.Context(), "camille@x.fr", true)
	resp, body = w.do("POST", "/login?lang=en", url.Values{"email": {"camille@x.fr"}, "password": {goodPassword}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This account is disabled.") {
		t.Errorf("disabled: %d", resp.StatusCode)
	}
	resp, body = w.do("POST", "/login", url.Values{"email": {"camille@x.fr"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Saisissez votre adresse électronique et votre mot de passe.") {
		t.Errorf("no password: %d", resp.StatusCode)
	}
}

func TestSignInAttemptsAreLimitedPerEmailAndAddress(t *testing.T) {
	w := newSite(t)
	w.store.AddUser(t.Context(), "camille@x.fr", "Camille Martin", goodPassword)
	w.store.AddUser(t.Context(), "alex@x.fr", "Alex Petit", goodPassword)
	for i := range LoginAttempts {
		if resp, _ := w.signIn("camille@x.fr", fmt.Sprintf("guess number %d", i), "/"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
		}
	}
	// The 11th attempt is refused before the password is even looked at.
	resp, body := w.signIn("Camille@x.fr", goodPassword, "/")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "900" ||
		!strings.Contains(body, `role="alert" id="login-error">Trop de tentatives de connexion pour cette adresse. Réessayez dans 15 min.`) {
		t.Fatalf("11th attempt: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp, body = w.do("POST", "/login?lang=en", url.Values{"email": {"camille@x.fr"}, "password": {goodPassword}})
	if resp.StatusCode != 429 || !strings.Contains(body, "Too many sign-in attempts for this address. Try again in 15 min.") {
		t.Errorf("in English: %d", resp.StatusCode)
	}
	// Another account from the same address is not locked out.
	if resp, _ := w.signIn("alex@x.fr", goodPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("other email: %d", resp.StatusCode)
	}
	// Fifteen minutes after the first failure, one more try is allowed, and succeeds.
	w.clock.advance(LoginWindow)
	if resp, _ := w.signIn("camille@x.fr", goodPassword, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the window: %d", resp.StatusCode)
	}
}

func TestLimiterSlidesAndForgets(t *testing.T) {
	l := newLimiter(3, time.Minute)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.fail("k", t0)
	l.fail("k", t0.Add(20*time.Second))
	l.fail("k", t0.Add(40*time.Second))
	if d := l.wait("k", t0.Add(50*time.Second)); d != 10*time.Second {
		t.Errorf("wait %v, want until the first failure is a minute old", d)
	}
	if d := l.wait("other", t0.Add(50*time.Second)); d != 0 {
		t.Errorf("another key waits %v", d)
	}
	if d := l.wait("k", t0.Add(time.Minute)); d != 0 {
		t.Errorf("wait %v after the first failure aged out", d)
	}
	l.reset("k")
	if d := l.wait("k", t0.Add(50*time.Second)); d != 0 {
		t.Errorf("wait %v after a success", d)
	}
	l.fail("old", t0)
	l.wait("x", t0.Add(2*time.Minute))
	if len(l.fails) != 0 {
		t.Errorf("stale keys kept: %v", l.fails)
	}
}
