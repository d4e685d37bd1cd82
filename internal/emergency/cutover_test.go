package emergency_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"socle/internal/emergency"
	"socle/internal/emergency/aml"
	"socle/internal/emergency/held"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/pidflo"
	"socle/internal/emergency/psapsim"
	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/config"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

// legacyPlatform stands for the legacy location platform of a cutover: a peer we do not
// have, so a real HTTPS server of the test with its own certificate from the bed's PKI,
// requiring socle's client certificate (mutual TLS), that reads every AML message it gets
// with socle's own decoder and keeps what it understood.
type legacyPlatform struct {
	t        *testing.T
	addr     string
	tls      *tls.Config
	socleFP  string // the fingerprint of socle's client certificate: the only caller expected
	mu       sync.Mutex
	l        *server.Listener
	got      map[string][]legacyReceived // by socle's message id
	refuse   atomic.Bool                 // answer 503 to every push
	problems []string
}

type legacyReceived struct {
	Message     aml.Message
	ContentType string
	Number      string // Emergency-Number
}

const legacyPath = "/pflau/aml"

func startLegacy(t *testing.T, bed *testbed.Bed) *legacyPlatform {
	t.Helper()
	if _, err := pki.EnsureIssued(bed.PKIDir, "legacy-server", pki.Request{Name: "legacy-server", Usage: pki.Server,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.MutualTLS(filepath.Join(bed.PKIDir, "legacy-server.crt"), filepath.Join(bed.PKIDir, "legacy-server.key"), bed.CA)
	if err != nil {
		t.Fatal(err)
	}
	socle, err := pki.LoadCertificates(filepath.Join(bed.PKIDir, "socle-client.crt"))
	if err != nil {
		t.Fatal(err)
	}
	lp := &legacyPlatform{t: t, addr: "127.0.0.1:0", tls: cfg, socleFP: pki.Fingerprint(socle[0]), got: map[string][]legacyReceived{}}
	lp.start()
	t.Cleanup(lp.stop)
	return lp
}

func (lp *legacyPlatform) url() string { return "https://" + lp.addr + legacyPath }

// start listens (again, on the same port after stop).
func (lp *legacyPlatform) start() {
	lp.t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+legacyPath, lp.receive)
	l := &server.Listener{Name: "legacy", Addr: lp.addr, TLS: lp.tls, Handler: mux, Logger: testbed.Discard()}
	if err := l.Listen(); err != nil {
		lp.t.Fatal(err)
	}
	go l.Serve()
	lp.mu.Lock()
	lp.l, lp.addr = l, l.BoundAddr()
	lp.mu.Unlock()
}

// stop closes the listener: the platform is down, connections are refused.
func (lp *legacyPlatform) stop() {
	lp.mu.Lock()
	l := lp.l
	lp.l = nil
	lp.mu.Unlock()
	if l != nil {
		l.Shutdown(context.Background())
	}
}

func (lp *legacyPlatform) receive(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if lp.refuse.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Message-Id"), "<"), "@socle>")
	msg, findings := aml.Parse(r.Header.Get("Content-Type"), body, r.Header.Get("Device-Number"))
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if fp := pki.Fingerprint(r.TLS.PeerCertificates[0]); fp != lp.socleFP {
		lp.problems = append(lp.problems, "a push with another certificate than socle's: "+r.TLS.PeerCertificates[0].Subject.String())
	}
	for _, f := range findings {
		if f.Severity == aml.Error {
			lp.problems = append(lp.problems, fmt.Sprintf("message %s: %s: %s", id, f.Field, f.Reason))
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
	}
	if id == "" {
		lp.problems = append(lp.problems, "a push without socle's Message-Id")
	}
	lp.got[id] = append(lp.got[id], legacyReceived{Message: msg, ContentType: r.Header.Get("Content-Type"),
		Number: r.Header.Get("Emergency-Number")})
	w.WriteHeader(http.StatusAccepted)
}

func (lp *legacyPlatform) received(id string) []legacyReceived {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	return lp.got[id]
}

func (lp *legacyPlatform) check() {
	lp.t.Helper()
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for _, p := range lp.problems {
		lp.t.Error("legacy platform: " + p)
	}
}

// newCutoverWorld is a push path in the cutover relay: socle forwards to a legacy platform
// and knows the legacy platform's client certificate (legacy-client in the bed's PKI).
func newCutoverWorld(t *testing.T, tweak ...func(*emergency.CutoverConfig)) (*world, *legacyPlatform, *http.Client) {
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
	lp := startLegacy(t, bed)
	if _, err := pki.EnsureIssued(bed.PKIDir, "legacy-client", pki.Request{Name: "legacy-client", Usage: pki.Client}); err != nil {
		t.Fatal(err)
	}
	cfg := cutoverConfig(bed, lp)
	for _, f := range tweak {
		f(&cfg.Cutover)
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
	legacyClient, err := bed.Client("legacy-client", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lp.check)
	return w, lp, legacyClient
}

// cutoverConfig is a node's configuration in the cutover relay to lp.
func cutoverConfig(bed *testbed.Bed, lp *legacyPlatform) emergency.Config {
	cfg := emergency.LoopbackConfig()
	cfg.Cutover = emergency.CutoverConfig{Forward: lp.url(), ForwardCA: filepath.Join(bed.PKIDir, "ca.crt"),
		LegacyCerts: filepath.Join(bed.PKIDir, "legacy-client.crt"), ForwardConcurrency: 8, ForwardAlarm: time.Minute}
	return cfg
}

func TestCutoverForwardsEveryAcceptedAMLToTheLegacyPlatformAsTheOperatorSentIt(t *testing.T) {
	w, lp, _ := newCutoverWorld(t)
	start := time.Now()
	var ids []string
	for i := range 10 {
		device := fmt.Sprintf("+3361234560%d", i)
		status, a := w.push(formType, form("18", 48.8584, 2.2945, device), nil)
		if status != http.StatusAccepted {
			t.Fatalf("push %d: %d %+v", i, status, a)
		}
		ids = append(ids, a.ID)
	}
	// An SMS AML (text/plain) needs the caller's number in Device-Number: the legacy
	// platform gets it too.
	sms := aml.EncodeSMSv1(aml.Message{Location: &aml.Location{Latitude: 48.8584, Longitude: 2.2945, Accuracy: 30,
		Source: aml.SourceGPS, Time: time.Now().Add(-5 * time.Second).UTC().Truncate(time.Second)}, NetworkMCC: "001", NetworkMNC: "01"})
	status, smsAns := w.push("text/plain", sms, map[string]string{"Device-Number": "+33612345699", "Emergency-Number": "112"})
	if status != http.StatusAccepted {
		t.Fatalf("SMS push: %d %+v", status, smsAns)
	}
	// A message saying the handset had no position is answered 202 and recorded: the legacy
	// platform records the call too.
	noFix := aml.EncodeSMSv1(aml.Message{NoLocation: true, NetworkMCC: "001", NetworkMNC: "01"})
	status, noFixAns := w.push("text/plain", noFix, map[string]string{"Device-Number": "+33612345698", "Emergency-Number": "112"})
	if status != http.StatusAccepted {
		t.Fatalf("no-location push: %d %+v", status, noFixAns)
	}
	// An unusable message is refused to the operator: nobody else gets it.
	status, bad := w.push(formType, []byte("v=3&emergency_number=112&location_latitude=48.85"), nil)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("unusable push: %d %+v", status, bad)
	}

	for i, id := range append(ids, smsAns.ID) {
		waitFor(t, 10*time.Second, "the PSAP receives "+id, func() bool { return len(w.received(id)) > 0 })
		waitFor(t, 10*time.Second, "the legacy platform receives "+id, func() bool { return len(lp.received(id)) > 0 })
		got := lp.received(id)[0]
		want := fmt.Sprintf("+3361234560%d", i)
		if id == smsAns.ID {
			want = "+33612345699"
		}
		if got.Message.DeviceNumber != want || got.Message.Location == nil || got.Message.Location.Latitude != 48.8584 {
			t.Errorf("legacy got for %s: %+v", id, got.Message)
		}
	}
	waitFor(t, 10*time.Second, "the legacy platform receives the no-location message", func() bool { return len(lp.received(noFixAns.ID)) > 0 })
	if m := lp.received(noFixAns.ID)[0].Message; !m.NoLocation || m.DeviceNumber != "+33612345698" {
		t.Errorf("no-location message as the legacy platform read it: %+v", m)
	}
	if got := lp.received(ids[0])[0]; got.ContentType != formType || got.Number != "18" || got.Message.Format != aml.FormatHTTPS {
		t.Errorf("HTTPS AML forwarded as %q, number %q, format %s", got.ContentType, got.Number, got.Message.Format)
	}
	if got := lp.received(smsAns.ID)[0]; got.ContentType != "text/plain" || got.Message.Format != aml.FormatSMSv1 {
		t.Errorf("SMS AML forwarded as %q, format %s", got.ContentType, got.Message.Format)
	}
	waitFor(t, 10*time.Second, "every forwarding recorded", func() bool { return intaketest.PendingForwards(t, w.pool) == 0 })
	for _, id := range append(ids, smsAns.ID, noFixAns.ID) {
		if f := intaketest.ReadForwarding(t, w.pool, id); f.State != "forwarded" || f.RelayedBy != "" || f.Operator != "demo-mobile" {
			t.Errorf("forwarding of %s: %+v", id, f)
		}
	}
	if f := intaketest.ReadForwarding(t, w.pool, bad.ID); f.State != "" {
		t.Errorf("the unusable message has a forwarding row: %+v", f)
	}
	if n := metric(t, w, "socle_emergency_forward_forwarded_total"); n != 12 {
		t.Errorf("forwarded counter = %v, want 12", n)
	}
	t.Logf("12 messages pushed, delivered to the PSAP and forwarded to the legacy platform in %s", time.Since(start).Round(time.Millisecond))
}

func TestCutoverLegacyDownTheBacklogGrowsThenDrainsAndNothingIsLost(t *testing.T) {
	w, lp, _ := newCutoverWorld(t)
	lp.stop()
	var ids []string
	for i := range 20 {
		status, a := w.push(formType, form("15", 48.8584, 2.2945, fmt.Sprintf("+336000001%02d", i)), nil)
		if status != http.StatusAccepted {
			t.Fatalf("push %d: %d %+v", i, status, a)
		}
		ids = append(ids, a.ID)
	}
	// The PSAPs get everything while the legacy platform is down.
	for _, id := range ids {
		w.waitDelivered(t, id)
	}
	waitFor(t, 15*time.Second, "the backlog on the metrics", func() bool {
		return metric(t, w, "socle_emergency_forward_backlog") == 20
	})
	waitFor(t, 10*time.Second, "failed attempts recorded", func() bool {
		f := intaketest.ReadForwarding(t, w.pool, ids[0])
		return f.State == "pending" && f.Attempts >= 2 && f.LastError != ""
	})
	oldest := metric(t, w, "socle_emergency_forward_oldest_seconds")
	if oldest <= 0 {
		t.Errorf("oldest pending message: %v s", oldest)
	}
	t.Logf("legacy down: backlog 20, oldest %.1f s, last error %q", oldest, intaketest.ReadForwarding(t, w.pool, ids[0]).LastError)

	back := time.Now()
	lp.start()
	waitFor(t, 60*time.Second, "the backlog drained to the legacy platform", func() bool {
		return intaketest.PendingForwards(t, w.pool) == 0
	})
	drained := time.Since(back)
	dups := 0
	for _, id := range ids {
		n := len(lp.received(id))
		if n == 0 {
			t.Errorf("message %s lost for the legacy platform", id)
		}
		dups += n - 1
		if f := intaketest.ReadForwarding(t, w.pool, id); f.State != "forwarded" {
			t.Errorf("forwarding of %s: %+v", id, f)
		}
	}
	waitFor(t, 15*time.Second, "the backlog gauge back to 0", func() bool { return metric(t, w, "socle_emergency_forward_backlog") == 0 })
	t.Logf("legacy back: 20 forwarded %s after it came back, %d duplicates (same Message-Id)", drained.Round(time.Millisecond), dups)
}

func TestCutoverAMessageTheLegacyPlatformNeverAcknowledgesExpiresWithAnAlarm(t *testing.T) {
	w, lp, _ := newCutoverWorld(t)
	lp.refuse.Store(true)
	// The expiry is the PSAP delivery's (an hour by default), set on a message's rows by the
	// node that accepts it: a second node with a short one takes the push.
	cfg := cutoverConfig(w.bed, lp)
	cfg.DeliveryExpiry = 2 * time.Second
	short, err := emergency.StartLoopbackNode(context.Background(), w.bed, w.pool, cfg, testbed.Discard(), w.svc.Bus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { short.Stop() })
	status, b, err := testbed.Push(context.Background(), w.operator, short.URL, formType, form("15", 48.8584, 2.2945, "+33600000300"), nil)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("push: %d %s %v", status, b, err)
	}
	id := answerID(t, b)
	w.waitDelivered(t, id) // the PSAP has it, whatever the legacy platform does
	waitFor(t, 20*time.Second, "the forwarding given up", func() bool {
		return intaketest.ReadForwarding(t, w.pool, id).State == "expired"
	})
	f := intaketest.ReadForwarding(t, w.pool, id)
	if f.Attempts < 1 || f.LastError != "the legacy platform answered 503" {
		t.Errorf("expired forwarding: %+v", f)
	}
	expired := 0.0
	for _, reg := range []*emergency.Loopback{w.svc, short} {
		families, err := reg.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, fam := range families {
			if fam.GetName() == "socle_emergency_forward_expired_total" {
				expired += fam.GetMetric()[0].GetCounter().GetValue()
			}
		}
	}
	if expired != 1 {
		t.Errorf("expired counters of the two nodes: %v, want 1", expired)
	}
	if len(lp.received(id)) != 0 {
		t.Errorf("the legacy platform recorded a message it refused")
	}
}

func TestCutoverAnotherNodeForwardsWhatAStoppedNodeAccepted(t *testing.T) {
	w, lp, _ := newCutoverWorld(t)
	// A second replica on the same database and bus takes the pushes, while the legacy
	// platform is down; then it stops, and what it left is the first replica's to forward.
	other, err := emergency.StartLoopbackNode(context.Background(), w.bed, w.pool, cutoverConfig(w.bed, lp), testbed.Discard(), w.svc.Bus())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			other.Stop()
		}
	})
	lp.stop()
	var ids []string
	for i := range 10 {
		status, b, err := testbed.Push(context.Background(), w.operator, other.URL, formType,
			form("15", 48.8584, 2.2945, fmt.Sprintf("+336000002%02d", i)), nil)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("push %d to the other node: %d %s %v", i, status, b, err)
		}
		ids = append(ids, answerID(t, b))
	}
	waitFor(t, 10*time.Second, "the other node tried to forward", func() bool {
		return intaketest.ReadForwarding(t, w.pool, ids[len(ids)-1]).Attempts >= 1
	})
	if err := other.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	lp.start()
	waitFor(t, 60*time.Second, "the first node forwards them all", func() bool { return intaketest.PendingForwards(t, w.pool) == 0 })
	for _, id := range ids {
		if len(lp.received(id)) == 0 {
			t.Errorf("message %s lost for the legacy platform", id)
		}
		w.waitDelivered(t, id)
	}
	if n := metric(t, w, "socle_emergency_forward_forwarded_total"); n != 10 {
		t.Errorf("the first node forwarded %v, want the 10 the stopped node left", n)
	}
}

