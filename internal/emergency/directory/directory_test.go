package directory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/demo"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/pki"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// demoDir writes the demo directory with its certificates and returns the file's path.
func demoDir(t *testing.T) string {
	t.Helper()
	file, err := demo.Install(t.TempDir(), "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func TestApplyingTheSameFileTwiceChangesNothingTheSecondTime(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	ctx := context.Background()
	rep, err := directory.ApplyFile(ctx, pool, file)
	if err != nil {
		t.Fatal(err)
	}
	// Certificates: the demo operator's and the demo PSAP's (bspp).
	if rep.Operators != 1 || rep.PSAPs != 8 || rep.Communes != 8 || rep.PDAAURows != 96 || rep.Certificates != 2 {
		t.Fatalf("first apply: %+v", rep)
	}
	rep, err = directory.ApplyFile(ctx, pool, file)
	if err != nil || rep != (directory.Report{}) {
		t.Fatalf("second apply: %+v %v, want nothing changed", rep, err)
	}
	snap, err := directory.Load(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := snap.RoutingNumber("75056", "18"); !ok || r != "0100000018" {
		t.Fatalf("PDAAU 75056/18 = %q", r)
	}
}

// edit copies the demo directory file with replacements applied, and returns its path.
func edit(t *testing.T, file string, replace ...string) string {
	t.Helper()
	b, _ := os.ReadFile(file)
	s := strings.NewReplacer(replace...).Replace(string(b))
	out := filepath.Join(filepath.Dir(file), "edited.yaml")
	os.WriteFile(out, []byte(s), 0o644)
	return out
}

func TestEveryErrorIsReportedWithItsLineAndNothingIsWritten(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	dir := filepath.Dir(file)
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("insee,number,routing_number\n75056,15,0100000015\n99999,113,12345\n75056,15,0100000018\n13055,18,0999999999\n"), 0o644)
	bad := edit(t, file,
		`mcc_mnc: ["001-01"]`, `mcc_mnc: ["00101", "001-01"]`,
		`routing_number: "0400000015"`, `routing_number: "04000"`,
		`endpoint: https://127.0.0.1:9/psap/bmpm`, `endpoint: http://127.0.0.1:9/psap/bmpm`,
		`pdaau: [pdaau.csv]`, `pdaau: [bad.csv]`)
	_, err := directory.ApplyFile(context.Background(), pool, bad)
	var list directory.Errors
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want a list of errors", err)
	}
	for _, want := range []string{
		`edited.yaml:5: operators[0] (id "demo-mobile"): mcc_mnc[0] "00101": want MCC-MNC`,
		`psaps[2] (id "samu-69"): routing_number "04000": want the centre's 10-digit number`,
		`psaps[5] (id "bmpm"): endpoint "http://127.0.0.1:9/psap/bmpm": want an absolute https:// URL`,
		`bad.csv:3: INSEE code "99999": no known commune has this code`,
		`bad.csv:3: number "113": not a routed short number`,
		`bad.csv:3: routing number "12345" is malformed (want 10 digits)`,
		`bad.csv:4: commune 75056 and number 15 already appear at bad.csv:2`,
		`bad.csv:5: routing number 0999999999: no centre (PSAP) has this number`,
		`edited.yaml: commune 75056 has no centre for 17`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	var n int
	pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM emergency.operators) + (SELECT count(*) FROM emergency.psaps)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows written by a failed apply", n)
	}
}

func TestRoutingNumbersMustBelongToAPSAP(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	os.WriteFile(filepath.Join(filepath.Dir(file), "orphan.csv"), []byte("insee,number,routing_number\n13055,18,0999999999\n"), 0o644)
	_, err := directory.ApplyFile(context.Background(), pool, edit(t, file, `pdaau: [pdaau.csv]`, `pdaau: [orphan.csv]`))
	if err == nil || !strings.Contains(err.Error(), `orphan.csv:2: routing number 0999999999: no centre (PSAP) has this number`) {
		t.Fatalf("got %v", err)
	}
}

