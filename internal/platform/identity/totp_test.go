package identity

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// code is what an authenticator app holding secret shows at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(strings.ReplaceAll(secret, " ", ""), at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *site) sendCode(c string) (*http.Response, string) {
	s.t.Helper()
	return s.do("POST", "/login/totp", url.Values{"code": {c}, "next": {"/pdaau/75"}},
		"Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
}

func TestAnAdministratorPairsAnAuthenticatorAppThenTypesItsCodeAtEachSignIn(t *testing.T) {
	w := newSite(t)
	addUser(t, w.store, "admin@x.fr", Grant{RoleAdmin, AllScopes})

	// The right password is not enough: the browser is sent to pair an app.
	resp, _ := w.signIn("admin@x.fr", goodPassword, "/pdaau/75")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login/totp?") {
		t.Fatalf("after the password: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = w.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("before the code, the page answers %d", resp.StatusCode)
	}
	_, page := w.do("GET", "/login/totp?next=%2Fpdaau%2F75", nil)
	m := codeRE.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `src="data:image/png;base64,`) || !strings.Contains(page, `autocomplete="one-time-code"`) {
		t.Fatalf("the pairing page shows no QR code or key:\n%s", page)
	}
	secret := m[1]

	// A wrong code is refused, and says so; the right one opens the session.
	if resp, page = w.sendCode("000000"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Code incorrect") {
		t.Fatalf("wrong code: %d", resp.StatusCode)
	}
	first := code(t, secret, w.clock.now())
	if resp, _ = w.sendCode(first); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/pdaau/75" {
		t.Fatalf("right code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ = w.do("GET", "/pdaau/75", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in, the page answers %d", resp.StatusCode)
	}
	if strings.Contains(w.logs.String(), strings.ReplaceAll(secret, " ", "")) || strings.Contains(w.logs.String(), first) {
		t.Fatal("the log holds the secret or a code")
	}

	// Next time, the code only; the one just used is refused (RFC 6238 §5.2), the next one
	// is good.
	w.do("POST", "/logout", url.Values{}, "Origin", w.srv.URL, "Sec-Fetch-Site", "same-origin")
	w.signIn("admin@x.fr", goodPassword, "/pdaau/75")
	if _, page = w.do("GET", "/login/totp", nil); strings.Contains(page, "data:image/png") {
		t.Fatal("the key is shown again once paired")
	}
	if resp, _ = w.sendCode(first); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a code used twice: %d", resp.StatusCode)
	}
	w.clock.advance(30 * time.Second)
	if resp, _ = w.sendCode(code(t, secret, w.clock.now())); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the next code: %d", resp.StatusCode)
	}
}

func TestThePasswordIsGoodForFiveMinutesWhileTheCodeIsAwaited(t *testing.T) {
	w := newSite(t)
	addUser(t, w.store, "admin@x.fr", Grant{RoleAdmin, AllScopes})
	uri, err := w.store.SetTOTP(t.Context(), "admin@x.fr")
	if err != nil {
		t.Fatal(err)
	}
	secret := regexpSecret.FindStringSubmatch(uri)[1]
	w.signIn("admin@x.fr", goodPassword, "/pdaau/75")
	w.clock.advance(PendingLifetime + time.Second)
	resp, page := w.sendCode(code(t, secret, w.clock.now()))
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Le délai pour saisir le code est dépassé") {
		t.Fatalf("a late code: %d\n%s", resp.StatusCode, page)
	}
}

func TestAgentsWithoutAdministrationSignInWithTheirPasswordAlone(t *testing.T) {
	w := newSite(t)
	addUser(t, w.store, "camille@x.fr", Grant{RoleEditor, "75"})
	if resp, _ := w.signIn("camille@x.fr", goodPassword, "/pdaau/75"); resp.Header.Get("Location") != "/pdaau/75" {
		t.Fatalf("an editor is asked %q", resp.Header.Get("Location"))
	}
}
