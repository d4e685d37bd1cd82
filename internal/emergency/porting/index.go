package porting

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database"
)

// Index holds the ported numbers in memory: per operator, a sorted []uint64 of E.164 numbers
// (8 bytes a number), so that the location pull answers "to which operator was this number
// ported?" without a PostgreSQL round trip. It follows PostgreSQL through each operator's
// version (emergency.porting_versions), which every upload bumps and signals on
// NotifyChannel.
type Index struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// mu serialises Load and Reload, SQL included: each reads after the previous one swapped
	// its sets in, so a swap never puts an older set over a newer one. Lookup never takes it.
	mu  sync.Mutex
	cur atomic.Pointer[snapshot]

	follower *database.Follower
}

// snapshot is the index at one moment; it is never modified once stored, so Lookup reads it
// without a lock.
type snapshot struct {
	sets []set // by operator; a handful of them, which a slice scans faster than a map
}

// set is the numbers ported to one operator.
type set struct {
	operator string
	version  int64    // of its porting_versions row, 0 if it has none
	numbers  []uint64 // sorted, unique
}

// NewIndex returns an empty index reading pool; Load or Watch fills it.
func NewIndex(pool *pgxpool.Pool, logger *slog.Logger) *Index {
	x := &Index{pool: pool, logger: logger}
	x.cur.Store(&snapshot{})
	if pool != nil {
		x.follower = database.NewFollower(pool, NotifyChannel, logger, x.Load, x.notified)
	}
	return x
}

// fromSets builds an index held in memory only, for tests and benchmarks: no pool, so Load,
// Reload and Watch must not be called. Each slice is sorted in place and kept.
func fromSets(sets map[string][]uint64) *Index {
	x := NewIndex(nil, slog.New(slog.DiscardHandler))
	s := &snapshot{}
	for op, numbers := range sets {
		slices.Sort(numbers)
		s.sets = append(s.sets, set{operator: op, numbers: numbers})
	}
	slices.SortFunc(s.sets, func(a, b set) int { return strings.Compare(a.operator, b.operator) })
	x.cur.Store(s)
	return x
}

// Lookup returns the operator a number (E.164 digits, without '+') was ported to. It does not
// allocate and is safe for concurrent use; a string that is not such a number is not found.
func (x *Index) Lookup(digits string) (operator string, ok bool) {
	n, ok := parseNumber(digits)
	if !ok {
		return "", false
	}
	// Numbers are unique across operators (the table's primary key): the first hit is the one.
	sets := x.cur.Load().sets
	for i := range sets {
		s := &sets[i]
		if _, found := slices.BinarySearch(s.numbers, n); found {
			return s.operator, true
		}
	}
	return "", false
}

// Len returns the number of numbers held.
func (x *Index) Len() int {
	n := 0
	for _, s := range x.cur.Load().sets {
		n += len(s.numbers)
	}
	return n
}

