package catalog_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/spec"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func newPool(t *testing.T) *pgxpool.Pool {
	m, err := database.LoadMigrations("gateway", os.DirFS(".."), "migrations")
	if err != nil {
		t.Fatal(err)
	}
	return dbtest.New(t, m)
}

const file = `
gateway:
  apis:
    - name: population
      kind: rest
      upstreams: [https://127.0.0.1:9101/population]
      auth: [key, jwt, mtls]
  plans:
    - name: bronze
      quota: {per_second: 10, per_day: 10000}
  consumers:
    - name: commune-de-namur
      organisation: Ville de Namur
      subscriptions: [{api: population, plan: bronze}]
`

func declared(t *testing.T, text string) catalog.Declared {
	g, docs, ps := spec.ParseFile([]byte(text), func(string) ([]byte, error) { return nil, os.ErrNotExist })
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return catalog.Declared{Gateway: g, Docs: docs}
}

func apply(t *testing.T, pool *pgxpool.Pool, d catalog.Declared) (catalog.Report, spec.Problems) {
	t.Helper()
	var rep catalog.Report
	var ps spec.Problems
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		rep, ps, err = catalog.Apply(context.Background(), tx, d, "test")
		if len(ps) > 0 {
			return pgx.ErrTxClosed // roll back
		}
		return err
	})
	if err != nil && len(ps) == 0 {
		t.Fatal(err)
	}
	return rep, ps
}

func TestApplyingAFileTwiceChangesNothingTheSecondTime(t *testing.T) {
	pool := newPool(t)
	rep, _ := apply(t, pool, declared(t, file))
	if rep.Added["APIs"] != 1 || rep.Added["plans"] != 1 || rep.Added["consumers"] != 1 || rep.Added["subscriptions"] != 1 {
		t.Fatalf("first apply: %s", rep)
	}
	rep, _ = apply(t, pool, declared(t, file))
	if rep.String() != "gateway: nothing changed" {
		t.Fatalf("second apply: %s", rep)
	}
	cat, err := catalog.Load(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	api := cat.APIs["population"]
	sub := cat.Consumers["commune-de-namur"].Subscriptions["population"]
	if api == nil || api.Spec.Timeout != spec.Duration(spec.DefaultTimeout) || sub == nil || sub.Status != catalog.Approved || sub.Plan != "bronze" {
		t.Fatalf("loaded: %+v %+v", api, sub)
	}
}

func TestAFileRemovesWhatItNoLongerDeclaresButLeavesThePortalsEntries(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	if _, err := pool.Exec(ctx, `INSERT INTO gateway.consumers (name, source) VALUES ('appli-du-portail', 'portal')`); err != nil {
		t.Fatal(err)
	}
	rep, _ := apply(t, pool, declared(t, strings.Replace(file, "commune-de-namur", "commune-de-liege", 1)))
	if rep.Added["consumers"] != 1 || rep.Removed["consumers"] != 1 {
		t.Fatalf("%s", rep)
	}
	cat, _ := catalog.Load(ctx, pool)
	if cat.Consumers["commune-de-namur"] != nil || cat.Consumers["appli-du-portail"] == nil {
		t.Fatalf("consumers: %v", cat.Consumers)
	}
}

func TestAPlanStillUsedInThePortalCannotBeDroppedByTheFile(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	pool.Exec(ctx, `INSERT INTO gateway.consumers (name, source) VALUES ('appli', 'portal')`)
	pool.Exec(ctx, `INSERT INTO gateway.subscriptions (consumer, api, plan, status, source) VALUES ('appli', 'population', 'bronze', 'approved', 'portal')`)
	noPlan := strings.Replace(strings.Replace(file, "    - name: bronze\n      quota: {per_second: 10, per_day: 10000}\n", "", 1),
		"  consumers:\n    - name: commune-de-namur\n      organisation: Ville de Namur\n      subscriptions: [{api: population, plan: bronze}]\n", "", 1)
	_, ps := apply(t, pool, declared(t, noPlan))
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "plan bronze is no longer in the file, but consumer appli's subscription to population uses it") {
		t.Fatalf("problems: %v", ps)
	}
	cat, _ := catalog.Load(ctx, pool)
	if cat.Plans["bronze"] == nil || cat.Consumers["commune-de-namur"] == nil {
		t.Fatal("a refused apply changed something")
	}
}

func TestAKeyWorksUntilRevokedAndARotationOverlaps(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	apply(t, pool, declared(t, file))
	old, k, err := catalog.IssueKey(ctx, pool, "commune-de-namur", "batch", "test", "", 0)
	if err != nil || !catalog.LooksLikeKey(old) {
		t.Fatalf("%q %v", old, err)
	}
	var stored []byte
	pool.QueryRow(ctx, `SELECT hash FROM gateway.keys WHERE id = $1`, k.ID).Scan(&stored)
	if strings.Contains(string(stored), old[len(old)-20:]) || len(stored) != 32 {
		t.Fatal("the key's secret is stored; only its SHA-256 may be")
	}
	cat, _ := catalog.Load(ctx, pool)
	now := time.Now()
	if got, err := cat.ConsumerOfKey(old, now); err != nil || got.Consumer != "commune-de-namur" {
		t.Fatalf("the new key: %v %v", got, err)
	}
	forged := old[:len(old)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(old, "A")]
	if _, err := cat.ConsumerOfKey(forged, now); err == nil {
		t.Fatal("a key with a wrong secret is accepted")
	}
	fresh, _, err := catalog.IssueKey(ctx, pool, "commune-de-namur", "batch", "test", k.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cat, _ = catalog.Load(ctx, pool)
	for _, c := range []struct {
		key  string
		at   time.Time
		want bool
	}{{old, now, true}, {fresh, now, true}, {old, now.Add(2 * time.Hour), false}, {fresh, now.Add(2 * time.Hour), true}} {
		if _, err := cat.ConsumerOfKey(c.key, c.at); (err == nil) != c.want {
			t.Errorf("key %s… at +%v: accepted %v, want %v", c.key[:22], c.at.Sub(now).Round(time.Hour), err == nil, c.want)
		}
	}
	if err := catalog.RevokeKey(ctx, pool, "commune-de-namur", k.ID); err != nil {
		t.Fatal(err)
	}
	cat, _ = catalog.Load(ctx, pool)
	if _, err := cat.ConsumerOfKey(old, now); err == nil {
		t.Fatal("a revoked key is accepted")
	}
	if _, _, err := catalog.IssueKey(ctx, pool, "personne", "", "test", "", 0); err == nil || !strings.Contains(err.Error(), `no consumer "personne"`) {
		t.Fatalf("a key for nobody: %v", err)
	}
}
