package status

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/directory"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func seen(id string, l Level) Seen {
	return Seen{ID: id, Name: id, Kind: KindPSAP, Level: l, Why: why("deliveries.down", 2)}
}

// text is what the page says of a node's view, in French.
func text(s Seen) string { return Component{Why: s.Why}.Text("fr", t0) }

func TestALinkIsDownOnlyWhenEveryNodeSeesItDown(t *testing.T) {
	b := NewBoard(30 * time.Second)
	b.Put(Report{Node: "a", At: t0, Seen: []Seen{seen("psap:x", Down), seen("psap:y", Down)}})
	b.Put(Report{Node: "b", At: t0, Seen: []Seen{seen("psap:x", Operational), seen("psap:y", Down)}})
	got := map[string]Level{}
	for _, c := range b.Components(t0) {
		got[c.ID] = c.Status
	}
	if got["psap:x"] != Degraded || got["psap:y"] != Down {
		t.Fatalf("merged: %v", got)
	}
	// Node b falls silent: its report is forgotten, and a's view alone counts.
	b.Put(Report{Node: "a", At: t0.Add(40 * time.Second), Seen: []Seen{seen("psap:x", Down)}})
	for _, c := range b.Components(t0.Add(40 * time.Second)) {
		if c.ID == "psap:x" && c.Status != Down {
			t.Fatalf("with b gone: %s", c.Status)
		}
	}
}

func TestSinceIsWhenTheLevelLastChanged(t *testing.T) {
	b := NewBoard(time.Minute)
	at := func(d time.Duration, l Level) Component {
		b.Put(Report{Node: "a", At: t0.Add(d), Seen: []Seen{seen("psap:x", l)}})
		return b.Components(t0.Add(d))[0]
	}
	at(0, Operational)
	if c := at(10*time.Second, Operational); !c.Since.Equal(t0) {
		t.Fatalf("unchanged, since %s", c.Since)
	}
	if c := at(20*time.Second, Down); !c.Since.Equal(t0.Add(20*time.Second)) || c.Detail != "les 2 dernières remises ont échoué" {
		t.Fatalf("down: %+v", c)
	}
}

// tlsEndpoint is a PSAP's HTTPS endpoint on addr ("" for any port), and the pool trusting it.
func tlsEndpoint(t *testing.T, addr string) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.StartTLS()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

func TestAPSAPWhoseEndpointStopsIsDownAfterTwoHandshakesAndUpAgainWhenItReturns(t *testing.T) {
	srv, pool := tlsEndpoint(t, "")
	addr := srv.Listener.Addr().String()
	snap := &directory.Snapshot{PSAPs: map[string]*directory.PSAP{
		"bspp": {ID: "bspp", Name: "BSPP", Endpoint: "https://" + addr + "/aml", CA: pool}}}
	o := &Observer{Node: "n1", Directory: func() *directory.Snapshot { return snap }}
	level := func() (Level, string) {
		for _, s := range o.Report(time.Now()).Seen {
			if s.ID == "psap:bspp" {
				return s.Level, text(s)
			}
		}
		t.Fatal("no psap:bspp in the report")
		return "", ""
	}
	ctx := context.Background()
	o.Probe(ctx, 2*time.Second)
	if l, d := level(); l != Operational {
		t.Fatalf("reachable: %s %s", l, d)
	}
	srv.Close()
	o.Probe(ctx, 2*time.Second)
	if l, _ := level(); l != Degraded {
		t.Fatalf("one failed handshake: %s", l)
	}
	o.Probe(ctx, 2*time.Second)
	if l, d := level(); l != Down || !strings.Contains(d, "point de remise injoignable (2 essais)") {
		t.Fatalf("two failed handshakes: %s %s", l, d)
	}
	var delivery Seen
	for _, s := range o.Report(time.Now()).Seen {
		if s.ID == "service:delivery" {
			delivery = s
		}
	}
	if delivery.Level != Down {
		t.Fatalf("the only PSAP down, delivery is %s", delivery.Level)
	}
	back, _ := tlsEndpoint(t, addr)
	defer back.Close()
	snap.PSAPs["bspp"].CA = x509.NewCertPool()
	snap.PSAPs["bspp"].CA.AddCert(back.Certificate())
	o.Probe(ctx, 2*time.Second)
	if l, d := level(); l != Operational {
		t.Fatalf("back: %s %s", l, d)
	}
}

