package oauth

import (
	"context"
	"fmt"
	"time"
)

// AuthorizationCode is what an authorisation code stands for: the pushed request the user
// approved and who the user is.
type AuthorizationCode struct {
	Request   AuthorizationRequest `json:"request"`
	Subject   string               `json:"subject"`
	ExpiresAt time.Time            `json:"expires_at"`
}

// CodeStore keeps authorisation codes until redeemed (RFC 6749 §4.1.2: used once).
type CodeStore interface {
	SaveCode(ctx context.Context, key string, code AuthorizationCode) error
	// TakeCode removes and returns the code stored under key; nil when there is none.
	TakeCode(ctx context.Context, key string) (*AuthorizationCode, error)
}

// IssueCode makes the authorisation code sent back to the wallet's redirect_uri once the
// user (subject) has approved req.
func (s *Server) IssueCode(ctx context.Context, req AuthorizationRequest, subject string) (string, error) {
	code := randomString(32)
	c := AuthorizationCode{Request: req, Subject: subject, ExpiresAt: s.clock.now().Add(s.codeLifetime)}
	if err := s.codes.SaveCode(ctx, Hash(code), c); err != nil {
		return "", fmt.Errorf("oauth: code: %w", err)
	}
	return code, nil
}
