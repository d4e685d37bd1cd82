package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	issuerURL  = "https://issuer.example.fr"
	tokenURL   = issuerURL + "/token"
	walletID   = "wallet-fr"
	redirect   = "https://wallet.example.fr/cb"
	pidConfig  = "eu.europa.ec.eudi.pid_vc_sd_jwt"
	pidScope   = "pid"
	verifierOK = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk" // RFC 7636 Appendix B
)

type clients map[string]*Client

func (c clients) Client(_ context.Context, id string) (*Client, error) { return c[id], nil }

type fixture struct {
	*Server
	clock *testClock
	store *Memory
}

func newFixture(t testing.TB) *fixture {
	c := newTestClock()
	v, err := NewDPoPVerifier(DPoPConfig{Replay: NewMemoryReplay(1000, c.Clock()), Clock: c.Clock()})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemory(1000, c.Clock())
	s, err := NewServer(ServerConfig{
		Issuer: issuerURL, Scopes: []string{pidScope}, CredentialConfigurationIDs: []string{pidConfig},
		Clients: clients{walletID: {ID: walletID, RedirectURIs: []string{redirect}}},
		DPoP:    v, PAR: m, Codes: m, PreAuth: m, Tokens: m, CNonces: m, Clock: c.Clock(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{Server: s, clock: c, store: m}
}

// pushForm is a valid pushed authorisation request.
func pushForm() url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {walletID}, "redirect_uri": {redirect}, "state": {"xyz"},
		"code_challenge": {S256Challenge(verifierOK)}, "code_challenge_method": {"S256"},
		"authorization_details": {`[{"type":"openid_credential","credential_configuration_id":"` + pidConfig + `"}]`},
	}
}

// refused asserts err is an *Error with that code.
func refused(t *testing.T, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want a %s refusal, got %v", code, err)
	}
	if e.Code != code {
		t.Fatalf("want %s, got %s (%s)", code, e.Code, e.Description)
	}
	return e
}

func TestPushedRequestIsUsedOnceThenRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.Push(ctx, walletID, pushForm())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.RequestURI, "urn:ietf:params:oauth:request_uri:") || res.ExpiresIn != 60 {
		t.Fatalf("push response %+v", res)
	}
	authz := url.Values{"client_id": {walletID}, "request_uri": {res.RequestURI}}
	req, err := f.Authorization(ctx, authz)
	if err != nil {
		t.Fatal(err)
	}
	if req.ClientID != walletID || req.RedirectURI != redirect || req.State != "xyz" || req.AuthorizationDetails[0].CredentialConfigurationID != pidConfig {
		t.Errorf("request %+v", req)
	}
	_, err = f.Authorization(ctx, authz)
	refused(t, err, CodeInvalidRequestURI)
}

func TestPushedRequestExpires(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.Push(ctx, walletID, pushForm())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.advance(60 * time.Second)
	_, err = f.Authorization(ctx, url.Values{"client_id": {walletID}, "request_uri": {res.RequestURI}})
	if e := refused(t, err, CodeInvalidRequestURI); e.Description != "request_uri has expired" {
		t.Error(e.Description)
	}
}

func TestAuthorizationRefusesAnotherClientsRequestURI(t *testing.T) {
	f := newFixture(t)
	res, _ := f.Push(context.Background(), walletID, pushForm())
	_, err := f.Authorization(context.Background(), url.Values{"client_id": {"other"}, "request_uri": {res.RequestURI}})
	refused(t, err, CodeInvalidRequest)
	_, err = f.Authorization(context.Background(), url.Values{"client_id": {walletID}, "redirect_uri": {redirect}, "response_type": {"code"}})
	refused(t, err, CodeInvalidRequest) // HAIP 1.0: only through PAR
}

