package sdjwt

import "errors"

// Refusals a caller may want to tell apart; every error this package returns wraps one of
// them or describes a caller mistake at issuance.
var (
	ErrMalformed           = errors.New("sdjwt: malformed SD-JWT")
	ErrMalformedDisclosure = errors.New("sdjwt: malformed disclosure")
	ErrUnsupportedHashAlg  = errors.New("sdjwt: unsupported _sd_alg")
	ErrAlgorithm           = errors.New("sdjwt: signature algorithm not accepted")
	ErrSignature           = errors.New("sdjwt: signature does not verify")
	ErrDuplicateDigest     = errors.New("sdjwt: digest referenced more than once")
	ErrUnreferenced        = errors.New("sdjwt: disclosure not referenced by the issuer-signed JWT")
	ErrClaimConflict       = errors.New("sdjwt: disclosed claim already present")
	ErrReservedName        = errors.New("sdjwt: reserved claim name")
	ErrExpired             = errors.New("sdjwt: expired or not yet valid")
	ErrType                = errors.New("sdjwt: unexpected typ")
	ErrKeyBindingMissing   = errors.New("sdjwt: key binding JWT required")
	ErrKeyBinding          = errors.New("sdjwt: key binding JWT refused")
	ErrNotDisclosable      = errors.New("sdjwt: claim may not be selectively disclosable")
	ErrNoSuchClaim         = errors.New("sdjwt: no claim at path")
)
