// Package oauth holds the OAuth 2.0 building blocks of socle's OpenID4VCI 1.0 credential
// issuer and its authorisation server, as the HAIP 1.0 profile narrows them:
//
//   - DPoP proofs (RFC 9449): Verifier checks a proof against the request it came with, its
//     key's RFC 7638 thumbprint binds the tokens (cnf.jkt); replays are refused through a
//     ReplayStore; server nonces (§8) come from a NonceSource.
//   - PKCE (RFC 7636), S256 only.
//   - Pushed authorisation requests (RFC 9126): Server.Push and Server.Authorization.
//   - Pre-authorised codes with a transaction code (OpenID4VCI 1.0 §4.1.1, §6.1), with a cap
//     on attempts so that a short tx_code cannot be guessed.
//   - Opaque DPoP-bound access tokens and the token endpoint's request parsing and errors
//     (RFC 6749 §5.2).
//   - c_nonce values for the nonce endpoint (OpenID4VCI 1.0 §7).
//
// The package has no HTTP routes and no database: the service persists through the Store
// interfaces (the wallet service keeps them in PostgreSQL; the tests in memory). Codes
// and tokens are stored under their SHA-256 hash, never in clear.
package oauth
