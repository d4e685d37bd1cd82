package emergency_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"socle/internal/emergency"
	"socle/internal/emergency/acceptance"
	"socle/internal/emergency/aml"
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
	return &campaignWorld{world: w, a: a, campaign: id, tester: tester}
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

func (cw *campaignWorld) send(t *testing.T, contentType string, body []byte, device string) int {
	t.Helper()
	status, _, err := testbed.Push(context.Background(), cw.tester, cw.svc.URL, contentType, body,
		map[string]string{"Device-Number": device, "Emergency-Number": "112"})
	if err != nil {
		t.Fatal(err)
	}
	return status
}

func handset(src aml.Source, mcc, mnc string) aml.Message {
	now := time.Now().UTC().Truncate(time.Second)
	return aml.Message{DeviceNumber: "+33612345678", EmergencyNumber: "112", NetworkMCC: mcc, NetworkMNC: mnc,
		IMSI: "001010123456789", IMEI: "356938035643809", Time: now,
		Location: &aml.Location{Latitude: 48.85837, Longitude: 2.29448, Accuracy: 12, Confidence: 68, Source: src, Time: now}}
}

func TestAnOperatorThatSendsEveryPushCasePassesThemAllAndNothingReachesAPSAP(t *testing.T) {
	cw := newCampaign(t)
	form, text := "application/x-www-form-urlencoded", "text/plain"
	gnss := aml.EncodeHTTPS(handset(aml.SourceGPS, "001", "01"))
	noFix := handset(aml.SourceGPS, "001", "01")
	noFix.Location, noFix.NoLocation = nil, true
	for _, m := range []struct {
		contentType string
		body        []byte
	}{
		{form, gnss},
		{form, aml.EncodeHTTPS(handset(aml.SourceWiFi, "001", "01"))},
		{form, aml.EncodeHTTPS(handset(aml.SourceCell, "001", "01"))},
		{text, aml.EncodeSMSv1(noFix)},
		{text, aml.EncodeSMSv1(handset(aml.SourceGPS, "001", "01"))},
		{text, aml.EncodeSMSv2(handset(aml.SourceGPS, "001", "01"))},
		{form, gnss}, // again: a duplicate
		{form, aml.EncodeHTTPS(handset(aml.SourceGPS, "208", "20"))}, // a network the operator does not run
	} {
		cw.send(t, m.contentType, m.body, "+33612345678")
	}
	got := cw.results(t)
	for _, k := range acceptance.Cases {
		if k.Flow != acceptance.Push {
			continue
		}
		if r := got[k.ID]; r.State != acceptance.Passed || r.Exchange == "" {
			t.Errorf("%s: %s %s", k.ID, r.State, r.Reason)
		}
	}
	// The acceptance environment delivers nothing: the PSAP simulator heard nothing.
	cw.mu.Lock()
	heard := len(cw.got)
	cw.mu.Unlock()
	if heard != 0 {
		t.Fatalf("a PSAP received %d locations from the acceptance environment", heard)
	}
}

func TestAnSMSWithAWrongLengthFailsItsCaseOnly(t *testing.T) {
	cw := newCampaign(t)
	body := aml.EncodeSMSv1(handset(aml.SourceGPS, "001", "01"))
	bad := []byte(string(body[:len(body)-3]) + "999") // ml=999: not the message's length
	cw.send(t, "text/plain", bad, "+33612345678")
	got := cw.results(t)
	if r := got["push.sms.v1"]; r.State != acceptance.Failed || r.Reason == "" {
		t.Fatalf("push.sms.v1: %+v", r)
	}
	for id, r := range got {
		if id != "push.sms.v1" && r.State != acceptance.Waiting {
			t.Errorf("%s is %s", id, r.State)
		}
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
