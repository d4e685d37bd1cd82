package acceptance

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store keeps the campaigns (emergency.acceptance_*: this package is their one owner).
type Store struct {
	Pool *pgxpool.Pool
}

// Errors the pages word.
var (
	ErrNotFound     = errors.New("acceptance: not found")
	ErrRunning      = errors.New("acceptance: a campaign is already running for this operator")
	ErrNotRunning   = errors.New("acceptance: the campaign is finished")
	ErrUnacceptable = errors.New("acceptance: the certificate failed its checks")
)

// Registered is a registered certificate with its report.
type Registered struct {
	OperatorID   string
	PEM          string
	Report       CertReport
	SignedHere   bool
	RegisteredBy string
	RegisteredAt time.Time
}

// Register records a checked certificate of an operator; registering it again updates its
// report.
func (s *Store) Register(ctx context.Context, operator string, c *x509.Certificate, rep CertReport, signedHere bool, by string) error {
	checks, _ := json.Marshal(rep.Checks)
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO emergency.acceptance_certs (fingerprint, operator_id, pem, subject, key, not_before, not_after, networks,
			checks, acceptable, signed_here, registered_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (fingerprint) DO UPDATE SET checks = excluded.checks, acceptable = excluded.acceptable,
			registered_by = excluded.registered_by, registered_at = now()`,
		rep.Fingerprint, operator, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})), rep.Subject, rep.Key,
		rep.NotBefore, rep.NotAfter, rep.Networks, checks, rep.Acceptable(), signedHere, by)
	if err != nil {
		return fmt.Errorf("acceptance: register certificate: %w", err)
	}
	return nil
}

const certColumns = `operator_id, pem, fingerprint, subject, key, not_before, not_after, networks, checks, signed_here, registered_by, registered_at`

func scanCert(row pgx.Row) (Registered, error) {
	var r Registered
	var checks []byte
	err := row.Scan(&r.OperatorID, &r.PEM, &r.Report.Fingerprint, &r.Report.Subject, &r.Report.Key, &r.Report.NotBefore,
		&r.Report.NotAfter, &r.Report.Networks, &checks, &r.SignedHere, &r.RegisteredBy, &r.RegisteredAt)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(checks, &r.Report.Checks); err != nil {
		return r, fmt.Errorf("acceptance: certificate checks: %w", err)
	}
	return r, nil
}

// Certificates lists an operator's registered certificates, the newest first; all
// operators' when operator is "".
func (s *Store) Certificates(ctx context.Context, operator string) ([]Registered, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT `+certColumns+` FROM emergency.acceptance_certs
		WHERE $1 = '' OR operator_id = $1 ORDER BY registered_at DESC`, operator)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Registered, error) { return scanCert(row) })
	if err != nil {
		return nil, fmt.Errorf("acceptance: certificates: %w", err)
	}
	return out, nil
}

// Acceptable maps the fingerprints of acceptable registered certificates to their operators:
// in acceptance mode, these may push.
func (s *Store) Acceptable(ctx context.Context) (map[string]string, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT fingerprint, operator_id FROM emergency.acceptance_certs WHERE acceptable`)
	out := map[string]string{}
	var fp, op string
	_, err := pgx.ForEachRow(rows, []any{&fp, &op}, func() error { out[fp] = op; return nil })
	if err != nil {
		return nil, fmt.Errorf("acceptance: certificates: %w", err)
	}
	return out, nil
}

// Endpoint is the operator's test location server and numbers.
type Endpoint struct {
	OperatorID                         string
	HELDURL                            string
	MobileNumber, FixedNumber, Unknown string
}

// SetEndpoint records the operator's test location server.
func (s *Store) SetEndpoint(ctx context.Context, e Endpoint, by string) error {
	_, err := s.Pool.Exec(ctx, `
		INSERT INTO emergency.acceptance_endpoints (operator_id, held_url, mobile_number, fixed_number, unknown_number, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (operator_id) DO UPDATE SET held_url = excluded.held_url, mobile_number = excluded.mobile_number,
			fixed_number = excluded.fixed_number, unknown_number = excluded.unknown_number,
			updated_by = excluded.updated_by, updated_at = now()`,
		e.OperatorID, e.HELDURL, e.MobileNumber, e.FixedNumber, e.Unknown, by)
	if err != nil {
		return fmt.Errorf("acceptance: endpoint: %w", err)
	}
	return nil
}

// Endpoint returns the operator's test location server, if registered.
func (s *Store) Endpoint(ctx context.Context, operator string) (Endpoint, bool, error) {
	e := Endpoint{OperatorID: operator}
	err := s.Pool.QueryRow(ctx, `SELECT held_url, mobile_number, fixed_number, unknown_number FROM emergency.acceptance_endpoints
		WHERE operator_id = $1`, operator).Scan(&e.HELDURL, &e.MobileNumber, &e.FixedNumber, &e.Unknown)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("acceptance: endpoint: %w", err)
	}
	return e, true, nil
}

// Campaign is a campaign and its cases' verdicts, in the catalogue's order.
type Campaign struct {
	ID          int64      `json:"id"`
	OperatorID  string     `json:"operator"`
	Fingerprint string     `json:"certificate_fingerprint"`
	StartedBy   string     `json:"started_by"`
	StartedAt   time.Time  `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	Passed      *bool      `json:"passed,omitempty"`
	Results     []Result   `json:"cases"`
}

// Result is a case's verdict and the exchange that decided it.
type Result struct {
	Verdict
	Exchange  string    `json:"exchange,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Running says whether the campaign still takes verdicts.
func (c Campaign) Running() bool { return c.FinishedAt == nil }

// Start opens a campaign for operator with a registered, acceptable certificate: every case
// waiting. One runs at a time per operator (ErrRunning).
func (s *Store) Start(ctx context.Context, operator, fingerprint, by string) (int64, error) {
	var id int64
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT acceptable FROM emergency.acceptance_certs WHERE fingerprint = $1 AND operator_id = $2`,
			fingerprint, operator).Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if !ok {
			return ErrUnacceptable
		}
		err = tx.QueryRow(ctx, `INSERT INTO emergency.acceptance_campaigns (operator_id, fingerprint, started_by) VALUES ($1, $2, $3)
			RETURNING id`, operator, fingerprint, by).Scan(&id)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return ErrRunning
		} else if err != nil {
			return err
		}
		ids := make([]string, len(Cases))
		for i, c := range Cases {
			ids[i] = c.ID
		}
		_, err = tx.Exec(ctx, `INSERT INTO emergency.acceptance_results (campaign_id, case_id, state)
			SELECT $1, c, 'waiting' FROM unnest($2::text[]) AS c`, id, ids)
		return err
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrRunning) || errors.Is(err, ErrUnacceptable) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("acceptance: start campaign: %w", err)
	}
	return id, nil
}

