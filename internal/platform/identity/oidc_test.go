package identity

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// The OpenID provider of these tests is zitadel/oidc's (its example server: the op package
// with an in-memory storage and a username/password page), run in-process over TLS. Only what
// a real provider configures differs: who the people are, their groups, and socle registered
// as a client with its callback and its post-logout page.

// directory is the provider's people: by id, with their groups.
type directory struct {
	users  map[string]*storage.User
	groups map[string][]string
}

func (d directory) GetUserByID(id string) *storage.User { return d.users[id] }
func (d directory) GetUserByUsername(name string) *storage.User {
	for _, u := range d.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}
func (d directory) ExampleClientID() string { return "socle" }

// provider adds the groups claim to userinfo, and socle's post-logout page to its client.
type testProvider struct {
	*storage.Storage
	dir          directory
	postLogout   string
	socleClients map[string]bool
}

func (p *testProvider) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := p.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if g := p.dir.groups[subject]; g != nil {
		ui.AppendClaims("groups", g)
	}
	return nil
}

type registeredClient struct {
	op.Client
	postLogout string
}

func (c registeredClient) PostLogoutRedirectURIs() []string { return []string{c.postLogout} }

func (p *testProvider) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := p.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return registeredClient{Client: c, postLogout: p.postLogout}, nil
}

// oidcSite is socle's web listener with sign-in through the provider, the provider, and a
// browser that knows both (httptest's TLS servers share one certificate).
type oidcSite struct {
	*site
	op       *httptest.Server
	dir      directory
	callback string // the last callback URL the provider sent the browser to
}

func newOIDCSite(t *testing.T, rules ...string) *oidcSite {
	t.Helper()
	s, c, logs := newStore(t)
	c.t = time.Now() // the provider's tokens are stamped with the real time
	socle := httptest.NewUnstartedServer(nil)
	socle.StartTLS()
	t.Cleanup(socle.Close)
	opSrv := httptest.NewUnstartedServer(nil)
	opSrv.StartTLS()
	t.Cleanup(opSrv.Close)

	dir := directory{users: map[string]*storage.User{
		"u-camille": {ID: "u-camille", Username: "camille", Password: "mot-de-passe-de-camille", FirstName: "Camille",
			LastName: "Martin", Email: "camille.martin@interieur.gouv.fr", EmailVerified: true, PreferredLanguage: language.French},
		"u-dominique": {ID: "u-dominique", Username: "dominique", Password: "mot-de-passe-de-dominique", FirstName: "Dominique",
			LastName: "Petit", Email: "dominique.petit@culture.gouv.fr", EmailVerified: true, PreferredLanguage: language.French},
	}, groups: map[string][]string{"u-camille": {"pdaau-75", "agents"}, "u-dominique": {"agents"}}}
	client := storage.WebClient("socle", "secret-de-socle", socle.URL+"/login/oidc/callback")
	prov := &testProvider{Storage: storage.NewStorageWithClients(dir, map[string]*storage.Client{"socle": client}),
		dir: dir, postLogout: socle.URL + "/login?signed_out=1"}
	opSrv.Config.Handler = exampleop.SetupServer(opSrv.URL, prov, nil, false)

	if err := s.EnableOIDC(OIDCConfig{Issuer: opSrv.URL, ClientID: "socle", ClientSecret: "secret-de-socle",
		Scopes: []string{"openid", "email", "profile"}, Roles: rules, Label: "ProConnect"}, opSrv.Client()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Routes(mux)
	mux.Handle("GET /pdaau/{dep}", s.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := UserFrom(r.Context())
		if !u.Can(RoleEditor, r.PathValue("dep")) {
			http.Error(w, "Accès refusé", http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s (%s) edits %s", u.Email, u.Name, r.PathValue("dep"))
	})))
	socle.Config.Handler = s.Middleware(mux)
	browser := socle.Client()
	browser.Jar, _ = cookiejar.New(nil)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &oidcSite{site: &site{t: t, store: s, clock: c, logs: logs, srv: socle, client: browser}, op: opSrv, dir: dir}
}

// follow goes from URL to URL as a browser does, and returns the first answer that is not a
// redirect, with the URL it came from.
func (s *oidcSite) follow(resp *http.Response, from string) (*http.Response, string, string) {
	s.t.Helper()
	for i := 0; resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
		if i == 10 {
			s.t.Fatal("more than 10 redirects")
		}
		base, _ := url.Parse(from)
		next, err := base.Parse(resp.Header.Get("Location"))
		if err != nil {
			s.t.Fatal(err)
		}
		from = next.String()
		if strings.Contains(from, "/login/oidc/callback") {
			s.callback = from
		}
		if resp, err = s.client.Get(from); err != nil {
			s.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			resp, _ = s.client.Get(from) // read it again with its body
		}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, from, string(b)
}

