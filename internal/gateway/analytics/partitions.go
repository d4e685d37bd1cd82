package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultRetentionDays is how long calls are kept when no retention is given.
const DefaultRetentionDays = 90

// DaysAhead is how many days after today Maintain prepares: a replica whose maintenance
// stops still has two days' partitions before records are refused.
const DaysAhead = 2

// maintainLock serialises Maintain between replicas ("socle" "rq"): each runs in one
// transaction holding it, so two replicas never race on the same CREATE or DROP.
const maintainLock = 0x736f636c657271

const partitionPrefix = "requests_"

// PartitionName is the name, in schema gateway, of the partition holding the UTC day of t.
func PartitionName(t time.Time) string {
	return partitionPrefix + t.UTC().Format("20060102")
}

// Maintain creates the partitions of gateway.requests for the UTC days today .. today+2 and
// drops those whose whole day is older than retentionDays (DefaultRetentionDays if not
// positive) before now. It returns the names of the partitions created and dropped. It is
// safe to call from several replicas at once: the calls take turns on an advisory lock.
func Maintain(ctx context.Context, pool *pgxpool.Pool, now time.Time, retentionDays int) (created, dropped []string, err error) {
	if retentionDays <= 0 {
		retentionDays = DefaultRetentionDays
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("analytics: maintain: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(maintainLock)); err != nil {
		return nil, nil, fmt.Errorf("analytics: maintain: %w", err)
	}
	existing, err := partitionNames(ctx, tx)
	if err != nil {
		return nil, nil, fmt.Errorf("analytics: maintain: %w", err)
	}
	have := make(map[string]bool, len(existing))
	for _, name := range existing {
		have[name] = true
	}

	today := utcDay(now)
	for d := 0; d <= DaysAhead; d++ {
		day := today.AddDate(0, 0, d)
		name := PartitionName(day)
		if have[name] {
			continue
		}
		// DDL takes no parameters; both bounds are formatted here from time values, and the
		// name from digits: nothing from outside reaches this text.
		sql := fmt.Sprintf(`CREATE TABLE gateway.%s PARTITION OF gateway.requests FOR VALUES FROM ('%s') TO ('%s')`,
			pgx.Identifier{name}.Sanitize(), day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339))
		if _, err := tx.Exec(ctx, sql); err != nil {
			return nil, nil, fmt.Errorf("analytics: maintain: create %s: %w", name, err)
		}
		created = append(created, name)
	}

	// A partition may go when its last instant is older than the retention.
	cutoff := now.Add(-time.Duration(retentionDays) * 24 * time.Hour)
	for _, name := range existing {
		day, ok := partitionDay(name)
		if !ok || day.AddDate(0, 0, 1).After(cutoff) {
			continue
		}
		if _, err := tx.Exec(ctx, `DROP TABLE gateway.`+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, nil, fmt.Errorf("analytics: maintain: drop %s: %w", name, err)
		}
		dropped = append(dropped, name)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, fmt.Errorf("analytics: maintain: %w", err)
	}
	return created, dropped, nil
}

// partitionDay reads the day of a partition's name; other tables attached by hand are not
// Maintain's to drop.
func partitionDay(name string) (time.Time, bool) {
	digits, ok := strings.CutPrefix(name, partitionPrefix)
	if !ok || len(digits) != 8 {
		return time.Time{}, false
	}
	day, err := time.Parse("20060102", digits)
	return day, err == nil
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// partitionNames lists the partitions of gateway.requests, in name order.
func partitionNames(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'gateway.requests'::regclass
		ORDER BY c.relname`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
