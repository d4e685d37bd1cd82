package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"socle/internal/platform/config"
	"socle/internal/web"
)

// OIDCConfig is how people sign in through an OpenID provider: the State's federation
// (ProConnect) or any OpenID Connect provider. Without an issuer, only the built-in accounts
// sign in.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Roles are the rules that turn the provider's claims into grants, at each sign-in.
	Roles []string
	// Label names the provider on the sign-in button.
	Label string
	// RedirectURL is the callback registered at the provider; empty: https://<host of the
	// request>/login/oidc/callback.
	RedirectURL string
	// CA is a PEM bundle trusted for the provider's TLS, beside the system's roots.
	CA string
}

// Register adds the options to the configuration table.
func (c *OIDCConfig) Register(s *config.Set) {
	s.String(&c.Issuer, "oidc-issuer", "", "OpenID provider's issuer URL (ProConnect's, or any); empty: built-in accounts only")
	s.String(&c.ClientID, "oidc-client-id", "", "client id socle has at the OpenID provider")
	s.Secret(&c.ClientSecret, "oidc-client-secret", "client secret socle has at the OpenID provider")
	s.List(&c.Scopes, "oidc-scopes", "openid,email,profile", "scopes asked of the provider (openid is always asked)")
	s.List(&c.Roles, "oidc-roles", "",
		"grants from claims, role[@scope]=claim:value, e.g. pdaau.editor@75=groups:pdaau-75,admin=email:chef@interieur.gouv.fr (email_domain is the part of email after @)")
	s.String(&c.Label, "oidc-label", "ProConnect", "name of the provider on the sign-in button")
	s.String(&c.RedirectURL, "oidc-redirect-url", "", "callback registered at the provider; empty: https://<host>/login/oidc/callback")
	s.String(&c.CA, "oidc-ca", "", "PEM bundle to trust for the provider's TLS, beside the system's roots")
	s.Check(func() error {
		if c.Issuer == "" {
			return nil
		}
		if u, err := url.Parse(c.Issuer); err != nil || u.Scheme != "https" && !loopback(u.Hostname()) {
			return fmt.Errorf("SOCLE_OIDC_ISSUER: %q is not an https URL", c.Issuer)
		}
		if c.ClientID == "" {
			return errors.New("SOCLE_OIDC_CLIENT_ID: required with SOCLE_OIDC_ISSUER")
		}
		_, err := parseClaimRules(c.Roles)
		return err
	})
}

func loopback(host string) bool { return host == "localhost" || host == "127.0.0.1" || host == "::1" }

// claimRule grants Role on Scope to whoever's Claim holds Value.
type claimRule struct {
	Role, Scope, Claim, Value string
}

// parseClaimRules reads role[@scope]=claim:value rules. Roles are checked when the provider is
// enabled, once every service has defined its own.
func parseClaimRules(rules []string) ([]claimRule, error) {
	var out []claimRule
	for i, r := range rules {
		grant, match, ok := strings.Cut(r, "=")
		claim, value, ok2 := strings.Cut(match, ":")
		role, scope, scoped := strings.Cut(grant, "@")
		if !scoped {
			scope = AllScopes
		}
		role, scope, claim, value = strings.TrimSpace(role), strings.TrimSpace(scope), strings.TrimSpace(claim), strings.TrimSpace(value)
		if !ok || !ok2 || role == "" || scope == "" || claim == "" || value == "" {
			return nil, fmt.Errorf("SOCLE_OIDC_ROLES: rule %d %q is not role[@scope]=claim:value", i+1, r)
		}
		out = append(out, claimRule{Role: role, Scope: scope, Claim: claim, Value: value})
	}
	return out, nil
}

// grants returns the grants claims earn, sorted and without repeats.
func (rs claimRules) grants(claims map[string]any) []Grant {
	var out []Grant
	for _, r := range rs {
		if slices.Contains(claimValues(claims, r.Claim), r.Value) {
			out = append(out, Grant{Role: r.Role, Scope: r.Scope})
		}
	}
	slices.SortFunc(out, func(a, b Grant) int { return strings.Compare(a.Role+"\x00"+a.Scope, b.Role+"\x00"+b.Scope) })
	return slices.Compact(out)
}

type claimRules []claimRule

