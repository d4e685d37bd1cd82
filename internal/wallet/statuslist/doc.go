// Package statuslist implements the IETF Token Status List
// (draft-ietf-oauth-status-list) for socle's citizen wallet: the status list
// itself (§4), the Status List Token in JWT format (§5.1), the `status` claim of
// a Referenced Token (§6), a caching Checker for verifiers (§8), and the
// issuer-side helpers that allocate indexes (§12, §13.3) and publish the token
// over HTTP (§8.1, §8.2, §13.7).
//
// Section numbers refer to draft-ietf-oauth-status-list-20 (April 2026), the
// last revision whose text was available when this package was written. The
// research note names -21 (3 November 2026) as current; its text could not be
// read here, so the wire format and the section numbers cited in this package
// should be rechecked against -21.
//
// Only the JWT format is implemented; the CWT format (§4.3, §5.2), Status List
// Aggregation (§9) and historical resolution (§8.4) are not.
package statuslist
