package catalog

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/mail"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/spec"
	"socle/internal/platform/pki"
)

// The portal's writes. Each is one statement or one transaction; the tables' triggers notify
// every replica, which loads the new catalogue: what the portal changes applies at once.

// Refusals of the portal's writes, for its pages to word.
var (
	ErrExists    = errors.New("already exists")
	ErrNotFound  = errors.New("not found")
	ErrDecided   = errors.New("already decided")
	ErrBoundElse = errors.New("certificate bound to another consumer")
)

// RegisterConsumer records an application registered in the portal by the account owner.
// Its problems (name, contact) are returned as such, with Where the field's name.
func RegisterConsumer(ctx context.Context, pool *pgxpool.Pool, c spec.Consumer, owner int64) (spec.Problems, error) {
	var ps spec.Problems
	if !spec.ValidName(c.Name) {
		ps = append(ps, spec.Problem{Where: "name", Message: "lower-case letters, digits and hyphens, at most 63"})
	}
	if len(c.Organisation) > 200 {
		ps = append(ps, spec.Problem{Where: "organisation", Message: "at most 200 characters"})
	}
	if a, err := mail.ParseAddress(c.Contact); c.Contact != "" && (err != nil || a.Address != c.Contact) {
		ps = append(ps, spec.Problem{Where: "contact", Message: "an e-mail address, such as api@commune.be"})
	}
	if c.Contact == "" {
		ps = append(ps, spec.Problem{Where: "contact", Message: "required: who to tell about the API's changes"})
	}
	if len(ps) > 0 {
		return ps, nil
	}
	_, err := pool.Exec(ctx, `INSERT INTO gateway.consumers (name, organisation, contact, owner, source) VALUES ($1, $2, $3, $4, 'portal')`,
		c.Name, c.Organisation, c.Contact, owner)
	if isUnique(err) {
		return spec.Problems{{Where: "name", Message: "taken by another application"}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: register consumer: %w", err)
	}
	return nil, nil
}

// RequestSubscription asks for consumer's subscription to api under plan: it is pending until
// the API's owner decides. A refused or pending request is asked again (with the new plan);
// an approved subscription is left alone (ErrExists): changing its plan is the owner's.
func RequestSubscription(ctx context.Context, pool *pgxpool.Pool, consumer, api, plan string) error {
	tag, err := pool.Exec(ctx, `INSERT INTO gateway.subscriptions AS s (consumer, api, plan, status, source)
		VALUES ($1, $2, $3, 'pending', 'portal')
		ON CONFLICT (consumer, api) DO UPDATE SET plan = excluded.plan, status = 'pending', requested_at = now(),
			decided_at = NULL, decided_by = '', source = 'portal'
		WHERE s.status <> 'approved'`, consumer, api, plan)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "23503": // foreign key: no such consumer, API or plan
		return fmt.Errorf("catalog: request subscription: %w: %s", ErrNotFound, pe.ConstraintName)
	case err != nil:
		return fmt.Errorf("catalog: request subscription: %w", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("catalog: request subscription: %w: %s is subscribed to %s", ErrExists, consumer, api)
	}
	return nil
}

// DecideSubscription approves or refuses a pending subscription, recording who and when.
func DecideSubscription(ctx context.Context, pool *pgxpool.Pool, consumer, api string, approve bool, by string) error {
	status := Refused
	if approve {
		status = Approved
	}
	tag, err := pool.Exec(ctx, `UPDATE gateway.subscriptions SET status = $3, decided_at = now(), decided_by = $4
		WHERE consumer = $1 AND api = $2 AND status = 'pending'`, consumer, api, status, by)
	if err != nil {
		return fmt.Errorf("catalog: decide subscription: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("catalog: decide subscription %s/%s: %w", consumer, api, ErrDecided)
	}
	return nil
}

// BindCertificate binds a client certificate to consumer, for the interconnect's mtls. The
// caller has checked that it chains to the platform's client CA.
func BindCertificate(ctx context.Context, pool *pgxpool.Pool, consumer string, cert *x509.Certificate) (Certificate, error) {
	c := Certificate{Fingerprint: pki.Fingerprint(cert), Subject: cert.Subject.String(), Source: FromPortal, NotAfter: cert.NotAfter}
	var owner string
	err := pool.QueryRow(ctx, `INSERT INTO gateway.certificates AS t (fingerprint, consumer, subject, not_after, pem, source)
		VALUES ($1, $2, $3, $4, $5, 'portal')
		ON CONFLICT (fingerprint) DO UPDATE SET subject = t.subject RETURNING consumer`,
		c.Fingerprint, consumer, c.Subject, c.NotAfter, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))).Scan(&owner)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "23503":
		return c, fmt.Errorf("catalog: bind certificate: %w: consumer %s", ErrNotFound, consumer)
	case err != nil:
		return c, fmt.Errorf("catalog: bind certificate: %w", err)
	case owner != consumer:
		return c, fmt.Errorf("catalog: bind certificate: %w (%s)", ErrBoundElse, owner)
	}
	return c, nil
}