func TestPushRefusals(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(url.Values)
		client string
		code   string
	}{
		{"no response_type", func(v url.Values) { v.Del("response_type") }, walletID, CodeInvalidRequest},
		{"implicit flow", func(v url.Values) { v.Set("response_type", "token") }, walletID, CodeUnsupportedResponseType},
		{"no client_id", func(v url.Values) { v.Del("client_id") }, "", CodeInvalidRequest},
		{"unknown client", func(v url.Values) { v.Set("client_id", "nobody") }, "nobody", CodeInvalidClient},
		{"client_id not the authenticated client", nil, "other", CodeInvalidClient},
		{"no redirect_uri", func(v url.Values) { v.Del("redirect_uri") }, walletID, CodeInvalidRequest},
		{"unregistered redirect_uri", func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, walletID, CodeInvalidRequest},
		{"redirect_uri with fragment", func(v url.Values) { v.Set("redirect_uri", redirect+"#f") }, walletID, CodeInvalidRequest},
		{"no code_challenge", func(v url.Values) { v.Del("code_challenge") }, walletID, CodeInvalidRequest},
		{"no code_challenge_method", func(v url.Values) { v.Del("code_challenge_method") }, walletID, CodeInvalidRequest},
		{"PKCE plain", func(v url.Values) { v.Set("code_challenge_method", "plain"); v.Set("code_challenge", verifierOK) }, walletID, CodeInvalidRequest},
		{"malformed code_challenge", func(v url.Values) { v.Set("code_challenge", "short") }, walletID, CodeInvalidRequest},
		{"neither scope nor authorization_details", func(v url.Values) { v.Del("authorization_details") }, walletID, CodeInvalidRequest},
		{"unknown scope", func(v url.Values) { v.Del("authorization_details"); v.Set("scope", "mdl") }, walletID, CodeInvalidScope},
		{"authorization_details not JSON", func(v url.Values) { v.Set("authorization_details", "{") }, walletID, CodeInvalidAuthorizationDetails},
		{"authorization_details of another type", func(v url.Values) {
			v.Set("authorization_details", `[{"type":"payment_initiation","credential_configuration_id":"x"}]`)
		}, walletID, CodeInvalidAuthorizationDetails},
		{"authorization_details without configuration", func(v url.Values) {
			v.Set("authorization_details", `[{"type":"openid_credential"}]`)
		}, walletID, CodeInvalidAuthorizationDetails},
		{"unknown credential configuration", func(v url.Values) {
			v.Set("authorization_details", `[{"type":"openid_credential","credential_configuration_id":"mdl"}]`)
		}, walletID, CodeInvalidAuthorizationDetails},
		{"locations naming another issuer", func(v url.Values) {
			v.Set("authorization_details", `[{"type":"openid_credential","credential_configuration_id":"`+pidConfig+`","locations":["https://other.example"]}]`)
		}, walletID, CodeInvalidAuthorizationDetails},
		{"request_uri inside a pushed request", func(v url.Values) { v.Set("request_uri", RequestURIPrefix+"x") }, walletID, CodeInvalidRequest},
		{"repeated state", func(v url.Values) { v.Add("state", "again") }, walletID, CodeInvalidRequest},
		{"state with a control character", func(v url.Values) { v.Set("state", "a\nb") }, walletID, CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			form := pushForm()
			if tc.edit != nil {
				tc.edit(form)
			}
			_, err := f.Push(context.Background(), tc.client, form)
			e := refused(t, err, tc.code)
			if (e.Status == http.StatusUnauthorized) != (tc.code == CodeInvalidClient) {
				t.Errorf("status %d for %s", e.Status, tc.code)
			}
		})
	}
}

