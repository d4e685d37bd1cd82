package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Transaction code input modes (OpenID4VCI 1.0 §4.1.1).
const (
	TxCodeNumeric = "numeric"
	TxCodeText    = "text"
)

// TxCode describes the transaction code in a credential offer (OpenID4VCI 1.0 §4.1.1): the
// wallet shows it to the user, who types the code received by another channel.
type TxCode struct {
	InputMode   string `json:"input_mode,omitempty"`
	Length      int    `json:"length,omitempty"`
	Description string `json:"description,omitempty"`
}

// PreAuthorizedGrant is what a pre-authorised code stands for.
type PreAuthorizedGrant struct {
	Subject                    string   `json:"subject"`
	CredentialConfigurationIDs []string `json:"credential_configuration_ids"`
	// TxCodeHash is Hash of the transaction code, empty when the offer has none.
	TxCodeHash string    `json:"tx_code_hash,omitempty"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Attempts counts redemptions tried, successful or not.
	Attempts int `json:"attempts"`
}

// PreAuthStore keeps pre-authorised codes until redeemed, expired or locked.
type PreAuthStore interface {
	SavePreAuthorized(ctx context.Context, key string, grant PreAuthorizedGrant) error
	// AttemptPreAuthorized adds one to the grant's Attempts and returns the grant as it is
	// after, in one atomic step; nil when there is none. Counting before checking means
	// concurrent guesses cannot exceed the limit.
	AttemptPreAuthorized(ctx context.Context, key string) (*PreAuthorizedGrant, error)
	// DeletePreAuthorized removes the grant and reports whether it was there, so that of two
	// concurrent redemptions only one wins.
	DeletePreAuthorized(ctx context.Context, key string) (bool, error)
}

// PreAuthorizedOffer is what the issuer's back office asks for: a credential offer for a
// user already identified.
type PreAuthorizedOffer struct {
	Subject                    string
	CredentialConfigurationIDs []string
	// TxCode, when set, asks for a transaction code of that input mode and length
	// (numeric, 6 digits when zero).
	TxCode *TxCode
}

// PreAuthorized is a new pre-authorised code, for the credential offer's
// urn:ietf:params:oauth:grant-type:pre-authorized_code grant (OpenID4VCI 1.0 §4.1.1), and
// its transaction code, to send to the user by another channel.
type PreAuthorized struct {
	Code      string
	TxCode    string
	TxCodeFor *TxCode
	ExpiresAt time.Time
}

// textAlphabet leaves out characters read alike (0/O, 1/I/L).
const textAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// NewPreAuthorizedCode makes a pre-authorised code, and its transaction code when asked for.
func (s *Server) NewPreAuthorizedCode(ctx context.Context, offer PreAuthorizedOffer) (*PreAuthorized, error) {
	if offer.Subject == "" || len(offer.CredentialConfigurationIDs) == 0 {
		return nil, errors.New("oauth: pre-authorised code: subject and credential configurations are required")
	}
	out := &PreAuthorized{Code: randomString(32), ExpiresAt: s.clock.now().Add(s.preauthLifetime)}
	grant := PreAuthorizedGrant{Subject: offer.Subject, CredentialConfigurationIDs: offer.CredentialConfigurationIDs, ExpiresAt: out.ExpiresAt}
	if offer.TxCode != nil {
		tc := *offer.TxCode
		if tc.InputMode == "" {
			tc.InputMode = TxCodeNumeric
		}
		if tc.Length == 0 {
			tc.Length = 6
		}
		alphabet := "0123456789"
		switch tc.InputMode {
		case TxCodeNumeric:
		case TxCodeText:
			alphabet = textAlphabet
		default:
			return nil, fmt.Errorf("oauth: tx_code input_mode %q", tc.InputMode)
		}
		if tc.Length < 4 || tc.Length > 32 {
			return nil, errors.New("oauth: tx_code length must be 4 to 32")
		}
		code, err := randomCode(alphabet, tc.Length)
		if err != nil {
			return nil, err
		}
		out.TxCode, out.TxCodeFor, grant.TxCodeHash = code, &tc, Hash(code)
	}
	if err := s.preauth.SavePreAuthorized(ctx, Hash(out.Code), grant); err != nil {
		return nil, fmt.Errorf("oauth: pre-authorised code: %w", err)
	}
	return out, nil
}

// randomCode draws n characters uniformly from alphabet.
func randomCode(alphabet string, n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("oauth: tx_code: %w", err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}

// redeemPreAuthorized checks and consumes a pre-authorised code (OpenID4VCI 1.0 §6.1, with
// the errors of §6.3). Every try counts; past MaxTxCodeAttempts the code is destroyed.
func (s *Server) redeemPreAuthorized(ctx context.Context, req *TokenRequest) (*PreAuthorizedGrant, error) {
	key := Hash(req.PreAuthorizedCode)
	g, err := s.preauth.AttemptPreAuthorized(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("oauth: pre-authorised code: %w", err)
	}
	if g == nil {
		return nil, refusal(CodeInvalidGrant, "pre-authorized_code is unknown, used or locked")
	}
	destroy := func(e *Error) error {
		if _, err := s.preauth.DeletePreAuthorized(ctx, key); err != nil {
			return fmt.Errorf("oauth: pre-authorised code: %w", err)
		}
		return e
	}
	if !s.clock.now().Before(g.ExpiresAt) {
		return nil, destroy(refusal(CodeInvalidGrant, "pre-authorized_code has expired"))
	}
	if g.Attempts > s.maxAttempts {
		return nil, destroy(refusal(CodeInvalidGrant, "too many attempts: pre-authorized_code is locked"))
	}
	switch {
	case g.TxCodeHash == "" && req.HasTxCode:
		return nil, refusal(CodeInvalidRequest, "tx_code was not expected")
	case g.TxCodeHash != "" && !req.HasTxCode:
		return nil, refusal(CodeInvalidRequest, "tx_code is required")
	case g.TxCodeHash != "" && subtle.ConstantTimeCompare([]byte(Hash(req.TxCode)), []byte(g.TxCodeHash)) != 1:
		if g.Attempts >= s.maxAttempts {
			return nil, destroy(refusal(CodeInvalidGrant, "wrong tx_code: pre-authorized_code is now locked"))
		}
		return nil, refusal(CodeInvalidGrant, "wrong tx_code")
	}
	ok, err := s.preauth.DeletePreAuthorized(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("oauth: pre-authorised code: %w", err)
	}
	if !ok {
		return nil, refusal(CodeInvalidGrant, "pre-authorized_code was already used")
	}
	return g, nil
}
