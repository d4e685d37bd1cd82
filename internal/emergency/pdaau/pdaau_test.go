package pdaau_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// A small world: two communes in the Rhône (69), one in Paris (75), three centres.
var ref = pdaau.Reference{
	Communes: map[string]string{"69123": "Lyon", "69266": "Villeurbanne", "75056": "Paris"},
	PSAPs:    map[string]string{"0400000015": "samu-69", "0400000018": "sdmis-69", "0100000017": "police-75"},
}

// table writes a complete CSV for the Rhône, every number to SDMIS except 15 to the SAMU;
// edit changes it before it is written.
func table(edit func(rows [][3]string) [][3]string) string {
	var rows [][3]string
	for _, c := range []string{"69123", "69266"} {
		for _, n := range pdaau.ShortNumbers {
			r := "0400000018"
			if n == "15" {
				r = "0400000015"
			}
			rows = append(rows, [3]string{c, n, r})
		}
	}
	if edit != nil {
		rows = edit(rows)
	}
	var b strings.Builder
	b.WriteString("insee,number,routing_number\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s\n", r[0], r[1], r[2])
	}
	return b.String()
}

func parse(t *testing.T, csv string) []pdaau.Row {
	t.Helper()
	rows, ps := pdaau.ParseCSV(strings.NewReader(csv))
	if len(ps) > 0 {
		t.Fatalf("parse: %v", ps)
	}
	return rows
}

func TestACompleteTableHasNoProblem(t *testing.T) {
	if ps := pdaau.Validate("69", parse(t, table(nil)), ref); len(ps) > 0 {
		t.Fatal(ps)
	}
}

func TestEveryRuleIsReportedWithItsLine(t *testing.T) {
	csv := table(func(rows [][3]string) [][3]string {
		rows[0][0] = "6912"                    // line 2: malformed code
		rows[1][0] = "69999"                   // line 3: no such commune
		rows[2][0] = "75056"                   // line 4: Paris is not in the Rhône
		rows[3][1] = "113"                     // line 5: not a routed number
		rows[4][2] = "04000000"                // line 6: not 10 digits
		rows[5][2] = "0499999999"              // line 7: no centre has it
		rows[13] = rows[12]                    // line 15: 69266/15 twice (first on line 14)
		return append(rows[:20], rows[21:]...) // 69266/196 left without a route
	})
	got := pdaau.Validate("69", parse(t, csv), ref)
	want := []string{
		"2 insee malformed-insee",
		"3 insee unknown-commune",
		"4 insee other-departement",
		"5 number unknown-number",
		"6 routing_number malformed-routing",
		"7 routing_number unknown-psap",
		"15  duplicate",
		"0  missing-route", // 69123: lines 2, 3, 4 and 5 lost their commune or number
		"0  missing-route",
		"0  missing-route",
		"0  missing-route",
		"0  missing-route", // 69266/17, replaced by the duplicate
		"0  missing-route", // 69266/196
	}
	var have []string
	for _, p := range got {
		have = append(have, fmt.Sprintf("%d %s %s", p.Line, p.Field, p.Code))
	}
	if !slices.Equal(have, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	// Each is worded in French by default and in English, naming what is wrong; a row's
	// problem names its commune and number too, for tables that have no lines.
	for _, p := range got {
		if p.Line > 0 && (p.INSEE == "" || p.Number == "") {
			t.Errorf("line %d: %s names no commune or number: %+v", p.Line, p.Code, p)
		}
		if fr, en := p.Message("fr"), p.Message("en"); fr == en || fr == "" || strings.Contains(fr, "%!") || strings.Contains(en, "%!") {
			t.Errorf("%s: fr %q, en %q", p.Code, fr, en)
		}
	}
	if m := got[6].Message("fr"); m != "la commune 69266 et le numéro 15 figurent déjà ligne 14" {
		t.Errorf("duplicate: %q", m)
	}
	if m := got[12].Message("en"); m != "commune 69266 has no centre for 196" {
		t.Errorf("missing route: %q", m)
	}
}

func TestAFileThatIsNotTheTableSaysWhere(t *testing.T) {
	for in, want := range map[string]string{
		"code,numero\n69123,15\n":                 "line 1: the first line must be the header insee,number,routing_number",
		"insee,number,routing_number\n69123,15\n": "line 2: 2 fields instead of 3 (insee,number,routing_number)",
		"": "line 1: empty file: the first line must be the header insee,number,routing_number",
		"insee;number;routing_number\n69123;15;0400000015\n": "",
	} {
		_, ps := pdaau.ParseCSV(strings.NewReader(in))
		if ps.Error() != want {
			t.Errorf("%q: got %q, want %q", in, ps.Error(), want)
		}
	}
	// The pages word them in French, with no English left in.
	_, ps := pdaau.ParseCSV(strings.NewReader("code,numero\n"))
	if m := ps[0].Message("fr"); m != "la première ligne doit être l'en-tête insee,number,routing_number" {
		t.Errorf("in French: %q", m)
	}
}

// world is a database holding ref's communes and PSAPs.
func world(t *testing.T) (*pdaau.Store, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.New(t, schema.Migrations())
	ctx := context.Background()
	for code, name := range ref.Communes {
		if _, err := pool.Exec(ctx, `INSERT INTO emergency.communes (code, name, geometry) VALUES ($1, $2, '[]')`, code, name); err != nil {
			t.Fatal(err)
		}
	}
	for n, id := range ref.PSAPs {
		if _, err := pool.Exec(ctx, `INSERT INTO emergency.psaps (id, name, routing_number, endpoint) VALUES ($1, $1, $2, 'https://127.0.0.1:9')`, id, n); err != nil {
			t.Fatal(err)
		}
	}
	return pdaau.NewStore(pool), pool
}

func routed(t *testing.T, pool *pgxpool.Pool, insee, number string) string {
	t.Helper()
	var r string
	pool.QueryRow(context.Background(), `SELECT routing_number FROM emergency.pdaau WHERE insee = $1 AND number = $2`, insee, number).Scan(&r)
	return r
}

func TestAnUploadWithProblemsSavesNothing(t *testing.T) {
	s, pool := world(t)
	bad := table(func(rows [][3]string) [][3]string { rows[0][2] = "x"; return rows })
	id, ps, err := s.CreateDraft(context.Background(), "69", parse(t, bad), "alice", "upload: rhone.csv")
	if err != nil || len(ps) != 1 || id != 0 {
		t.Fatalf("id %d, problems %v, err %v", id, ps, err)
	}
	var n int
	pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM emergency.pdaau_versions) + (SELECT count(*) FROM emergency.pdaau_version_rows)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows written", n)
	}
}

