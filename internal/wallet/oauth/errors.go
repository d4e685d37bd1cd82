package oauth

import (
	"errors"
	"net/http"
)

// OAuth error codes: RFC 6749 §4.1.2.1 and §5.2, RFC 9396 §5 (authorization_details),
// RFC 9101 (invalid_request_uri), RFC 6750 §3.1 (invalid_token) and RFC 9449 (DPoP).
const (
	CodeInvalidRequest              = "invalid_request"
	CodeInvalidClient               = "invalid_client"
	CodeInvalidGrant                = "invalid_grant"
	CodeUnauthorizedClient          = "unauthorized_client"
	CodeUnsupportedGrantType        = "unsupported_grant_type"
	CodeUnsupportedResponseType     = "unsupported_response_type"
	CodeInvalidScope                = "invalid_scope"
	CodeInvalidAuthorizationDetails = "invalid_authorization_details"
	CodeInvalidRequestURI           = "invalid_request_uri"
	CodeInvalidToken                = "invalid_token"
)

// Error is an OAuth error response (RFC 6749 §5.2): its JSON is the response body, Status the
// HTTP status, and Nonce, when set, the DPoP-Nonce header to send with it (RFC 9449 §8).
// Functions here that return error return an *Error for every refusal of the client's
// input; any other error is the server's own failure (a store), for a 500.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Status      int    `json:"-"`
	Nonce       string `json:"-"`
}

func (e *Error) Error() string { return "oauth: " + e.Code + ": " + e.Description }

// refusal builds an *Error: 401 for invalid_client (RFC 6749 §5.2), 400 otherwise.
func refusal(code, description string) *Error {
	status := http.StatusBadRequest
	if code == CodeInvalidClient {
		status = http.StatusUnauthorized
	}
	return &Error{Code: code, Description: quotable(description), Status: status}
}

// fromDPoP turns a refused proof at the authorisation server into its 400 response
// (RFC 9449 §5: invalid_dpop_proof, or use_dpop_nonce with a DPoP-Nonce header).
func fromDPoP(err error) error {
	var d *DPoPError
	if errors.As(err, &d) {
		return &Error{Code: d.Code, Description: d.Description, Status: http.StatusBadRequest, Nonce: d.Nonce}
	}
	return err
}
