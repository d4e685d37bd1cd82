package catalog_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/spec"
)

func TestAnApplicationRegisteredInThePortalIsItsOwners(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	ps, err := catalog.RegisterConsumer(ctx, pool, spec.Consumer{Name: "Appli Namur", Contact: "pas une adresse"}, 7)
	if err != nil || len(ps) != 2 || ps[0].Where != "name" || ps[1].Where != "contact" {
		t.Fatalf("a bad name and contact: %v %v", ps, err)
	}
	ps, err = catalog.RegisterConsumer(ctx, pool, spec.Consumer{Name: "appli-namur", Organisation: "Ville de Namur", Contact: "api@namur.be"}, 7)
	if err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	ps, _ = catalog.RegisterConsumer(ctx, pool, spec.Consumer{Name: "commune-de-namur", Contact: "api@namur.be"}, 8)
	if len(ps) != 1 || ps[0].Message != "taken by another application" {
		t.Fatalf("a name taken by the file's consumer: %v", ps)
	}
	cat, _ := catalog.Load(ctx, pool)
	c := cat.Consumers["appli-namur"]
	if c == nil || c.Owner != 7 || c.Source != catalog.FromPortal || c.Organisation != "Ville de Namur" {
		t.Fatalf("%+v", c)
	}
}

func TestASubscriptionWaitsForItsOwnersDecision(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	catalog.RegisterConsumer(ctx, pool, spec.Consumer{Name: "appli", Contact: "a@b.be"}, 7)
	if err := catalog.RequestSubscription(ctx, pool, "appli", "inconnue", "bronze"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("an unknown API: %v", err)
	}
	if err := catalog.RequestSubscription(ctx, pool, "appli", "population", "bronze"); err != nil {
		t.Fatal(err)
	}
	cat, _ := catalog.Load(ctx, pool)
	if s := cat.Consumers["appli"].Subscriptions["population"]; s == nil || s.Status != catalog.Pending {
		t.Fatalf("%+v", s)
	}
	if err := catalog.DecideSubscription(ctx, pool, "appli", "population", false, "owner@test"); err != nil {
		t.Fatal(err)
	}
	if err := catalog.DecideSubscription(ctx, pool, "appli", "population", true, "owner@test"); !errors.Is(err, catalog.ErrDecided) {
		t.Fatalf("deciding twice: %v", err)
	}
	// A refused request may be asked again, and approved then.
	if err := catalog.RequestSubscription(ctx, pool, "appli", "population", "bronze"); err != nil {
		t.Fatal(err)
	}
	if err := catalog.DecideSubscription(ctx, pool, "appli", "population", true, "owner@test"); err != nil {
		t.Fatal(err)
	}
	cat, _ = catalog.Load(ctx, pool)
	s := cat.Consumers["appli"].Subscriptions["population"]
	if s.Status != catalog.Approved || s.DecidedBy != "owner@test" || s.DecidedAt == nil {
		t.Fatalf("%+v", s)
	}
	if err := catalog.RequestSubscription(ctx, pool, "appli", "population", "bronze"); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("asking again for an approved subscription: %v", err)
	}
}

func TestACertificateIsBoundToOneConsumer(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	catalog.RegisterConsumer(ctx, pool, spec.Consumer{Name: "appli", Contact: "a@b.be"}, 7)
	cert := selfSigned(t, "appli.namur.be")
	c, err := catalog.BindCertificate(ctx, pool, "appli", cert)
	if err != nil || c.Subject != "CN=appli.namur.be" || len(c.Fingerprint) != 64 {
		t.Fatal(c, err)
	}
	if _, err := catalog.BindCertificate(ctx, pool, "appli", cert); err != nil {
		t.Fatalf("binding again to the same consumer: %v", err)
	}
	if _, err := catalog.BindCertificate(ctx, pool, "commune-de-namur", cert); !errors.Is(err, catalog.ErrBoundElse) {
		t.Fatalf("binding to another: %v", err)
	}
	cat, _ := catalog.Load(ctx, pool)
	if who, ok := cat.ConsumerOfCertificate(c.Fingerprint); !ok || who != "appli" {
		t.Fatal(who, ok)
	}
	if err := catalog.UnbindCertificate(ctx, pool, "commune-de-namur", c.Fingerprint); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unbinding another's: %v", err)
	}
	if err := catalog.UnbindCertificate(ctx, pool, "appli", c.Fingerprint); err != nil {
		t.Fatal(err)
	}
}

func TestAnAPIEditedInThePortalBecomesThePortals(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	cat, _ := catalog.Load(ctx, pool)
	a := cat.APIs["population"].Spec
	a.Title, a.Upstreams = "Registre de la population", []string{"ftp://nope"}
	ps, err := catalog.SaveAPI(ctx, pool, a, nil, "owner@test")
	if err != nil || len(ps) != 1 || ps[0].Where != ".upstreams[0]" {
		t.Fatalf("a bad upstream: %v %v", ps, err)
	}
	a.Upstreams = []string{"https://127.0.0.1:9101/population", "https://127.0.0.1:9102/population"}
	if ps, err := catalog.SaveAPI(ctx, pool, a, []byte("openapi: 3.1.0\n"), "owner@test"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	a.Description = "sans document"
	if ps, err := catalog.SaveAPI(ctx, pool, a, nil, "owner@test"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	cat, _ = catalog.Load(ctx, pool)
	got := cat.APIs["population"]
	if got.Source != catalog.FromPortal || got.UpdatedBy != "owner@test" || got.Spec.Title != "Registre de la population" ||
		len(got.Spec.Upstreams) != 2 || string(got.Doc) != "openapi: 3.1.0\n" || got.Spec.Description != "sans document" {
		t.Fatalf("%+v", got)
	}
	// The next apply of the file takes it back, and says so.
	rep, _ := apply(t, pool, declared(t, file))
	if rep.Changed["APIs"] != 1 || len(rep.Notes) != 1 {
		t.Fatalf("%s", rep)
	}
}

func TestAPlanSavedInThePortal(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	if ps, _ := catalog.SavePlan(ctx, pool, spec.Plan{Name: "Or", Quota: spec.Quota{PerDay: -1}}); len(ps) != 2 {
		t.Fatalf("%v", ps)
	}
	if ps, err := catalog.SavePlan(ctx, pool, spec.Plan{Name: "or", Description: "gros volumes", Quota: spec.Quota{PerSecond: 50, PerDay: 1e6}}); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if ps, err := catalog.SavePlan(ctx, pool, spec.Plan{Name: "or", Quota: spec.Quota{PerSecond: 100}}); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	cat, _ := catalog.Load(ctx, pool)
	if p := cat.Plans["or"]; p == nil || p.Quota.PerSecond != 100 || p.Quota.PerDay != 0 || p.Source != catalog.FromPortal {
		t.Fatalf("%+v", p)
	}
}

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}
