// Package sdjwt issues, presents and verifies Selective Disclosure JWTs (RFC 9901) and the
// SD-JWT VC profile of them (draft-ietf-oauth-sd-jwt-vc-26), the credential format of the EU
// digital identity wallet.
//
// An issuer turns a claims object into an SD-JWT: every claim named by a [Path] in the
// disclosure list is replaced by the digest of a Disclosure (RFC 9901 §4.2), the digests are
// signed in the JWT, and the Disclosures travel beside it in the compact form
// <JWT>~<D1>~...~<Dn>~. The holder keeps the lot, and for each verifier [SDJWT.Select]s the
// Disclosures of the claims it agrees to show, then [SDJWT.Bind]s the result to its key with a
// Key Binding JWT (§4.3). The verifier runs [Verifier.Verify] (§7): issuer signature, every
// Disclosure referenced exactly once by a signed digest, the processed payload rebuilt, the
// Key Binding JWT checked; it gets back the disclosed claims and their paths.
//
// JWS signing and verification, and JWK encoding of the holder key, are lestrrat-go/jwx's;
// the Disclosure and digest rules are written here from the RFC, each citing its section.
//
// Paths into arrays count the elements of the array as the reader sees it: for the holder,
// every element the issuer disclosed to it; for the verifier, the elements of the presented
// array after undisclosed ones and decoys are dropped (§7.1 step 3.3.2). The same element may
// therefore be nationalities[1] to the holder and nationalities[0] to the verifier.
package sdjwt
