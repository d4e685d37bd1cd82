package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RequestURIPrefix starts every request_uri the server hands out (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// AuthorizationDetailType is the authorization_details type of OpenID4VCI 1.0 §5.1.1.
const AuthorizationDetailType = "openid_credential"

// AuthorizationDetail is one object of authorization_details (RFC 9396) of type
// openid_credential (OpenID4VCI 1.0 §5.1.1); in a token response it also lists the
// credential_identifiers (§6.2).
type AuthorizationDetail struct {
	Type                      string          `json:"type"`
	CredentialConfigurationID string          `json:"credential_configuration_id"`
	Locations                 []string        `json:"locations,omitempty"`
	Claims                    json.RawMessage `json:"claims,omitempty"`
	CredentialIdentifiers     []string        `json:"credential_identifiers,omitempty"`
}

// AuthorizationRequest is a validated request of the authorisation code flow, as pushed to
// the PAR endpoint (RFC 9126 §2.1).
type AuthorizationRequest struct {
	ClientID             string                `json:"client_id"`
	RedirectURI          string                `json:"redirect_uri"`
	State                string                `json:"state,omitempty"`
	CodeChallenge        string                `json:"code_challenge"`
	Scope                []string              `json:"scope,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
	// IssuerState ties the request to a credential offer (OpenID4VCI 1.0 §4.1.1, §5.1.3).
	IssuerState string `json:"issuer_state,omitempty"`
	// DPoPJKT binds the authorisation code to a DPoP key (RFC 9449 §10).
	DPoPJKT   string    `json:"dpop_jkt,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Client is a wallet known to the authorisation server.
type Client struct {
	ID           string
	RedirectURIs []string
}

// Clients finds the clients. A nil *Client with a nil error is an unknown client.
type Clients interface {
	Client(ctx context.Context, id string) (*Client, error)
}

// PARStore keeps pushed requests until their request_uri is used (RFC 9126 §2.2, §4).
type PARStore interface {
	SavePushed(ctx context.Context, key string, req AuthorizationRequest) error
	// TakePushed removes and returns the request stored under key; nil when there is none.
	TakePushed(ctx context.Context, key string) (*AuthorizationRequest, error)
}

// PushResponse is the PAR endpoint's 201 body (RFC 9126 §2.2).
type PushResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
}

// single returns the one value of name in form: absent is "", repeated is an error
// (RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once).
func single(form url.Values, name string) (string, *Error) {
	v := form[name]
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", refusal(CodeInvalidRequest, name+" is repeated")
}

// params returns the named single-valued parameters of form.
func params(form url.Values, names ...string) (map[string]string, *Error) {
	m := make(map[string]string, len(names))
	for _, n := range names {
		v, err := single(form, n)
		if err != nil {
			return nil, err
		}
		m[n] = v
	}
	return m, nil
}

// vschar reports whether s is made of VSCHAR (%x20-7E, RFC 6749 Appendix A) and at most max long.
func vschar(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ParseAuthorizationRequest validates the parameters of a pushed request for the
// authorisation code flow (RFC 9126 §2.1, RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID4VCI 1.0
// §5.1). Client, redirect URI, scopes and credential configurations are checked by Server.Push.
func ParseAuthorizationRequest(form url.Values) (*AuthorizationRequest, error) {
	p, e := params(form, "response_type", "client_id", "redirect_uri", "state", "code_challenge",
		"code_challenge_method", "scope", "authorization_details", "issuer_state", "dpop_jkt", "request_uri")
	if e != nil {
		return nil, e
	}
	if form.Has("request_uri") {
		return nil, refusal(CodeInvalidRequest, "request_uri is not allowed in a pushed request") // RFC 9126 §2.1
	}
	if p["client_id"] == "" {
		return nil, refusal(CodeInvalidRequest, "client_id is required")
	}
	if !vschar(p["client_id"], 512) {
		return nil, refusal(CodeInvalidRequest, "client_id is malformed")
	}
	switch p["response_type"] {
	case "":
		return nil, refusal(CodeInvalidRequest, "response_type is required")
	case "code":
	default:
		return nil, refusal(CodeUnsupportedResponseType, "response_type must be code")
	}
	if p["redirect_uri"] == "" {
		return nil, refusal(CodeInvalidRequest, "redirect_uri is required")
	}
	if u, err := url.Parse(p["redirect_uri"]); err != nil || !u.IsAbs() || u.Fragment != "" || len(p["redirect_uri"]) > 2048 {
		return nil, refusal(CodeInvalidRequest, "redirect_uri must be an absolute URI without fragment") // RFC 6749 §3.1.2
	}
	// PKCE: required, S256 only (HAIP 1.0; RFC 7636 §4.3).
	if p["code_challenge"] == "" {
		return nil, refusal(CodeInvalidRequest, "code_challenge is required")
	}
	if p["code_challenge_method"] != PKCEMethodS256 {
		return nil, refusal(CodeInvalidRequest, "code_challenge_method must be S256")
	}
	if !ValidCodeChallenge(p["code_challenge"]) {
		return nil, refusal(CodeInvalidRequest, "code_challenge is malformed")
	}
	if !vschar(p["state"], 1024) || !vschar(p["issuer_state"], 1024) {
		return nil, refusal(CodeInvalidRequest, "state or issuer_state is malformed")
	}
	if p["dpop_jkt"] != "" && !ValidCodeChallenge(p["dpop_jkt"]) { // the same shape: base64url SHA-256
		return nil, refusal(CodeInvalidRequest, "dpop_jkt is malformed")
	}
	req := &AuthorizationRequest{
		ClientID: p["client_id"], RedirectURI: p["redirect_uri"], State: p["state"],
		CodeChallenge: p["code_challenge"], IssuerState: p["issuer_state"], DPoPJKT: p["dpop_jkt"],
	}
	if s := p["scope"]; s != "" {
		if !vschar(s, 2048) {
			return nil, refusal(CodeInvalidScope, "scope is malformed")
		}
		req.Scope = strings.Fields(s) // RFC 6749 §3.3: space-delimited
	}
	if d := p["authorization_details"]; d != "" {
		details, err := parseAuthorizationDetails(d)
		if err != nil {
			return nil, err
		}
		req.AuthorizationDetails = details
	}
	// OpenID4VCI 1.0 §5.1: a credential is requested by scope or by authorization_details.
	if len(req.Scope) == 0 && len(req.AuthorizationDetails) == 0 {
		return nil, refusal(CodeInvalidRequest, "scope or authorization_details is required")
	}
	return req, nil
}

func parseAuthorizationDetails(s string) ([]AuthorizationDetail, *Error) {
	if len(s) > 16<<10 {
		return nil, refusal(CodeInvalidAuthorizationDetails, "authorization_details too long")
	}
	var details []AuthorizationDetail
	if err := json.Unmarshal([]byte(s), &details); err != nil || len(details) == 0 {
		return nil, refusal(CodeInvalidAuthorizationDetails, "authorization_details must be a non-empty JSON array") // RFC 9396 §2
	}
	for _, d := range details {
		if d.Type != AuthorizationDetailType {
			return nil, refusal(CodeInvalidAuthorizationDetails, "unknown authorization_details type") // RFC 9396 §5
		}
		if d.CredentialConfigurationID == "" {
			return nil, refusal(CodeInvalidAuthorizationDetails, "credential_configuration_id is required") // OpenID4VCI 1.0 §5.1.1
		}
		if len(d.CredentialIdentifiers) > 0 {
			return nil, refusal(CodeInvalidAuthorizationDetails, "credential_identifiers is set by the server") // §6.2
		}
	}
	return details, nil
}

// Push validates a pushed authorisation request and stores it under a new one-time
// request_uri valid for the PAR lifetime (RFC 9126 §2). The client has authenticated (or, for
// a public client, identified itself) before: authenticatedClientID is who it is, and must
// be the request's client_id (§2.1).
func (s *Server) Push(ctx context.Context, authenticatedClientID string, form url.Values) (*PushResponse, error) {
	req, err := ParseAuthorizationRequest(form)
	if err != nil {
		return nil, err
	}
	if req.ClientID != authenticatedClientID {
		return nil, refusal(CodeInvalidClient, "client_id is not the authenticated client")
	}
	if err := s.checkRequest(ctx, req); err != nil {
		return nil, err
	}
	uri := RequestURIPrefix + randomString(32)
	req.ExpiresAt = s.clock.now().Add(s.parLifetime)
	if err := s.par.SavePushed(ctx, Hash(uri), *req); err != nil {
		return nil, fmt.Errorf("oauth: par: %w", err)
	}
	return &PushResponse{RequestURI: uri, ExpiresIn: int(s.parLifetime / time.Second)}, nil
}

func (s *Server) checkRequest(ctx context.Context, req *AuthorizationRequest) error {
	client, err := s.clients.Client(ctx, req.ClientID)
	if err != nil {
		return fmt.Errorf("oauth: client: %w", err)
	}
	if client == nil {
		return refusal(CodeInvalidClient, "unknown client")
	}
	// Exact match of a registered redirect URI (RFC 9700 §2.1).
	if !slices.Contains(client.RedirectURIs, req.RedirectURI) {
		return refusal(CodeInvalidRequest, "redirect_uri is not registered for this client")
	}
	for _, sc := range req.Scope {
		if !slices.Contains(s.scopes, sc) {
			return refusal(CodeInvalidScope, "unknown scope "+sc)
		}
	}
	for _, d := range req.AuthorizationDetails {
		if !slices.Contains(s.configurations, d.CredentialConfigurationID) {
			return refusal(CodeInvalidAuthorizationDetails, "unknown credential_configuration_id")
		}
		if len(d.Locations) > 0 && (s.issuer == "" || !slices.Contains(d.Locations, s.issuer)) {
			return refusal(CodeInvalidAuthorizationDetails, "locations does not name this credential issuer") // OpenID4VCI 1.0 §5.1.1
		}
	}
	return nil
}

// Authorization takes, once, the pushed request named by the authorisation request's
// request_uri (RFC 9126 §4): an unknown, used or expired request_uri is refused, as is a
// client_id other than the pushed one.
func (s *Server) Authorization(ctx context.Context, form url.Values) (*AuthorizationRequest, error) {
	p, e := params(form, "request_uri", "client_id")
	if e != nil {
		return nil, e
	}
	if !strings.HasPrefix(p["request_uri"], RequestURIPrefix) {
		return nil, refusal(CodeInvalidRequest, "request_uri from the PAR endpoint is required") // HAIP 1.0: PAR only
	}
	req, err := s.par.TakePushed(ctx, Hash(p["request_uri"]))
	if err != nil {
		return nil, fmt.Errorf("oauth: par: %w", err)
	}
	if req == nil {
		return nil, refusal(CodeInvalidRequestURI, "request_uri is unknown or was already used")
	}
	if !s.clock.now().Before(req.ExpiresAt) {
		return nil, refusal(CodeInvalidRequestURI, "request_uri has expired")
	}
	if p["client_id"] != req.ClientID {
		return nil, refusal(CodeInvalidRequest, "client_id is not the one of the pushed request")
	}
	return req, nil
}
