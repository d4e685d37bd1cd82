package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Grant types of the token endpoint.
const (
	GrantAuthorizationCode = "authorization_code"                                   // RFC 6749 §4.1.3
	GrantPreAuthorizedCode = "urn:ietf:params:oauth:grant-type:pre-authorized_code" // OpenID4VCI 1.0 §4.1.1
)

// TokenTypeDPoP is the token_type of DPoP-bound access tokens (RFC 9449 §5).
const TokenTypeDPoP = "DPoP"

// TokenRequest is a parsed token request (RFC 6749 §4.1.3; OpenID4VCI 1.0 §6.1).
type TokenRequest struct {
	GrantType string
	ClientID  string
	// Authorisation code grant.
	Code, RedirectURI, CodeVerifier string
	// Pre-authorised code grant. HasTxCode tells an empty tx_code from none.
	PreAuthorizedCode string
	TxCode            string
	HasTxCode         bool
}

// ParseTokenRequest reads the form body of a token request. Its errors are *Error
// (RFC 6749 §5.2): invalid_request for a missing, repeated or malformed parameter,
// unsupported_grant_type for any grant but the two above.
func ParseTokenRequest(form url.Values) (*TokenRequest, error) {
	p, e := params(form, "grant_type", "client_id", "code", "redirect_uri", "code_verifier", "pre-authorized_code", "tx_code")
	if e != nil {
		return nil, e
	}
	for name, v := range p {
		if !vschar(v, 2048) {
			return nil, refusal(CodeInvalidRequest, name+" is malformed")
		}
	}
	req := &TokenRequest{GrantType: p["grant_type"], ClientID: p["client_id"]}
	switch req.GrantType {
	case "":
		return nil, refusal(CodeInvalidRequest, "grant_type is required")
	case GrantAuthorizationCode:
		req.Code, req.RedirectURI, req.CodeVerifier = p["code"], p["redirect_uri"], p["code_verifier"]
		switch {
		case req.Code == "":
			return nil, refusal(CodeInvalidRequest, "code is required")
		case req.RedirectURI == "":
			return nil, refusal(CodeInvalidRequest, "redirect_uri is required") // RFC 6749 §4.1.3: sent in the request
		case req.ClientID == "":
			return nil, refusal(CodeInvalidRequest, "client_id is required")
		case req.CodeVerifier == "":
			return nil, refusal(CodeInvalidRequest, "code_verifier is required") // RFC 7636 §4.5, HAIP 1.0
		case !ValidCodeVerifier(req.CodeVerifier):
			return nil, refusal(CodeInvalidRequest, "code_verifier is malformed") // RFC 7636 §4.1
		}
		if form.Has("pre-authorized_code") || form.Has("tx_code") {
			return nil, refusal(CodeInvalidRequest, "pre-authorized_code and tx_code belong to the other grant")
		}
	case GrantPreAuthorizedCode:
		req.PreAuthorizedCode = p["pre-authorized_code"]
		req.TxCode, req.HasTxCode = p["tx_code"], form.Has("tx_code")
		if req.PreAuthorizedCode == "" {
			return nil, refusal(CodeInvalidRequest, "pre-authorized_code is required")
		}
		if form.Has("code") || form.Has("code_verifier") {
			return nil, refusal(CodeInvalidRequest, "code and code_verifier belong to the other grant")
		}
	default:
		return nil, refusal(CodeUnsupportedGrantType, "grant_type is not supported")
	}
	return req, nil
}

// AccessToken is what an opaque access token stands for.
type AccessToken struct {
	// JKT is the thumbprint of the DPoP key the token is bound to (cnf.jkt, RFC 9449 §6).
	JKT                  string                `json:"jkt"`
	Subject              string                `json:"subject"`
	ClientID             string                `json:"client_id,omitempty"`
	Scope                []string              `json:"scope,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
	IssuedAt             time.Time             `json:"issued_at"`
	ExpiresAt            time.Time             `json:"expires_at"`
}

// TokenStore keeps access tokens until they expire.
type TokenStore interface {
	SaveToken(ctx context.Context, key string, token AccessToken) error
	// Token returns the token stored under key; nil when there is none.
	Token(ctx context.Context, key string) (*AccessToken, error)
}

// TokenResponse is the token endpoint's 200 body (RFC 6749 §5.1, RFC 9449 §5, OpenID4VCI 1.0
// §6.2), sent with Cache-Control: no-store.
type TokenResponse struct {
	AccessToken          string                `json:"access_token"`
	TokenType            string                `json:"token_type"`
	ExpiresIn            int                   `json:"expires_in"`
	Scope                string                `json:"scope,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
}

// TokenEndpoint serves one token request: the DPoP proof in header, checked against a POST to
// tokenURL (the endpoint's public URL), then the form. Refusals are *Error.
func (s *Server) TokenEndpoint(ctx context.Context, header http.Header, tokenURL string, form url.Values) (*TokenResponse, error) {
	raw, err := DPoPHeader(header)
	if err != nil {
		return nil, fromDPoP(err) // HAIP 1.0: tokens are always DPoP-bound
	}
	proof, err := s.dpop.Verify(ctx, raw, DPoPRequest{Method: http.MethodPost, URL: tokenURL})
	if err != nil {
		return nil, fromDPoP(err)
	}
	req, err := ParseTokenRequest(form)
	if err != nil {
		return nil, err
	}
	return s.Token(ctx, req, proof)
}

