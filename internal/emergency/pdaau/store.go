package pdaau

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/schema"
)

// Errors of the workflow, recognised with errors.Is.
var (
	ErrNotFound     = errors.New("no such version")
	ErrState        = errors.New("the version is not in a state that allows this")
	ErrFourEyes     = errors.New("a version is approved by someone who did not edit it")
	ErrPast         = errors.New("the effective date is in the past")
	ErrNotPublished = errors.New("only a published version can be published again")
	ErrOpen         = errors.New("the département already has an open version")
)

// OpenError refuses a new draft: the département already has its one open version (a
// draft, or an approved version not yet published), Open. It is ErrOpen to errors.Is.
type OpenError struct{ Open Version }

func (e *OpenError) Error() string {
	return fmt.Sprintf("pdaau: département %s has an open version, %d (%s), created by %s at %s",
		e.Open.Departement, e.Open.ID, e.Open.State, e.Open.CreatedBy, e.Open.CreatedAt.Format(time.RFC3339))
}

func (e *OpenError) Is(target error) bool { return target == ErrOpen }

// oneOpen is the index that keeps a département to one open version.
const oneOpen = "pdaau_versions_one_open"

// Store runs the workflow on PostgreSQL. Every operation is one transaction.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// inTx runs fn in a transaction that first takes the département's workflow lock, so that
// two people acting on one département's versions at once are serialised.
func (s *Store) inTx(ctx context.Context, dep string, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pdaau: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('pdaau:' || $1))`, dep); err != nil {
		return fmt.Errorf("pdaau: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pdaau: %w", err)
	}
	return nil
}

// CreateDraft validates a département's whole table and, if it has no problem and changes
// something against the version in effect (else CodeNoChange), saves it as a new draft.
// With problems nothing is saved. A département has one open version at a time: if it has
// one, the draft is refused with an *OpenError naming it, before the table is read.
func (s *Store) CreateDraft(ctx context.Context, dep string, rows []Row, by, source string) (int64, Problems, error) {
	var id int64
	var ps Problems
	err := s.inTx(ctx, dep, func(tx pgx.Tx) error {
		if err := refuseOpen(ctx, tx, dep); err != nil {
			return err
		}
		ref, err := LoadReference(ctx, tx)
		if err != nil {
			return err
		}
		if ps = Validate(dep, rows, ref); len(ps) > 0 {
			return nil
		}
		if ps, err = unchanged(ctx, tx, dep, rows); err != nil || len(ps) > 0 {
			return err
		}
		id, err = insertDraft(ctx, tx, dep, source, by)
		if err != nil {
			return err
		}
		return insertRows(ctx, tx, id, rows)
	})
	return id, ps, s.openConflict(ctx, dep, err)
}

// DraftFromActive starts a draft holding the rows of the version in effect, to be edited (it
// cannot be approved before it changes something). Like CreateDraft, it is refused with an
// *OpenError if the département has an open version.
func (s *Store) DraftFromActive(ctx context.Context, dep, by string) (int64, error) {
	var id int64
	err := s.inTx(ctx, dep, func(tx pgx.Tx) error {
		if err := refuseOpen(ctx, tx, dep); err != nil {
			return err
		}
		cur, err := activeID(ctx, tx, dep)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("pdaau: département %s has no version in effect to start from: %w", dep, ErrNotFound)
		}
		id, err = insertDraft(ctx, tx, dep, fmt.Sprintf("copy of version %d", *cur), by)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO emergency.pdaau_version_rows (version_id, insee, number, routing_number)
			SELECT $1, insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $2`, id, *cur)
		return err
	})
	return id, s.openConflict(ctx, dep, err)
}

// Open is the département's open version — its draft, or its approved version not yet
// published — nil if it has none.
func (s *Store) Open(ctx context.Context, dep string) (*Version, error) {
	return openVersion(ctx, s.pool, dep)
}

func openVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, dep string) (*Version, error) {
	v, err := scanVersion(q.QueryRow(ctx, `SELECT `+versionColumns+` FROM emergency.pdaau_versions v
		WHERE departement = $1 AND state IN ('draft', 'approved')`, dep))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pdaau: open version of %s: %w", dep, err)
	}
	return &v, nil
}