func TestCutoverARelayedAMLReachesThePSAPAndIsNotForwardedBack(t *testing.T) {
	w, lp, legacy := newCutoverWorld(t)
	body := form("18", 48.8584, 2.2945, "+33612300001")
	status, b, err := testbed.Push(context.Background(), legacy, w.svc.URL, formType, body, nil)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("relayed push: %d %s %v", status, b, err)
	}
	id := answerID(t, b)
	waitFor(t, 10*time.Second, "the PSAP receives the relayed message", func() bool { return len(w.received(id)) > 0 })
	if f := intaketest.ReadForwarding(t, w.pool, id); f.RelayedBy != emergency.LegacyID || f.Operator != "demo-mobile" || f.State != "" {
		t.Fatalf("relayed message stored as %+v: want relayed by %s, under the operator of its network, with no forwarding", f, emergency.LegacyID)
	}
	// The operator sends the same message to socle too (its DNS changed half-way): the same
	// message, stored and delivered once.
	status, a := w.push(formType, body, nil)
	if status != http.StatusAccepted || a.ID != id || !a.Duplicate {
		t.Fatalf("the operator's copy: %d %+v, want a duplicate of %s", status, a, id)
	}
	// A message pushed by the operator afterwards is forwarded; once it has arrived, the
	// relayed one, older, would have too had it been forwarded.
	_, after := w.push(formType, form("18", 48.8584, 2.2945, "+33612300002"), nil)
	waitFor(t, 10*time.Second, "the legacy platform receives the operator's message", func() bool { return len(lp.received(after.ID)) > 0 })
	if got := lp.received(id); len(got) != 0 {
		t.Fatalf("the relayed message went back to the legacy platform: %+v", got)
	}
	if n := len(w.received(id)); n != 1 {
		t.Errorf("the PSAP received the relayed message %d times", n)
	}
}

