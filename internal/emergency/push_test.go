package emergency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency"
	"socle/internal/emergency/held"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/pidflo"
	"socle/internal/emergency/psapsim"
	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/pki"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// world is one push path: database, PKI, PSAP simulator, emergency service.
type world struct {
	t        *testing.T
	pool     *pgxpool.Pool
	bed      *testbed.Bed
	svc      *emergency.Loopback
	operator *http.Client
	mu       sync.Mutex
	got      []psapsim.Received
}

func newWorld(t *testing.T, tweak func(*emergency.Config)) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, pool: dbtest.New(t, schema.Migrations())}
	bed, err := testbed.New(t.TempDir(), testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bed.Close)
	bed.Sim.OnReceive = func(r psapsim.Received) { w.mu.Lock(); w.got = append(w.got, r); w.mu.Unlock() }
	if err := bed.Apply(ctx, w.pool); err != nil {
		t.Fatal(err)
	}
	cfg := emergency.LoopbackConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	svc, err := emergency.StartLoopback(ctx, bed, w.pool, cfg, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	w.bed, w.svc = bed, svc
	if w.operator, err = bed.Client("demo-operator", 8); err != nil {
		t.Fatal(err)
	}
	return w
}

// form is an HTTPS-form AML (ETSI TS 103 625 / Android ELS) from a handset at lat, lon.
func form(number string, lat, lon float64, device string) []byte {
	now := time.Now().UnixMilli()
	v := url.Values{
		"v":                   {"3"},
		"emergency_number":    {number},
		"time":                {fmt.Sprint(now)},
		"location_latitude":   {fmt.Sprintf("%.6f", lat)},
		"location_longitude":  {fmt.Sprintf("%.6f", lon)},
		"location_time":       {fmt.Sprint(now - 3000)},
		"location_accuracy":   {"18.5"},
		"location_source":     {"gps"},
		"location_confidence": {"0.68"}, // a probability (ETSI TS 103 625 §7)
		"device_number":       {device},
		"device_imei":         {"356938035643809"},
		"device_imsi":         {"001010123456789"},
		"cell_home_mcc":       {"001"},
		"cell_home_mnc":       {"01"},
		"cell_network_mcc":    {"001"},
		"cell_network_mnc":    {"01"},
	}
	return []byte(v.Encode())
}

const formType = "application/x-www-form-urlencoded"

type answer struct {
	ID        string `json:"id"`
	Status    any    `json:"status"` // "accepted" in a 202, the HTTP status in a problem
	Duplicate bool   `json:"duplicate"`
	Warnings  []struct{ Field, Reason string }
	Type      string `json:"type"`
	Errors    []struct{ Field, Reason string }
}

func (w *world) push(contentType string, body []byte, header map[string]string) (int, answer) {
	w.t.Helper()
	status, b, err := testbed.Push(context.Background(), w.operator, w.svc.URL, contentType, body, header)
	if err != nil {
		w.t.Fatal(err)
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		w.t.Fatalf("answer %d is not JSON: %s", status, b)
	}
	return status, a
}

// waitFor polls until cond holds or fails the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", limit, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (w *world) received(id string) []psapsim.Received {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []psapsim.Received
	for _, r := range w.got {
		if r.MessageID == "<"+id+"@socle>" {
			out = append(out, r)
		}
	}
	return out
}

func (w *world) delivery(id string) (state string, attempts int, lastError, psap, route string) {
	w.t.Helper()
	d := intaketest.Read(w.t, w.pool, id).Delivery
	if d == nil {
		w.t.Fatalf("message %s has no outbox row", id)
	}
	return d.State, d.Attempts, d.LastError, d.PSAP, d.Route
}