// claimValues reads a claim as strings: a string, each string of an array (groups), a number
// or a boolean as written in JSON. email_domain is derived: what follows the @ of email.
func claimValues(claims map[string]any, name string) []string {
	if name == "email_domain" {
		e, _ := claims["email"].(string)
		if _, dom, ok := strings.Cut(e, "@"); ok {
			return []string{strings.ToLower(dom)}
		}
		return nil
	}
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case bool, float64:
		return []string{fmt.Sprint(v)}
	}
	return nil
}

// provider is the OpenID provider, discovered at its first use (and again after a failure:
// a provider down when socle starts must not keep people out once it is back).
type provider struct {
	cfg    OIDCConfig
	rules  claimRules
	client *http.Client

	mu         sync.Mutex
	discovered *oidc.Provider
	endSession string // RP-Initiated Logout 1.0 §2.1: end_session_endpoint, if the provider has one
}

// EnableOIDC lets people sign in through the provider of cfg (a button on the sign-in page).
// client, if not nil, is the HTTP client used to reach the provider (tests trust their own
// CA with it); otherwise one trusting the system's roots and cfg.CA.
func (s *Store) EnableOIDC(cfg OIDCConfig, client *http.Client) error {
	rules, err := parseClaimRules(cfg.Roles)
	if err != nil {
		return err
	}
	for i := range rules {
		sc, err := CheckGrant(rules[i].Role, rules[i].Scope)
		if err != nil {
			return fmt.Errorf("SOCLE_OIDC_ROLES: rule %d: %w", i+1, err)
		}
		rules[i].Scope = sc
	}
	if client == nil {
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if cfg.CA != "" {
			pem, err := os.ReadFile(cfg.CA)
			if err != nil {
				return fmt.Errorf("SOCLE_OIDC_CA: %w", err)
			}
			if !roots.AppendCertsFromPEM(pem) {
				return fmt.Errorf("SOCLE_OIDC_CA: %s holds no PEM certificate", cfg.CA)
			}
		}
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	s.oidc = &provider{cfg: cfg, rules: rules, client: client}
	return nil
}

func (p *provider) get(ctx context.Context) (*oidc.Provider, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discovered != nil {
		return p.discovered, nil
	}
	d, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("identity: discover %s: %w", p.cfg.Issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := d.Claims(&meta); err != nil {
		return nil, fmt.Errorf("identity: discover %s: %w", p.cfg.Issuer, err)
	}
	p.discovered, p.endSession = d, meta.EndSession
	return d, nil
}

// origin is socle's web origin as the provider knows it: that of the configured callback,
// else the request's host.
func (p *provider) origin(r *http.Request) string {
	if u, err := url.Parse(p.cfg.RedirectURL); err == nil && p.cfg.RedirectURL != "" {
		return u.Scheme + "://" + u.Host
	}
	return "https://" + r.Host
}

func (p *provider) oauth(d *oidc.Provider, r *http.Request) *oauth2.Config {
	redirect := p.cfg.RedirectURL
	if redirect == "" {
		redirect = p.origin(r) + "/login/oidc/callback"
	}
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: d.Endpoint(),
		RedirectURL: redirect, Scopes: p.cfg.Scopes}
}

// oidcStateCookie binds a sign-in to the browser that began it: the callback must bring back
// the state this cookie holds (login CSRF, OpenID Connect Core 1.0 §3.1.2.1 "state").
const oidcStateCookie = "socle_oidc_state"

// oidcLoginLifetime is how long a sign-in may stay at the provider.
const oidcLoginLifetime = 10 * time.Minute

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidcStart sends the browser to the provider: authorization code flow with PKCE (RFC 7636,
// S256), a state bound to this browser and a nonce bound to the ID token.
func (s *Store) oidcStart(w http.ResponseWriter, r *http.Request) {
	lang := web.Lang(r)
	next := localPath(r.URL.Query().Get("next"))
	d, err := s.oidc.get(r.Context())
	if err != nil {
		s.logger.Error("OpenID provider unreachable", "error", err)
		s.render(w, r, http.StatusBadGateway, form{Next: next, Message: fmt.Sprintf(messages.T(lang, "err.provider"), s.oidc.cfg.Label)})
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	now := s.now()
	stateHash := sha256.Sum256([]byte(state))
	if _, err := s.pool.Exec(r.Context(), `INSERT INTO identity.oidc_logins (state_hash, nonce, verifier, next, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, stateHash[:], nonce, verifier, next, now.Add(oidcLoginLifetime)); err != nil {
		s.logger.Error("OpenID sign-in", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(lang, "err.internal")})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: state, Path: "/login/oidc",
		MaxAge: int(oidcLoginLifetime / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	target := s.oidc.oauth(d, r).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("ui_locales", lang))
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// errOIDC is a sign-in the provider or its answer refused; the message is for the log, the
// page says the sign-in failed.
var errOIDC = errors.New("identity: OpenID sign-in refused")

// oidcCallback ends a sign-in at the provider: the state must be this browser's, once and
// within ten minutes; the code is exchanged with the PKCE verifier; the ID token must be
// signed by the provider, for this client, fresh, with the nonce sent (Core §3.1.3.7); the
// userinfo's sub must be the ID token's (Core §5.3.2). Grants come from the claims.
func (s *Store) oidcCallback(w http.ResponseWriter, r *http.Request) {
	lang := web.Lang(r)
	q := r.URL.Query()
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Path: "/login/oidc", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	fail := func(status int, key string, err error, next string) {
		s.logger.Info("OpenID sign-in refused", "error", err, "remote", ClientIP(r))
		s.render(w, r, status, form{Next: next, Message: fmt.Sprintf(messages.T(lang, key), s.oidc.cfg.Label)})
	}
	c, err := r.Cookie(oidcStateCookie)
	state := q.Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		fail(http.StatusBadRequest, "err.oidc", fmt.Errorf("%w: state missing or not this browser's", errOIDC), "/")
		return
	}
	stateHash := sha256.Sum256([]byte(state))
	var nonce, verifier, next string
	err = s.pool.QueryRow(r.Context(), `DELETE FROM identity.oidc_logins WHERE state_hash = $1 AND expires_at > $2
		RETURNING nonce, verifier, next`, stateHash[:], s.now()).Scan(&nonce, &verifier, &next)
	if errors.Is(err, pgx.ErrNoRows) {
		fail(http.StatusBadRequest, "err.oidc", fmt.Errorf("%w: state unknown, used or expired", errOIDC), "/")
		return
	} else if err != nil {
		s.logger.Error("OpenID sign-in", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Message: messages.T(lang, "err.internal")})
		return
	}
	if e := q.Get("error"); e != "" { // RFC 6749 §4.1.2.1: the provider said no
		fail(http.StatusUnauthorized, "err.oidc", fmt.Errorf("%w: provider answered %s: %s", errOIDC, e, q.Get("error_description")), next)
		return
	}
	d, err := s.oidc.get(r.Context())
	if err != nil {
		fail(http.StatusBadGateway, "err.provider", err, next)
		return
	}
	u, idToken, err := s.oidcUser(oidc.ClientContext(r.Context(), s.oidc.client), d, r, q.Get("code"), verifier, nonce)
	switch {
	case errors.Is(err, ErrDisabled):
		fail(http.StatusForbidden, "err.disabled", err, next)
		return
	case errors.Is(err, ErrUserExists):
		fail(http.StatusConflict, "err.oidc.local", err, next)
		return
	case err != nil:
		fail(http.StatusUnauthorized, "err.oidc", err, next)
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		s.Logout(r.Context(), c.Value)
	}
	token, expires, err := s.openSession(r.Context(), u.ID, idToken)
	if err != nil {
		s.logger.Error("OpenID sign-in", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(lang, "err.internal")})
		return
	}
	s.setSessionCookie(w, token, expires)
	s.logger.Info("signed in", "user_id", u.ID, "email", u.Email, "via", "oidc", "grants", len(u.Grants), "remote", ClientIP(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// oidcUser exchanges the code and returns the account of the person, created or brought up to
// date (email, name, grants from claims), and the raw ID token.
func (s *Store) oidcUser(ctx context.Context, d *oidc.Provider, r *http.Request, code, verifier, nonce string) (*User, string, error) {
	if code == "" {
		return nil, "", fmt.Errorf("%w: no code", errOIDC)
	}
	tok, err := s.oidc.oauth(d, r).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", fmt.Errorf("%w: token request: %w", errOIDC, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", fmt.Errorf("%w: no id_token in the token response", errOIDC)
	}
	idt, err := d.VerifierContext(ctx, &oidc.Config{ClientID: s.oidc.cfg.ClientID, Now: s.now}).Verify(ctx, raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errOIDC, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, "", fmt.Errorf("%w: the ID token's nonce is not the one sent", errOIDC)
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", fmt.Errorf("%w: %w", errOIDC, err)
	}
	if d.UserInfoEndpoint() != "" { // a provider may have none: the ID token then says all
		ui, err := d.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, "", fmt.Errorf("%w: userinfo: %w", errOIDC, err)
		}
		if ui.Subject != idt.Subject {
			return nil, "", fmt.Errorf("%w: userinfo is about %q, the ID token about %q", errOIDC, ui.Subject, idt.Subject)
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return nil, "", fmt.Errorf("%w: userinfo: %w", errOIDC, err)
		}
		for k, v := range extra {
			claims[k] = v
		}
	}
	email, _ := claims["email"].(string)
	email, err = NormalizeEmail(email)
	if err != nil {
		return nil, "", fmt.Errorf("%w: the provider gave no usable email (scope email?): %w", errOIDC, err)
	}
	u, err := s.upsertOIDCUser(ctx, idt.Issuer, idt.Subject, email, displayName(claims, email), s.oidc.rules.grants(claims))
	return u, raw, err
}

// displayName is the person's name from the claims: name, else given and family names
// (ProConnect gives given_name and usual_name), else the email.
func displayName(claims map[string]any, email string) string {
	if n, _ := claims["name"].(string); strings.TrimSpace(n) != "" {
		return strings.TrimSpace(n)
	}
	var parts []string
	for _, k := range []string{"given_name", "usual_name", "family_name"} {
		if v, _ := claims[k].(string); strings.TrimSpace(v) != "" && !slices.Contains(parts, strings.TrimSpace(v)) {
			parts = append(parts, strings.TrimSpace(v))
		}
	}
	if len(parts) == 0 {
		return email
	}
	return strings.Join(parts, " ")
}

// upsertOIDCUser finds the account of (issuer, subject), creating it at the first sign-in,
// brings its email and name up to date, and replaces the grants the claims gave last time.
// An account of the built-in store with the same email is not taken over: a provider that
// asserted that address would otherwise get past its password and second factor
// (ErrUserExists; an administrator removes or renames the local account first).
func (s *Store) upsertOIDCUser(ctx context.Context, issuer, subject, email, name string, grants []Grant) (*User, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO identity.users (email, name, oidc_issuer, oidc_subject, created_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL
			DO UPDATE SET email = excluded.email, name = excluded.name
			RETURNING id`, email, name, issuer, subject, s.now()).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %s is an account of the built-in store or of another subject", ErrUserExists, email)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identity.grants WHERE user_id = $1 AND source = 'oidc'`, id); err != nil {
			return err
		}
		for _, g := range grants {
			if _, err := tx.Exec(ctx, `INSERT INTO identity.grants (user_id, role, scope, source) VALUES ($1, $2, $3, 'oidc')
				ON CONFLICT DO NOTHING`, id, g.Role, g.Scope); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrUserExists) {
			return nil, err
		}
		return nil, fmt.Errorf("identity: OpenID account: %w", err)
	}
	u, err := s.userByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("identity: OpenID account: %w", err)
	}
	if u.Disabled {
		return nil, ErrDisabled
	}
	return u, nil
}

// endSessionURL is where the browser goes after socle's sign-out, so that the provider's
// session ends too (RP-Initiated Logout 1.0 §2): empty when there is no provider, no
// end_session_endpoint, or the session did not come from the provider.
func (s *Store) endSessionURL(r *http.Request, idToken, lang string) string {
	if s.oidc == nil || idToken == "" {
		return ""
	}
	if _, err := s.oidc.get(r.Context()); err != nil || s.oidc.endSession == "" {
		return ""
	}
	u, err := url.Parse(s.oidc.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("id_token_hint", idToken)
	q.Set("client_id", s.oidc.cfg.ClientID)
	q.Set("post_logout_redirect_uri", s.oidc.origin(r)+"/login?signed_out=1")
	q.Set("ui_locales", lang)
	u.RawQuery = q.Encode()
	return u.String()
}