func TestCutoverRelayOnlyForwardsEverythingAndPushesToNoPSAP(t *testing.T) {
	// The rollback: the legacy platform pushes to the PSAPs again; what still reaches socle
	// (an operator's DNS not yet changed back) goes to the legacy platform only.
	w, lp, legacy := newCutoverWorld(t, func(c *emergency.CutoverConfig) { c.PSAPDelivery = "off" })
	_, a := w.push(formType, form("18", 48.8584, 2.2945, "+33612300011"), nil)
	waitFor(t, 10*time.Second, "the legacy platform receives the message", func() bool { return len(lp.received(a.ID)) > 0 })
	if m := intaketest.Read(t, w.pool, a.ID); m.Status != "accepted" || m.Delivery != nil {
		t.Fatalf("relay only: message stored as %+v, want accepted with no PSAP outbox row", m)
	}
	// Its fix still answers the legacy platform's location queries.
	status, b := query(t, w, legacy, "tel:+33612300011")
	if _, err := held.ParseResponse(b); status != http.StatusOK || err != nil {
		t.Fatalf("legacy query in relay-only mode: %d %v\n%s", status, err, b)
	}
	// A message the legacy platform relays is neither delivered nor forwarded back.
	status, b, err := testbed.Push(context.Background(), legacy, w.svc.URL, formType, form("18", 48.8584, 2.2945, "+33612300012"), nil)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("relayed push: %d %s %v", status, b, err)
	}
	relayed := answerID(t, b)
	if m, f := intaketest.Read(t, w.pool, relayed), intaketest.ReadForwarding(t, w.pool, relayed); m.Delivery != nil || f.State != "" {
		t.Fatalf("relayed in relay-only mode: delivery %+v, forwarding %+v", m.Delivery, f)
	}
	w.mu.Lock()
	n := len(w.got)
	w.mu.Unlock()
	if n != 0 {
		t.Fatalf("the PSAPs received %d pushes from socle in relay-only mode", n)
	}
}

