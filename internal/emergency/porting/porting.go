// Package porting keeps the ported numbers: numbers that left the operator of their
// numbering-plan block. Each operator declares the numbers ported to it, as a full file that
// replaces its whole set, or as a delta (the daily changes). A number belongs to the last
// operator that declared it: porting again moves it.
package porting

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LineError names a line of the uploaded file and what is wrong with it.
type LineError struct {
	Line   int
	Reason string
}

// Change is one line of a delta.
type Change struct {
	Add    bool
	Number string // E.164 digits, no '+'
}

// Result says what an upload changed.
type Result struct {
	Added   int `json:"added"`   // numbers new to the operator, ported in or taken over
	Removed int `json:"removed"` // numbers the operator no longer declares
	Total   int `json:"total"`   // numbers the operator now holds
	// Changed is the new version of every operator whose set the upload changed: the
	// uploader, and the operators it took numbers from. The caller reloads them at once.
	Changed map[string]int64 `json:"-"`
}

// NotifyChannel is the PostgreSQL NOTIFY channel an upload signals, in its transaction, with
// "operator:version" for every operator whose set it changed: NOTIFY because the signal must
// commit with the change, and every node's Index must hear it.
const NotifyChannel = "socle_emergency_porting"

var numberPattern = regexp.MustCompile(`^\+?[1-9][0-9]{5,14}$`)

// maxErrors bounds the errors reported for one file: the first ones say what is wrong.
const maxErrors = 100

// ParseFull reads a full file: a header line `number`, then one E.164 number per line.
func ParseFull(r io.Reader) ([]string, []LineError) {
	var out []string
	errs := parse(r, "number", func(line int, fields []string) string {
		n, reason := number(fields[0])
		if reason == "" {
			out = append(out, n)
		}
		return reason
	}, 1)
	return out, errs
}

// ParseDelta reads a delta: a header line `action,number`, then add or remove lines.
func ParseDelta(r io.Reader) ([]Change, []LineError) {
	var out []Change
	errs := parse(r, "action,number", func(line int, fields []string) string {
		n, reason := number(fields[1])
		if reason != "" {
			return reason
		}
		switch fields[0] {
		case "add", "remove":
			out = append(out, Change{Add: fields[0] == "add", Number: n})
			return ""
		}
		return "action must be add or remove"
	}, 2)
	return out, errs
}

func number(s string) (string, string) {
	s = strings.TrimSpace(s)
	if !numberPattern.MatchString(s) {
		return "", "not an E.164 number (country code first, 6 to 15 digits, such as 33612345678)"
	}
	return strings.TrimPrefix(s, "+"), ""
}

func parse(r io.Reader, header string, row func(int, []string) string, fields int) []LineError {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	var errs []LineError
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if strings.TrimPrefix(text, "\ufeff") != header {
				return []LineError{{Line: 1, Reason: "header must be " + header}}
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		f := strings.Split(text, ",")
		reason := ""
		switch {
		case len(f) != fields:
			reason = fmt.Sprintf("want %d field(s): %s", fields, header)
		case seen[f[len(f)-1]] > 0:
			reason = fmt.Sprintf("number given twice (first at line %d)", seen[f[len(f)-1]])
		default:
			seen[f[len(f)-1]] = line
			reason = row(line, f)
		}
		if reason != "" && len(errs) < maxErrors {
			errs = append(errs, LineError{Line: line, Reason: reason})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, LineError{Line: line + 1, Reason: "unreadable: " + err.Error()})
	}
	if line == 0 {
		errs = append(errs, LineError{Line: 1, Reason: "empty file: the header " + header + " is required"})
	}
	return errs
}

