package identity

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/problem"
	"socle/internal/web"
)

type ctxKey struct{}

// WithUser returns ctx carrying u, as Middleware does for a signed-in request. Tests of
// protected handlers use it to act as someone without a session.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// UserFrom returns the signed-in user of a request that went through Middleware.
func UserFrom(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(ctxKey{}).(*User)
	return u, ok && u != nil
}

// Middleware puts the person of a personal access token (Authorization: Bearer socle_pat_…)
// into the request's context, or refuses the token; otherwise it refuses cross-origin
// state-changing browser requests (CSRF, with http.CrossOriginProtection: 403
// problem+json), then puts the user of a valid session cookie, if any, into the context. It lets anonymous requests through: Require
// is what turns them away.
func (s *Store) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A personal access token (token.go) is the script's own proof, not the browser's:
		// such a request is not subject to the cross-origin check, and a token socle does not
		// accept is refused at once rather than treated as anonymous.
		if token, ok := bearer(r); ok {
			u, err := s.UserByToken(r.Context(), token)
			if err != nil {
				if !errors.Is(err, ErrNoToken) {
					s.logger.Error("token lookup", "error", err, "path", r.URL.Path)
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="socle", error="invalid_token"`)
				problem.Write(w, r, problem.New("invalid-token", http.StatusUnauthorized, "Invalid token",
					"the personal access token is unknown, expired or revoked (socle user token makes one)"))
				return
			}
			next.ServeHTTP(w, r.WithContext(WithUser(r.Context(), u)))
			return
		}
		if !s.sameOrigin(w, r) {
			return
		}
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			u, err := s.UserBySession(r.Context(), c.Value)
			switch {
			case err == nil:
				r = r.WithContext(WithUser(r.Context(), u))
			case errors.Is(err, ErrNoSession):
				clearCookie(w)
			default:
				// Fail closed: the request goes on as anonymous.
				s.logger.Error("session lookup", "error", err, "path", r.URL.Path)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// AllowCrossOrigin lets pages of other sites send requests to paths of pattern (a
// net/http.ServeMux pattern): endpoints whose callers prove who they are with a key or a token
// they send — APIs, OAuth endpoints — not with the browser's cookie, so that a cross-site
// request can do nothing a cookie alone would allow. A service calls it from Routes.
func (s *Store) AllowCrossOrigin(pattern string) {
	s.csrf.AddInsecureBypassPattern(pattern)
}

// sameOrigin applies the CSRF check and answers the refusal itself.
func (s *Store) sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := s.csrf.Check(r); err != nil {
		s.logger.Info("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		crossOriginDenied(w, r)
		return false
	}
	return true
}

func crossOriginDenied(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, problem.New("cross-origin-request", http.StatusForbidden, "Cross-origin request refused",
		"a page of another site tried to send this request; socle only accepts changes from its own pages"))
}

// Require lets signed-in requests through to next. Anonymous browsers asking for a page
// (GET or HEAD, not Accept: application/json) are sent to /login?next=<path> with 303; any
// other anonymous request gets 401 problem+json. Mount it inside Middleware.
func (s *Store) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := UserFrom(r.Context()); ok {
			next.ServeHTTP(w, r)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r) {
			q := url.Values{"next": {r.URL.RequestURI()}}
			if l := r.URL.Query().Get("lang"); l == "en" || l == "fr" {
				q.Set("lang", l)
			}
			http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Cookie realm="socle", cookie-name="`+CookieName+`"`)
		problem.Write(w, r, problem.New("unauthenticated", http.StatusUnauthorized, "Sign-in required",
			"no valid session: sign in at /login (the session cookie "+CookieName+" is missing or has expired)"))
	})
}

func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "json") && !strings.Contains(accept, "text/html")
}

// Routes mounts the sign-in form (GET /login), sign-in (POST /login) and sign-out
// (POST /logout).
func (s *Store) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /login/totp", s.totpPage)
	mux.HandleFunc("POST /login/totp", s.totp)
	if s.oidc != nil {
		mux.HandleFunc("GET /login/oidc", s.oidcStart)
		mux.HandleFunc("GET /login/oidc/callback", s.oidcCallback)
	}
}

//go:embed templates/*.html
var templateFiles embed.FS

// site is the sign-in pages' part of the page edge: in socle's layout, under no service.
var signInSite = web.NewSite(web.Text{}, "/login", templateFiles, nil, "templates/*.html")

// form is what the sign-in page shows.
type form struct {
	web.Page
	Next      string
	Email     string
	Message   string // the message shown in the alert; empty when none
	SignedOut bool
	T         func(string) string
	Provider  string // the OpenID provider's name, when people may sign in through it

	// The second-factor page.
	SecondFactor bool
	Enroll       bool         // a new secret to confirm
	QR           template.URL // its QR code: a data: URL socle made, trusted as such
	Secret       string       // and its text, for apps that cannot scan
}