func answerID(t *testing.T, b []byte) string {
	t.Helper()
	i := strings.Index(string(b), `"id":"`)
	if i < 0 {
		t.Fatalf("no id in %s", b)
	}
	rest := string(b[i+6:])
	return rest[:strings.IndexByte(rest, '"')]
}

func TestCutoverTheLegacyPlatformLocatesACallerOverHELDAndOthersAreRefused(t *testing.T) {
	w, _, legacy := newCutoverWorld(t)
	_, a := w.push(formType, form("15", lyonLat, lyonLon, "+33612345670"), nil)
	w.waitDelivered(t, a.ID)

	status, b := query(t, w, legacy, "tel:+33612345670")
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, b)
	}
	resp, err := held.ParseResponse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	c, ok := resp.Location.Locations[0].Shape.(pidflo.Circle)
	if !ok || c.Radius != 18.5 || resp.Location.Entity != "tel:+33612345670" {
		t.Fatalf("location %+v", resp.Location)
	}
	var requester, source, outcome, msg string
	waitFor(t, 5*time.Second, "the query in the audit table", func() bool {
		return w.pool.QueryRow(context.Background(), `SELECT psap_id, source, outcome, coalesce(message_id::text, '')
			FROM emergency.pull_queries WHERE device = '+33612345670'`).Scan(&requester, &source, &outcome, &msg) == nil
	})
	if requester != "legacy-platform:legacy" || source != "aml" || outcome != "located" || msg != a.ID {
		t.Fatalf("audit: %s %s %s %s", requester, source, outcome, msg)
	}

	// A certificate from a CA socle trusts, but neither the legacy platform's nor anyone's
	// in the directory, may neither locate nor push.
	if _, err := pki.EnsureIssued(w.bed.PKIDir, "stranger", pki.Request{Name: "stranger", Usage: pki.Client}); err != nil {
		t.Fatal(err)
	}
	stranger, err := w.bed.Client("stranger", 1)
	if err != nil {
		t.Fatal(err)
	}
	if status, b := query(t, w, stranger, "tel:+33612345670"); status != http.StatusOK || heldError(t, b) != held.RequestError {
		t.Errorf("stranger asking: %d %s", status, b)
	}
	if status, b, _ := testbed.Push(context.Background(), stranger, w.svc.URL, formType, form("15", lyonLat, lyonLon, "+33612345671"), nil); status != http.StatusForbidden ||
		!strings.Contains(string(b), "certificate-not-registered") {
		t.Errorf("stranger pushing: %d %s", status, b)
	}
	// The operator's certificate is not the legacy platform's either.
	if status, b := query(t, w, w.operator, "tel:+33612345670"); status != http.StatusOK || heldError(t, b) != held.RequestError {
		t.Errorf("operator asking: %d %s", status, b)
	}
}