// refuseOpen is an *OpenError if dep has an open version.
func refuseOpen(ctx context.Context, tx pgx.Tx, dep string) error {
	open, err := openVersion(ctx, tx, dep)
	if err != nil {
		return err
	}
	if open != nil {
		return &OpenError{Open: *open}
	}
	return nil
}

// openConflict turns the index's refusal of a second open version — a writer that raced
// this one without the département's lock — into the *OpenError naming the winner's.
func (s *Store) openConflict(ctx context.Context, dep string, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" /* unique_violation */ || pe.ConstraintName != oneOpen {
		return err
	}
	open, oerr := s.Open(ctx, dep)
	if oerr != nil || open == nil {
		return fmt.Errorf("pdaau: département %s: %w (%v)", dep, ErrOpen, err)
	}
	return &OpenError{Open: *open}
}

// unchanged is CodeNoChange if rows are the table of the version in effect: a version that
// changes nothing has nothing to publish.
func unchanged(ctx context.Context, tx pgx.Tx, dep string, rows []Row) (Problems, error) {
	cur, err := activeID(ctx, tx, dep)
	if err != nil || cur == nil {
		return nil, err
	}
	in, err := rowsOf(ctx, tx, *cur)
	if err != nil {
		return nil, err
	}
	if sameTable(in, rows) {
		return Problems{{Code: CodeNoChange, Value: strconv.FormatInt(*cur, 10)}}, nil
	}
	return nil, nil
}

// sameTable reports whether two tables route every commune and number alike.
func sameTable(a, b []Row) bool {
	if len(a) != len(b) {
		return false
	}
	type key struct{ insee, number string }
	m := make(map[key]string, len(a))
	for _, r := range a {
		m[key{r.INSEE, r.Number}] = r.RoutingNumber
	}
	for _, r := range b {
		if routing, ok := m[key{r.INSEE, r.Number}]; !ok || routing != r.RoutingNumber {
			return false
		}
	}
	return true
}

// UpdateDraft replaces a draft's rows with rows, validated as a whole table, which must
// change something against the version in effect (else CodeNoChange); by becomes one of its
// editors. With problems nothing changes.
func (s *Store) UpdateDraft(ctx context.Context, id int64, rows []Row, by string) (Problems, error) {
	v, err := s.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	var ps Problems
	err = s.inTx(ctx, v.Departement, func(tx pgx.Tx) error {
		if err := checkState(ctx, tx, id, Draft); err != nil {
			return err
		}
		ref, err := LoadReference(ctx, tx)
		if err != nil {
			return err
		}
		if ps = Validate(v.Departement, rows, ref); len(ps) > 0 {
			return nil
		}
		if ps, err = unchanged(ctx, tx, v.Departement, rows); err != nil || len(ps) > 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM emergency.pdaau_version_rows WHERE version_id = $1`, id); err != nil {
			return err
		}
		if err := insertRows(ctx, tx, id, rows); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE emergency.pdaau_versions SET editors = array_append(editors, $2)
			WHERE id = $1 AND NOT $2 = ANY(editors)`, id, by)
		return err
	})
	return ps, err
}

// Discard sets a draft or an approved version aside, recording who did and when; it stays in
// the history, and the département may have a new draft.
func (s *Store) Discard(ctx context.Context, id int64, by string) error {
	v, err := s.Version(ctx, id)
	if err != nil {
		return err
	}
	return s.inTx(ctx, v.Departement, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE emergency.pdaau_versions SET state = 'discarded', discarded_by = $2, discarded_at = now()
			WHERE id = $1 AND state IN ('draft', 'approved')`, id, by)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("pdaau: discard version %d (%s): %w", id, v.State, ErrState)
		}
		return err
	})
}

// Approve marks a draft approved by by, who must not have edited it (four eyes). The table
// is checked again: a PSAP or a commune may have gone since it was drafted; and it must
// change something against the version in effect (else CodeNoChange).
func (s *Store) Approve(ctx context.Context, id int64, by string) (Problems, error) {
	v, err := s.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	if slices.Contains(v.Editors, by) {
		return nil, fmt.Errorf("pdaau: %s edited version %d: %w", by, id, ErrFourEyes)
	}
	var ps Problems
	err = s.inTx(ctx, v.Departement, func(tx pgx.Tx) error {
		if err := checkState(ctx, tx, id, Draft); err != nil {
			return err
		}
		if ps, err = revalidate(ctx, tx, v.Departement, id, true); err != nil || len(ps) > 0 {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE emergency.pdaau_versions SET state = 'approved', approved_by = $2, approved_at = now()
			WHERE id = $1 AND NOT $2 = ANY(editors)`, id, by)
		return err
	})
	return ps, err
}

