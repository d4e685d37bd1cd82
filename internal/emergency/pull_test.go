package emergency_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"socle/internal/emergency"
	"socle/internal/emergency/held"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/pidflo"
	"socle/internal/emergency/pull"
	"socle/internal/emergency/testbed"
)

// psapClient registers a client certificate for the demo PSAP samu-75 and returns a client
// presenting it, once the running service has reloaded the directory.
func psapClient(t *testing.T, w *world) *http.Client {
	t.Helper()
	c, err := w.bed.RegisterPSAP(context.Background(), w.pool, "samu-75", "psap-samu75", 4)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the service knows the PSAP's certificate", func() bool {
		_, b := query(t, w, c, "tel:+33600000000")
		return !bytes.Contains(b, []byte("no registered PSAP"))
	})
	return c
}

func query(t *testing.T, w *world, c *http.Client, device string) (int, []byte) {
	t.Helper()
	body, err := held.EncodeRequest(held.Request{Device: device, ResponseTime: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return post(t, w, c, body)
}

func post(t *testing.T, w *world, c *http.Client, body []byte) (int, []byte) {
	t.Helper()
	resp, err := c.Post(w.svc.URL+"/emergency/v1/held", held.MediaType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != held.MediaType {
		t.Fatalf("content type %q", ct)
	}
	return resp.StatusCode, b
}

func heldError(t *testing.T, b []byte) string {
	t.Helper()
	_, err := held.ParseResponse(b)
	he, ok := err.(*held.Error)
	if !ok {
		t.Fatalf("not a HELD error: %v\n%s", err, b)
	}
	return he.Code
}

func TestAPSAPLocatesACallerFromAFreshAMLFix(t *testing.T) {
	w := newWorld(t, nil)
	psap := psapClient(t, w)
	_, a := w.push(formType, form("15", 48.8584, 2.2945, "+33612345678"), nil)

	status, b := query(t, w, psap, "tel:+33-6-12-34-56-78")
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, b)
	}
	resp, err := held.ParseResponse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	c, ok := resp.Location.Locations[0].Shape.(pidflo.Circle)
	if !ok || c.Radius != 18.5 || resp.Location.Entity != "tel:+33612345678" {
		t.Fatalf("location %+v", resp.Location)
	}
	// The query is in the audit journal before the answer leaves; it reaches the table
	// a few milliseconds later.
	var psapID, source, outcome, msg string
	waitFor(t, 5*time.Second, "the query in the audit table", func() bool {
		err := w.pool.QueryRow(context.Background(), `SELECT psap_id, source, outcome, coalesce(message_id::text, '') FROM emergency.pull_queries
			WHERE device = '+33612345678'`).Scan(&psapID, &source, &outcome, &msg)
		return err == nil
	})
	if psapID != "samu-75" || source != "aml" || outcome != "located" || msg != a.ID {
		t.Fatalf("audit: %s %s %s %s", psapID, source, outcome, msg)
	}
	if n := metric(t, w, "socle_emergency_pull_recent_numbers"); n != 1 {
		t.Errorf("recent numbers held: %v, want 1", n)
	}
	waitFor(t, 5*time.Second, "the journal reports nothing left to ship", func() bool {
		return metric(t, w, "socle_emergency_pull_audit_unshipped_bytes") == 0
	})
}

func TestWithoutAFreshFixTheAnswerIsLocationUnknown(t *testing.T) {
	// form's fix was found 3 s before its message: with 5 s of maximum age it answers for
	// about 2 s more, counted from the fix, not from its receipt.
	const maxAge = 5 * time.Second
	w := newWorld(t, func(c *emergency.Config) { c.PullMaxAge = maxAge })
	psap := psapClient(t, w)
	if status, b := query(t, w, psap, "tel:+33699999999"); status != 200 || heldError(t, b) != held.LocationUnknown {
		t.Fatalf("unknown number: %d %s", status, b)
	}
	w.push(formType, form("15", 48.8584, 2.2945, "+33655555555"), nil)
	if status, b := query(t, w, psap, "tel:+33655555555"); status != 200 || bytes.Contains(b, []byte("<error")) {
		t.Fatalf("fresh fix: %d %s", status, b)
	}
	// The fix grows too old to answer: then the answer is locationUnknown, never a position.
	waitFor(t, 10*time.Second, "the fix older than the maximum age stops answering", func() bool {
		status, b := query(t, w, psap, "tel:+33655555555")
		if status != 200 {
			t.Fatalf("fix growing old: %d %s", status, b)
		}
		return bytes.Contains(b, []byte("<error")) && heldError(t, b) == held.LocationUnknown
	})
	waitFor(t, 5*time.Second, "two unanswered queries audited", func() bool {
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM emergency.pull_queries WHERE outcome = 'locationUnknown' AND psap_id = 'samu-75'`).Scan(&n)
		return n >= 2
	})
}

// TestHELDRefusals: every HELD error travels in a 200 (RFC 5985 §8: "HELD error messages
// are sent in 2xx responses"), whatever the PSAP did wrong; the code says what.
func TestHELDRefusals(t *testing.T) {
	w := newWorld(t, nil)
	psap := psapClient(t, w)
	xxe := []byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held">&x;</locationRequest>`)
	if status, b := post(t, w, psap, xxe); status != 200 || heldError(t, b) != held.XMLError {
		t.Errorf("XXE: %d %s", status, b)
	}
	civic := []byte(`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held"><locationType exact="true">civic</locationType><device xmlns="urn:ietf:params:xml:ns:geopriv:held:id"><uri>tel:+33612345678</uri></device></locationRequest>`)
	if status, b := post(t, w, psap, civic); status != 200 || heldError(t, b) != held.CannotProvideLiType {
		t.Errorf("exact civic: %d %s", status, b)
	}
	// An operator's certificate is valid on the interconnect but is no PSAP's.
	if status, b := query(t, w, w.operator, "tel:+33612345678"); status != 200 || heldError(t, b) != held.RequestError {
		t.Errorf("operator asking: %d %s", status, b)
	}
}

// Lyon, by the Rhône's centres in the demo PDAAU; Paris by samu-75's.
const lyonLat, lyonLon = 45.7640, 4.8357

func TestAPSAPLocatesOnlyCallersOfItsAreaOrRoutedToIt(t *testing.T) {
	w := newWorld(t, nil)
	paris := psapClient(t, w)
	lyon, err := w.bed.RegisterPSAP(context.Background(), w.pool, "samu-69", "psap-samu69", 4)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the service knows samu-69's certificate", func() bool {
		_, b := query(t, w, lyon, "tel:+33600000000")
		return !bytes.Contains(b, []byte("no registered PSAP"))
	})

	// A caller in Lyon dialled 15: the call went to samu-69, which may locate the caller;
	// Paris's SAMU may not, and the audit keeps that it asked.
	_, a := w.push(formType, form("15", lyonLat, lyonLon, "+33611111111"), nil)
	waitFor(t, 10*time.Second, "delivery to samu-69", func() bool { return len(w.received(a.ID)) > 0 })
	if status, b := query(t, w, lyon, "tel:+33611111111"); status != 200 {
		t.Fatalf("samu-69: %d %s", status, b)
	} else if _, err := held.ParseResponse(b); err != nil {
		t.Fatalf("samu-69 got no location: %v\n%s", err, b)
	}
	if status, b := query(t, w, paris, "tel:+33611111111"); status != 200 || heldError(t, b) != held.NotLocatable {
		t.Fatalf("samu-75 about a caller in Lyon: %d %s", status, b)
	}
	waitFor(t, 5*time.Second, "the refusal audited", func() bool {
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(*) FROM emergency.pull_queries
			WHERE psap_id = 'samu-75' AND device = '+33611111111' AND outcome = 'outOfArea'`).Scan(&n)
		return n == 1
	})

	// A Parisian who called samu-75 and has since gone to Lyon may still be located by it.
	_, p := w.push(formType, form("15", 48.8584, 2.2945, "+33622222222"), nil)
	// The delivery is recorded just after the PSAP acknowledges it (asynchronously).
	waitFor(t, 10*time.Second, "delivery to samu-75 recorded", func() bool {
		d := intaketest.Read(t, w.pool, p.ID).Delivery
		return d != nil && d.PSAP == "samu-75"
	})
	w.push(formType, form("15", lyonLat, lyonLon, "+33622222222"), nil)
	if status, b := query(t, w, paris, "tel:+33622222222"); status != 200 {
		t.Fatalf("samu-75 about its own caller: %d %s", status, b)
	} else if _, err := held.ParseResponse(b); err != nil {
		t.Fatalf("samu-75 got no location for its own caller: %v\n%s", err, b)
	}
}

func TestWithScopeAnyEveryPSAPLocatesEveryCaller(t *testing.T) {
	w := newWorld(t, func(c *emergency.Config) { c.PullScope = pull.ScopeAny })
	paris := psapClient(t, w)
	w.push(formType, form("15", lyonLat, lyonLon, "+33611111111"), nil)
	if status, b := query(t, w, paris, "tel:+33611111111"); status != 200 {
		t.Fatalf("%d %s", status, b)
	} else if _, err := held.ParseResponse(b); err != nil {
		t.Fatalf("no location: %v\n%s", err, b)
	}
}

func TestANodeLocatesACallerWhoseFixAnotherNodeAccepted(t *testing.T) {
	w := newWorld(t, nil)
	psap := psapClient(t, w)
	// A second node on the same database and bus, as another replica would be.
	other, err := emergency.StartLoopbackNode(context.Background(), w.bed, w.pool, emergency.LoopbackConfig(), testbed.Discard(), w.svc.Bus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Stop() })
	ask := func(url, device string) (int, []byte) {
		body, _ := held.EncodeRequest(held.Request{Device: device, ResponseTime: 3 * time.Second})
		resp, err := psap.Post(url+"/emergency/v1/held", held.MediaType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	// The fix reaches the first node; the second hears of it on the bus.
	_, a := w.push(formType, form("15", 48.8584, 2.2945, "+33633333333"), nil)
	waitFor(t, 5*time.Second, "the other node answers from the fix", func() bool {
		status, b := ask(other.URL, "tel:+33633333333")
		return status == 200 && bytes.Contains(b, []byte("<gs:Circle"))
	})

	// A node started later loads the recent calls from PostgreSQL.
	late, err := emergency.StartLoopbackNode(context.Background(), w.bed, w.pool, emergency.LoopbackConfig(), testbed.Discard(), w.svc.Bus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Stop() })
	if status, b := ask(late.URL, "tel:+33633333333"); status != 200 || !bytes.Contains(b, []byte("<gs:Circle")) {
		t.Fatalf("a node started after the fix: %d %s", status, b)
	}
	waitFor(t, 5*time.Second, "both answers audited with the message", func() bool {
		var n int
		w.pool.QueryRow(context.Background(), `SELECT count(DISTINCT key) FROM emergency.pull_queries
			WHERE device = '+33633333333' AND source = 'aml' AND message_id = $1`, a.ID).Scan(&n)
		return n >= 2
	})
}