func TestCutoverSettingsAreCheckedAtStart(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const ok = "https://pflau.example.fr/aml"
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": "http://pflau.example.fr/aml"}, "SOCLE_EMERGENCY_CUTOVER_FORWARD=\"http://pflau.example.fr/aml\": the scheme must be https"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": "pflau.example.fr/aml"}, "the scheme must be https"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": "https:///aml"}, "no host"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": "https://u:p@pflau.example.fr/aml"}, "no user or password"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": "https://pflau.example.fr:port/aml"}, "not a URL"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD_CA": notPEM}, "SOCLE_EMERGENCY_CUTOVER_FORWARD is empty"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": ok, "SOCLE_EMERGENCY_CUTOVER_FORWARD_CA": filepath.Join(dir, "absent.pem")},
			"SOCLE_EMERGENCY_CUTOVER_FORWARD_CA=" + filepath.Join(dir, "absent.pem")},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": ok, "SOCLE_EMERGENCY_CUTOVER_FORWARD_CA": notPEM}, "no PEM certificate found"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_LEGACY_CERTS": notPEM}, "SOCLE_EMERGENCY_CUTOVER_LEGACY_CERTS=" + notPEM},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": ok, "SOCLE_EMERGENCY_ACCEPTANCE": "true"}, "acceptance environment"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY": "off"}, "SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY=off needs SOCLE_EMERGENCY_CUTOVER_FORWARD"},
		{map[string]string{"SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY": "no"}, "SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY"},
	} {
		s := config.New()
		var cfg emergency.Config
		cfg.Register(s)
		err := s.LoadEnv(func(k string) string { return c.env[k] })
		if err == nil {
			err = s.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.env, err, c.want)
		}
	}
	// Good settings pass.
	s := config.New()
	var cfg emergency.Config
	cfg.Register(s)
	if err := s.LoadEnv(func(k string) string { return map[string]string{"SOCLE_EMERGENCY_CUTOVER_FORWARD": ok}[k] }); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("good settings refused: %v", err)
	}
	// The service, built without the configuration table (as the tests and benchmarks do),
	// checks them too.
	bad := emergency.LoopbackConfig()
	bad.Cutover.Forward = "http://pflau.example.fr/aml"
	if _, err := emergency.New(bad, emergency.Deps{DataDir: dir, Logger: testbed.Discard()}); err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Errorf("New with an http forward URL: %v", err)
	}
}