func (s *Store) render(w http.ResponseWriter, r *http.Request, status int, f form) {
	lang := web.Lang(r)
	f.T = func(key string) string { return messages.T(lang, key) }
	page, title := "login.html", "title"
	if f.SecondFactor {
		page, title = "totp.html", "totp.title"
	}
	f.Page = signInSite.Page(r, f.T(title))
	f.Account = "" // these pages are where one signs in
	f.Error = f.Message != ""
	if s.oidc != nil {
		f.Provider = s.oidc.cfg.Label
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'")
	h.Set("Referrer-Policy", "same-origin")
	signInSite.Render(w, r, status, page, f)
}

func (s *Store) loginPage(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if _, ok := UserFrom(r.Context()); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, form{Next: next, SignedOut: r.URL.Query().Get("signed_out") == "1"})
}

// maxForm bounds the sign-in form: an email, a password and a path.
const maxForm = 16 << 10

func (s *Store) login(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return // also checked here, in case Routes is mounted outside Middleware
	}
	lang := web.Lang(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, form{Next: "/", Message: messages.T(lang, "err.form")})
		return
	}
	email, password := strings.TrimSpace(r.PostForm.Get("email")), r.PostForm.Get("password")
	f := form{Next: localPath(r.PostForm.Get("next")), Email: email}
	if email == "" || password == "" {
		f.Message = messages.T(lang, "err.missing")
		s.render(w, r, http.StatusBadRequest, f)
		return
	}
	// A password typed into the email field must not reach the log: only a well-formed
	// address is logged.
	logged, _ := NormalizeEmail(email)
	remote := ClientIP(r)
	key := strings.ToLower(email) + "|" + remote
	if wait := s.limiter.wait(key, s.now()); wait > 0 {
		minutes := int(math.Ceil(wait.Minutes()))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.logger.Warn("sign-in rate limited", "email", logged, "remote", remote)
		f.Message = fmt.Sprintf(messages.T(lang, "err.limited"), minutes)
		s.render(w, r, http.StatusTooManyRequests, f)
		return
	}
	u, err := s.Authenticate(r.Context(), email, password)
	switch {
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrDisabled):
		s.limiter.fail(key, s.now())
		status, msg, reason := http.StatusUnauthorized, "err.credentials", "bad credentials"
		if errors.Is(err, ErrDisabled) {
			status, msg, reason = http.StatusForbidden, "err.disabled", "account disabled"
		}
		s.logger.Info("sign-in refused", "email", logged, "remote", remote, "reason", reason)
		f.Message = messages.T(lang, msg)
		s.render(w, r, status, f)
		return
	case err != nil:
		s.logger.Error("sign-in", "error", err)
		f.Message = messages.T(lang, "err.internal")
		s.render(w, r, http.StatusInternalServerError, f)
		return
	}
	s.limiter.reset(key)
	what, err := s.needsSecondFactor(r.Context(), u)
	if err != nil {
		s.logger.Error("sign-in", "error", err)
		f.Message = messages.T(lang, "err.internal")
		s.render(w, r, http.StatusInternalServerError, f)
		return
	}
	if what != "" {
		s.awaitSecondFactor(w, r, u, what, f.Next)
		return
	}
	s.signIn(w, r, u, f.Next)
}

// signIn opens a fresh session for u and sends the browser on to next. The session the
// browser had, if any, ends (no fixation).
func (s *Store) signIn(w http.ResponseWriter, r *http.Request, u *User, next string) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.Logout(r.Context(), c.Value)
	}
	token, expires, err := s.Login(r.Context(), u)
	if err != nil {
		s.logger.Error("sign-in", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(web.Lang(r), "err.internal")})
		return
	}
	s.setSessionCookie(w, token, expires)
	s.logger.Info("signed in", "user_id", u.ID, "email", u.Email, "remote", ClientIP(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Store) setSessionCookie(w http.ResponseWriter, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: token, Path: "/",
		Expires: expires, MaxAge: int(expires.Sub(s.now()) / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
}

// logout ends the session, then sends the browser to the OpenID provider's logout when the
// session came from it (so that the next sign-in asks again), else to the sign-in page.
func (s *Store) logout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	var idToken string
	if c, err := r.Cookie(CookieName); err == nil {
		if idToken, err = s.endSession(r.Context(), c.Value); err != nil {
			s.logger.Error("sign-out", "error", err)
		}
	}
	clearCookie(w)
	lang := web.Lang(r)
	if target := s.endSessionURL(r, idToken, lang); target != "" {
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	q := url.Values{"signed_out": {"1"}}
	if l := r.URL.Query().Get("lang"); l == "en" || l == "fr" {
		q.Set("lang", l)
	}
	http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
}

func clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

// localPath returns next if it is a path of this site, else "/": no scheme, no host, no
// protocol-relative //host or /\host, no control characters. This is what keeps the sign-in
// form from sending people to another site.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\\") || strings.ContainsFunc(next, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	if u.Path == "/login" || strings.HasPrefix(u.Path, "/login/") {
		return "/"
	}
	return next
}

