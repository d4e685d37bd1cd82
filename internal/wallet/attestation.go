package wallet

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"socle/internal/platform/pki"
	"socle/internal/wallet/oauth"
)

// Wallet attestations (HAIP 1.0 §4.3, draft-ietf-oauth-attestation-based-client-auth): a
// wallet may authenticate at the PAR and token endpoints with its provider's attestation.
// SOCLE_WALLET_PROVIDER_TRUST names the wallet providers socle trusts — a PEM bundle of CA
// certificates their attestations' x5c chain to, or a JWKS of their keys by kid — and
// SOCLE_WALLET_CLIENT_ATTESTATION=required refuses wallets without one.

// attestationModes are SOCLE_WALLET_CLIENT_ATTESTATION's values.
const (
	attestationOptional = "optional" // checked when sent
	attestationRequired = "required"
)

// providerTrust reads the trusted wallet providers' file: PEM certificates or a JWKS.
func providerTrust(path string) (oauth.ProviderKeys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SOCLE_WALLET_PROVIDER_TRUST: %w", err)
	}
	if bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
		certs, err := pki.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("SOCLE_WALLET_PROVIDER_TRUST %s: %w", path, err)
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		return oauth.TrustedCAs(pool, time.Now), nil
	}
	set, err := jwk.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("SOCLE_WALLET_PROVIDER_TRUST %s: neither PEM certificates nor a JWKS: %w", path, err)
	}
	for i := range set.Len() {
		k, _ := set.Key(i)
		if _, ok := k.KeyID(); !ok {
			return nil, fmt.Errorf("SOCLE_WALLET_PROVIDER_TRUST %s: key %d has no kid", path, i)
		}
	}
	return oauth.TrustedJWKS(set), nil
}

// authenticateClient is who calls the PAR or token endpoint: the attested wallet, or a public
// client by its client_id (oauth.AttestationVerifier.Authenticate).
func (w *Wallet) authenticateClient(ctx context.Context, r *http.Request) (string, error) {
	if w.attestation == nil {
		if r.Header.Get(oauth.HeaderClientAttestation) != "" {
			return "", &oauth.Error{Code: oauth.CodeInvalidClient, Status: http.StatusUnauthorized,
				Description: "this server trusts no wallet provider (SOCLE_WALLET_PROVIDER_TRUST): authenticate as a public client"}
		}
		return r.PostForm.Get("client_id"), nil
	}
	return w.attestation.Authenticate(ctx, r.Header, r.PostForm.Get("client_id"), w.cfg.ClientAttestation == attestationRequired)
}

// authMethods are the token endpoint's client authentication methods (RFC 8414 §2).
func (w *Wallet) authMethods() []string {
	switch {
	case w.cfg.ProviderTrust == "":
		return []string{"none"}
	case w.cfg.ClientAttestation == attestationRequired:
		return []string{oauth.AuthMethodAttestation}
	}
	return []string{"none", oauth.AuthMethodAttestation}
}