// signInAtProvider starts a sign-in from socle's button, types the provider's credentials on
// its page, and returns where the browser lands.
func (s *oidcSite) signInAtProvider(next, username, password string) (*http.Response, string, string) {
	s.t.Helper()
	resp, _ := s.do("GET", "/login/oidc?next="+url.QueryEscape(next), nil)
	if resp.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("start: %d", resp.StatusCode)
	}
	auth, _ := url.Parse(resp.Header.Get("Location"))
	q := auth.Query()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(p) == "" {
			s.t.Fatalf("the authorization request has no %s: %s", p, auth)
		}
	}
	if q.Get("code_challenge_method") != "S256" {
		s.t.Fatalf("PKCE method %q", q.Get("code_challenge_method"))
	}
	resp, page, body := s.follow(resp, s.srv.URL)
	if !strings.Contains(page, "/login/username") {
		s.t.Fatalf("the provider's sign-in page was not reached: %s %d %s", page, resp.StatusCode, body)
	}
	id := url.Values{}
	if u, _ := url.Parse(page); u != nil {
		id.Set("id", u.Query().Get("authRequestID"))
	}
	resp, err := s.client.PostForm(strings.Split(page, "?")[0], url.Values{"username": {username}, "password": {password}, "id": {id.Get("id")}})
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return s.follow(resp, page)
}

func TestPeopleSignInThroughTheOpenIDProviderWithRolesFromTheirClaims(t *testing.T) {
	s := newOIDCSite(t, RoleEditor+"@75=groups:pdaau-75", RoleApprover+"@13=email_domain:culture.gouv.fr")

	// The sign-in page offers the provider beside the password form.
	_, body := s.do("GET", "/login", nil)
	if !strings.Contains(body, "Se connecter avec ProConnect") || !strings.Contains(body, `href="/login/oidc?next=%2f&amp;lang=fr"`) {
		t.Fatalf("no provider button:\n%s", body)
	}

	// Camille is in group pdaau-75: editor of Paris, and lands on the page she asked for.
	resp, page, body := s.signInAtProvider("/pdaau/75", "camille", "mot-de-passe-de-camille")
	if resp.StatusCode != http.StatusOK || page != s.srv.URL+"/pdaau/75" || body != "camille.martin@interieur.gouv.fr (Camille Martin) edits 75" {
		t.Fatalf("after the provider: %d %s %q", resp.StatusCode, page, body)
	}
	// ... and is refused another département's page.
	resp, _ = s.do("GET", "/pdaau/13", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another département: %d", resp.StatusCode)
	}
	u, _ := s.store.userByID(t.Context(), mustID(t, s.store, "camille.martin@interieur.gouv.fr"))
	if len(u.Grants) != 1 || u.Grants[0] != (Grant{RoleEditor, "75"}) {
		t.Fatalf("grants from claims: %v", u.Grants)
	}

	// Signing out ends socle's session and sends the browser to the provider's logout, which
	// ends its own and comes back to socle's sign-in page.
	resp, _ = s.do("POST", "/logout", url.Values{}, "Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
	end, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(end.String(), s.op.URL) || end.Query().Get("id_token_hint") == "" {
		t.Fatalf("logout: %d %s", resp.StatusCode, end)
	}
	resp, page, _ = s.follow(resp, s.srv.URL)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(page, s.srv.URL+"/login?signed_out=1") {
		t.Fatalf("after the provider's logout: %d %s", resp.StatusCode, page)
	}
	if resp, _ = s.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed out, the page answers %d", resp.StatusCode)
	}

	// Dominique's claims give no Paris role: signed in, refused.
	_, page, _ = s.signInAtProvider("/pdaau/75", "dominique", "mot-de-passe-de-dominique")
	if resp, body = s.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Dominique on Paris: %d %s (landed on %s)", resp.StatusCode, body, page)
	}

	// Claims are read again at each sign-in: Camille leaves the group, and her grant goes.
	s.do("POST", "/logout", url.Values{}, "Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
	s.dir.groups["u-camille"] = []string{"agents"}
	s.signInAtProvider("/", "camille", "mot-de-passe-de-camille")
	if resp, _ = s.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("Camille out of the group still edits Paris: %d", resp.StatusCode)
	}
}

func mustID(t *testing.T, s *Store, email string) int64 {
	t.Helper()
	var id int64
	if err := s.pool.QueryRow(t.Context(), `SELECT id FROM identity.users WHERE email = $1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestASignInThatDidNotBeginInThisBrowserOrIsReplayedIsRefused(t *testing.T) {
	s := newOIDCSite(t)
	s.signInAtProvider("/", "camille", "mot-de-passe-de-camille")
	used := s.callback
	s.do("POST", "/logout", url.Values{}, "Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
	s.client.Jar, _ = cookiejar.New(nil)

	// The provider's answer, replayed (or sent by someone else's page): this browser began no
	// sign-in, and that one is spent anyway.
	resp, err := s.client.Get(used)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || cookieNamed(s.client, s.srv.URL, CookieName) != "" {
		t.Fatalf("replayed callback: %d", resp.StatusCode)
	}
	// This browser began one, but the answer is for another.
	s.do("GET", "/login/oidc?next=/", nil)
	u, _ := url.Parse(used)
	resp, body := s.do("GET", "/login/oidc/callback?"+u.RawQuery, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "La connexion avec ProConnect n&#39;a pas abouti") {
		t.Fatalf("someone else's callback: %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(s.logs.String(), "state missing or not this browser") {
		t.Fatalf("the log does not say why:\n%s", s.logs.String())
	}
}

func cookieNamed(c *http.Client, site, name string) string {
	u, _ := url.Parse(site)
	for _, k := range c.Jar.Cookies(u) {
		if k.Name == name {
			return k.Value
		}
	}
	return ""
}

var codeRE = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7 ]+)</code>`)

var regexpSecret = regexp.MustCompile(`secret=([A-Z2-7]+)`)