// Publish publishes an approved version, to take effect at effective: the zero time is now
// (the moment it is published); a date is to the minute and never in the past (ErrPast).
// Like Approve, it checks the table again, and that it changes something. Operators allowed to see the département are notified; if the date has come,
// the version is activated in the same transaction.
func (s *Store) Publish(ctx context.Context, id int64, by string, effective time.Time) (Problems, error) {
	v, err := s.Version(ctx, id)
	if err != nil {
		return nil, err
	}
	var ps Problems
	err = s.inTx(ctx, v.Departement, func(tx pgx.Tx) error {
		if err := checkState(ctx, tx, id, Approved); err != nil {
			return err
		}
		if ps, err = revalidate(ctx, tx, v.Departement, id, true); err != nil || len(ps) > 0 {
			return err
		}
		return publish(ctx, tx, id, by, effective)
	})
	return ps, err
}

// Republish publishes again the rows of an earlier published version, as a new version
// (rollback). Their content was approved by two people when first published, so the new
// version needs no second approval; it records which version it restores and who did it.
// It is never open (it is published as it is made), so it works whatever draft is open.
func (s *Store) Republish(ctx context.Context, id int64, by string, effective time.Time) (int64, Problems, error) {
	v, err := s.Version(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	if v.State != Published {
		return 0, nil, fmt.Errorf("pdaau: version %d is %s: %w", id, v.State, ErrNotPublished)
	}
	var nid int64
	var ps Problems
	err = s.inTx(ctx, v.Departement, func(tx pgx.Tx) error {
		if ps, err = revalidate(ctx, tx, v.Departement, id, false); err != nil || len(ps) > 0 {
			return err
		}
		now, err := dbNow(ctx, tx)
		if err != nil {
			return err
		}
		at, err := effectiveAt(effective, now)
		if err != nil {
			return err
		}
		nid, err = insertPublished(ctx, tx, v.Departement, fmt.Sprintf("rollback to version %d", id), by, &id, at)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO emergency.pdaau_version_rows (version_id, insee, number, routing_number)
			SELECT $1, insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $2`, nid, id); err != nil {
			return err
		}
		return announce(ctx, tx, nid, at, now)
	})
	return nid, ps, err
}

// ApplyTx makes rows (any number of départements) the tables in effect, from `socle apply`,
// inside its transaction: each département whose rows differ from its active version gets
// a new version, published and activated at once. It is the administrator's declarative
// path (a directory file under change control), so it has no draft or approval step; it
// still meets every validation rule. It returns how many rows changed.
func ApplyTx(ctx context.Context, tx pgx.Tx, rows []Row, by, source string) (int, Problems, error) {
	byDep := map[string][]Row{}
	var deps []string
	for _, r := range rows {
		d := r.Departement()
		if _, ok := byDep[d]; !ok {
			deps = append(deps, d)
		}
		byDep[d] = append(byDep[d], r)
	}
	slices.Sort(deps)
	ref, err := LoadReference(ctx, tx)
	if err != nil {
		return 0, nil, err
	}
	var ps Problems
	for _, d := range deps {
		ps = append(ps, Validate(d, byDep[d], ref)...)
	}
	if len(ps) > 0 {
		return 0, ps, nil
	}
	changed := 0
	for _, d := range deps {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('pdaau:' || $1))`, d); err != nil {
			return 0, nil, fmt.Errorf("pdaau: %w", err)
		}
		cur, err := activeID(ctx, tx, d)
		if err != nil {
			return 0, nil, err
		}
		now, err := dbNow(ctx, tx)
		if err != nil {
			return 0, nil, err
		}
		// Published as it is made: never open, whatever draft the département has.
		id, err := insertPublished(ctx, tx, d, source, by, nil, now)
		if err != nil {
			return 0, nil, err
		}
		if err := insertRows(ctx, tx, id, byDep[d]); err != nil {
			return 0, nil, err
		}
		n := len(byDep[d])
		if cur != nil {
			if n, err = countChanges(ctx, tx, *cur, id); err != nil {
				return 0, nil, err
			}
		}
		if n == 0 {
			// The same table: leave no empty version behind.
			if _, err := tx.Exec(ctx, `DELETE FROM emergency.pdaau_version_rows WHERE version_id = $1`, id); err != nil {
				return 0, nil, err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM emergency.pdaau_versions WHERE id = $1`, id); err != nil {
				return 0, nil, err
			}
			continue
		}
		changed += n
		if err := announce(ctx, tx, id, now, now); err != nil {
			return 0, nil, err
		}
	}
	return changed, nil, nil
}

// countChanges counts the rows that differ between two versions.
func countChanges(ctx context.Context, tx pgx.Tx, from, to int64) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM
		(SELECT insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $1) a
		FULL JOIN (SELECT insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $2) b
		USING (insee, number) WHERE a.routing_number IS DISTINCT FROM b.routing_number`, from, to).Scan(&n)
	return n, err
}

// publish marks an approved version published, to take effect at the date asked (see
// effectiveAt), and announces it.
func publish(ctx context.Context, tx pgx.Tx, id int64, by string, asked time.Time) error {
	now, err := dbNow(ctx, tx)
	if err != nil {
		return err
	}
	effective, err := effectiveAt(asked, now)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE emergency.pdaau_versions
		SET state = 'published', published_by = $2, published_at = now(), effective_at = $3 WHERE id = $1`, id, by, effective); err != nil {
		return err
	}
	return announce(ctx, tx, id, effective, now)
}

// dbNow is the transaction's time, the clock every date of the workflow is read against.
func dbNow(ctx context.Context, tx pgx.Tx) (time.Time, error) {
	var now time.Time
	err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now)
	return now, err
}

// announce follows a publication: it queues the operators' notifications, signals the
// service, and activates the version if its date has come.
func announce(ctx context.Context, tx pgx.Tx, id int64, effective, now time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO emergency.tnaau_notifications (operator_id, version_id)
		SELECT o.id, v.id FROM emergency.operators o, emergency.pdaau_versions v
		WHERE v.id = $1 AND o.tnaau_webhook IS NOT NULL AND (v.departement = ANY(o.tnaau_departements) OR '*' = ANY(o.tnaau_departements))
		ON CONFLICT DO NOTHING`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, strconv.FormatInt(id, 10)); err != nil {
		return err
	}
	if !effective.After(now) {
		_, err := activateDue(ctx, tx)
		return err
	}
	return nil
}

// effectiveAt is when a version published at now with the effective date asked takes
// effect. The zero time is "now": the moment of publication, whenever the person chose it,
// so that publishing now always works however long the page stayed open. A date is chosen
// to the minute, so the minute under way is now too; an earlier date is refused (ErrPast).
func effectiveAt(asked, now time.Time) (time.Time, error) {
	switch {
	case asked.IsZero():
		return now, nil
	case asked.Before(now.Truncate(time.Minute)):
		return asked, fmt.Errorf("pdaau: effective %s, before %s: %w", asked.Format(time.RFC3339), now.Format(time.RFC3339), ErrPast)
	case asked.Before(now):
		return now, nil
	}
	return asked, nil
}

// NotifyChannel is signalled when a version is published, so that the service delivers
// notifications and schedules the activation at once.
const NotifyChannel = "socle_emergency_pdaau"

// ActivateDue activates every published version whose effective date has come, in date
// order: each replaces its département's rows in the router's table and gets the next
// TNAAU version. It returns the versions activated.
func (s *Store) ActivateDue(ctx context.Context) ([]int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pdaau: activate: %w", err)
	}
	defer tx.Rollback(ctx)
	ids, err := activateDue(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("pdaau: activate: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("pdaau: activate: %w", err)
	}
	return ids, nil
}

// NextDue is when the next published version takes effect, if one is waiting.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(effective_at) FROM emergency.pdaau_versions
		WHERE state = 'published' AND active_seq IS NULL`).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, false, err
	}
	return *t, true, nil
}

func activateDue(ctx context.Context, tx pgx.Tx) ([]int64, error) {
	// One activation at a time, whoever runs it (the service's scheduler, a publication,
	// socle apply): TNAAU versions are handed out in effective-date order.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('pdaau:activate'))`); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT id, departement FROM emergency.pdaau_versions
		WHERE state = 'published' AND active_seq IS NULL AND effective_at <= now() ORDER BY effective_at, id`)
	type due struct {
		id  int64
		dep string
	}
	var ds []due
	var d due
	if _, err := pgx.ForEachRow(rows, []any{&d.id, &d.dep}, func() error { ds = append(ds, d); return nil }); err != nil {
		return nil, err
	}
	var ids []int64
	for _, d := range ds {
		if _, err := tx.Exec(ctx, `UPDATE emergency.pdaau_versions SET active_seq = nextval('emergency.tnaau_seq'), activated_at = now()
			WHERE id = $1`, d.id); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM emergency.pdaau WHERE departement = $1`, d.dep); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO emergency.pdaau (insee, number, routing_number)
			SELECT insee, number, routing_number FROM emergency.pdaau_version_rows WHERE version_id = $1`, d.id); err != nil {
			return nil, fmt.Errorf("version %d: %w", d.id, err)
		}
		ids = append(ids, d.id)
	}
	if len(ids) > 0 {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, schema.DirectoryChannel); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// revalidate checks a stored version's rows against today's communes and PSAPs, and, if
// change, that they change something against the version in effect.
func revalidate(ctx context.Context, tx pgx.Tx, dep string, id int64, change bool) (Problems, error) {
	rows, err := rowsOf(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	ref, err := LoadReference(ctx, tx)
	if err != nil {
		return nil, err
	}
	if ps := Validate(dep, rows, ref); len(ps) > 0 || !change {
		return ps, nil
	}
	return unchanged(ctx, tx, dep, rows)
}

func checkState(ctx context.Context, tx pgx.Tx, id int64, want State) error {
	var st State
	err := tx.QueryRow(ctx, `SELECT state FROM emergency.pdaau_versions WHERE id = $1 FOR UPDATE`, id).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pdaau: version %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("pdaau: %w", err)
	}
	if st != want {
		return fmt.Errorf("pdaau: version %d is %s, not %s: %w", id, st, want, ErrState)
	}
	return nil
}

// insertDraft makes a draft, without rows, based on the version in effect. The index
// oneOpen refuses it if the département has an open version.
func insertDraft(ctx context.Context, tx pgx.Tx, dep, source, by string) (int64, error) {
	based, err := activeID(ctx, tx, dep)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO emergency.pdaau_versions (departement, state, source, based_on, created_by, editors)
		VALUES ($1, 'draft', $2, $3, $4, ARRAY[$4]) RETURNING id`, dep, source, based, by).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("pdaau: %w", err)
	}
	return id, nil
}