// Replace makes numbers exactly the set the operator holds, in one transaction.
func Replace(ctx context.Context, pool *pgxpool.Pool, operator string, numbers []string) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE incoming (number text PRIMARY KEY) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"incoming"}, []string{"number"},
			pgx.CopyFromSlice(len(numbers), func(i int) ([]any, error) { return []any{numbers[i]}, nil })); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM emergency.ported_numbers p WHERE p.operator_id = $1
			AND NOT EXISTS (SELECT 1 FROM incoming i WHERE i.number = p.number)`, operator)
		if err != nil {
			return err
		}
		res.Removed = int(tag.RowsAffected())
		losers, err := previousOwners(ctx, tx, operator, `SELECT DISTINCT p.operator_id FROM emergency.ported_numbers p
			JOIN incoming i USING (number) WHERE p.operator_id <> $1`)
		if err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, `INSERT INTO emergency.ported_numbers (number, operator_id) SELECT number, $1 FROM incoming
			ON CONFLICT (number) DO UPDATE SET operator_id = EXCLUDED.operator_id, updated_at = now()
			WHERE ported_numbers.operator_id <> EXCLUDED.operator_id`, operator)
		if err != nil {
			return err
		}
		res.Added = int(tag.RowsAffected())
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM emergency.ported_numbers WHERE operator_id = $1`, operator).Scan(&res.Total); err != nil {
			return err
		}
		res.Changed, err = bump(ctx, tx, operator, res, losers)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("porting: %w", err)
	}
	return res, nil
}

// ApplyDelta adds and removes numbers of the operator, in one transaction. An operator can
// only remove numbers it holds.
func ApplyDelta(ctx context.Context, pool *pgxpool.Pool, operator string, changes []Change) (Result, error) {
	var adds, removes []string
	for _, c := range changes {
		if c.Add {
			adds = append(adds, c.Number)
		} else {
			removes = append(removes, c.Number)
		}
	}
	var res Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM emergency.ported_numbers WHERE operator_id = $1 AND number = ANY($2)`, operator, removes)
		if err != nil {
			return err
		}
		res.Removed = int(tag.RowsAffected())
		losers, err := previousOwners(ctx, tx, operator, `SELECT DISTINCT operator_id FROM emergency.ported_numbers
			WHERE number = ANY($2) AND operator_id <> $1`, adds)
		if err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, `INSERT INTO emergency.ported_numbers (number, operator_id) SELECT unnest($2::text[]), $1
			ON CONFLICT (number) DO UPDATE SET operator_id = EXCLUDED.operator_id, updated_at = now()
			WHERE ported_numbers.operator_id <> EXCLUDED.operator_id`, operator, adds)
		if err != nil {
			return err
		}
		res.Added = int(tag.RowsAffected())
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM emergency.ported_numbers WHERE operator_id = $1`, operator).Scan(&res.Total); err != nil {
			return err
		}
		res.Changed, err = bump(ctx, tx, operator, res, losers)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("porting: %w", err)
	}
	return res, nil
}

// previousOwners runs query, which selects the operators other than the uploader ($1) that
// hold some of the incoming numbers: they lose them to the uploader. It must run before the
// upsert, which overwrites the owner.
func previousOwners(ctx context.Context, tx pgx.Tx, operator, query string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, query, append([]any{operator}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// bump moves the version of every operator whose set changed — the uploader if it gained or
// lost numbers, and the operators it took numbers from — and signals each new version on
// NotifyChannel; both commit with the upload, so a node sees the version only with the
// numbers. It returns the new versions.
func bump(ctx context.Context, tx pgx.Tx, operator string, res Result, losers []string) (map[string]int64, error) {
	ops := losers
	if res.Added > 0 || res.Removed > 0 {
		ops = append(ops, operator)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	// Always the same lock order, so that two uploads taking numbers from each other wait
	// rather than deadlock on the version rows.
	slices.Sort(ops)
	ops = slices.Compact(ops)
	rows, err := tx.Query(ctx, `INSERT INTO emergency.porting_versions AS v (operator_id, version)
		SELECT unnest($1::text[]), 1
		ON CONFLICT (operator_id) DO UPDATE SET version = v.version + 1
		RETURNING operator_id, version`, ops)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	changed := make(map[string]int64, len(ops))
	var names []string
	var versions []int64
	var op string
	var version int64
	if _, err := pgx.ForEachRow(rows, []any{&op, &version}, func() error {
		changed[op] = version
		names, versions = append(names, op), append(versions, version)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, o || ':' || v) FROM unnest($2::text[], $3::bigint[]) AS t (o, v)`,
		NotifyChannel, names, versions); err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	return changed, nil
}
