package identity

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestAPersonalAccessTokenActsForItsPersonUntilRevokedOrExpired(t *testing.T) {
	s := newSite(t)
	u, err := s.store.AddUser(t.Context(), "camille@interieur.gouv.test", "Camille", "correct horse battery staple 42")
	if err != nil {
		t.Fatal(err)
	}
	s.store.Grant(t.Context(), u.Email, RoleEditor, "75")
	token, err := s.store.NewToken(t.Context(), u.ID, "script de dépôt", 30*24*time.Hour)
	if err != nil || !strings.HasPrefix(token, TokenPrefix) {
		t.Fatalf("%q %v", token, err)
	}
	// Only its hash is kept.
	var stored []byte
	s.store.pool.QueryRow(t.Context(), `SELECT hash FROM identity.tokens`).Scan(&stored)
	if bytes.Contains(stored, []byte(token)) || len(stored) != 32 {
		t.Fatalf("stored %x", stored)
	}
	res, body := s.do("GET", "/pdaau/75", nil, "Authorization", "Bearer "+token)
	if res.StatusCode != 200 || body != "camille@interieur.gouv.test may edit 75: true" {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	// A script's POST carries no Origin: the token is its proof, not a cookie.
	if res, body := s.do("POST", "/pdaau/75", nil, "Authorization", "Bearer "+token, "Sec-Fetch-Site", "cross-site"); res.StatusCode != 200 {
		t.Fatalf("POST with a token: %d %s", res.StatusCode, body)
	}
	for name, h := range map[string]string{"unknown": "Bearer " + TokenPrefix + "nope", "tampered": "Bearer " + token[:len(token)-1] + "x"} {
		if res, body := s.do("GET", "/pdaau/75", nil, "Authorization", h); res.StatusCode != 401 ||
			!strings.Contains(body, "invalid-token") || !strings.Contains(res.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Errorf("%s token: %d %s", name, res.StatusCode, body)
		}
	}
	if err := s.store.SetDisabled(t.Context(), u.Email, true); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.do("GET", "/pdaau/75", nil, "Authorization", "Bearer "+token); res.StatusCode != 401 {
		t.Fatalf("a disabled person's token: %d", res.StatusCode)
	}
	s.store.SetDisabled(t.Context(), u.Email, false)
	s.clock.advance(31 * 24 * time.Hour)
	if res, _ := s.do("GET", "/pdaau/75", nil, "Authorization", "Bearer "+token); res.StatusCode != 401 {
		t.Fatalf("an expired token: %d", res.StatusCode)
	}
	other, _ := s.store.NewToken(t.Context(), u.ID, "autre", time.Hour)
	if n, err := s.store.RevokeTokens(t.Context(), u.ID, ""); err != nil || n != 2 {
		t.Fatalf("revoked %d, %v", n, err)
	}
	if res, _ := s.do("GET", "/pdaau/75", nil, "Authorization", "Bearer "+other); res.StatusCode != 401 {
		t.Fatalf("a revoked token: %d", res.StatusCode)
	}
	if _, err := s.store.NewToken(t.Context(), u.ID, " ", time.Hour); err == nil {
		t.Fatal("a token without a name")
	}
}
