package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// FuzzTokenRequest feeds arbitrary token request bodies: parsing never panics, a refusal is an
// RFC 6749 §5.2 error that serialises, an accepted request has what its grant needs, and
// redeeming it against a server that issued nothing is refused.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=authorization_code&code=c&redirect_uri=https%3A%2F%2Fwallet.example.fr%2Fcb&client_id=w&code_verifier=" + verifierOK)
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code=p&tx_code=123456")
	f.Add("grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code&pre-authorized_code=p&tx_code=")
	f.Add("grant_type=password&username=a&password=b")
	f.Add("grant_type=authorization_code&grant_type=authorization_code")
	w := newWallet(f)
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		req, err := ParseTokenRequest(form)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || (e.Status != http.StatusBadRequest && e.Status != http.StatusUnauthorized) {
				t.Fatalf("refusal %#v is not an RFC 6749 error", err)
			}
			if b, err := json.Marshal(e); err != nil || !json.Valid(b) {
				t.Fatalf("refusal does not serialise: %v", err)
			}
			return
		}
		for _, name := range []string{"grant_type", "code", "redirect_uri", "client_id", "code_verifier", "pre-authorized_code", "tx_code"} {
			if len(form[name]) > 1 {
				t.Fatalf("accepted a repeated %s", name)
			}
		}
		switch req.GrantType {
		case GrantAuthorizationCode:
			if req.Code == "" || req.RedirectURI == "" || req.ClientID == "" || !ValidCodeVerifier(req.CodeVerifier) || req.PreAuthorizedCode != "" || req.HasTxCode {
				t.Fatalf("accepted an incomplete authorization_code request %+v", req)
			}
		case GrantPreAuthorizedCode:
			if req.PreAuthorizedCode == "" || req.Code != "" || req.CodeVerifier != "" || req.HasTxCode != form.Has("tx_code") {
				t.Fatalf("accepted an incomplete pre-authorized_code request %+v", req)
			}
		default:
			t.Fatalf("accepted grant_type %q", req.GrantType)
		}
		fx := newFixture(t)
		proof := &DPoPProof{JKT: w.jkt()}
		if res, err := fx.Token(context.Background(), req, proof); err == nil {
			t.Fatalf("a token issued for nothing: %+v", res)
		} else if e := (*Error)(nil); !errors.As(err, &e) || !slices.Contains([]string{CodeInvalidGrant}, e.Code) {
			t.Fatalf("redeeming an unknown grant: %v", err)
		}
	})
}