// insertPublished makes a version, without rows, approved and published by by at once, to
// take effect at effective (a rollback, socle apply); the caller announces it.
func insertPublished(ctx context.Context, tx pgx.Tx, dep, source, by string, restored *int64, effective time.Time) (int64, error) {
	based, err := activeID(ctx, tx, dep)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO emergency.pdaau_versions (departement, state, source, based_on, restored_from, created_by, editors,
			approved_by, approved_at, published_by, published_at, effective_at)
		VALUES ($1, 'published', $2, $3, $4, $5, ARRAY[$5], $5, now(), $5, now(), $6) RETURNING id`,
		dep, source, based, restored, by, effective).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("pdaau: %w", err)
	}
	return id, nil
}

func insertRows(ctx context.Context, tx pgx.Tx, id int64, rows []Row) error {
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"emergency", "pdaau_version_rows"}, []string{"version_id", "insee", "number", "routing_number"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(rows) {
				return nil, nil
			}
			r := rows[i]
			i++
			return []any{id, r.INSEE, r.Number, r.RoutingNumber}, nil
		}))
	if err != nil {
		return fmt.Errorf("pdaau: rows of version %d: %w", id, err)
	}
	return nil
}

// activeID is the version in effect for dep, nil if none.
func activeID(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, dep string) (*int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM emergency.pdaau_versions WHERE departement = $1 AND active_seq IS NOT NULL
		ORDER BY active_seq DESC LIMIT 1`, dep).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pdaau: %w", err)
	}
	return &id, nil
}

func rowsOf(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, id int64) ([]Row, error) {
	rows, _ := q.Query(ctx, `SELECT insee, number, routing_number, 0 FROM emergency.pdaau_version_rows
		WHERE version_id = $1 ORDER BY insee, length(number), number`, id)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Row])
	if err != nil {
		return nil, fmt.Errorf("pdaau: rows of version %d: %w", id, err)
	}
	return out, nil
}
