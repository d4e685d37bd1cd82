package emergency_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/testbed"
)

// tnaauWorld is the demo world where the CCED authorised the demo operator for Paris (75)
// only, with a webhook: a real mutual-TLS server on loopback that records what it receives.
type tnaauWorld struct {
	*world
	mu       sync.Mutex
	received []pdaau.Notification
}

func newTNAAUWorld(t *testing.T) *tnaauWorld {
	t.Helper()
	tw := &tnaauWorld{world: newWorld(t, nil)}
	url, stop, err := tw.bed.StartOperatorServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n pdaau.Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "bad notification", http.StatusBadRequest)
			return
		}
		tw.mu.Lock()
		tw.received = append(tw.received, n)
		tw.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}), testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	b, _ := os.ReadFile(tw.bed.DirectoryFile)
	s := strings.Replace(string(b), `tnaau_departements: ["*"]`, `tnaau_departements: ["75"]`+"\n    tnaau_webhook: "+url, 1)
	os.WriteFile(tw.bed.DirectoryFile, []byte(s), 0o644)
	if _, err := directory.ApplyFile(context.Background(), tw.pool, tw.bed.DirectoryFile); err != nil {
		t.Fatal(err)
	}
	// The service's directory follows the change (NOTIFY); wait for it to see the webhook.
	tw.eventually(func() bool {
		status, _, _ := tw.get("/emergency/v1/tnaau?departement=69", nil)
		return status == http.StatusForbidden
	})
	return tw
}

func (tw *tnaauWorld) get(path string, header map[string]string) (int, http.Header, []byte) {
	tw.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, tw.svc.URL+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := tw.operator.Do(req)
	if err != nil {
		tw.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (tw *tnaauWorld) eventually(ok func() bool) {
	tw.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			tw.t.Fatal("condition not met in 15 s")
		}
	}
}

// publish changes where Paris sends the 17 (police) to routing, through the workflow.
func (tw *tnaauWorld) publish(routing string) int64 {
	tw.t.Helper()
	ctx := context.Background()
	s := pdaau.NewStore(tw.pool)
	cur, err := s.Current(ctx, "75")
	if err != nil || cur == nil {
		tw.t.Fatal("no version in effect for 75", err)
	}
	rows, _ := s.Rows(ctx, cur.ID)
	for i := range rows {
		if rows[i].INSEE == "75056" && rows[i].Number == "17" {
			rows[i].RoutingNumber = routing
		}
	}
	id, ps, err := s.CreateDraft(ctx, "75", rows, "editeur@prefecture", "test")
	if err != nil || len(ps) > 0 {
		tw.t.Fatal(ps, err)
	}
	if _, err := s.Approve(ctx, id, "cced@interieur"); err != nil {
		tw.t.Fatal(err)
	}
	if _, err := s.Publish(ctx, id, "cced@interieur", time.Time{}); err != nil {
		tw.t.Fatal(err)
	}
	return id
}

func TestOperatorsFetchTheTNAAUOfTheirDepartementsOnly(t *testing.T) {
	tw := newTNAAUWorld(t)
	status, h, b := tw.get("/emergency/v1/tnaau", nil)
	var table pdaau.Table
	if status != http.StatusOK || json.Unmarshal(b, &table) != nil {
		t.Fatalf("%d %s", status, b)
	}
	if len(table.Rows) != 12 || len(table.Departements) != 1 || table.Departements[0].Departement != "75" || table.Version == 0 {
		t.Fatalf("the operator authorised for 75 got %d rows of %v", len(table.Rows), table.Departements)
	}
	if h.Get("ETag") == "" || h.Get("Socle-TNAAU-Version") == "" {
		t.Fatalf("headers %v", h)
	}

	// Unchanged: 304 on the same tag.
	if status, _, _ := tw.get("/emergency/v1/tnaau", map[string]string{"If-None-Match": h.Get("ETag")}); status != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", status)
	}
	// CSV by Accept, with its own tag.
	status, hc, b := tw.get("/emergency/v1/tnaau", map[string]string{"Accept": "text/csv"})
	if status != http.StatusOK || !strings.HasPrefix(string(b), "departement,insee,commune,number,routing_number,psap\n75,75056,Paris,15,0100000015,samu-75\n") ||
		hc.Get("ETag") == h.Get("ETag") {
		t.Fatalf("CSV: %d %s", status, b)
	}
	// Another département: refused, saying why.
	status, _, b = tw.get("/emergency/v1/tnaau?departement=69", nil)
	if status != http.StatusForbidden || !strings.Contains(string(b), "departement-not-authorised") || !strings.Contains(string(b), "69") {
		t.Fatalf("69: %d %s", status, b)
	}
	for path, field := range map[string]string{"/emergency/v1/tnaau?departement=6": "departement", "/emergency/v1/tnaau?since=-1": "since"} {
		if status, _, b := tw.get(path, nil); status != http.StatusBadRequest || !strings.Contains(string(b), `"field":"`+field+`"`) {
			t.Fatalf("%s: %d %s", path, status, b)
		}
	}
	if status, _, _ := tw.get("/emergency/v1/tnaau", map[string]string{"Accept": "application/xml"}); status != http.StatusNotAcceptable {
		t.Fatalf("XML: %d", status)
	}
	// Without a registered certificate: no table.
	anon, _ := tw.bed.Client("", 1)
	if resp, err := anon.Get(tw.svc.URL + "/emergency/v1/tnaau"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without certificate got %d", resp.StatusCode)
	}
}

func TestAPublicationIsNotifiedAndFetchedAsADelta(t *testing.T) {
	tw := newTNAAUWorld(t)
	_, h, b := tw.get("/emergency/v1/tnaau", nil)
	var before pdaau.Table
	json.Unmarshal(b, &before)

	id := tw.publish("0100000015")

	// The webhook is told, over mutual TLS.
	tw.eventually(func() bool { tw.mu.Lock(); defer tw.mu.Unlock(); return len(tw.received) > 0 })
	if n := tw.received[0]; n.Type != "pdaau.published" || n.Departement != "75" || n.PDAAUVersion != id {
		t.Fatalf("notification %+v", n)
	}
	// The old tag no longer matches.
	if status, _, _ := tw.get("/emergency/v1/tnaau", map[string]string{"If-None-Match": h.Get("ETag")}); status != http.StatusOK {
		t.Fatalf("stale If-None-Match: %d", status)
	}
	// The delta since the version held has the one change.
	status, _, b := tw.get("/emergency/v1/tnaau?since="+jsonNumber(before.Version), nil)
	var d pdaau.Delta
	if status != http.StatusOK || json.Unmarshal(b, &d) != nil || len(d.Upsert) != 1 || len(d.Delete) != 0 ||
		d.Upsert[0] != (pdaau.Entry{Departement: "75", INSEE: "75056", Commune: "Paris", Number: "17", RoutingNumber: "0100000015", PSAP: "samu-75"}) ||
		d.Version <= before.Version {
		t.Fatalf("delta: %d %s", status, b)
	}
	// The Atom feed lists the publication.
	status, hf, b := tw.get("/emergency/v1/tnaau/feed", nil)
	if status != http.StatusOK || !strings.HasPrefix(hf.Get("Content-Type"), "application/atom+xml") ||
		!strings.Contains(string(b), "urn:socle:emergency:pdaau:"+jsonNumber(id)) {
		t.Fatalf("feed: %d %s", status, b)
	}
	// A publication in a département the operator may not see is not notified.
	if strings.Contains(string(b), "PDAAU 69") {
		t.Fatalf("feed shows 69: %s", b)
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }
