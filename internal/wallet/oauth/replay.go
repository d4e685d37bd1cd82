package oauth

import (
	"context"
	"time"
)

// ReplayStore remembers values until they expire (RFC 9449 §11.1 for DPoP jti values).
type ReplayStore interface {
	// Seen records key until the given time and reports whether it was already recorded and
	// not yet expired. Recording and checking are one atomic step.
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}