// publish takes a table through the whole workflow: drafted by alice, approved and
// published by bob.
func publish(t *testing.T, s *pdaau.Store, csv string) int64 {
	t.Helper()
	ctx := context.Background()
	id, ps, err := s.CreateDraft(ctx, "69", parse(t, csv), "alice", "upload")
	if err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if ps, err := s.Approve(ctx, id, "bob"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if ps, err := s.Publish(ctx, id, "bob", time.Time{}); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	return id
}

func TestADraftTakesEffectOnlyOnceApprovedByAnotherPersonAndPublished(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	id, _, err := s.CreateDraft(ctx, "69", parse(t, table(nil)), "alice", "upload")
	if err != nil {
		t.Fatal(err)
	}
	if r := routed(t, pool, "69123", "15"); r != "" {
		t.Fatalf("a draft is routed: %s", r)
	}
	if _, err := s.Publish(ctx, id, "bob", time.Time{}); !errors.Is(err, pdaau.ErrState) {
		t.Fatalf("publishing a draft: %v", err)
	}
	if _, err := s.Approve(ctx, id, "alice"); !errors.Is(err, pdaau.ErrFourEyes) {
		t.Fatalf("self-approval: %v", err)
	}
	// Carol edits the draft: she may no longer approve it either.
	edited := table(func(rows [][3]string) [][3]string { rows[1][2] = "0400000015"; return rows })
	if ps, err := s.UpdateDraft(ctx, id, parse(t, edited), "carol"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if _, err := s.Approve(ctx, id, "carol"); !errors.Is(err, pdaau.ErrFourEyes) {
		t.Fatalf("approval by an editor: %v", err)
	}
	if _, err := s.Approve(ctx, id, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateDraft(ctx, id, parse(t, edited), "carol"); !errors.Is(err, pdaau.ErrState) {
		t.Fatalf("editing an approved version: %v", err)
	}
	if _, err := s.Publish(ctx, id, "bob", time.Now().Add(-time.Hour)); !errors.Is(err, pdaau.ErrPast) {
		t.Fatalf("effective in the past: %v", err)
	}
	if _, err := s.Publish(ctx, id, "bob", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if r := routed(t, pool, "69123", "17"); r != "0400000015" {
		t.Fatalf("69123/17 routed to %q after publication", r)
	}
	v, _ := s.Version(ctx, id)
	if v.State != pdaau.Published || !v.Active() || *v.ApprovedBy != "bob" || !slices.Equal(v.Editors, []string{"alice", "carol"}) {
		t.Fatalf("version: %+v", v)
	}
}

func TestNowIsTheMomentOfPublicationAndAChosenDateIsToTheMinute(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Date(2026, 12, 4, 9, 30, 45, 0, paris) // the database's clock when it publishes
	for _, c := range []struct {
		asked   time.Time
		want    time.Time
		refused bool
	}{
		{asked: time.Time{}, want: now},                                                                       // "now", however long ago the page was opened
		{asked: time.Date(2026, 12, 4, 9, 30, 0, 0, paris), want: now},                                        // the minute under way
		{asked: time.Date(2026, 12, 4, 9, 31, 0, 0, paris), want: time.Date(2026, 12, 4, 9, 31, 0, 0, paris)}, // to come
		{asked: time.Date(2026, 12, 4, 9, 29, 0, 0, paris), refused: true},                                    // gone by
		{asked: time.Date(2026, 12, 3, 9, 30, 0, 0, paris), refused: true},
	} {
		got, err := pdaau.EffectiveAt(c.asked, now)
		if c.refused {
			if !errors.Is(err, pdaau.ErrPast) {
				t.Errorf("%s: got %s, %v; want refused as past", c.asked, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%s: got %s, %v; want %s", c.asked, got, err, c.want)
		}
	}
}

func TestAVersionPublishedForLaterTakesEffectAtItsDate(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	first := publish(t, s, table(nil))
	id, _, _ := s.CreateDraft(ctx, "69", parse(t, table(func(rows [][3]string) [][3]string { rows[1][2] = "0400000015"; return rows })), "alice", "upload")
	s.Approve(ctx, id, "bob")
	if _, err := s.Publish(ctx, id, "bob", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.ActivateDue(ctx); len(ids) != 0 {
		t.Fatalf("activated before its date: %v", ids)
	}
	if cur, _ := s.Current(ctx, "69"); cur.ID != first {
		t.Fatalf("current %d, want %d", cur.ID, first)
	}
	// The hour passes.
	pool.Exec(ctx, `UPDATE emergency.pdaau_versions SET effective_at = now() - interval '1 second' WHERE id = $1`, id)
	if ids, err := s.ActivateDue(ctx); err != nil || !slices.Equal(ids, []int64{id}) {
		t.Fatalf("activated %v, %v", ids, err)
	}
	if r := routed(t, pool, "69123", "17"); r != "0400000015" {
		t.Fatalf("69123/17 routed to %q", r)
	}
}

func TestTheDiffSaysWhichCommunesChangeCentreForWhichNumber(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	first := publish(t, s, table(nil))
	id, _, _ := s.CreateDraft(ctx, "69", parse(t, table(func(rows [][3]string) [][3]string {
		rows[1][2] = "0400000015"  // 69123/17
		rows[14][2] = "0400000015" // 69266/18
		return rows
	})), "alice", "upload")
	changes, err := s.Diff(ctx, &first, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []pdaau.Change{
		{INSEE: "69123", Commune: "Lyon", Number: "17", Old: "0400000018", New: "0400000015", OldPSAP: "sdmis-69", NewPSAP: "samu-69"},
		{INSEE: "69266", Commune: "Villeurbanne", Number: "18", Old: "0400000018", New: "0400000015", OldPSAP: "sdmis-69", NewPSAP: "samu-69"},
	}
	if !slices.Equal(changes, want) {
		t.Fatalf("diff:\n%+v\nwant\n%+v", changes, want)
	}
}

func TestTheCommunesOfADepartementAreNamedByTheirCodes(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO emergency.communes (code, name, geometry) VALUES ('97101', 'Les Abymes', '[]'), ('2A004', 'Ajaccio', '[]')`); err != nil {
		t.Fatal(err)
	}
	for dep, want := range map[string]map[string]string{
		"69":  {"69123": "Lyon", "69266": "Villeurbanne"},
		"75":  {"75056": "Paris"},
		"971": {"97101": "Les Abymes"},
		"2A":  {"2A004": "Ajaccio"},
		"13":  {},
	} {
		got, err := s.Communes(ctx, dep)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: %v, %v; want %v", dep, got, err, want)
		}
	}
}

func TestRollbackPublishesAnEarlierVersionAgain(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	first := publish(t, s, table(nil))
	publish(t, s, table(func(rows [][3]string) [][3]string { rows[1][2] = "0400000015"; return rows }))
	if r := routed(t, pool, "69123", "17"); r != "0400000015" {
		t.Fatalf("before rollback: %q", r)
	}
	if _, _, err := s.Republish(ctx, 999, "bob", time.Time{}); !errors.Is(err, pdaau.ErrNotFound) {
		t.Fatalf("unknown version: %v", err)
	}
	back, ps, err := s.Republish(ctx, first, "bob", time.Time{})
	if err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if r := routed(t, pool, "69123", "17"); r != "0400000018" {
		t.Fatalf("after rollback: %q", r)
	}
	v, _ := s.Version(ctx, back)
	if v.RestoredFrom == nil || *v.RestoredFrom != first || v.State != pdaau.Published {
		t.Fatalf("rollback version: %+v", v)
	}
	h, _ := s.History(ctx, "69")
	if len(h) != 3 || h[0].ID != back {
		t.Fatalf("history: %d versions", len(h))
	}
}

// paris is a complete table for Paris: every number to the police.
func paris() []pdaau.Row {
	var rows []pdaau.Row
	for _, n := range pdaau.ShortNumbers {
		rows = append(rows, pdaau.Row{INSEE: "75056", Number: n, RoutingNumber: "0100000017"})
	}
	return rows
}

// lyon17 is the Rhône's table with Lyon's 17 sent to the SAMU.
func lyon17(rows [][3]string) [][3]string { rows[1][2] = "0400000015"; return rows }

func TestADepartementHasOneOpenVersionAtATime(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	first := publish(t, s, table(nil))
	publish(t, s, table(lyon17))

	// Alice opens a draft; Carol's is refused, and told which version is open, whose, since when.
	open, ps, err := s.CreateDraft(ctx, "69", parse(t, table(nil)), "alice", "upload")
	if err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	refusedFor := func(what string, err error) {
		t.Helper()
		var oe *pdaau.OpenError
		if !errors.Is(err, pdaau.ErrOpen) || !errors.As(err, &oe) || oe.Open.ID != open || oe.Open.CreatedBy != "alice" || oe.Open.CreatedAt.IsZero() {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, _, err = s.CreateDraft(ctx, "69", parse(t, table(nil)), "carol", "upload")
	refusedFor("a second upload", err)
	_, err = s.DraftFromActive(ctx, "69", "carol")
	refusedFor("a second draft from the version in effect", err)
	if v, err := s.Open(ctx, "69"); err != nil || v == nil || v.ID != open || !v.Open() {
		t.Fatalf("open version: %+v, %v", v, err)
	}
	// Approved and not yet published, it is still the open one.
	if ps, err := s.Approve(ctx, open, "bob"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	_, _, err = s.CreateDraft(ctx, "69", parse(t, table(nil)), "carol", "upload")
	refusedFor("an upload beside an approved version", err)

	// Another département has its own.
	if _, ps, err := s.CreateDraft(ctx, "75", paris(), "dominique", "upload"); err != nil || len(ps) > 0 {
		t.Fatalf("Paris's draft: %v %v", ps, err)
	}
	// A rollback and socle apply make versions published at once, never open: they work
	// whatever is open.
	if _, ps, err := s.Republish(ctx, first, "bob", time.Time{}); err != nil || len(ps) > 0 {
		t.Fatalf("rollback beside an open version: %v %v", ps, err)
	}
	tx, _ := pool.Begin(ctx)
	if n, ps, err := pdaau.ApplyTx(ctx, tx, parse(t, table(lyon17)), "socle apply", "test"); err != nil || len(ps) > 0 || n != 1 {
		t.Fatalf("apply beside an open version: %d %v %v", n, ps, err)
	}
	tx.Commit(ctx)

	// Carol discards it, and may start again.
	if err := s.Discard(ctx, open, "carol"); err != nil {
		t.Fatal(err)
	}
	v, _ := s.Version(ctx, open)
	if v.State != pdaau.Discarded || v.Open() || v.DiscardedBy == nil || *v.DiscardedBy != "carol" || v.DiscardedAt == nil {
		t.Fatalf("discarded: %+v", v)
	}
	if o, _ := s.Open(ctx, "69"); o != nil {
		t.Fatalf("still open: %+v", o)
	}
	if _, err := s.DraftFromActive(ctx, "69", "carol"); err != nil {
		t.Fatalf("a draft after the discard: %v", err)
	}
}

func TestOfTwoUploadsAtOnceOnlyOneMakesADraft(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	rows := parse(t, table(nil))
	type result struct {
		id  int64
		err error
	}
	results := make(chan result)
	const n = 4
	for i := range n {
		go func() {
			id, _, err := s.CreateDraft(ctx, "69", rows, fmt.Sprintf("editor%d", i), "upload")
			results <- result{id, err}
		}()
	}
	var won []int64
	var refused []*pdaau.OpenError
	for range n {
		r := <-results
		var oe *pdaau.OpenError
		switch {
		case r.err == nil:
			won = append(won, r.id)
		case errors.As(r.err, &oe):
			refused = append(refused, oe)
		default:
			t.Fatalf("upload: %v", r.err)
		}
	}
	if len(won) != 1 || len(refused) != n-1 {
		t.Fatalf("%d drafts made, %d refused", len(won), len(refused))
	}
	for _, oe := range refused {
		if oe.Open.ID != won[0] {
			t.Fatalf("refused for version %d, the open one is %d", oe.Open.ID, won[0])
		}
	}
}

func TestTheDatabaseItselfKeepsADepartementToOneOpenVersion(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	insert := func(q pgxExec, dep, state string) error {
		_, err := q.Exec(ctx, `INSERT INTO emergency.pdaau_versions (departement, state, source, created_by, editors, published_at, effective_at)
			VALUES ($1, $2, 'sql', 'someone', '{someone}', CASE WHEN $2 = 'published' THEN now() END, CASE WHEN $2 = 'published' THEN now() END)`, dep, state)
		return err
	}
	oneOpen := func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "pdaau_versions_one_open"
	}
	// A writer that does not take the store's lock inserts a draft; an upload runs at the
	// same moment, sees no open version yet (the other is not committed), and inserts its
	// own: the index holds it until the first commits, then refuses it, and the upload is
	// told which version is open.
	tx1, _ := pool.Begin(ctx)
	defer tx1.Rollback(ctx)
	if err := insert(tx1, "69", "draft"); err != nil {
		t.Fatal(err)
	}
	upload := make(chan error)
	go func() {
		_, _, err := s.CreateDraft(ctx, "69", parse(t, table(nil)), "alice", "upload")
		upload <- err
	}()
	waitFor(t, "the upload waits on the index", func() bool {
		var waiting bool
		pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO emergency.pdaau_versions%')`).Scan(&waiting)
		return waiting
	})
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var oe *pdaau.OpenError
	if err := <-upload; !errors.As(err, &oe) || oe.Open.CreatedBy != "someone" {
		t.Fatalf("the upload that lost: %v", err)
	}
	// Nor does the index let anyone add an approved version beside the draft, whatever the
	// order.
	if err := insert(pool, "69", "approved"); !oneOpen(err) {
		t.Fatalf("an approved version beside a draft: %v", err)
	}
	for _, c := range []struct{ dep, state string }{{"69", "published"}, {"69", "discarded"}, {"75", "draft"}} {
		if err := insert(pool, c.dep, c.state); err != nil {
			t.Errorf("%s %s: %v", c.dep, c.state, err)
		}
	}
}

// waitFor looks at cond at each tick until it holds, or fails the test after a minute: what
// it waits for (a session blocked on a lock, in pg_stat_activity) sends no event.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("still not so after a minute: %s", what)
		}
	}
}

type pgxExec interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

func TestOpenVersionsPiledUpBeforeTheRuleAreDiscardedButTheNewest(t *testing.T) {
	all := schema.Migrations()
	before := all
	before.Steps = nil
	for _, st := range all.Steps {
		if strings.HasSuffix(st.Name, "pdaau_one_open") {
			break
		}
		before.Steps = append(before.Steps, st)
	}
	if len(before.Steps) == len(all.Steps) {
		t.Fatal("no pdaau_one_open step")
	}
	pool := dbtest.New(t, before)
	ctx := context.Background()
	for _, v := range [][2]string{{"69", "draft"}, {"69", "approved"}, {"75", "draft"}, {"69", "draft"}, {"69", "discarded"}} {
		if _, err := pool.Exec(ctx, `INSERT INTO emergency.pdaau_versions (departement, state, source, created_by, editors)
			VALUES ($1, $2, 'upload', 'someone', '{someone}')`, v[0], v[1]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := database.Apply(ctx, pool, all, "test"); err != nil {
		t.Fatal(err)
	}
	var got []string
	rows, _ := pool.Query(ctx, `SELECT id || ' ' || departement || ' ' || state || ' ' || coalesce(discarded_by, '-') FROM emergency.pdaau_versions ORDER BY id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1 69 discarded socle", "2 69 discarded socle", "3 75 draft -", "4 69 draft -", "5 69 discarded -"}
	if !slices.Equal(got, want) {
		t.Fatalf("after the migration:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAVersionThatChangesNothingIsRefused(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	first := publish(t, s, table(nil))
	noChange := func(what string, ps pdaau.Problems, err error) {
		t.Helper()
		if err != nil || len(ps) != 1 || ps[0].Code != pdaau.CodeNoChange {
			t.Fatalf("%s: %v, %v", what, ps, err)
		}
		if m := ps[0].Message("fr"); m != fmt.Sprintf("aucun changement par rapport à la version en vigueur (version %d) : il n'y aurait rien à publier", first) {
			t.Fatalf("%s: %q", what, m)
		}
	}
	// The same table again, even in another order: nothing saved.
	rows := parse(t, table(nil))
	slices.Reverse(rows)
	id, ps, err := s.CreateDraft(ctx, "69", rows, "alice", "upload")
	noChange("the same upload", ps, err)
	var n int
	pool.QueryRow(ctx, `SELECT count(*) FROM emergency.pdaau_versions`).Scan(&n)
	if id != 0 || n != 1 {
		t.Fatalf("saved: version %d, %d versions", id, n)
	}
	// A draft from the version in effect starts the same, to be edited; it cannot be
	// approved as it is, nor saved back as it was.
	draft, err := s.DraftFromActive(ctx, "69", "alice")
	if err != nil {
		t.Fatal(err)
	}
	ps, err = s.Approve(ctx, draft, "bob")
	noChange("approving an unchanged draft", ps, err)
	ps, err = s.UpdateDraft(ctx, draft, parse(t, table(nil)), "alice")
	noChange("saving an unchanged draft", ps, err)
	if ps, err := s.UpdateDraft(ctx, draft, parse(t, table(lyon17)), "alice"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if ps, err := s.Approve(ctx, draft, "bob"); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	// Meanwhile socle apply puts the same table in effect: the approved version has nothing
	// left to publish.
	tx, _ := pool.Begin(ctx)
	if n, ps, err := pdaau.ApplyTx(ctx, tx, parse(t, table(lyon17)), "socle apply", "test"); err != nil || len(ps) > 0 || n != 1 {
		t.Fatalf("apply: %d %v %v", n, ps, err)
	}
	tx.Commit(ctx)
	cur, _ := s.Current(ctx, "69")
	ps, err = s.Publish(ctx, draft, "bob", time.Time{})
	if err != nil || len(ps) != 1 || ps[0].Code != pdaau.CodeNoChange || ps[0].Value != fmt.Sprint(cur.ID) {
		t.Fatalf("publishing what is in effect: %v, %v", ps, err)
	}
}

func TestTheTNAAUShowsOnlyVisibleDepartementsAndItsChangesSinceAVersion(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	publish(t, s, table(nil))
	t1, err := s.TNAAU(ctx, pdaau.Visible{"*"})
	if err != nil || len(t1.Rows) != 24 || t1.Version == 0 {
		t.Fatalf("TNAAU: %d rows, version %d, %v", len(t1.Rows), t1.Version, err)
	}
	if e := t1.Rows[0]; e != (pdaau.Entry{Departement: "69", INSEE: "69123", Commune: "Lyon", Number: "15", RoutingNumber: "0400000015", PSAP: "samu-69"}) {
		t.Fatalf("first row %+v", e)
	}
	if other, _ := s.TNAAU(ctx, pdaau.Visible{"75"}); len(other.Rows) != 0 || other.Version != 0 {
		t.Fatalf("an operator authorised for 75 only sees %d rows", len(other.Rows))
	}
	if none, _ := s.TNAAU(ctx, nil); len(none.Rows) != 0 {
		t.Fatalf("no authorisation sees %d rows", len(none.Rows))
	}
	publish(t, s, table(func(rows [][3]string) [][3]string { rows[1][2] = "0400000015"; return rows }))
	d, err := s.TNAAUDelta(ctx, pdaau.Visible{"69"}, t1.Version)
	if err != nil || d.Version != t1.Version+1 || len(d.Upsert) != 1 || len(d.Delete) != 0 || d.Upsert[0].INSEE != "69123" || d.Upsert[0].Number != "17" {
		t.Fatalf("delta: %+v, %v", d, err)
	}
	if d, _ := s.TNAAUDelta(ctx, pdaau.Visible{"69"}, d.Version); len(d.Upsert)+len(d.Delete) != 0 {
		t.Fatalf("nothing changed since the newest version, got %+v", d)
	}
	if _, err := s.TNAAUDelta(ctx, pdaau.Visible{"69"}, d.Version+5); !errors.Is(err, pdaau.ErrFuture) {
		t.Fatalf("since a future version: %v", err)
	}
	// Since 0, everything is new.
	if d, _ := s.TNAAUDelta(ctx, pdaau.Visible{"69"}, 0); len(d.Upsert) != 24 {
		t.Fatalf("since 0: %d upserts", len(d.Upsert))
	}
	// The entity tag follows the versions in effect, not the rest of the country.
	cur, _ := s.InEffectFor(ctx, pdaau.Visible{"69"})
	if pdaau.Tag(cur, "json") == pdaau.Tag(nil, "json") || pdaau.Tag(cur, "json") == pdaau.Tag(cur, "csv") {
		t.Fatal("tags do not tell versions and formats apart")
	}
	_ = pool
}

func TestOperatorsThatMaySeeTheDepartementAreNotifiedOfAPublication(t *testing.T) {
	s, pool := world(t)
	ctx := context.Background()
	for _, op := range []struct{ id, deps, hook string }{
		{"rhone-only", "{69}", "https://127.0.0.1:9/a"},
		{"everywhere", "{*}", "https://127.0.0.1:9/b"},
		{"paris-only", "{75}", "https://127.0.0.1:9/c"},
		{"no-webhook", "{*}", ""},
	} {
		var hook *string
		if op.hook != "" {
			hook = &op.hook
		}
		if _, err := pool.Exec(ctx, `INSERT INTO emergency.operators (id, name, mcc_mnc, tnaau_departements, tnaau_webhook)
			VALUES ($1, $1, '{}', $2, $3)`, op.id, op.deps, hook); err != nil {
			t.Fatal(err)
		}
	}
	id := publish(t, s, table(nil))
	var got []string
	failFirst := true
	post := func(_ context.Context, op, url string, body []byte) error {
		if op == "everywhere" && failFirst {
			failFirst = false
			return errors.New("connection refused")
		}
		got = append(got, op+" "+url+" "+string(body[:strings.Index(string(body), `,"published_at"`)]))
		return nil
	}
	if n, err := s.DeliverDue(ctx, post); err != nil || n != 1 {
		t.Fatalf("delivered %d, %v", n, err)
	}
	want := fmt.Sprintf(`rhone-only https://127.0.0.1:9/a {"type":"pdaau.published","departement":"69","pdaau_version":%d`, id)
	if !slices.Equal(got, []string{want}) {
		t.Fatalf("got %q", got)
	}
	// The failed one is retried later, not at once.
	if n, _ := s.DeliverDue(ctx, post); n != 0 {
		t.Fatalf("retried at once")
	}
	pool.Exec(ctx, `UPDATE emergency.tnaau_notifications SET next_at = now()`)
	if n, _ := s.DeliverDue(ctx, post); n != 1 || !strings.HasPrefix(got[1], "everywhere") {
		t.Fatalf("retry: %d, %q", n, got)
	}
	feed, _ := s.Published(ctx, pdaau.Visible{"75"}, 10)
	if len(feed) != 0 {
		t.Fatalf("an operator for 75 sees %d publications of 69", len(feed))
	}
}
