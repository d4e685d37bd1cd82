package catalog

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"socle/internal/gateway/spec"
	"socle/internal/platform/pki"
)

// Declared is the gateway section of a file, read and checked, ready to apply: its
// description documents by API and its consumers' certificates, read from the files it names.
type Declared struct {
	Gateway      *spec.Gateway
	Docs         spec.Docs
	Certificates map[string][]*x509.Certificate // by consumer
}

// Report counts what an apply changed, by kind of entry.
type Report struct {
	Added, Changed, Removed map[string]int
	Notes                   []string // what the applier should know: an entry taken over from the portal...
}

func (r Report) String() string {
	var parts []string
	for _, k := range []string{"APIs", "plans", "issuers", "consumers", "subscriptions", "certificates", "token bindings"} {
		if a, c, d := r.Added[k], r.Changed[k], r.Removed[k]; a+c+d > 0 {
			parts = append(parts, fmt.Sprintf("%s +%d ~%d -%d", k, a, c, d))
		}
	}
	if len(parts) == 0 {
		return "gateway: nothing changed"
	}
	s := "gateway: " + strings.Join(parts, ", ")
	for _, n := range r.Notes {
		s += "\n  " + n
	}
	return s
}

// Apply makes the catalogue's file entries what d declares, in tx: entries from the file are
// added, changed, or removed when the file no longer has them; entries made in the portal are
// left alone, except one the file now declares, which the file takes over. Problems only the
// database can see (a plan still used by a portal subscription) are returned as such, and
// the caller rolls back.
func Apply(ctx context.Context, tx pgx.Tx, d Declared, by string) (Report, spec.Problems, error) {
	r := Report{Added: map[string]int{}, Changed: map[string]int{}, Removed: map[string]int{}}
	var problems spec.Problems
	if _, err := tx.Exec(ctx, `LOCK TABLE gateway.apis, gateway.plans, gateway.jwt_issuers, gateway.consumers,
		gateway.subscriptions, gateway.certificates, gateway.jwt_bindings IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return r, nil, err
	}
	g := d.Gateway
	// upsert writes one entry; it returns whether it was added, changed, or neither.
	upsert := func(kind, sql string, args ...any) error {
		var inserted bool
		err := tx.QueryRow(ctx, sql, args...).Scan(&inserted)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("%s: %w", kind, err)
		case inserted:
			r.Added[kind]++
		default:
			r.Changed[kind]++
		}
		return nil
	}
	// prune removes the file's entries of a table that the file no longer declares.
	prune := func(kind, table, column string, keep []string) error {
		tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM gateway.%s WHERE source = 'file' AND NOT (%s = ANY($1))`, table, column), keep)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		r.Removed[kind] += int(tag.RowsAffected())
		return nil
	}
	takeOver := func(table, column, name, what string) error {
		var portal bool
		err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT source = 'portal' FROM gateway.%s WHERE %s = $1`, table, column), name).Scan(&portal)
		if err == nil && portal {
			r.Notes = append(r.Notes, fmt.Sprintf("%s %s was made in the portal: the file now declares it", what, name))
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	}

	names := []string{} // never nil: pgx sends a nil slice as NULL, and x = ANY(NULL) is never false
	for _, a := range g.APIs {
		if err := takeOver("apis", "name", a.Name, "API"); err != nil {
			return r, nil, err
		}
		raw, err := json.Marshal(a)
		if err != nil {
			return r, nil, err
		}
		if err := upsert("APIs", `INSERT INTO gateway.apis AS t (name, spec, doc, source, updated_by) VALUES ($1, $2, $3, 'file', $4)
			ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, doc = excluded.doc, source = 'file', updated_at = now(), updated_by = excluded.updated_by
			WHERE t.spec IS DISTINCT FROM excluded.spec OR t.doc IS DISTINCT FROM excluded.doc OR t.source <> 'file'
			RETURNING xmax = 0`, a.Name, raw, string(d.Docs[a.Name]), by); err != nil {
			return r, nil, err
		}
		names = append(names, a.Name)
	}
	if err := prune("APIs", "apis", "name", names); err != nil {
		return r, nil, err
	}

	names = []string{}
	for _, p := range g.Plans {
		if err := takeOver("plans", "name", p.Name, "plan"); err != nil {
			return r, nil, err
		}
		if err := upsert("plans", `INSERT INTO gateway.plans AS t (name, description, per_second, per_day, source) VALUES ($1, $2, $3, $4, 'file')
			ON CONFLICT (name) DO UPDATE SET description = excluded.description, per_second = excluded.per_second, per_day = excluded.per_day, source = 'file'
			WHERE (t.description, t.per_second, t.per_day, t.source) IS DISTINCT FROM (excluded.description, excluded.per_second, excluded.per_day, 'file')
			RETURNING xmax = 0`, p.Name, p.Description, p.Quota.PerSecond, p.Quota.PerDay); err != nil {
			return r, nil, err
		}
		names = append(names, p.Name)
	}
	// A plan the file drops may still be used by a portal subscription: say which. (The
	// file's own subscriptions name only the file's plans: spec.Check saw to it.)
	rows, err := tx.Query(ctx, `SELECT s.plan, s.consumer, s.api FROM gateway.subscriptions s JOIN gateway.plans p ON p.name = s.plan
		WHERE p.source = 'file' AND NOT (p.name = ANY($1)) AND s.source <> 'file'`, names)
	if err != nil {
		return r, nil, err
	}
	for rows.Next() {
		var plan, consumer, api string
		if err := rows.Scan(&plan, &consumer, &api); err != nil {
			rows.Close()
			return r, nil, err
		}
		problems = append(problems, spec.Problem{Where: "plans", Message: fmt.Sprintf("plan %s is no longer in the file, but consumer %s's subscription to %s uses it: move that subscription to another plan first", plan, consumer, api)})
	}
	rows.Close()
	if len(problems) > 0 {
		return r, problems, nil
	}

	names = []string{}
	for _, i := range g.Issuers {
		if err := upsert("issuers", `INSERT INTO gateway.jwt_issuers AS t (issuer, jwks, audience, source) VALUES ($1, $2, $3, 'file')
			ON CONFLICT (issuer) DO UPDATE SET jwks = excluded.jwks, audience = excluded.audience, source = 'file'
			WHERE (t.jwks, t.audience, t.source) IS DISTINCT FROM (excluded.jwks, excluded.audience, 'file')
			RETURNING xmax = 0`, i.Issuer, i.JWKS, i.Audience); err != nil {
			return r, nil, err
		}
		names = append(names, i.Issuer)
	}

	consumers := consumerNames(g)
	for _, c := range g.Consumers {
		if err := takeOver("consumers", "name", c.Name, "consumer"); err != nil {
			return r, nil, err
		}
		if err := upsert("consumers", `INSERT INTO gateway.consumers AS t (name, organisation, contact, source) VALUES ($1, $2, $3, 'file')
			ON CONFLICT (name) DO UPDATE SET organisation = excluded.organisation, contact = excluded.contact, source = 'file'
			WHERE (t.organisation, t.contact, t.source) IS DISTINCT FROM (excluded.organisation, excluded.contact, 'file')
			RETURNING xmax = 0`, c.Name, c.Organisation, c.Contact); err != nil {
			return r, nil, err
		}
		apis := []string{}
		for _, s := range c.Subscriptions {
			if err := upsert("subscriptions", `INSERT INTO gateway.subscriptions AS t (consumer, api, plan, status, decided_at, decided_by, source)
				VALUES ($1, $2, $3, 'approved', now(), $4, 'file')
				ON CONFLICT (consumer, api) DO UPDATE SET plan = excluded.plan, status = 'approved', decided_at = now(), decided_by = excluded.decided_by, source = 'file'
				WHERE (t.plan, t.status, t.source) IS DISTINCT FROM (excluded.plan, 'approved', 'file')
				RETURNING xmax = 0`, c.Name, s.API, s.Plan, by); err != nil {
				return r, nil, err
			}
			apis = append(apis, s.API)
		}
		tag, err := tx.Exec(ctx, `DELETE FROM gateway.subscriptions WHERE consumer = $1 AND source = 'file' AND NOT (api = ANY($2))`, c.Name, apis)
		if err != nil {
			return r, nil, err
		}
		r.Removed["subscriptions"] += int(tag.RowsAffected())

		fps := []string{}
		for _, cert := range d.Certificates[c.Name] {
			fp := pki.Fingerprint(cert)
			var owner string
			err := tx.QueryRow(ctx, `SELECT consumer FROM gateway.certificates WHERE fingerprint = $1`, fp).Scan(&owner)
			if err == nil && owner != c.Name {
				problems = append(problems, spec.Problem{Line: c.Line(), Where: "consumers[" + c.Name + "].certificates",
					Message: fmt.Sprintf("certificate %s (%s) is already bound to consumer %s", fp[:16], cert.Subject, owner)})
				continue
			}
			if err := upsert("certificates", `INSERT INTO gateway.certificates AS t (fingerprint, consumer, subject, not_after, pem, source)
				VALUES ($1, $2, $3, $4, $5, 'file')
				ON CONFLICT (fingerprint) DO UPDATE SET source = 'file' WHERE t.source <> 'file'
				RETURNING xmax = 0`, fp, c.Name, cert.Subject.String(), cert.NotAfter, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))); err != nil {
				return r, nil, err
			}
			fps = append(fps, fp)
		}
		tag, err = tx.Exec(ctx, `DELETE FROM gateway.certificates WHERE consumer = $1 AND source = 'file' AND NOT (fingerprint = ANY($2))`, c.Name, fps)
		if err != nil {
			return r, nil, err
		}
		r.Removed["certificates"] += int(tag.RowsAffected())

		issuers, subjects := []string{}, []string{}
		for _, b := range c.JWT {
			var owner string
			err := tx.QueryRow(ctx, `SELECT consumer FROM gateway.jwt_bindings WHERE issuer = $1 AND subject = $2`, b.Issuer, b.Subject).Scan(&owner)
			if err == nil && owner != c.Name {
				problems = append(problems, spec.Problem{Line: c.Line(), Where: "consumers[" + c.Name + "].jwt",
					Message: fmt.Sprintf("subject %s of %s is already bound to consumer %s", b.Subject, b.Issuer, owner)})
				continue
			}
			if err := upsert("token bindings", `INSERT INTO gateway.jwt_bindings AS t (issuer, subject, consumer, source) VALUES ($1, $2, $3, 'file')
				ON CONFLICT (issuer, subject) DO UPDATE SET source = 'file' WHERE t.source <> 'file'
				RETURNING xmax = 0`, b.Issuer, b.Subject, c.Name); err != nil {
				return r, nil, err
			}
			issuers, subjects = append(issuers, b.Issuer), append(subjects, b.Subject)
		}
		tag, err = tx.Exec(ctx, `DELETE FROM gateway.jwt_bindings b WHERE consumer = $1 AND source = 'file'
			AND NOT EXISTS (SELECT FROM unnest($2::text[], $3::text[]) AS k(issuer, subject) WHERE k.issuer = b.issuer AND k.subject = b.subject)`,
			c.Name, issuers, subjects)
		if err != nil {
			return r, nil, err
		}
		r.Removed["token bindings"] += int(tag.RowsAffected())
	}
	if len(problems) > 0 {
		return r, problems, nil
	}
	if err := prune("consumers", "consumers", "name", consumers); err != nil {
		return r, nil, err
	}
	if err := prune("issuers", "jwt_issuers", "issuer", names); err != nil {
		return r, nil, err
	}
	plans := []string{}
	for _, p := range g.Plans {
		plans = append(plans, p.Name)
	}
	if err := prune("plans", "plans", "name", plans); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" {
			return r, spec.Problems{{Where: "plans", Message: "a plan the file no longer has is still used: " + pgErr.Detail}}, nil
		}
		return r, nil, err
	}
	return r, nil, nil
}

func consumerNames(g *spec.Gateway) []string {
	names := make([]string, 0, len(g.Consumers))
	for _, c := range g.Consumers {
		names = append(names, c.Name)
	}
	return names
}
