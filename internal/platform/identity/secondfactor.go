package identity

import (
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"socle/internal/web"
)

// pendingCookie carries the session that waits for its second factor; it opens nothing but
// /login/totp.
const pendingCookie = "socle_pending"

// awaitSecondFactor opens a pending session for u, whose password was right, and sends the
// browser to the second-factor page: to type a code, or first to enrol a new secret (an
// administrator without one).
func (s *Store) awaitSecondFactor(w http.ResponseWriter, r *http.Request, u *User, what, next string) {
	lang := web.Lang(r)
	var secret string
	if what == "enroll" {
		k, err := newTOTPKey(u.Email)
		if err != nil {
			s.logger.Error("sign-in", "error", err)
			s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(lang, "err.internal")})
			return
		}
		secret = k.Secret()
	}
	token, err := s.openPending(r.Context(), u.ID, what, secret)
	if err != nil {
		s.logger.Error("sign-in", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(lang, "err.internal")})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Value: token, Path: "/login/totp",
		MaxAge: int(PendingLifetime / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.logger.Info("password accepted, second factor awaited", "user_id", u.ID, "step", what, "remote", ClientIP(r))
	http.Redirect(w, r, "/login/totp?"+url.Values{"next": {next}, "lang": {lang}}.Encode(), http.StatusSeeOther)
}

// secondFactorForm is the page for p: the code field, with the secret to scan when enrolling.
func (s *Store) secondFactorForm(p *pending, next string) (form, error) {
	f := form{SecondFactor: true, Next: next, Email: p.user.Email, Enroll: p.what == "enroll"}
	if f.Enroll {
		k, err := newKeyFor(p.user.Email, p.secret)
		if err != nil {
			return f, err
		}
		qr, err := totpQR(k)
		if err != nil {
			return f, err
		}
		f.QR = template.URL(qr)
		f.Secret = spaced(p.secret)
	}
	return f, nil
}

// spaced groups a base32 secret by four, as people copy it.
func spaced(secret string) string {
	var b strings.Builder
	for i, c := range secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s *Store) pendingFrom(r *http.Request) (*pending, error) {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return nil, ErrNoSession
	}
	return s.pendingSession(r.Context(), c.Value)
}

// awaited returns the pending session of the browser and its page; when there is none (or it
// ended), it has answered.
func (s *Store) awaited(w http.ResponseWriter, r *http.Request, next string) (*pending, form, bool) {
	p, err := s.pendingFrom(r)
	if err != nil {
		if !errors.Is(err, ErrNoSession) {
			s.logger.Error("second factor", "error", err)
		}
		// The five minutes are over, or there never was a password: back to the password.
		s.render(w, r, http.StatusUnauthorized, form{Next: next, Message: messages.T(web.Lang(r), "err.pending")})
		return nil, form{}, false
	}
	f, err := s.secondFactorForm(p, next)
	if err != nil {
		s.logger.Error("second factor page", "error", err)
		s.render(w, r, http.StatusInternalServerError, form{Next: next, Message: messages.T(web.Lang(r), "err.internal")})
		return nil, form{}, false
	}
	return p, f, true
}

func (s *Store) totpPage(w http.ResponseWriter, r *http.Request) {
	if _, f, ok := s.awaited(w, r, localPath(r.URL.Query().Get("next"))); ok {
		s.render(w, r, http.StatusOK, f)
	}
}

func (s *Store) totp(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(w, r) {
		return
	}
	lang := web.Lang(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, form{Next: "/", Message: messages.T(lang, "err.form")})
		return
	}
	next := localPath(r.PostForm.Get("next"))
	c, _ := r.Cookie(pendingCookie)
	p, f, ok := s.awaited(w, r, next)
	if !ok {
		return
	}
	// Codes are guessed one in a million: the sign-in limiter bounds the guesses per account.
	key := "totp|" + p.user.Email
	if wait := s.limiter.wait(key, s.now()); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		s.logger.Warn("second factor rate limited", "user_id", p.user.ID, "remote", ClientIP(r))
		f.Message = fmt.Sprintf(messages.T(lang, "err.limited"), int(math.Ceil(wait.Minutes())))
		s.render(w, r, http.StatusTooManyRequests, f)
		return
	}
	code := r.PostForm.Get("code")
	var err error
	if p.what == "enroll" {
		err = s.enrollTOTP(r.Context(), p.user.ID, p.secret, code)
	} else {
		err = s.checkTOTP(r.Context(), p.user.ID, code)
	}
	if errors.Is(err, ErrBadCode) {
		s.limiter.fail(key, s.now())
		s.logger.Info("second factor refused", "user_id", p.user.ID, "remote", ClientIP(r))
		f.Message = messages.T(lang, "err.code")
		s.render(w, r, http.StatusUnauthorized, f)
		return
	} else if err != nil {
		s.logger.Error("second factor", "error", err)
		f.Message = messages.T(lang, "err.internal")
		s.render(w, r, http.StatusInternalServerError, f)
		return
	}
	s.limiter.reset(key)
	s.Logout(r.Context(), c.Value) // the pending session is spent
	http.SetCookie(w, &http.Cookie{Name: pendingCookie, Path: "/login/totp", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.signIn(w, r, p.user, next)
}