// authorise runs PAR and the user's approval, and returns the authorisation code.
func (f *fixture) authorise(t *testing.T, edit func(url.Values)) string {
	t.Helper()
	ctx := context.Background()
	form := pushForm()
	if edit != nil {
		edit(form)
	}
	res, err := f.Push(ctx, walletID, form)
	if err != nil {
		t.Fatal(err)
	}
	req, err := f.Authorization(ctx, url.Values{"client_id": {walletID}, "request_uri": {res.RequestURI}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := f.IssueCode(ctx, *req, "citizen-42")
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (f *fixture) token(w *wallet, form url.Values) (*TokenResponse, error) {
	h := http.Header{}
	if w != nil {
		h.Set("DPoP", w.proof(f.clock, "POST", tokenURL, nil))
	}
	return f.TokenEndpoint(context.Background(), h, tokenURL, form)
}

func codeForm(code string) url.Values {
	return url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code}, "redirect_uri": {redirect}, "client_id": {walletID}, "code_verifier": {verifierOK}}
}

func TestAuthorizationCodeFlowIssuesADPoPBoundToken(t *testing.T) {
	f := newFixture(t)
	w := newWallet(t)
	res, err := f.token(w, codeForm(f.authorise(t, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if res.TokenType != "DPoP" || res.ExpiresIn != 600 || len(res.AuthorizationDetails) != 1 || res.AuthorizationDetails[0].CredentialIdentifiers[0] != pidConfig {
		t.Fatalf("token response %+v", res)
	}
	// At the credential endpoint: the token, with a proof by the same key carrying its hash.
	h := http.Header{"Authorization": {"DPoP " + res.AccessToken}}
	h.Set("DPoP", w.proof(f.clock, "POST", issuerURL+"/credential", func(_, cl map[string]any) { cl["ath"] = AccessTokenHash(res.AccessToken) }))
	tok, _, err := f.Protect(context.Background(), h, "POST", issuerURL+"/credential")
	if err != nil {
		t.Fatal(err)
	}
	if tok.JKT != w.jkt() || tok.Subject != "citizen-42" {
		t.Errorf("token %+v", tok)
	}
}

func TestAuthorizationCodeRefusals(t *testing.T) {
	w := newWallet(t)
	cases := []struct {
		name string
		run  func(f *fixture) error
		code string
	}{
		{"wrong code_verifier", func(f *fixture) error {
			form := codeForm(f.authorise(t, nil))
			form.Set("code_verifier", strings.Repeat("b", 43))
			_, err := f.token(w, form)
			return err
		}, CodeInvalidGrant},
		{"code used twice", func(f *fixture) error {
			code := f.authorise(t, nil)
			if _, err := f.token(w, codeForm(code)); err != nil {
				return err
			}
			_, err := f.token(w, codeForm(code))
			return err
		}, CodeInvalidGrant},
		{"code expired", func(f *fixture) error {
			code := f.authorise(t, nil)
			f.clock.advance(61 * time.Second)
			_, err := f.token(w, codeForm(code))
			return err
		}, CodeInvalidGrant},
		{"another redirect_uri", func(f *fixture) error {
			form := codeForm(f.authorise(t, nil))
			form.Set("redirect_uri", "https://wallet.example.fr/other")
			_, err := f.token(w, form)
			return err
		}, CodeInvalidGrant},
		{"another client", func(f *fixture) error {
			form := codeForm(f.authorise(t, nil))
			form.Set("client_id", "other")
			_, err := f.token(w, form)
			return err
		}, CodeInvalidGrant},
		{"DPoP key other than dpop_jkt", func(f *fixture) error {
			other := newWallet(t)
			_, err := f.token(w, codeForm(f.authorise(t, func(v url.Values) { v.Set("dpop_jkt", other.jkt()) })))
			return err
		}, CodeInvalidGrant},
		{"no DPoP proof", func(f *fixture) error {
			_, err := f.token(nil, codeForm(f.authorise(t, nil)))
			return err
		}, CodeInvalidDPoPProof},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if e := refused(t, tc.run(newFixture(t)), tc.code); e.Status != http.StatusBadRequest {
				t.Errorf("status %d", e.Status)
			}
		})
	}
}

func TestTokenRefusesARequestWithoutProof(t *testing.T) {
	f := newFixture(t)
	req, err := ParseTokenRequest(codeForm(f.authorise(t, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Token(context.Background(), req, nil)
	refused(t, err, CodeInvalidDPoPProof)
}

func TestTokenEndpointPassesOnTheDPoPNonce(t *testing.T) {
	f := newFixture(t)
	nonces, _ := NewHMACNonces(make([]byte, 32), 0, f.clock.Clock())
	v, _ := NewDPoPVerifier(DPoPConfig{Replay: NewMemoryReplay(10, f.clock.Clock()), Nonces: nonces, Clock: f.clock.Clock()})
	f.dpop = v
	_, err := f.token(newWallet(t), codeForm(f.authorise(t, nil)))
	if e := refused(t, err, CodeUseDPoPNonce); e.Nonce == "" || e.Status != http.StatusBadRequest {
		t.Errorf("use_dpop_nonce without a DPoP-Nonce: %+v", e)
	}
}

func TestPreAuthorizedCodeWithTxCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	offer, err := f.NewPreAuthorizedCode(ctx, PreAuthorizedOffer{Subject: "citizen-42", CredentialConfigurationIDs: []string{pidConfig}, TxCode: &TxCode{Description: "Code reçu par SMS"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(offer.TxCode) != 6 || strings.Trim(offer.TxCode, "0123456789") != "" || offer.TxCodeFor.InputMode != "numeric" || offer.TxCodeFor.Length != 6 {
		t.Fatalf("offer %+v", offer)
	}
	w := newWallet(t)
	form := url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {offer.Code}, "tx_code": {"wrong"}}
	_, err = f.token(w, form)
	refused(t, err, CodeInvalidGrant)
	form.Set("tx_code", offer.TxCode)
	res, err := f.token(w, form)
	if err != nil {
		t.Fatal(err)
	}
	if res.AuthorizationDetails[0].CredentialConfigurationID != pidConfig {
		t.Errorf("response %+v", res)
	}
	_, err = f.token(w, form)
	refused(t, err, CodeInvalidGrant) // used
}

func TestPreAuthorizedCodeLocksAfterFiveWrongTxCodes(t *testing.T) {
	f := newFixture(t)
	offer, _ := f.NewPreAuthorizedCode(context.Background(), PreAuthorizedOffer{Subject: "citizen-42", CredentialConfigurationIDs: []string{pidConfig}, TxCode: &TxCode{}})
	w := newWallet(t)
	form := url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {offer.Code}}
	for i := range 5 {
		form.Set("tx_code", "x"+string(rune('a'+i)))
		_, err := f.token(w, form)
		refused(t, err, CodeInvalidGrant)
	}
	// The right code now comes too late: the grant is gone.
	form.Set("tx_code", offer.TxCode)
	_, err := f.token(w, form)
	if e := refused(t, err, CodeInvalidGrant); e.Description != "pre-authorized_code is unknown, used or locked" {
		t.Error(e.Description)
	}
}

func TestPreAuthorizedCodeRefusals(t *testing.T) {
	w := newWallet(t)
	ctx := context.Background()
	t.Run("tx_code missing when offered", func(t *testing.T) {
		f := newFixture(t)
		o, _ := f.NewPreAuthorizedCode(ctx, PreAuthorizedOffer{Subject: "s", CredentialConfigurationIDs: []string{pidConfig}, TxCode: &TxCode{}})
		_, err := f.token(w, url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {o.Code}})
		refused(t, err, CodeInvalidRequest) // OpenID4VCI 1.0 §6.3
	})
	t.Run("tx_code sent when not offered", func(t *testing.T) {
		f := newFixture(t)
		o, _ := f.NewPreAuthorizedCode(ctx, PreAuthorizedOffer{Subject: "s", CredentialConfigurationIDs: []string{pidConfig}})
		_, err := f.token(w, url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {o.Code}, "tx_code": {""}})
		refused(t, err, CodeInvalidRequest)
	})
	t.Run("expired", func(t *testing.T) {
		f := newFixture(t)
		o, _ := f.NewPreAuthorizedCode(ctx, PreAuthorizedOffer{Subject: "s", CredentialConfigurationIDs: []string{pidConfig}})
		f.clock.advance(10 * time.Minute)
		_, err := f.token(w, url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {o.Code}})
		if e := refused(t, err, CodeInvalidGrant); e.Description != "pre-authorized_code has expired" {
			t.Error(e.Description)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := newFixture(t).token(w, url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {"guess"}})
		refused(t, err, CodeInvalidGrant)
	})
}

func TestTextTxCode(t *testing.T) {
	f := newFixture(t)
	o, err := f.NewPreAuthorizedCode(context.Background(), PreAuthorizedOffer{Subject: "s", CredentialConfigurationIDs: []string{pidConfig}, TxCode: &TxCode{InputMode: TxCodeText, Length: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.TxCode) != 8 || strings.Trim(o.TxCode, textAlphabet) != "" {
		t.Errorf("tx_code %q", o.TxCode)
	}
	for _, bad := range []*TxCode{{InputMode: "emoji"}, {Length: 3}, {Length: 33}} {
		if _, err := f.NewPreAuthorizedCode(context.Background(), PreAuthorizedOffer{Subject: "s", CredentialConfigurationIDs: []string{pidConfig}, TxCode: bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseTokenRequestRefusals(t *testing.T) {
	code := url.Values{"grant_type": {GrantAuthorizationCode}, "code": {"c"}, "redirect_uri": {redirect}, "client_id": {walletID}, "code_verifier": {verifierOK}}
	with := func(v url.Values, edit func(url.Values)) url.Values {
		c := url.Values{}
		for k, vs := range v {
			c[k] = append([]string(nil), vs...)
		}
		edit(c)
		return c
	}
	for name, tc := range map[string]struct {
		form url.Values
		code string
	}{
		"no grant_type":                {url.Values{}, CodeInvalidRequest},
		"password grant":               {url.Values{"grant_type": {"password"}}, CodeUnsupportedGrantType},
		"client_credentials grant":     {url.Values{"grant_type": {"client_credentials"}}, CodeUnsupportedGrantType},
		"grant_type twice":             {with(code, func(v url.Values) { v.Add("grant_type", GrantAuthorizationCode) }), CodeInvalidRequest},
		"no code":                      {with(code, func(v url.Values) { v.Del("code") }), CodeInvalidRequest},
		"no redirect_uri":              {with(code, func(v url.Values) { v.Del("redirect_uri") }), CodeInvalidRequest},
		"no client_id":                 {with(code, func(v url.Values) { v.Del("client_id") }), CodeInvalidRequest},
		"no code_verifier":             {with(code, func(v url.Values) { v.Del("code_verifier") }), CodeInvalidRequest},
		"short code_verifier":          {with(code, func(v url.Values) { v.Set("code_verifier", "abc") }), CodeInvalidRequest},
		"tx_code in a code grant":      {with(code, func(v url.Values) { v.Set("tx_code", "1234") }), CodeInvalidRequest},
		"no pre-authorized_code":       {url.Values{"grant_type": {GrantPreAuthorizedCode}}, CodeInvalidRequest},
		"code_verifier in a pre-auth":  {url.Values{"grant_type": {GrantPreAuthorizedCode}, "pre-authorized_code": {"p"}, "code_verifier": {verifierOK}}, CodeInvalidRequest},
		"control character in a value": {with(code, func(v url.Values) { v.Set("code", "a\x00b") }), CodeInvalidRequest},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTokenRequest(tc.form)
			refused(t, err, tc.code)
		})
	}
}

func TestErrorsSerialiseAsRFC6749Section5_2(t *testing.T) {
	b, _ := json.Marshal(refusal(CodeInvalidGrant, "wrong \"tx_code\"\n"))
	if string(b) != `{"error":"invalid_grant","error_description":"wrong tx_code"}` {
		t.Errorf("%s", b)
	}
}

func TestCNonceIsUsedOnceAndExpires(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n, err := f.NewCNonce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.RedeemCNonce(ctx, n.CNonce); !ok {
		t.Fatal("fresh c_nonce refused")
	}
	if ok, _ := f.RedeemCNonce(ctx, n.CNonce); ok {
		t.Error("c_nonce used twice")
	}
	n2, _ := f.NewCNonce(ctx)
	f.clock.advance(5 * time.Minute)
	if ok, _ := f.RedeemCNonce(ctx, n2.CNonce); ok {
		t.Error("expired c_nonce accepted")
	}
	if ok, _ := f.RedeemCNonce(ctx, "made-up"); ok {
		t.Error("unknown c_nonce accepted")
	}
}

func TestProtectRefusals(t *testing.T) {
	const credentialURL = issuerURL + "/credential"
	w := newWallet(t)
	issue := func(f *fixture) string {
		res, err := f.token(w, codeForm(f.authorise(t, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return res.AccessToken
	}
	proofFor := func(f *fixture, w *wallet, token string) string {
		return w.proof(f.clock, "POST", credentialURL, func(_, cl map[string]any) { cl["ath"] = AccessTokenHash(token) })
	}
	cases := []struct {
		name   string
		header func(f *fixture, token string) http.Header
		code   string
	}{
		{"Bearer scheme", func(f *fixture, tok string) http.Header {
			return http.Header{"Authorization": {"Bearer " + tok}, "Dpop": {proofFor(f, w, tok)}}
		}, CodeInvalidToken},
		{"unknown token", func(f *fixture, tok string) http.Header {
			return http.Header{"Authorization": {"DPoP unknown"}, "Dpop": {proofFor(f, w, "unknown")}}
		}, CodeInvalidToken},
		{"expired token", func(f *fixture, tok string) http.Header {
			f.clock.advance(10 * time.Minute)
			return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proofFor(f, w, tok)}}
		}, CodeInvalidToken},
		{"no proof", func(f *fixture, tok string) http.Header {
			return http.Header{"Authorization": {"DPoP " + tok}}
		}, CodeInvalidDPoPProof},
		{"proof by another key", func(f *fixture, tok string) http.Header {
			return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proofFor(f, newWallet(t), tok)}}
		}, CodeInvalidDPoPProof},
		{"proof without ath", func(f *fixture, tok string) http.Header {
			return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {w.proof(f.clock, "POST", credentialURL, nil)}}
		}, CodeInvalidDPoPProof},
	}
	t.Run("no Authorization header", func(t *testing.T) {
		f := newFixture(t)
		_, _, err := f.Protect(context.Background(), http.Header{}, "POST", credentialURL)
		// RFC 6750 §3.1: a request without credentials gets the challenge, no error code.
		if d := refusedWith(t, err, ""); d.WWWAuthenticate() != `DPoP algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512"` {
			t.Errorf("WWW-Authenticate: %s", d.WWWAuthenticate())
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := issue(f)
			_, _, err := f.Protect(context.Background(), tc.header(f, tok), "POST", credentialURL)
			refusedWith(t, err, tc.code)
		})
	}
}