func TestDeliveriesThatAllFailMakeTheLinkDownAndSlowOnesDegraded(t *testing.T) {
	snap := &directory.Snapshot{PSAPs: map[string]*directory.PSAP{"x": {ID: "x", Name: "X"}}}
	o := &Observer{Node: "n1", Directory: func() *directory.Snapshot { return snap }}
	now := t0
	o.Delivered("x", false, 0, now.Add(-90*time.Second))
	o.Delivered("x", false, 0, now.Add(-30*time.Second))
	if s := o.psapSeen(snap.PSAPs["x"], now); s.Level != Down || text(s) != "les 2 dernières remises ont échoué" {
		t.Fatalf("%+v", s)
	}
	o.Delivered("x", true, 10*time.Millisecond, now)
	if s := o.psapSeen(snap.PSAPs["x"], now); s.Level != Degraded || !s.LastOK.Equal(now) {
		t.Fatalf("one good after two failures: %+v", s)
	}
	// A link that failed once and works again is operational.
	other := &directory.PSAP{ID: "y", Name: "Y"}
	o.Delivered("y", false, 0, now.Add(-time.Minute))
	o.Delivered("y", true, 10*time.Millisecond, now)
	if s := o.psapSeen(other, now); s.Level != Operational {
		t.Fatalf("back after one failure: %+v", s)
	}
	// Five minutes later the failures are forgotten; deliveries taking 3 s are slow.
	later := now.Add(6 * time.Minute)
	for i := range 20 {
		o.Delivered("x", true, 3*time.Second, later.Add(time.Duration(i)*time.Second))
	}
	if s := o.psapSeen(snap.PSAPs["x"], later.Add(20*time.Second)); s.Level != Degraded || !strings.Contains(text(s), "remises lentes") {
		t.Fatalf("slow: %+v", s)
	}
}

func TestTheCutoverForwardingShowsAsAServiceDegradedWhileBehind(t *testing.T) {
	snap := &directory.Snapshot{PSAPs: map[string]*directory.PSAP{"x": {ID: "x", Name: "X"}}}
	o := &Observer{Node: "n1", Directory: func() *directory.Snapshot { return snap }}
	find := func(r Report) (Seen, bool) {
		for _, s := range r.Seen {
			if s.ID == "service:forward" {
				return s, true
			}
		}
		return Seen{}, false
	}
	if _, ok := find(o.Report(t0)); ok {
		t.Fatal("the forwarding is shown without a cutover relay")
	}
	f := Forwarding{Pending: 3, Oldest: 2 * time.Second, Alarm: time.Minute}
	o.Forward = func() Forwarding { return f }
	if s, ok := find(o.Report(t0)); !ok || s.Level != Operational {
		t.Fatalf("a small backlog: %+v %v", s, ok)
	}
	f = Forwarding{Pending: 120, Oldest: 95 * time.Second, Alarm: time.Minute}
	s, ok := find(o.Report(t0))
	if !ok || s.Level != Degraded || text(s) != "120 message(s) en attente de transmission à l'ancienne plateforme, le plus ancien reçu il y a 95 s" {
		t.Fatalf("behind: %+v (%q)", s, text(s))
	}
	// On the page, it comes after the delivery to the PSAPs.
	b := NewBoard(time.Minute)
	b.Put(o.Report(t0))
	var ids []string
	for _, c := range b.Components(t0) {
		if c.Kind == KindService {
			ids = append(ids, c.ID)
		}
	}
	if strings.Join(ids, " ") != "service:intake service:routing service:delivery service:forward service:pull" {
		t.Fatalf("services in the order %v", ids)
	}
}
