package emergency_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"socle/internal/emergency"
	"socle/internal/emergency/acceptance"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/opsim"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/pki"
)

// campaignWorld is socle's acceptance environment with the demo operator's tester: a
// certificate of its own registered, and a campaign running with it.
type campaignWorld struct {
	*world
	a        *acceptance.Acceptance
	campaign int64
	tester   *http.Client
	wrong    *http.Client
}

func newCampaign(t *testing.T) *campaignWorld {
	t.Helper()
	ctx := context.Background()
	w := newWorld(t, func(c *emergency.Config) { c.Acceptance = true })
	a := w.svc.Acceptance()
	// The tester's certificate, issued by the CA the interconnect trusts, for network 001-01.
	if _, err := pki.EnsureIssued(w.bed.PKIDir, "acceptance-op", pki.Request{Name: "push.operateur.example",
		Organization: "Opérateur mobile de démonstration", Usage: pki.Client, Units: []string{"001-01"}}); err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := os.ReadFile(filepath.Join(w.bed.PKIDir, "acceptance-op.crt"))
	op := a.Directory().Operators["demo-mobile"]
	c, rep, _, err := a.Check(pemBytes, op)
	if err != nil || !rep.Acceptable() {
		t.Fatalf("the tester's certificate: %v %+v", err, rep)
	}
	if err := a.Store.Register(ctx, op.ID, c, rep, false, "testeur@operateur.example"); err != nil {
		t.Fatal(err)
	}
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := a.Store.Start(ctx, op.ID, rep.Fingerprint, "testeur@operateur.example")
	if err != nil {
		t.Fatal(err)
	}
	tester, err := w.bed.Client("acceptance-op", 2)
	if err != nil {
		t.Fatal(err)
	}
	// Another certificate of the same CA, registered nowhere: the wrong one.
	if _, err := pki.EnsureIssued(w.bed.PKIDir, "acceptance-other", pki.Request{Name: "autre.example", Usage: pki.Client}); err != nil {
		t.Fatal(err)
	}
	wrong, err := w.bed.Client("acceptance-other", 1)
	if err != nil {
		t.Fatal(err)
	}
	return &campaignWorld{world: w, a: a, campaign: id, tester: tester, wrong: wrong}
}

func (cw *campaignWorld) results(t *testing.T) map[string]acceptance.Result {
	t.Helper()
	c, err := cw.a.Store.Campaign(context.Background(), cw.campaign)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]acceptance.Result{}
	for _, r := range c.Results {
		out[r.Case] = r
	}
	return out
}

func (cw *campaignWorld) player() acceptance.Player {
	return acceptance.Player{Client: cw.tester, Wrong: cw.wrong, URL: cw.svc.URL, Network: [2]string{"001", "01"}, Foreign: [2]string{"208", "20"}}
}

// play sends the player's messages and returns the PUSH cases' states.
func (cw *campaignWorld) play(t *testing.T, p acceptance.Player) map[string]string {
	t.Helper()
	if _, err := p.Push(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for id, r := range cw.results(t) {
		if k, _ := acceptance.CaseByID(id); k.Flow == acceptance.Push {
			got[id] = r.State
		}
	}
	return got
}

func TestAnOperatorThatSendsEveryPushCasePassesThemAllAndNothingReachesAPSAP(t *testing.T) {
	cw := newCampaign(t)
	for id, state := range cw.play(t, cw.player()) {
		if state != acceptance.Passed {
			t.Errorf("%s: %s (%s)", id, state, cw.results(t)[id].Reason)
		}
	}
	for id, r := range cw.results(t) {
		if r.State == acceptance.Passed && r.Exchange == "" {
			t.Errorf("%s passed without its exchange", id)
		}
	}
	// The acceptance environment delivers nothing: the PSAP simulator heard nothing, and no
	// outbox row stays pending (the purge would wait for it).
	cw.mu.Lock()
	heard := len(cw.got)
	cw.mu.Unlock()
	if heard != 0 {
		t.Fatalf("a PSAP received %d locations from the acceptance environment", heard)
	}
	if n := intaketest.Count(t, cw.pool); n.Pending != 0 || n.Deliveries == 0 {
		t.Fatalf("outbox rows: %+v", n)
	}
}

// Each broken mode of the player fails exactly its cases, and leaves the others as they
// would be.
func TestEachBrokenModeFailsExactlyItsCases(t *testing.T) {
	for _, c := range []struct {
		mode   string
		tweak  func(*acceptance.Player)
		failed []string // the others pass
		unseen []string // never shown: they stay waiting
	}{
		{"a wrong ml in every SMS", func(p *acceptance.Player) { p.BadML = true },
			[]string{"push.nolocation", "push.sms.v1", "push.sms.v2"}, nil},
		{"another operator's network on every message", func(p *acceptance.Player) { p.WrongNetwork = true },
			nil, []string{"push.https.gnss", "push.https.wifi", "push.https.cell", "push.nolocation", "push.sms.v1", "push.sms.v2"}},
		{"no message with a wrong certificate", func(p *acceptance.Player) { p.Wrong = nil },
			nil, []string{"push.wrong-certificate"}},
	} {
		t.Run(c.mode, func(t *testing.T) {
			cw := newCampaign(t)
			p := cw.player()
			c.tweak(&p)
			for id, state := range cw.play(t, p) {
				want := acceptance.Passed
				if slices.Contains(c.failed, id) {
					want = acceptance.Failed
				}
				if slices.Contains(c.unseen, id) {
					want = acceptance.Waiting
				}
				if state != want {
					t.Errorf("%s: %s, want %s", id, state, want)
				}
			}
		})
	}
}

// The PULL cases against the operator's test server: conformant, they pass; slow answers or
// wrong HELD codes fail exactly the cases they should.
func TestThePullCasesJudgeTheOperatorsLocationServer(t *testing.T) {
	cw := newCampaign(t)
	sim := opsim.New()
	url, stop, err := cw.bed.StartOperatorServer(sim, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client, err := cw.bed.Client("socle-client", 2)
	if err != nil {
		t.Fatal(err)
	}
	e := acceptance.Endpoint{OperatorID: "demo-mobile", HELDURL: url, MobileNumber: "+33612345678", FixedNumber: "+33140000000", Unknown: "+33999999999"}
	run := func() map[string]string {
		got := map[string]string{}
		acceptance.RunPull(context.Background(), client, e, func(v acceptance.Verdict, exchange string) {
			if exchange == "" {
				t.Errorf("%s: no exchange kept", v.Case)
			}
			got[v.Case] = v.State
		})
		return got
	}
	want := func(got map[string]string, failed ...string) {
		t.Helper()
		for _, k := range acceptance.Cases {
			if k.Flow != acceptance.Pull {
				continue
			}
			w := acceptance.Passed
			for _, f := range failed {
				if f == k.ID {
					w = acceptance.Failed
				}
			}
			if got[k.ID] != w {
				t.Errorf("%s: %s, want %s", k.ID, got[k.ID], w)
			}
		}
	}
	want(run())
	sim.SetDelay(acceptance.PullResponseTime + 500*time.Millisecond)
	want(run(), "pull.timely")
	sim.SetDelay(0)
	sim.SetError("serverBusy") // not a code of RFC 5985
	want(run(), "pull.mobile", "pull.fixed", "pull.timely", "pull.unknown")
}
