package emergency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/held"
	"socle/internal/emergency/opsim"
	"socle/internal/emergency/pidflo"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/pki"
)

// operators starts two operator location servers (a mobile and a fixed operator) over
// mutual TLS, registers them with their numbering-plan blocks, and returns their simulators.
func operators(t *testing.T, w *world) (mobile, fixed *opsim.Sim) {
	t.Helper()
	ctx := context.Background()
	dir := w.bed.PKIDir
	if _, err := pki.EnsureIssued(dir, "demo-fixe", pki.Request{Name: "demo-fixe", Usage: pki.Client}); err != nil {
		t.Fatal(err)
	}
	start := func(sim *opsim.Sim) string {
		url, stop, err := w.bed.StartOperatorServer(sim, testbed.Discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return url
	}
	mobile, fixed = opsim.New(), opsim.New()
	mobileURL, fixedURL := start(mobile), start(fixed)
	demoDir := filepath.Dir(w.bed.DirectoryFile)
	os.WriteFile(filepath.Join(demoDir, "numbering.csv"), []byte("prefix,operator,kind\n336,demo-mobile,mobile\n337,demo-mobile,mobile\n331,demo-fixe,fixed\n"), 0o644)
	b, _ := os.ReadFile(w.bed.DirectoryFile)
	s := strings.Replace(string(b), "    certificates: [../pki/demo-operator.crt]\n",
		"    certificates: [../pki/demo-operator.crt]\n    location_endpoint: "+mobileURL+"\n"+
			"  - id: demo-fixe\n    name: Opérateur fixe de démonstration\n    mcc_mnc: [\"001-02\"]\n"+
			"    certificates: [../pki/demo-fixe.crt]\n    location_endpoint: "+fixedURL+"\n", 1)
	s += "numbering: [numbering.csv]\n"
	os.WriteFile(w.bed.DirectoryFile, []byte(s), 0o644)
	if _, err := directory.ApplyFile(ctx, w.pool, w.bed.DirectoryFile); err != nil {
		t.Fatal(err)
	}
	return mobile, fixed
}

// withOperators is a world with the two operators' location servers, once socle's directory
// knows them (a query to the mobile operator is answered), and a PSAP's client.
func withOperators(t *testing.T) (*world, *http.Client, *opsim.Sim) {
	t.Helper()
	w := newWorld(t, nil)
	psap := psapClient(t, w)
	mobile, _ := operators(t, w)
	waitFor(t, 10*time.Second, "the directory reload", func() bool {
		_, herr := locate(t, w, psap, "tel:+33698000099", 3*time.Second)
		return herr == nil
	})
	return w, psap, mobile
}

func locate(t *testing.T, w *world, c *http.Client, device string, wait time.Duration) (pidflo.Document, *held.Error) {
	t.Helper()
	body, _ := held.EncodeRequest(held.Request{Device: device, ResponseTime: wait})
	status, b := post(t, w, c, body)
	if status != 200 {
		t.Fatalf("%s: HTTP %d %s", device, status, b)
	}
	r, err := held.ParseResponse(b)
	if he, ok := err.(*held.Error); ok {
		return pidflo.Document{}, he
	}
	if err != nil {
		t.Fatalf("%s: %v", device, err)
	}
	return r.Location, nil
}

func TestWithoutAnAMLFixTheServingOperatorIsAsked(t *testing.T) {
	w := newWorld(t, nil)
	psap := psapClient(t, w)
	mobile, fixed := operators(t, w)

	var doc pidflo.Document
	var herr *held.Error
	waitFor(t, 10*time.Second, "the directory reload", func() bool {
		doc, herr = locate(t, w, psap, "tel:+33698000001", 3*time.Second)
		return herr == nil
	})
	if c, ok := doc.Locations[0].Shape.(pidflo.Circle); !ok || c.Radius != 800 || doc.Locations[0].Method != "Cell" {
		t.Errorf("mobile line: %+v", doc)
	}
	doc, herr = locate(t, w, psap, "tel:+33140000000", 3*time.Second)
	if herr != nil || doc.Locations[0].Civic == nil || doc.Locations[0].Civic.A3 != "Paris" {
		t.Errorf("fixed line: %+v %v", doc, herr)
	}

	// A mobile number ported to the fixed operator, which declares it, is asked of the
	// fixed operator at once.
	fixe, err := w.bed.Client("demo-fixe", 1)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := fixe.Do(must(http.NewRequest("PUT", w.svc.URL+"/emergency/v1/ported-numbers", strings.NewReader("number\n33612000000\n"))))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("declaring a ported number: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, herr := locate(t, w, psap, "tel:+33612000000", 3*time.Second); herr != nil {
		t.Fatal(herr)
	}
	if fixed.Asked("33612000000") != 1 || mobile.Asked("33612000000") != 0 {
		t.Errorf("ported number asked of fixed %d, mobile %d times", fixed.Asked("33612000000"), mobile.Asked("33612000000"))
	}
	waitFor(t, 5*time.Second, "three operator answers audited", func() bool {
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM emergency.pull_queries WHERE source = 'operator' AND outcome = 'located'`).Scan(&n)
		return n >= 3
	})
}

func TestOperatorTimeoutsAndErrorsBecomeHELDErrors(t *testing.T) {
	w, psap, mobile := withOperators(t)
	// The operator would answer in an hour: the answer that comes is socle's own, at the
	// PSAP's responseTime.
	mobile.SetDelay(time.Hour)
	if _, herr := locate(t, w, psap, "tel:+33698000003", 300*time.Millisecond); herr == nil || herr.Code != held.Timeout {
		t.Errorf("slow operator: %v, want timeout", herr)
	}
	mobile.SetDelay(0)
	mobile.SetError(held.NotLocatable)
	if _, herr := locate(t, w, psap, "tel:+33698000004", 3*time.Second); herr == nil || herr.Code != held.NotLocatable {
		t.Errorf("operator error: %v, want its notLocatable passed on", herr)
	}
	// A code of no standard means nothing to a PSAP: it is told generalLisError (RFC 5985
	// §4.3.2), with the operator's own code in the message.
	mobile.SetError("vendorDatabaseDown")
	if _, herr := locate(t, w, psap, "tel:+33698000006", 3*time.Second); herr == nil || herr.Code != held.GeneralLisError ||
		!strings.Contains(herr.Message, "vendorDatabaseDown") {
		t.Errorf("operator's own error code: %v, want generalLisError naming it", herr)
	}
}

// RFC 5985 §6.2.1 lets a LIS answer with location URIs only; RFC 6753 §3 says how to
// dereference one: a HELD locationRequest to the URI. socle follows a URI on its operator's
// own server, over the same mutual TLS, and refuses, with a reason the audit keeps, one
// that points elsewhere.
func TestALocationByReferenceIsDereferenced(t *testing.T) {
	w, psap, mobile := withOperators(t)

	mobile.SetByReference(true, "")
	doc, herr := locate(t, w, psap, "tel:+33698000011", 3*time.Second)
	if herr != nil {
		t.Fatalf("by reference: %v", herr)
	}
	if c, ok := doc.Locations[0].Shape.(pidflo.Circle); !ok || c.Radius != 800 || doc.Entity != "tel:+33698000011" {
		t.Errorf("dereferenced location: %+v", doc)
	}

	// A reference to another host would carry socle's certificate and the query there.
	mobile.SetByReference(true, "lis.elsewhere.example")
	_, herr = locate(t, w, psap, "tel:+33698000012", 3*time.Second)
	if herr == nil || herr.Code != held.GeneralLisError || !strings.Contains(herr.Message, "by reference") {
		t.Fatalf("reference elsewhere: %v, want generalLisError saying why", herr)
	}
	var reason string
	waitFor(t, 5*time.Second, "the refusal audited with its reason", func() bool {
		return w.pool.QueryRow(context.Background(), `SELECT reason FROM emergency.pull_queries
			WHERE device = '+33698000012' AND outcome = 'generalLisError'`).Scan(&reason) == nil
	})
	if !strings.Contains(reason, "127.0.0.1") || reason != herr.Message {
		t.Errorf("audited reason %q, told the PSAP %q", reason, herr.Message)
	}
}

func TestConcurrentQueriesForOneNumberShareOneOperatorRequest(t *testing.T) {
	w, _, mobile := withOperators(t)
	mobile.SetDelay(400 * time.Millisecond)
	wide, err := w.bed.Client("psap-samu75", 16) // ten queries truly at once
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, herr := locate(t, w, wide, "tel:+33698000006", 3*time.Second); herr != nil {
				errs <- fmt.Errorf("%v", herr)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := mobile.Asked("33698000006"); n != 1 {
		t.Fatalf("the operator was asked %d times for one number, want once", n)
	}
}

func TestOperatorsDeclareTheirPortedNumbersAsAFileOrADelta(t *testing.T) {
	w := newWorld(t, nil)
	send := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, w.svc.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/csv")
		resp, err := w.operator.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	count := func() int {
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM emergency.ported_numbers WHERE operator_id = 'demo-mobile'`).Scan(&n)
		return n
	}
	status, m := send("PUT", "/emergency/v1/ported-numbers", "number\n33140000001\n+33140000002\n33140000003\n")
	if status != 200 || m["added"] != 3.0 || m["total"] != 3.0 {
		t.Fatalf("full file: %d %v", status, m)
	}
	status, m = send("PUT", "/emergency/v1/ported-numbers", "number\n33140000001\n33140000004\n")
	if status != 200 || m["removed"] != 2.0 || m["added"] != 1.0 || count() != 2 {
		t.Fatalf("second full file: %d %v", status, m)
	}
	status, m = send("POST", "/emergency/v1/ported-numbers/delta", "action,number\nadd,33140000005\nremove,33140000001\n")
	if status != 200 || m["added"] != 1.0 || m["removed"] != 1.0 || count() != 2 {
		t.Fatalf("delta: %d %v", status, m)
	}
	status, m = send("PUT", "/emergency/v1/ported-numbers", "number\n33140000009\n0612345678\n33140000009\n")
	if status != 422 || count() != 2 {
		t.Fatalf("bad file: %d %v (and %d numbers held)", status, m, count())
	}
	errs := fmt.Sprint(m["errors"])
	if !strings.Contains(errs, "line 3") || !strings.Contains(errs, "not an E.164 number") || !strings.Contains(errs, "line 4") {
		t.Fatalf("errors do not name the lines: %s", errs)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