// UnbindCertificate removes a certificate of consumer.
func UnbindCertificate(ctx context.Context, pool *pgxpool.Pool, consumer, fingerprint string) error {
	tag, err := pool.Exec(ctx, `DELETE FROM gateway.certificates WHERE consumer = $1 AND fingerprint = $2`, consumer, fingerprint)
	if err != nil {
		return fmt.Errorf("catalog: unbind certificate: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("catalog: unbind certificate %s of %s: %w", fingerprint, consumer, ErrNotFound)
	}
	return nil
}

// SaveAPI writes an API as edited in the portal: checked by CheckAPI (its problems are
// returned, nothing written), then stored with source 'portal' — an API declared in a file
// becomes the portal's, and the next `socle apply` that declares it takes it back. A nil doc
// keeps the stored description document.
func SaveAPI(ctx context.Context, pool *pgxpool.Pool, a spec.API, doc []byte, by string) (spec.Problems, error) {
	if ps := a.CheckAPI(); len(ps) > 0 {
		return ps, nil
	}
	a.OpenAPI, a.WSDL = "", "" // paths of a file: the document itself is stored
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var text *string
	if doc != nil {
		s := string(doc)
		text = &s
	}
	_, err = pool.Exec(ctx, `INSERT INTO gateway.apis AS t (name, spec, doc, source, updated_by) VALUES ($1, $2, coalesce($3, ''), 'portal', $4)
		ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, doc = coalesce($3, t.doc), source = 'portal', updated_at = now(), updated_by = excluded.updated_by`,
		a.Name, raw, text, by)
	if err != nil {
		return nil, fmt.Errorf("catalog: save API %s: %w", a.Name, err)
	}
	return nil, nil
}

// SavePlan creates or changes a plan, as the portal's: a plan of a file becomes the portal's.
func SavePlan(ctx context.Context, pool *pgxpool.Pool, p spec.Plan) (spec.Problems, error) {
	var ps spec.Problems
	if !spec.ValidName(p.Name) {
		ps = append(ps, spec.Problem{Where: "name", Message: "lower-case letters, digits and hyphens, at most 63"})
	}
	if p.Quota.PerSecond < 0 {
		ps = append(ps, spec.Problem{Where: "per_second", Message: "a number of calls, 0 or more (0: no limit)"})
	}
	if p.Quota.PerDay < 0 {
		ps = append(ps, spec.Problem{Where: "per_day", Message: "a number of calls, 0 or more (0: no limit)"})
	}
	if len(ps) > 0 {
		return ps, nil
	}
	_, err := pool.Exec(ctx, `INSERT INTO gateway.plans (name, description, per_second, per_day, source) VALUES ($1, $2, $3, $4, 'portal')
		ON CONFLICT (name) DO UPDATE SET description = excluded.description, per_second = excluded.per_second,
			per_day = excluded.per_day, source = 'portal'`, p.Name, p.Description, p.Quota.PerSecond, p.Quota.PerDay)
	if err != nil {
		return nil, fmt.Errorf("catalog: save plan %s: %w", p.Name, err)
	}
	return nil, nil
}

// OwnedBy says whether account is recorded as an owner of the API.
func (a *API) OwnedBy(account int64) bool { return slices.Contains(a.Owners, account) }

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
