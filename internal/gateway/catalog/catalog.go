// Package catalog is the gateway's catalogue: the APIs, plans, JWT issuers, consumers,
// subscriptions, keys, certificates and token bindings of the tables of migration 0001. It is
// the one package that reads and writes them. Each replica serves from an immutable Catalog
// loaded whole in one transaction, and loads a new one when the tables change (the channel
// gateway_catalog, notified by the tables' triggers): a request sees one catalogue, never a
// mix of two.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/spec"
)

// Channel is notified by every change to the catalogue's tables.
const Channel = "gateway_catalog"

// Sources of an entry: the file of `socle apply`, or the portal. Apply replaces what came from
// a file and leaves the portal's entries alone.
const (
	FromFile   = "file"
	FromPortal = "portal"
)

// Subscription statuses.
const (
	Pending  = "pending"
	Approved = "approved"
	Refused  = "refused"
)

// Catalog is one consistent view of the catalogue. It is never modified once loaded.
type Catalog struct {
	APIs      map[string]*API
	Plans     map[string]*Plan
	Issuers   map[string]*Issuer
	Consumers map[string]*Consumer
	keys      map[string]*Key    // by id
	certs     map[string]string  // fingerprint → consumer
	bindings  map[binding]string // (issuer, subject) → consumer
	LoadedAt  time.Time
}

// API is a published API.
type API struct {
	Spec      spec.API // with its defaults filled in
	Doc       []byte   // its OpenAPI or WSDL text
	Source    string
	Owners    []int64
	UpdatedAt time.Time
	UpdatedBy string
}

// Plan is a plan and its quota.
type Plan struct {
	Name, Description, Source string
	Quota                     spec.Quota
}

// Issuer is a JWT issuer.
type Issuer struct {
	Issuer, JWKS, Audience, Source string
}

// Consumer is an application and what it may call.
type Consumer struct {
	Name, Organisation, Contact, Source string
	Owner                               int64 // 0: none (declared in a file)
	CreatedAt                           time.Time
	Subscriptions                       map[string]*Subscription // by API
	Keys                                []*Key
	Certificates                        []Certificate
	JWT                                 []spec.JWTBinding
}

// Subscription is a consumer's subscription to an API.
type Subscription struct {
	Consumer, API, Plan, Status, Source string
	RequestedAt                         time.Time
	DecidedAt                           *time.Time
	DecidedBy                           string
}

// Key is a consumer's key, without its secret.
type Key struct {
	ID, Consumer, Label, CreatedBy string
	hash                           [sha256.Size]byte
	CreatedAt                      time.Time
	ExpiresAt, RevokedAt           *time.Time
}

// Valid says whether the key may be used at t.
func (k *Key) Valid(t time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || t.Before(*k.ExpiresAt))
}

// Certificate is a client certificate bound to a consumer.
type Certificate struct {
	Fingerprint, Subject, Source string
	NotAfter                     time.Time
}

type binding struct{ issuer, subject string }

// Empty is a catalogue with nothing in it.
func Empty() *Catalog {
	return &Catalog{APIs: map[string]*API{}, Plans: map[string]*Plan{}, Issuers: map[string]*Issuer{},
		Consumers: map[string]*Consumer{}, keys: map[string]*Key{}, certs: map[string]string{}, bindings: map[binding]string{}}
}

// ConsumerOfCertificate names the consumer a client certificate (pki.Fingerprint) is bound to.
func (c *Catalog) ConsumerOfCertificate(fingerprint string) (string, bool) {
	n, ok := c.certs[fingerprint]
	return n, ok
}

// ConsumerOfToken names the consumer a JWT subject of an issuer is bound to.
func (c *Catalog) ConsumerOfToken(issuer, subject string) (string, bool) {
	n, ok := c.bindings[binding{issuer, subject}]
	return n, ok
}

// Querier is what Load reads through: a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Load reads the whole catalogue in one repeatable-read transaction, so that it is one
// consistent state even while `socle apply` or the portal writes.
func Load(ctx context.Context, pool *pgxpool.Pool) (*Catalog, error) {
	var c *Catalog
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		c, err = load(ctx, tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: load: %w", err)
	}
	return c, nil
}

