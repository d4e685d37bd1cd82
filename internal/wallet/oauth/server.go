package oauth

import (
	"errors"
	"time"
)

// ServerConfig configures a Server. The stores are required.
type ServerConfig struct {
	// Issuer is the credential issuer identifier, accepted in authorization_details
	// locations (OpenID4VCI 1.0 §5.1.1).
	Issuer string
	// Scopes and CredentialConfigurationIDs are what a wallet may ask for (OpenID4VCI 1.0
	// §5.1.1, §5.1.2).
	Scopes                     []string
	CredentialConfigurationIDs []string

	Clients Clients
	DPoP    *DPoPVerifier
	PAR     PARStore
	Codes   CodeStore
	PreAuth PreAuthStore
	Tokens  TokenStore
	CNonces CNonceStore

	// Lifetimes; the defaults when zero are in brackets. PAR request_uri (60 s, RFC 9126
	// §2.2 suggests a short one), authorisation code (60 s, RFC 6749 §4.1.2 "10 minutes
	// maximum"), pre-authorised code (10 min), access token (10 min), c_nonce (5 min).
	PARLifetime, CodeLifetime, PreAuthLifetime, TokenLifetime, CNonceLifetime time.Duration
	// MaxTxCodeAttempts is how many redemptions of one pre-authorised code are tried before
	// it is destroyed (5): with a 6-digit tx_code, a guess succeeds with probability 5×10⁻⁶.
	MaxTxCodeAttempts int

	Clock Clock
}

// Server is the authorisation server's protocol logic, over its stores.
type Server struct {
	issuer         string
	scopes         []string
	configurations []string
	clients        Clients
	dpop           *DPoPVerifier
	par            PARStore
	codes          CodeStore
	preauth        PreAuthStore
	tokens         TokenStore
	cnonces        CNonceStore

	parLifetime, codeLifetime, preauthLifetime, tokenLifetime, cnonceLifetime time.Duration
	maxAttempts                                                               int
	clock                                                                     Clock
}

// NewServer checks cfg and fills in the defaults.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Clients == nil || cfg.DPoP == nil || cfg.PAR == nil || cfg.Codes == nil || cfg.PreAuth == nil || cfg.Tokens == nil || cfg.CNonces == nil {
		return nil, errors.New("oauth: Clients, DPoP and every store are required")
	}
	def := func(d, v time.Duration) time.Duration {
		if d <= 0 {
			return v
		}
		return d
	}
	s := &Server{
		issuer: cfg.Issuer, scopes: cfg.Scopes, configurations: cfg.CredentialConfigurationIDs,
		clients: cfg.Clients, dpop: cfg.DPoP,
		par: cfg.PAR, codes: cfg.Codes, preauth: cfg.PreAuth, tokens: cfg.Tokens, cnonces: cfg.CNonces,
		parLifetime:     def(cfg.PARLifetime, 60*time.Second),
		codeLifetime:    def(cfg.CodeLifetime, 60*time.Second),
		preauthLifetime: def(cfg.PreAuthLifetime, 10*time.Minute),
		tokenLifetime:   def(cfg.TokenLifetime, 10*time.Minute),
		cnonceLifetime:  def(cfg.CNonceLifetime, 5*time.Minute),
		maxAttempts:     cfg.MaxTxCodeAttempts,
		clock:           cfg.Clock,
	}
	if s.maxAttempts <= 0 {
		s.maxAttempts = 5
	}
	return s, nil
}
