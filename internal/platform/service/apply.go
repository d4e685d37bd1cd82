package service

import (
	"context"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"
)

// Apply is a service's part of the file `socle apply -f` reads: the top-level keys it owns.
// The platform reads the file, refuses keys no service owns, has every service concerned
// prepare its part — all problems of all parts are listed together — and, only when there
// are none, applies every part in one transaction: the file is applied whole or not at all.
type Apply struct {
	// Keys are the file's top-level keys the service reads; no two services share one.
	Keys []string
	// Prepare reads and checks the service's part without the database. path is the file
	// (paths in it are relative to its folder), raw its bytes, doc its top-level mapping
	// holding only the service's keys, with the file's line numbers. A problem is one line,
	// "FILE:LINE: what is wrong".
	Prepare func(path string, raw []byte, doc *yaml.Node) (Change, []string)
}

// Change is a prepared part of the file.
type Change interface {
	// Apply checks the change against the database and writes it in tx. It returns what
	// changed, in a line or a few, or the problems the database revealed (the whole file
	// is then rolled back).
	Apply(ctx context.Context, tx pgx.Tx) (report string, problems []string, err error)
}