func load(ctx context.Context, q Querier) (*Catalog, error) {
	c := Empty()
	c.LoadedAt = time.Now()
	each := func(sql string, scan func(pgx.Rows) error) error {
		rows, err := q.Query(ctx, sql)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err := each(`SELECT name, spec, doc, source, owners, updated_at, updated_by FROM gateway.apis`, func(r pgx.Rows) error {
		var a API
		var raw []byte
		var name string
		if err := r.Scan(&name, &raw, &a.Doc, &a.Source, &a.Owners, &a.UpdatedAt, &a.UpdatedBy); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &a.Spec); err != nil {
			return fmt.Errorf("api %s: %w", name, err)
		}
		a.Spec.Name = name
		a.Spec = a.Spec.WithDefaults()
		c.APIs[name] = &a
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT name, description, per_second, per_day, source FROM gateway.plans`, func(r pgx.Rows) error {
		var p Plan
		if err := r.Scan(&p.Name, &p.Description, &p.Quota.PerSecond, &p.Quota.PerDay, &p.Source); err != nil {
			return err
		}
		c.Plans[p.Name] = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT issuer, jwks, audience, source FROM gateway.jwt_issuers`, func(r pgx.Rows) error {
		var i Issuer
		if err := r.Scan(&i.Issuer, &i.JWKS, &i.Audience, &i.Source); err != nil {
			return err
		}
		c.Issuers[i.Issuer] = &i
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT name, organisation, contact, coalesce(owner, 0), source, created_at FROM gateway.consumers`, func(r pgx.Rows) error {
		co := Consumer{Subscriptions: map[string]*Subscription{}}
		if err := r.Scan(&co.Name, &co.Organisation, &co.Contact, &co.Owner, &co.Source, &co.CreatedAt); err != nil {
			return err
		}
		c.Consumers[co.Name] = &co
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT consumer, api, plan, status, source, requested_at, decided_at, decided_by FROM gateway.subscriptions`, func(r pgx.Rows) error {
		var s Subscription
		if err := r.Scan(&s.Consumer, &s.API, &s.Plan, &s.Status, &s.Source, &s.RequestedAt, &s.DecidedAt, &s.DecidedBy); err != nil {
			return err
		}
		if co := c.Consumers[s.Consumer]; co != nil {
			co.Subscriptions[s.API] = &s
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT id, consumer, hash, label, created_at, created_by, expires_at, revoked_at FROM gateway.keys ORDER BY created_at`, func(r pgx.Rows) error {
		var k Key
		var hash []byte
		if err := r.Scan(&k.ID, &k.Consumer, &hash, &k.Label, &k.CreatedAt, &k.CreatedBy, &k.ExpiresAt, &k.RevokedAt); err != nil {
			return err
		}
		copy(k.hash[:], hash)
		c.keys[k.ID] = &k
		if co := c.Consumers[k.Consumer]; co != nil {
			co.Keys = append(co.Keys, &k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT fingerprint, consumer, subject, not_after, source FROM gateway.certificates ORDER BY not_after`, func(r pgx.Rows) error {
		var ce Certificate
		var consumer string
		if err := r.Scan(&ce.Fingerprint, &consumer, &ce.Subject, &ce.NotAfter, &ce.Source); err != nil {
			return err
		}
		c.certs[ce.Fingerprint] = consumer
		if co := c.Consumers[consumer]; co != nil {
			co.Certificates = append(co.Certificates, ce)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(`SELECT issuer, subject, consumer FROM gateway.jwt_bindings ORDER BY issuer, subject`, func(r pgx.Rows) error {
		var b spec.JWTBinding
		var consumer string
		if err := r.Scan(&b.Issuer, &b.Subject, &consumer); err != nil {
			return err
		}
		c.bindings[binding{b.Issuer, b.Subject}] = consumer
		if co := c.Consumers[consumer]; co != nil {
			co.JWT = append(co.JWT, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