// ClientIP is the address of the peer, without its port. Forwarding headers are not trusted: anyone can set
// them. Behind a proxy every client shares its address, and the limit is then per email.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var messages = web.Catalog{
	"fr": {
		"title":           "Connexion",
		"heading":         "Se connecter",
		"lead":            "Espace réservé aux agents habilités.",
		"email":           "Adresse électronique",
		"email.hint":      "Par exemple : prenom.nom@interieur.gouv.fr",
		"password":        "Mot de passe",
		"submit":          "Se connecter",
		"signed_out":      "Vous êtes déconnecté.",
		"err.credentials": "Adresse électronique ou mot de passe incorrect.",
		"err.missing":     "Saisissez votre adresse électronique et votre mot de passe.",
		"err.disabled":    "Ce compte est désactivé. Adressez-vous à un administrateur de socle.",
		"err.limited":     "Trop de tentatives de connexion pour cette adresse. Réessayez dans %d min.",
		"err.internal":    "La connexion a échoué à cause d'une erreur du serveur. Réessayez dans un instant.",
		"err.form":        "Le formulaire reçu est illisible. Rechargez la page et réessayez.",
		"or":              "Ou bien",
		"with":            "Se connecter avec %s",
		"err.provider":    "%s ne répond pas. Réessayez dans un instant, ou connectez-vous avec votre mot de passe socle.",
		"err.oidc":        "La connexion avec %s n'a pas abouti. Recommencez depuis cette page.",
		"err.oidc.local":  "Un compte socle existe déjà avec cette adresse électronique : connectez-vous avec son mot de passe, ou demandez à un administrateur de le supprimer.",
		"err.pending":     "Le délai pour saisir le code est dépassé. Saisissez à nouveau votre mot de passe.",
		"err.code":        "Code incorrect ou déjà utilisé. Saisissez le code affiché maintenant par votre application.",
		"totp.title":      "Code de vérification",
		"totp.heading":    "Code de vérification",
		"totp.for":        "Compte : %s",
		"enroll.lead":     "Les comptes d'administration sont protégés par un second facteur. Associez une application d'authentification (FreeOTP, Aegis, Google Authenticator…) à votre compte :",
		"enroll.scan":     "scannez ce code QR avec l'application ;",
		"enroll.qr":       "Code QR de la clé de votre compte, à scanner avec l'application d'authentification",
		"enroll.key":      "ou saisissez-y cette clé :",
		"enroll.confirm":  "saisissez ci-dessous le code à six chiffres qu'elle affiche.",
		"code":            "Code à six chiffres",
		"code.hint":       "Affiché par votre application d'authentification, il change toutes les 30 secondes.",
		"verify":          "Vérifier",
		"restart":         "Recommencer la connexion",
	},
	"en": {
		"title":           "Sign in",
		"heading":         "Sign in",
		"lead":            "For authorised agents only.",
		"email":           "Email address",
		"email.hint":      "For example: firstname.lastname@interieur.gouv.fr",
		"password":        "Password",
		"submit":          "Sign in",
		"signed_out":      "You are signed out.",
		"err.credentials": "Wrong email address or password.",
		"err.missing":     "Enter your email address and your password.",
		"err.disabled":    "This account is disabled. Contact a socle administrator.",
		"err.limited":     "Too many sign-in attempts for this address. Try again in %d min.",
		"err.internal":    "Sign-in failed because of a server error. Try again in a moment.",
		"err.form":        "The form could not be read. Reload the page and try again.",
		"or":              "Or",
		"with":            "Sign in with %s",
		"err.provider":    "%s does not answer. Try again in a moment, or sign in with your socle password.",
		"err.oidc":        "Signing in with %s did not succeed. Start again from this page.",
		"err.oidc.local":  "A socle account already exists with this email address: sign in with its password, or ask an administrator to remove it.",
		"err.pending":     "The time to type the code is over. Type your password again.",
		"err.code":        "Wrong or already used code. Type the code your app shows now.",
		"totp.title":      "Verification code",
		"totp.heading":    "Verification code",
		"totp.for":        "Account: %s",
		"enroll.lead":     "Administration accounts are protected by a second factor. Pair an authenticator app (FreeOTP, Aegis, Google Authenticator…) with your account:",
		"enroll.scan":     "scan this QR code with the app;",
		"enroll.qr":       "QR code of your account's key, to scan with the authenticator app",
		"enroll.key":      "or type this key into it:",
		"enroll.confirm":  "type below the six-digit code it shows.",
		"code":            "Six-digit code",
		"code.hint":       "Shown by your authenticator app; it changes every 30 seconds.",
		"verify":          "Verify",
		"restart":         "Start signing in again",
	},
}