func TestAPushFromTheEiffelTowerReachesTheParisFireBrigadeAsPIDFLO(t *testing.T) {
	w := newWorld(t, nil)
	status, a := w.push(formType, form("18", 48.8584, 2.2945, "+33612345678"), nil)
	if status != http.StatusAccepted || a.Status != "accepted" || a.ID == "" {
		t.Fatalf("push: %d %+v", status, a)
	}
	waitFor(t, 10*time.Second, "the PSAP receives the location", func() bool { return len(w.received(a.ID)) > 0 })
	r := w.received(a.ID)[0]
	if r.PSAP != "bspp" {
		t.Errorf("delivered to %q, want bspp (18 in Paris)", r.PSAP)
	}
	if r.Document.Entity != "tel:+33612345678" {
		t.Errorf("entity %q", r.Document.Entity)
	}
	c, ok := r.Document.Locations[0].Shape.(pidflo.Circle)
	if !ok || c.Radius != 18.5 || c.Lat < 48.8583 || c.Lat > 48.8585 {
		t.Errorf("shape %#v, want a circle of 18.5 m at the Eiffel Tower", r.Document.Locations[0].Shape)
	}
	if m := r.Document.Locations[0].Method; m != "GPS" {
		t.Errorf("method %q, want GPS", m)
	}
	waitFor(t, 5*time.Second, "the delivery is recorded", func() bool { s, _, _, _, _ := w.delivery(a.ID); return s == "delivered" })
	if _, _, _, psap, route := w.delivery(a.ID); psap != "bspp" || route != "pdaau" {
		t.Errorf("recorded psap %q route %q", psap, route)
	}

	// The operator can follow its message; another client cannot.
	resp, err := w.operator.Get(w.svc.URL + "/emergency/v1/aml/" + a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Status   string
		Delivery struct {
			State, PSAP string
			Attempts    int
		}
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.Status != "accepted" || st.Delivery.State != "delivered" || st.Delivery.PSAP != "bspp" || st.Delivery.Attempts != 1 {
		t.Errorf("status %+v", st)
	}
	if resp, _ := w.operator.Get(w.svc.URL + "/emergency/v1/aml/01a20ac4-0000-7000-8000-000000000000"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
}

func TestTheNumberDialledChoosesTheCentre(t *testing.T) {
	w := newWorld(t, nil)
	for number, want := range map[string]string{"15": "samu-13", "18": "bmpm", "112": "bmpm", "116117": "samu-13"} {
		_, a := w.push(formType, form(number, 43.2951, 5.3740, "+33600000"+number[:2]), nil)
		waitFor(t, 10*time.Second, "delivery of "+number, func() bool { return len(w.received(a.ID)) > 0 })
		if got := w.received(a.ID)[0].PSAP; got != want {
			t.Errorf("%s from the Vieux-Port went to %s, want %s", number, got, want)
		}
	}
}

// waitDelivered waits for the message's delivery to be over: recorded delivered, the PSAP's
// answer in hand, so that no other attempt can follow and the PSAP's count is final.
func (w *world) waitDelivered(t *testing.T, id string) {
	t.Helper()
	waitFor(t, 10*time.Second, "the delivery recorded", func() bool {
		d := intaketest.Read(t, w.pool, id).Delivery
		return d != nil && d.State == "delivered" && len(w.received(id)) > 0
	})
}

func TestTheSameMessageSentTwiceHasOneIDAndIsDeliveredOnce(t *testing.T) {
	w := newWorld(t, nil)
	body := form("112", 48.853, 2.3499, "+33611111111")
	_, first := w.push(formType, body, nil)
	status, again := w.push(formType, body, nil)
	if status != http.StatusAccepted || again.ID != first.ID || !again.Duplicate {
		t.Fatalf("second push: %d %+v, want 202 with id %s marked duplicate", status, again, first.ID)
	}
	w.waitDelivered(t, first.ID)
	if n := len(w.received(first.ID)); n != 1 {
		t.Fatalf("delivered %d times, want once", n)
	}
	if n := intaketest.Count(t, w.pool); n.Messages != 1 || n.Repeats != 1 {
		t.Fatalf("stored %d rows with %d repeats, want 1 row seen twice", n.Messages, n.Repeats)
	}
}

func TestAnSMSWithoutLocationIsStoredAndRefusedWith422NamingTheField(t *testing.T) {
	w := newWorld(t, nil)
	body := []byte(`A"ML=1;rd=50;top=20261123141935;lc=68;pm=G;si=001010123456789;ei=356938035643809;mcc=001;mnc=01;ml=87`)
	status, a := w.push("text/plain", body, map[string]string{"Device-Number": "+33622222222"})
	if status != http.StatusUnprocessableEntity || a.Type != "urn:socle:problem:unusable-aml" {
		t.Fatalf("push: %d %+v", status, a)
	}
	fields := ""
	for _, e := range a.Errors {
		fields += e.Field + " "
	}
	if !strings.Contains(fields, "lt") || !strings.Contains(fields, "lg") {
		t.Errorf("errors name %q, want lt and lg", fields)
	}
	if m := intaketest.Read(t, w.pool, a.ID); string(m.Raw) != string(body) || m.Status != "unusable" {
		t.Fatalf("stored %q as %q, want the raw bytes as unusable", m.Raw, m.Status)
	}
	if intaketest.Count(t, w.pool).Deliveries != 0 {
		t.Fatal("an unusable message entered the outbox")
	}
}

func TestAnOperatorMayOnlyPushForNetworksItRuns(t *testing.T) {
	w := newWorld(t, nil)
	body := []byte(strings.Replace(string(form("112", 48.85, 2.35, "+33633333333")), "cell_network_mcc=001", "cell_network_mcc=208", 1))
	status, a := w.push(formType, body, nil)
	if status != http.StatusForbidden || a.Type != "urn:socle:problem:network-not-owned" || a.ID == "" {
		t.Fatalf("push: %d %+v, want 403 network-not-owned with the stored id", status, a)
	}
}

func TestTheInterconnectRefusesClientsWithoutARegisteredCertificate(t *testing.T) {
	w := newWorld(t, nil)
	ca, err := pki.LoadCA(w.bed.PKIDir)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string, ca *pki.CA, notAfter time.Time) {
		iss, err := ca.Issue(pki.Request{Name: name, Usage: pki.Client, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter})
		if err != nil {
			t.Fatal(err)
		}
		if err := iss.Save(w.bed.PKIDir, name); err != nil {
			t.Fatal(err)
		}
	}
	issue("expired", ca, time.Now().Add(-time.Hour))
	issue("stranger", ca, time.Now().Add(time.Hour))
	other, err := pki.NewCA("some other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue("foreign", other, time.Now().Add(time.Hour))

	body := form("112", 48.85, 2.35, "+33644444444")
	for _, name := range []string{"", "expired", "foreign"} {
		c, err := w.bed.Client(name, 1)
		if err != nil {
			t.Fatal(err)
		}
		if status, _, err := testbed.Push(context.Background(), c, w.svc.URL, formType, body, nil); err == nil {
			t.Errorf("client cert %q: answered %d, want the TLS handshake refused", name, status)
		}
	}
	c, _ := w.bed.Client("stranger", 1)
	status, b, err := testbed.Push(context.Background(), c, w.svc.URL, formType, body, nil)
	if err != nil || status != http.StatusForbidden || !strings.Contains(string(b), "certificate-not-registered") {
		t.Errorf("valid but unregistered certificate: %d %s %v, want 403 certificate-not-registered", status, b, err)
	}
}

func TestNothingIsLostWhileThePSAPIsDown(t *testing.T) {
	w := newWorld(t, nil)
	w.bed.Sim.SetDown(true)
	var ids []string
	for i := 0; i < 40; i++ {
		_, a := w.push(formType, form("112", 48.86, 2.34, fmt.Sprintf("+336550000%02d", i)), nil)
		ids = append(ids, a.ID)
	}
	waitFor(t, 10*time.Second, "failures are recorded and retried", func() bool {
		_, attempts, lastError, _, _ := w.delivery(ids[0])
		return attempts >= 2 && strings.Contains(lastError, "PSAP answered 503")
	})
	w.bed.Sim.SetDown(false)
	waitFor(t, 30*time.Second, "every location reaches the PSAP once it is back", func() bool {
		for _, id := range ids {
			if len(w.received(id)) == 0 {
				return false
			}
		}
		return true
	})
}

func TestALocationWithNoRouteIsKeptVisibleOrGoesToTheFallback(t *testing.T) {
	atSea := form("112", 43.20, 5.30, "+33666666666")
	t.Run("no fallback: retried with the reason recorded", func(t *testing.T) {
		w := newWorld(t, nil)
		_, a := w.push(formType, atSea, nil)
		waitFor(t, 10*time.Second, "the missing route is recorded", func() bool {
			st, attempts, lastError, _, _ := w.delivery(a.ID)
			return st == "pending" && attempts >= 2 && strings.Contains(lastError, "no commune")
		})
	})
	t.Run("fallback PSAP configured: delivered there", func(t *testing.T) {
		w := newWorld(t, func(c *emergency.Config) { c.FallbackPSAP = "samu-75" })
		_, a := w.push(formType, atSea, nil)
		waitFor(t, 10*time.Second, "delivery to the fallback", func() bool { return len(w.received(a.ID)) > 0 })
		if got := w.received(a.ID)[0].PSAP; got != "samu-75" {
			t.Fatalf("went to %s", got)
		}
		waitFor(t, 5*time.Second, "recorded", func() bool { s, _, _, _, _ := w.delivery(a.ID); return s == "delivered" })
		if _, _, _, _, route := w.delivery(a.ID); !strings.HasPrefix(route, "fallback: no commune") {
			t.Fatalf("route %q, want the fallback and its reason", route)
		}
	})
}

func TestAMessageNotDeliveredBeforeExpiryRaisesAnAlarm(t *testing.T) {
	w := newWorld(t, func(c *emergency.Config) { c.DeliveryExpiry = time.Second })
	w.bed.Sim.SetDown(true)
	_, a := w.push(formType, form("112", 48.86, 2.34, "+33677777777"), nil)
	waitFor(t, 15*time.Second, "the delivery expires", func() bool { s, _, _, _, _ := w.delivery(a.ID); return s == "expired" })
	if n := metric(t, w, "socle_emergency_delivery_expired_total"); n != 1 {
		t.Fatalf("expired counter = %v", n)
	}
}

// metric reads a counter or gauge of the service's registry.
func metric(t *testing.T, w *world, name string) float64 {
	t.Helper()
	families, err := w.svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			m := f.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestOldLocationsArePurgedButWhoReceivedWhatIsKept(t *testing.T) {
	w := newWorld(t, nil)
	_, a := w.push(formType, form("112", 48.86, 2.34, "+33688888888"), nil)
	waitFor(t, 10*time.Second, "delivery", func() bool { s, _, _, _, _ := w.delivery(a.ID); return s == "delivered" })
	ctx := context.Background()
	if n, err := emergency.Purge(ctx, w.pool, time.Hour); err != nil || n != 0 {
		t.Fatalf("purge of fresh data: %d %v", n, err)
	}
	intaketest.Age(t, w.pool, 25*time.Hour)
	if n, err := emergency.Purge(ctx, w.pool, 24*time.Hour); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	m := intaketest.Read(t, w.pool, a.ID)
	if m.Raw != nil || m.Device != nil || m.Latitude != nil {
		t.Errorf("personal data kept: raw=%v device=%v lat=%v", m.Raw, m.Device, m.Latitude)
	}
	if d := m.Delivery; d == nil || d.PSAP == "" || d.DeliveredAt == nil {
		t.Errorf("audit lost: %+v", d)
	}
}

func TestTheSameMessageSentConcurrentlyIsStoredOnceAndCountsItsRepeats(t *testing.T) {
	w := newWorld(t, nil)
	body := form("112", 48.853, 2.3499, "+33612121212")
	ids := make(chan string, 20)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, err := testbed.Push(context.Background(), w.operator, w.svc.URL, formType, body, nil)
			var a answer
			json.Unmarshal(b, &a)
			if err != nil || status != http.StatusAccepted {
				t.Errorf("push: %d %v", status, err)
			}
			ids <- a.ID
		}()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("ids %s and %s for one message", first, id)
		}
	}
	if n := intaketest.Count(t, w.pool); n.Messages != 1 || n.Repeats != 19 {
		t.Fatalf("%d rows, %d repeats; want 1 row seen 20 times", n.Messages, n.Repeats)
	}
	w.waitDelivered(t, first)
	if n := len(w.received(first)); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestOperatorsResolveAPlaceAndANumberToAPSAP(t *testing.T) {
	w := newWorld(t, nil)
	get := func(query string) (int, map[string]any) {
		resp, err := w.operator.Get(w.svc.URL + "/emergency/v1/routes/resolve?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, m := get("lat=48.8584&lon=2.2945&number=18")
	if status != 200 || m["commune"] != "75056" || m["departement"] != "75" || m["psap"] != "bspp" || m["routing_number"] != "0100000018" {
		t.Errorf("Eiffel Tower, 18: %d %v", status, m)
	}
	// The answer names the table version that gave it.
	var pdaauVersion, tnaauVersion int64
	w.pool.QueryRow(context.Background(), `SELECT id, active_seq FROM emergency.pdaau_versions WHERE departement = '75'`).Scan(&pdaauVersion, &tnaauVersion)
	if m["pdaau_version"] != float64(pdaauVersion) || m["tnaau_version"] != float64(tnaauVersion) || pdaauVersion == 0 {
		t.Errorf("versions: %v %v, want %d %d", m["pdaau_version"], m["tnaau_version"], pdaauVersion, tnaauVersion)
	}
	if status, m = get("lat=41.919&lon=8.7386&number=15"); status != 200 || m["psap"] != "samu-2a" || m["departement"] != "2A" {
		t.Errorf("Ajaccio, 15: %d %v", status, m)
	}
	if status, m = get("lat=43.20&lon=5.30&number=112"); status != 404 || m["type"] != "urn:socle:problem:no-commune" {
		t.Errorf("at sea: %d %v", status, m)
	}
	status, m = get("lat=91&lon=abc&number=113")
	if status != 400 || len(m["errors"].([]any)) != 3 {
		t.Errorf("bad query: %d %v", status, m)
	}
	// NaN parses as a float and fails both comparisons of a range check written v < min ||
	// v > max: it is no position.
	status, m = get("lat=NaN&lon=nan&number=18")
	if status != 400 || len(m["errors"].([]any)) != 2 {
		t.Errorf("NaN position: %d %v", status, m)
	}
}

// TestAMessageWithoutLocationIsRecordedAndNeverBecomesAPosition: ETSI TS 103 625 §6's
// message without location (pm=N, coordinates zero) is the record of a call, not a place.
// Before, it was read as a fix at 0,0, sent to the fallback centre and served to queries.
func TestAMessageWithoutLocationIsRecordedAndNeverBecomesAPosition(t *testing.T) {
	w := newWorld(t, func(c *emergency.Config) { c.FallbackPSAP = "samu-75" })
	body := []byte(`A"ML=1;lt=+00.00000;lg=+000.00000;rd=N;top=` + time.Now().UTC().Format("20060102150405") +
		`;lc=N;pm=N;si=001010123456789;ei=356938035643809;mcc=001;mnc=01;ml=127`)
	status, a := w.push("text/plain", body, map[string]string{"Device-Number": "+33633333333", "Emergency-Number": "112"})
	if status != http.StatusAccepted || a.Status != "no_location" || a.ID == "" {
		t.Fatalf("push: %d %+v, want 202 no_location", status, a)
	}
	m := intaketest.Read(t, w.pool, a.ID)
	if m.Status != "no_location" || m.Latitude != nil {
		t.Fatalf("record: %q %v, want no_location without a latitude", m.Status, m.Latitude)
	}
	if m.Delivery != nil {
		t.Fatalf("delivery %+v queued for a message without location", m.Delivery)
	}
	// A centre asking where the caller is gets no position from it.
	psap := psapClient(t, w)
	_, b := query(t, w, psap, "tel:+33633333333")
	if r, err := held.ParseResponse(b); err == nil {
		for _, l := range r.Location.Locations {
			p, isPoint := l.Shape.(pidflo.Point)
			c, isCircle := l.Shape.(pidflo.Circle)
			if (isPoint && p.Lat == 0 && p.Lon == 0) || (isCircle && c.Lat == 0 && c.Lon == 0) {
				t.Fatalf("served 0,0: %s", b)
			}
		}
	}
	if len(w.received(a.ID)) != 0 {
		t.Fatal("pushed to a PSAP")
	}
}
