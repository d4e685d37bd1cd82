package identity

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

// Every page's header says who is signed in, with a sign-out, or offers to sign in and come
// back to the page.
func TestTheAccountNavSaysWhoIsSignedIn(t *testing.T) {
	r := httptest.NewRequest("GET", "/visio/point-hebdo?lang=fr", nil)
	out := string(AccountNav(r, "fr"))
	if !strings.Contains(out, `href="/login?lang=fr&amp;next=%2fvisio%2fpoint-hebdo%3flang%3dfr"`) || !strings.Contains(out, "Se connecter") {
		t.Errorf("signed out: %s", out)
	}
	u := &User{Name: "Camille <Martin>", Email: "camille@interieur.gouv.fr"}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, u))
	out = string(AccountNav(r, "en"))
	if !strings.Contains(out, "Camille &lt;Martin&gt; (camille@interieur.gouv.fr)") || !strings.Contains(out, `action="/logout"`) ||
		!strings.Contains(out, "Sign out") {
		t.Errorf("signed in: %s", out)
	}
}
