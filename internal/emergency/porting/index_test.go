package porting_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/porting"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// world is a fresh database with two operators, op-a and op-b, and an index on it.
type world struct {
	t     *testing.T
	url   string
	pool  *pgxpool.Pool
	index *porting.Index
}

func newWorld(t *testing.T) *world {
	t.Helper()
	url := dbtest.NewURL(t, schema.Migrations())
	pool, err := database.Open(context.Background(), url, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, op := range []string{"op-a", "op-b"} {
		if _, err := pool.Exec(context.Background(), `INSERT INTO emergency.operators (id, name, mcc_mnc) VALUES ($1, $1, '{}')`, op); err != nil {
			t.Fatal(err)
		}
	}
	return &world{t: t, url: url, pool: pool, index: porting.NewIndex(pool, slog.New(slog.DiscardHandler))}
}

// replace uploads a full file for op and reloads what it changed, as the HTTP handler does.
func (w *world) replace(op string, numbers ...string) porting.Result {
	w.t.Helper()
	res, err := porting.Replace(context.Background(), w.pool, op, numbers)
	if err != nil {
		w.t.Fatal(err)
	}
	w.reload(res)
	return res
}

// delta uploads a delta for op and reloads what it changed.
func (w *world) delta(op string, changes ...porting.Change) porting.Result {
	w.t.Helper()
	res, err := porting.ApplyDelta(context.Background(), w.pool, op, changes)
	if err != nil {
		w.t.Fatal(err)
	}
	w.reload(res)
	return res
}

func (w *world) reload(res porting.Result) {
	w.t.Helper()
	for op, v := range res.Changed {
		if err := w.index.Reload(context.Background(), op, v); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) load() {
	w.t.Helper()
	if err := w.index.Load(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

// expect checks what the index answers for each number: an operator, or "" for not found.
func (w *world) expect(want map[string]string) {
	w.t.Helper()
	for number, op := range want {
		got, ok := w.index.Lookup(number)
		if got != op || ok != (op != "") {
			w.t.Errorf("Lookup(%q) = %q, %v; want %q", number, got, ok, op)
		}
	}
}

func (w *world) version(op string) int64 {
	w.t.Helper()
	var v int64
	if err := w.pool.QueryRow(context.Background(), `SELECT coalesce((SELECT version FROM emergency.porting_versions WHERE operator_id = $1), 0)`, op).Scan(&v); err != nil {
		w.t.Fatal(err)
	}
	return v
}

func TestADeclaredNumberIsFoundForItsOperatorAfterLoad(t *testing.T) {
	w := newWorld(t)
	if _, err := porting.Replace(context.Background(), w.pool, "op-a", []string{"33612345678", "33700000001"}); err != nil {
		t.Fatal(err)
	}
	w.expect(map[string]string{"33612345678": ""}) // nothing held before Load
	w.load()
	w.expect(map[string]string{
		"33612345678":             "op-a",
		"33700000001":             "op-a",
		"33612345679":             "", // unknown
		"":                        "",
		"+33612345678":            "", // digits only, no '+'
		"3361234567x":             "",
		"33 612345678":            "",
		"033612345678":            "", // not E.164: 0033… is not 33…
		"3361234567800000":        "", // 16 digits
		"99999999999999999999999": "", // would overflow
	})
	if n := w.index.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestAFullFileReplacesTheSetAndADeltaAddsAndRemoves(t *testing.T) {
	w := newWorld(t)
	w.load()
	w.replace("op-a", "33600000001", "33600000002", "33600000003")
	w.expect(map[string]string{"33600000001": "op-a", "33600000002": "op-a", "33600000003": "op-a"})

	w.replace("op-a", "33600000002", "33600000004")
	w.expect(map[string]string{"33600000001": "", "33600000002": "op-a", "33600000003": "", "33600000004": "op-a"})

	w.delta("op-a", porting.Change{Add: true, Number: "33600000005"}, porting.Change{Number: "33600000002"})
	w.expect(map[string]string{"33600000002": "", "33600000004": "op-a", "33600000005": "op-a"})
	if n := w.index.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}

	// An operator that declares no numbers any more is dropped.
	w.replace("op-a")
	w.expect(map[string]string{"33600000004": "", "33600000005": ""})
	if n := w.index.Len(); n != 0 {
		t.Errorf("Len = %d, want 0", n)
	}
}

func TestAnUploadThatChangesNothingMovesNoVersion(t *testing.T) {
	w := newWorld(t)
	if res := w.replace("op-a", "33600000001"); len(res.Changed) != 1 || res.Changed["op-a"] != 1 {
		t.Fatalf("first upload: Changed = %v, want op-a at version 1", res.Changed)
	}
	if res := w.replace("op-a", "33600000001"); len(res.Changed) != 0 {
		t.Fatalf("same file again: Changed = %v, want nothing", res.Changed)
	}
	if res := w.delta("op-a", porting.Change{Number: "33699999999"}); len(res.Changed) != 0 {
		t.Fatalf("removing a number not held: Changed = %v, want nothing", res.Changed)
	}
	if v := w.version("op-a"); v != 1 {
		t.Fatalf("version = %d, want 1", v)
	}
}

func TestATakeoverMovesTheNumberAndTheLosersVersionToo(t *testing.T) {
	w := newWorld(t)
	w.load()
	w.replace("op-a", "33600000001", "33600000002", "33600000003")

	// By a delta: op-b takes one of op-a's numbers.
	res := w.delta("op-b", porting.Change{Add: true, Number: "33600000001"})
	if want := map[string]int64{"op-a": 2, "op-b": 1}; !equal(res.Changed, want) {
		t.Fatalf("Changed = %v, want %v", res.Changed, want)
	}
	w.expect(map[string]string{"33600000001": "op-b", "33600000002": "op-a", "33600000003": "op-a"})

	// By a full file: op-b's file now holds another of op-a's numbers.
	res = w.replace("op-b", "33600000001", "33600000002")
	if want := map[string]int64{"op-a": 3, "op-b": 2}; !equal(res.Changed, want) {
		t.Fatalf("Changed = %v, want %v", res.Changed, want)
	}
	w.expect(map[string]string{"33600000001": "op-b", "33600000002": "op-b", "33600000003": "op-a"})
	if v := w.version("op-a"); v != 3 {
		t.Fatalf("op-a's version = %d, want 3", v)
	}
	if n := w.index.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
}

func TestReloadWithAVersionAlreadyHeldIsANoOp(t *testing.T) {
	w := newWorld(t)
	w.replace("op-a", "33600000001") // version 1
	w.load()
	// A change behind the versions' back shows whether Reload reads the database.
	if _, err := w.pool.Exec(context.Background(), `INSERT INTO emergency.ported_numbers (number, operator_id) VALUES ('33600000002', 'op-a')`); err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{0, 1} {
		if err := w.index.Reload(context.Background(), "op-a", v); err != nil {
			t.Fatal(err)
		}
		w.expect(map[string]string{"33600000001": "op-a", "33600000002": ""})
	}
	if err := w.index.Reload(context.Background(), "op-a", 2); err != nil {
		t.Fatal(err)
	}
	w.expect(map[string]string{"33600000001": "op-a", "33600000002": "op-a"})
}

func TestLoadDropsWhatTheDatabaseNoLongerHolds(t *testing.T) {
	w := newWorld(t)
	w.replace("op-a", "33600000001")
	w.replace("op-b", "33600000002")
	w.load()
	if _, err := w.pool.Exec(context.Background(), `DELETE FROM emergency.operators WHERE id = 'op-a'`); err != nil {
		t.Fatal(err)
	}
	w.load()
	w.expect(map[string]string{"33600000001": "", "33600000002": "op-b"})
}

func TestWatchFollowsUploadsMadeByAnotherNode(t *testing.T) {
	w := newWorld(t)
	w.replace("op-a", "33600000001", "33600000002") // before Watch: its first Load finds them

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.index.Watch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	other, err := database.Open(context.Background(), w.url, 0) // another node's pool
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	eventually(t, w.index, map[string]string{"33600000001": "op-a", "33600000002": "op-a"})

	if _, err := porting.ApplyDelta(context.Background(), other, "op-b", []porting.Change{
		{Add: true, Number: "33600000002"}, {Add: true, Number: "33600000003"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, w.index, map[string]string{"33600000001": "op-a", "33600000002": "op-b", "33600000003": "op-b"})

	if _, err := porting.Replace(context.Background(), other, "op-a", nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, w.index, map[string]string{"33600000001": "", "33600000002": "op-b", "33600000003": "op-b"})

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after its context ended")
	}
}

// eventually waits, a few seconds at most, until the index answers want.
func eventually(t *testing.T, x *porting.Index, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wrong := ""
		for number, op := range want {
			if got, _ := x.Lookup(number); got != op {
				wrong = number + " → " + got + ", want " + op
			}
		}
		if wrong == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not in step after 10 s: %s", wrong)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLookupsDuringReloadsSeeOneSetOrTheOther(t *testing.T) {
	w := newWorld(t)
	w.replace("op-a", "33600000001", "33600000002")
	w.load()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if op, ok := w.index.Lookup("33600000001"); !ok || op != "op-a" {
					t.Errorf("kept number: Lookup = %q, %v", op, ok)
					return
				}
				if op, ok := w.index.Lookup("33600000002"); ok && op != "op-a" {
					t.Errorf("moving number: Lookup = %q", op)
					return
				}
			}
		})
	}
	for i := range 20 {
		if i%2 == 0 {
			w.replace("op-a", "33600000001")
		} else {
			w.replace("op-a", "33600000001", "33600000002")
		}
	}
	cancel()
	wg.Wait()
}

func TestLookupDoesNotAllocate(t *testing.T) {
	x := porting.FromSets(map[string][]uint64{"op-a": {33600000002, 33600000001}, "op-b": {33700000001}})
	for _, number := range []string{"33600000001", "33700000001", "33799999999", "x", "", "033600000001"} {
		if n := testing.AllocsPerRun(100, func() { x.Lookup(number) }); n != 0 {
			t.Errorf("Lookup(%q): %v allocations", number, n)
		}
	}
	if op, _ := x.Lookup("33600000002"); op != "op-a" {
		t.Errorf("FromSets: Lookup = %q, want op-a (sets are sorted)", op)
	}
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
