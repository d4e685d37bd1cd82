// Package verifier is the protocol side of socle's verifier: a relying party asks, through
// it, for credentials a citizen's wallet holds, and learns exactly the claims it asked for —
// OpenID for Verifiable Presentations 1.0 (OpenID4VP) with its Digital Credentials Query
// Language (DCQL, §6), under the High Assurance Interoperability Profile 1.0 (HAIP).
//
//   - dcql.go: ParseQuery validates a DCQL query, refusing a bad one with the JSON path and
//     the reason; CredentialQuery.Match says whether a verified credential answers a
//     credential query and which of its claims were asked for and disclosed (§6, §7).
//   - request.go: Request and Signer make the signed request object (RFC 9101 JAR, typ
//     oauth-authz-req+jwt) with an x5c chain and the x509_hash client identifier (§5.9.3).
//   - response.go: ParseResponse reads the wallet's direct_post or direct_post.jwt answer
//     (§8.2, §8.3), decrypting the latter with the request's ephemeral key.
//   - verify.go: Verifier.Verify checks each presentation (issuer x5c to trusted roots,
//     SD-JWT VC, key binding to this request's nonce and client_id, status list) and the
//     query, and returns only what the query asked for.
//
// It knows nothing of HTTP or storage: the wallet service (internal/wallet/verifier.go) keeps
// requests in PostgreSQL and serves them; a benchmark can call Verifier.Verify directly.
package verifier
