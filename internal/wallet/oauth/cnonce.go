package oauth

import (
	"context"
	"fmt"
	"time"
)

// CNonceStore keeps the c_nonce values handed out by the nonce endpoint until used.
type CNonceStore interface {
	SaveCNonce(ctx context.Context, key string, expiresAt time.Time) error
	// TakeCNonce removes the nonce stored under key and returns its expiry; ok is false
	// when there is none.
	TakeCNonce(ctx context.Context, key string) (expiresAt time.Time, ok bool, err error)
}

// NonceResponse is the nonce endpoint's 200 body (OpenID4VCI 1.0 §7.2), sent with
// Cache-Control: no-store.
type NonceResponse struct {
	CNonce string `json:"c_nonce"`
}

// NewCNonce makes a fresh c_nonce for the nonce endpoint (OpenID4VCI 1.0 §7).
func (s *Server) NewCNonce(ctx context.Context) (*NonceResponse, error) {
	n := randomString(32)
	if err := s.cnonces.SaveCNonce(ctx, Hash(n), s.clock.now().Add(s.cnonceLifetime)); err != nil {
		return nil, fmt.Errorf("oauth: c_nonce: %w", err)
	}
	return &NonceResponse{CNonce: n}, nil
}

// RedeemCNonce reports whether nonce was handed out by NewCNonce, is unexpired and unused, and
// uses it up. The credential endpoint checks every key proof of one request against the same
// nonce, then redeems it once: a nonce serves one credential request. When it fails, the
// endpoint answers invalid_nonce (OpenID4VCI 1.0 §8.3.1.2) and the wallet fetches a new one.
func (s *Server) RedeemCNonce(ctx context.Context, nonce string) (bool, error) {
	if nonce == "" {
		return false, nil
	}
	exp, ok, err := s.cnonces.TakeCNonce(ctx, Hash(nonce))
	if err != nil {
		return false, fmt.Errorf("oauth: c_nonce: %w", err)
	}
	return ok && s.clock.now().Before(exp), nil
}