// parseNumber reads E.164 digits: 1 to 15 of them, the first not 0 (a country code never
// starts with 0, and reading 0033… as 33… would find a number that was not asked for).
func parseNumber[T string | []byte](digits T) (uint64, bool) {
	if len(digits) == 0 || len(digits) > 15 || digits[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Load reads every operator's numbers and version, and replaces what the index holds.
func (x *Index) Load(ctx context.Context) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	start := time.Now()
	sets, err := x.read(ctx, "")
	if err != nil {
		return err
	}
	x.cur.Store(&snapshot{sets: sets})
	n := 0
	for _, set := range sets {
		n += len(set.numbers)
	}
	x.logger.Info("ported numbers loaded", "operators", len(sets), "numbers", n, "duration", time.Since(start))
	return nil
}

// Reload reads one operator's numbers again, unless the index already holds its version or a
// later one (a node reloads at once after its own upload, then hears the same version
// notified). An operator left with no numbers is dropped.
func (x *Index) Reload(ctx context.Context, operator string, version int64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.cur.Load()
	i := slices.IndexFunc(old.sets, func(s set) bool { return s.operator == operator })
	if i >= 0 && old.sets[i].version >= version {
		return nil
	}
	start := time.Now()
	read, err := x.read(ctx, operator)
	if err != nil {
		return err
	}
	// Copy on write: the small slice of sets is new, the other operators' numbers are shared.
	s := &snapshot{sets: slices.DeleteFunc(slices.Clone(old.sets), func(s set) bool { return s.operator == operator })}
	numbers, held := 0, int64(0)
	if len(read) > 0 {
		s.sets = append(s.sets, read[0])
		slices.SortFunc(s.sets, func(a, b set) int { return strings.Compare(a.operator, b.operator) })
		numbers, held = len(read[0].numbers), read[0].version
	}
	x.cur.Store(s)
	x.logger.Info("ported numbers reloaded", "operator", operator, "numbers", numbers, "version", held,
		"duration", time.Since(start))
	return nil
}

// read returns the sets of operator, or of every operator if it is "", sorted by operator;
// an operator without numbers has none. Numbers and versions come from one snapshot of the
// database, so that a version is never held with the numbers of another.
func (x *Index) read(ctx context.Context, operator string) ([]set, error) {
	var sets []set
	bad := 0
	err := pgx.BeginTxFunc(ctx, x.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Counted first, so that each slice is allocated once at its size: five million
		// numbers grown by appending would leave as much garbage again.
		counts := `SELECT c.operator_id, c.n, coalesce(v.version, 0)
			FROM (SELECT operator_id, count(*) AS n FROM emergency.ported_numbers GROUP BY operator_id) c
			LEFT JOIN emergency.porting_versions v USING (operator_id) ORDER BY c.operator_id`
		numbers := `SELECT operator_id, number FROM emergency.ported_numbers`
		var args []any
		if operator != "" {
			counts = `SELECT $1::text, count(*), coalesce((SELECT version FROM emergency.porting_versions WHERE operator_id = $1), 0)
				FROM emergency.ported_numbers WHERE operator_id = $1 HAVING count(*) > 0`
			numbers = `SELECT operator_id, number FROM emergency.ported_numbers WHERE operator_id = $1`
			args = []any{operator}
		}
		rows, err := tx.Query(ctx, counts, args...)
		if err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		byOperator := map[string]int{}
		var s set
		var count int
		if _, err := pgx.ForEachRow(rows, []any{&s.operator, &count, &s.version}, func() error {
			byOperator[s.operator] = len(sets)
			sets = append(sets, set{operator: s.operator, version: s.version, numbers: make([]uint64, 0, count)})
			return nil
		}); err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		rows, err = tx.Query(ctx, numbers, args...)
		if err != nil {
			return fmt.Errorf("numbers: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			// Raw bytes: five million strings scanned and dropped would cost more than the read.
			raw := rows.RawValues()
			i, ok := byOperator[string(raw[0])]
			n, valid := parseNumber(raw[1])
			if !ok || !valid {
				bad++ // a number the table's CHECK lets through but that is not E.164 (0…)
				continue
			}
			sets[i].numbers = append(sets[i].numbers, n)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("numbers: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("porting: read ported numbers: %w", err)
	}
	if bad > 0 {
		x.logger.Warn("ported numbers skipped: not E.164", "count", bad)
	}
	for i := range sets {
		slices.Sort(sets[i].numbers)
	}
	return sets, nil
}

// Start loads every operator's numbers while listening already on NotifyChannel, so that
// Watch misses no upload and need not load them again.
func (x *Index) Start(ctx context.Context) error { return x.follower.Start(ctx) }

// Watch keeps the index in step with PostgreSQL until ctx ends: it reloads the operator of
// each notification on NotifyChannel, and everything after a (re)connection — which covers
// the notifications missed while disconnected, and Start not having been called.
func (x *Index) Watch(ctx context.Context) { x.follower.Run(ctx) }

// Close lets go of what Start took, when Watch was never run (Watch lets go of it when it ends).
func (x *Index) Close() { x.follower.Close() }

// notified reloads the operator a notification names ("operator:version").
func (x *Index) notified(ctx context.Context, payload string) error {
	// The operator id comes first and may itself hold a ':'; the version never does.
	op, v, _ := cutLast(payload, ":")
	version, err := strconv.ParseInt(v, 10, 64)
	if op == "" || err != nil {
		x.logger.Warn("ported numbers: malformed notification ignored", "payload", payload)
		return nil
	}
	return x.Reload(ctx, op, version)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