// Token redeems a parsed request's grant for an access token bound to proof's key; proof is
// one DPoPVerifier.Verify accepted for this request, and is required (HAIP 1.0).
func (s *Server) Token(ctx context.Context, req *TokenRequest, proof *DPoPProof) (*TokenResponse, error) {
	if proof == nil || proof.JKT == "" {
		return nil, refusal(CodeInvalidDPoPProof, "a DPoP proof is required")
	}
	var t AccessToken
	switch req.GrantType {
	case GrantAuthorizationCode:
		c, err := s.codes.TakeCode(ctx, Hash(req.Code))
		if err != nil {
			return nil, fmt.Errorf("oauth: code: %w", err)
		}
		// RFC 6749 §4.1.3 and RFC 7636 §4.6: every mismatch is invalid_grant.
		switch {
		case c == nil:
			return nil, refusal(CodeInvalidGrant, "code is unknown or was already used")
		case !s.clock.now().Before(c.ExpiresAt):
			return nil, refusal(CodeInvalidGrant, "code has expired")
		case c.Request.ClientID != req.ClientID:
			return nil, refusal(CodeInvalidGrant, "code was issued to another client")
		case c.Request.RedirectURI != req.RedirectURI:
			return nil, refusal(CodeInvalidGrant, "redirect_uri differs from the authorisation request's")
		case !VerifyPKCE(PKCEMethodS256, c.Request.CodeChallenge, req.CodeVerifier):
			return nil, refusal(CodeInvalidGrant, "code_verifier does not match code_challenge")
		case c.Request.DPoPJKT != "" && subtle.ConstantTimeCompare([]byte(c.Request.DPoPJKT), []byte(proof.JKT)) != 1:
			return nil, refusal(CodeInvalidGrant, "the DPoP key is not the one named by dpop_jkt") // RFC 9449 §10
		}
		t = AccessToken{Subject: c.Subject, ClientID: c.Request.ClientID, Scope: c.Request.Scope, AuthorizationDetails: c.Request.AuthorizationDetails}
	case GrantPreAuthorizedCode:
		g, err := s.redeemPreAuthorized(ctx, req)
		if err != nil {
			return nil, err
		}
		t = AccessToken{Subject: g.Subject, ClientID: req.ClientID}
		for _, id := range g.CredentialConfigurationIDs {
			t.AuthorizationDetails = append(t.AuthorizationDetails, AuthorizationDetail{Type: AuthorizationDetailType, CredentialConfigurationID: id})
		}
	default:
		return nil, refusal(CodeUnsupportedGrantType, "grant_type is not supported")
	}
	// OpenID4VCI 1.0 §6.2: authorization_details in the response name the credentials, one
	// identifier per configuration here.
	for i := range t.AuthorizationDetails {
		t.AuthorizationDetails[i].CredentialIdentifiers = []string{t.AuthorizationDetails[i].CredentialConfigurationID}
	}
	now := s.clock.now()
	t.JKT, t.IssuedAt, t.ExpiresAt = proof.JKT, now, now.Add(s.tokenLifetime)
	token := randomString(32)
	if err := s.tokens.SaveToken(ctx, Hash(token), t); err != nil {
		return nil, fmt.Errorf("oauth: token: %w", err)
	}
	return &TokenResponse{
		AccessToken: token, TokenType: TokenTypeDPoP, ExpiresIn: int(s.tokenLifetime / time.Second),
		Scope: strings.Join(t.Scope, " "), AuthorizationDetails: t.AuthorizationDetails,
	}, nil
}

// AccessTokenFromHeader reads "Authorization: DPoP <token>" (RFC 9449 §7.1); the scheme is
// case-insensitive (RFC 9110 §11.1). A Bearer token is refused: a DPoP-bound token must not
// be downgraded (§7.2).
func AccessTokenFromHeader(h http.Header) (string, error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		// RFC 6750 §3.1: no credentials at all is answered without an error code.
		return "", &DPoPError{Description: "an access token is required"}
	case 1:
	default:
		return "", &DPoPError{Code: CodeInvalidRequest, Description: "more than one Authorization header"}
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "DPoP") {
		return "", &DPoPError{Code: CodeInvalidToken, Description: "the DPoP authentication scheme is required"}
	}
	if !b64token(token) {
		return "", &DPoPError{Code: CodeInvalidToken, Description: "the access token is malformed"}
	}
	return token, nil
}

// Protect authenticates a request to the credential issuer's protected endpoints (RFC 9449
// §7.1): a known, unexpired DPoP access token, and a proof for this request (method, URL) by
// the key the token is bound to, carrying the token's hash. Refusals are *DPoPError, for a
// 401 with its WWWAuthenticate.
func (s *Server) Protect(ctx context.Context, header http.Header, method, requestURL string) (*AccessToken, *DPoPProof, error) {
	token, err := AccessTokenFromHeader(header)
	if err != nil {
		var d *DPoPError
		if errors.As(err, &d) {
			d.Algs = s.dpop.Algorithms()
		}
		return nil, nil, err
	}
	t, err := s.tokens.Token(ctx, Hash(token))
	if err != nil {
		return nil, nil, fmt.Errorf("oauth: token: %w", err)
	}
	if t == nil || !s.clock.now().Before(t.ExpiresAt) {
		return nil, nil, &DPoPError{Code: CodeInvalidToken, Description: "the access token is unknown or expired", Algs: s.dpop.Algorithms()}
	}
	raw, err := DPoPHeader(header)
	if err != nil {
		return nil, nil, err
	}
	proof, err := s.dpop.Verify(ctx, raw, DPoPRequest{Method: method, URL: requestURL, AccessToken: token, JKT: t.JKT})
	if err != nil {
		return nil, nil, err
	}
	return t, proof, nil
}

// b64token is the token68 syntax of RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/" ) *"=".
func b64token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" || len(s) > 4096 {
		return false
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !unreserved(c) && c != '+' && c != '/' {
			return false
		}
	}
	return true
}