// Running returns the operator's running campaign, if any.
func (s *Store) Running(ctx context.Context, operator string) (int64, bool, error) {
	var id int64
	err := s.Pool.QueryRow(ctx, `SELECT id FROM emergency.acceptance_campaigns WHERE operator_id = $1 AND finished_at IS NULL`, operator).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("acceptance: running campaign: %w", err)
	}
	return id, true, nil
}

// Record sets a case's verdict in a running campaign. A case that passed stays passed: a
// later message of the same kind (a retry) does not undo it; a failed case passes when a
// later message passes (the operator corrected it).
func (s *Store) Record(ctx context.Context, campaign int64, v Verdict, exchange string, at time.Time) error {
	tag, err := s.Pool.Exec(ctx, `
		UPDATE emergency.acceptance_results r SET state = $3, reason = $4, exchange = $5, updated_at = $6
		FROM emergency.acceptance_campaigns c
		WHERE r.campaign_id = $1 AND r.case_id = $2 AND c.id = r.campaign_id AND c.finished_at IS NULL AND r.state <> 'passed'`,
		campaign, v.Case, v.State, v.Reason, exchange, at)
	if err != nil {
		return fmt.Errorf("acceptance: record %s: %w", v.Case, err)
	}
	_ = tag
	return nil
}

// Finish ends a running campaign: it passed if every case did.
func (s *Store) Finish(ctx context.Context, campaign int64, at time.Time) error {
	tag, err := s.Pool.Exec(ctx, `
		UPDATE emergency.acceptance_campaigns SET finished_at = $2,
			passed = NOT EXISTS (SELECT 1 FROM emergency.acceptance_results WHERE campaign_id = $1 AND state <> 'passed')
		WHERE id = $1 AND finished_at IS NULL`, campaign, at)
	if err != nil {
		return fmt.Errorf("acceptance: finish campaign: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotRunning
	}
	return nil
}

// Campaign reads a campaign with its results.
func (s *Store) Campaign(ctx context.Context, id int64) (Campaign, error) {
	c := Campaign{ID: id}
	err := s.Pool.QueryRow(ctx, `SELECT operator_id, fingerprint, started_by, started_at, finished_at, passed
		FROM emergency.acceptance_campaigns WHERE id = $1`, id).Scan(&c.OperatorID, &c.Fingerprint, &c.StartedBy, &c.StartedAt, &c.FinishedAt, &c.Passed)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("acceptance: campaign: %w", err)
	}
	rows, _ := s.Pool.Query(ctx, `SELECT case_id, state, reason, exchange, updated_at FROM emergency.acceptance_results WHERE campaign_id = $1`, id)
	byCase := map[string]Result{}
	var r Result
	if _, err := pgx.ForEachRow(rows, []any{&r.Case, &r.State, &r.Reason, &r.Exchange, &r.UpdatedAt}, func() error {
		byCase[r.Case] = r
		return nil
	}); err != nil {
		return c, fmt.Errorf("acceptance: campaign: %w", err)
	}
	for _, k := range Cases {
		if r, ok := byCase[k.ID]; ok {
			c.Results = append(c.Results, r)
		}
	}
	return c, nil
}

// Campaigns lists campaigns, the newest first: an operator's, or every operator's.
func (s *Store) Campaigns(ctx context.Context, operator string) ([]Campaign, error) {
	rows, _ := s.Pool.Query(ctx, `SELECT id, operator_id, fingerprint, started_by, started_at, finished_at, passed
		FROM emergency.acceptance_campaigns WHERE $1 = '' OR operator_id = $1 ORDER BY started_at DESC, id DESC`, operator)
	var out []Campaign
	var c Campaign
	_, err := pgx.ForEachRow(rows, []any{&c.ID, &c.OperatorID, &c.Fingerprint, &c.StartedBy, &c.StartedAt, &c.FinishedAt, &c.Passed}, func() error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acceptance: campaigns: %w", err)
	}
	return out, nil
}
