package wallet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"socle/internal/wallet/oauth"
)

// With SOCLE_WALLET_CLIENT_ATTESTATION=required, a wallet is served at the token endpoint
// only with its provider's attestation, and the server says so in its metadata.
func TestARequiredWalletAttestationIsCheckedAtTheTokenEndpoint(t *testing.T) {
	providerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := jwk.Import(&providerKey.PublicKey)
	pub.Set(jwk.KeyIDKey, "test-provider")
	set := jwk.NewSet()
	set.AddKey(pub)
	b, _ := json.Marshal(set)
	trust := filepath.Join(t.TempDir(), "providers.jwks")
	os.WriteFile(trust, b, 0o600)
	s := newIssuerSite(t, func(c *Config) { c.ProviderTrust, c.ClientAttestation = trust, attestationRequired })

	res, err := s.srv.Client().Get(s.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	json.NewDecoder(res.Body).Decode(&md)
	res.Body.Close()
	if methods, _ := md["token_endpoint_auth_methods_supported"].([]any); !slices.Equal(methods, []any{oauth.AuthMethodAttestation}) {
		t.Fatalf("auth methods: %v", md["token_endpoint_auth_methods_supported"])
	}

	instance, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	instancePub, _ := jwk.Import(&instance.PublicKey)
	sign := func(key *ecdsa.PrivateKey, typ, kid string, claims map[string]any) string {
		h := jws.NewHeaders()
		h.Set(jws.TypeKey, typ)
		if kid != "" {
			h.Set(jws.KeyIDKey, kid)
		}
		tb := jwt.NewBuilder()
		for k, v := range claims {
			tb.Claim(k, v)
		}
		tok, _ := tb.Build()
		out, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	attestation := sign(providerKey, oauth.ClientAttestationType, "test-provider", map[string]any{
		"iss": "https://provider.example", "sub": "socle-node-holder", "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": instancePub}})
	of, tx, _ := s.w.newOffer(t.Context(), s.uid, []string{"pid_dc_sd_jwt"})
	dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	redeem := func(attested bool) (*http.Response, map[string]any) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:pre-authorized_code"}, "pre-authorized_code": {of.Code}, "tx_code": {tx}}
		h := []string{"Content-Type", "application/x-www-form-urlencoded", "DPoP", dpop(t, dpopKey, "POST", s.srv.URL+pathToken)}
		if attested {
			h = append(h, oauth.HeaderClientAttestation, attestation, oauth.HeaderClientAttestationPoP,
				sign(instance, oauth.ClientAttestationPoPType, "", map[string]any{"iss": "socle-node-holder", "aud": s.srv.URL,
					"jti": uuid.NewString(), "iat": time.Now().Unix()}))
		}
		return s.post(t, pathToken, strings.NewReader(form.Encode()), h...)
	}
	if res, body := redeem(false); res.StatusCode != 401 || body["error"] != "invalid_client" {
		t.Fatalf("without an attestation: %d %v", res.StatusCode, body)
	}
	if res, body := redeem(true); res.StatusCode != 200 || body["access_token"] == nil {
		t.Fatalf("attested: %d %v", res.StatusCode, body)
	}
}