func TestUnknownKeysAndExpiredCertificatesAreRefused(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	if _, err := directory.ApplyFile(context.Background(), pool, edit(t, file, "    name: Opérateur mobile", "    nmae: Opérateur mobile")); err == nil ||
		!strings.Contains(err.Error(), `field nmae not found`) {
		t.Fatalf("typo: %v", err)
	}
	pkiDir := filepath.Join(filepath.Dir(filepath.Dir(file)), "pki")
	ca, _ := pki.LoadCA(pkiDir)
	iss, _ := ca.Issue(pki.Request{Name: "old", Usage: pki.Client, NotBefore: mustPast(48), NotAfter: mustPast(1)})
	iss.Save(pkiDir, "old")
	_, err := directory.ApplyFile(context.Background(), pool, edit(t, file, "demo-operator.crt", "old.crt"))
	if err == nil || !strings.Contains(err.Error(), "expired on") {
		t.Fatalf("expired certificate: %v", err)
	}
}

func TestAnotherOperatorCannotClaimANetworkAlreadyRun(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	file := demoDir(t)
	ctx := context.Background()
	if _, err := directory.ApplyFile(ctx, pool, file); err != nil {
		t.Fatal(err)
	}
	pkiDir := filepath.Join(filepath.Dir(filepath.Dir(file)), "pki")
	pki.EnsureIssued(pkiDir, "rival", pki.Request{Name: "rival", Usage: pki.Client})
	_, err := directory.ApplyFile(ctx, pool, edit(t, file, "id: demo-mobile", "id: rival", "demo-operator.crt", "rival.crt"))
	if err == nil || !strings.Contains(err.Error(), `mcc_mnc "001-01" is already run by operator "demo-mobile"`) {
		t.Fatalf("got %v", err)
	}
}

func mustPast(hours int) time.Time { return time.Now().Add(-time.Duration(hours) * time.Hour) }

func TestImportingCommunesReplacesTheSetAndReportsWhatChanged(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	ctx := context.Background()
	if _, err := directory.ApplyFile(ctx, pool, demoDir(t)); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open("../demo/communes.geojson")
	cs, err := geo.ParseCommunes(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Next year's set: Montreuil merged away, Paris renamed, Brest appears.
	var next []geo.Commune
	for _, c := range cs {
		switch c.Code {
		case "93048":
			continue
		case "75056":
			c.Name = "Paris (nouveau nom)"
		}
		next = append(next, c)
	}
	brest := geo.Ring{{Lon: -4.55, Lat: 48.36}, {Lon: -4.42, Lat: 48.36}, {Lon: -4.42, Lat: 48.43}, {Lon: -4.55, Lat: 48.43}, {Lon: -4.55, Lat: 48.36}}
	next = append(next, geo.Commune{Code: "29019", Name: "Brest", Geometry: geo.MultiPolygon{{brest}}})

	var calls int
	rep, err := directory.ImportCommunes(ctx, pool, next, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total != 8 || rep.Changed != 1 || strings.Join(rep.Appeared, ",") != "29019" || strings.Join(rep.Vanished, ",") != "93048" {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Orphaned) != 12 || rep.Orphaned[0].INSEE != "93048" || calls == 0 {
		t.Fatalf("orphaned %d rows (%v), progress calls %d; want Montreuil's 12", len(rep.Orphaned), rep.Orphaned, calls)
	}
	snap, err := directory.Load(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := snap.Communes.Locate(48.39, -4.486); code != "29019" {
		t.Errorf("Brest resolves to %q", code)
	}
	if code, ok := snap.Communes.Locate(48.8620, 2.4420); ok {
		t.Errorf("Montreuil still resolves, to %q", code)
	}
	again, err := directory.ImportCommunes(ctx, pool, next, nil)
	if err != nil || again.Changed+len(again.Appeared)+len(again.Vanished) != 0 {
		t.Fatalf("second import: %+v %v, want nothing changed", again, err)
	}
}

// A directory that cannot be loaded — here an operator's stored CA that holds no certificate
// — is an error, and the connection that read it goes back to the pool: before, Load never
// closed its rows, and each failed reload kept one pooled connection for good.
func TestAFailedLoadGivesItsConnectionBack(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	ctx := context.Background()
	if _, err := directory.ApplyFile(ctx, pool, demoDir(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE emergency.operators SET location_ca_pem = 'not a certificate'`); err != nil {
		t.Fatal(err)
	}
	// More failures than the pool has connections; a leak would leave the last waiting for
	// a connection, until this bound.
	bounded, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for range int(pool.Config().MaxConns) + 1 {
		if _, err := directory.Load(bounded, pool); err == nil || !strings.Contains(err.Error(), "holds no certificate") {
			t.Fatalf("Load: %v, want the stored CA refused", err)
		}
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("%d connections still held after the failed loads", n)
	}
}
