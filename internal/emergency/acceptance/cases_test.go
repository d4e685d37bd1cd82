package acceptance

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"socle/internal/emergency/aml"
)

// pushed is what intake makes of a message an operator sends: parsed by the real parser.
func pushed(contentType string, body []byte, status string) Pushed {
	m, fs := aml.Parse(contentType, body, "+33612345678")
	p := Pushed{Format: m.Format, Status: status, Findings: fs}
	if m.Location != nil {
		p.Source = m.Location.Source
	}
	return p
}

func message(src aml.Source) aml.Message {
	return aml.Message{DeviceNumber: "+33612345678", EmergencyNumber: "112", NetworkMCC: "208", NetworkMNC: "01",
		IMSI: "208011234567890", IMEI: "356938035643809", Time: time.Now().UTC().Truncate(time.Second),
		Location: &aml.Location{Latitude: 48.85837, Longitude: 2.29448, Accuracy: 12, Confidence: 68, Source: src,
			Time: time.Now().UTC().Truncate(time.Second)}}
}

func TestEachConformantMessagePassesItsCase(t *testing.T) {
	form, text := "application/x-www-form-urlencoded", "text/plain"
	noFix := message(aml.SourceGPS)
	noFix.Location, noFix.NoLocation = nil, true
	for _, c := range []struct {
		p    Pushed
		want string
	}{
		{pushed(form, aml.EncodeHTTPS(message(aml.SourceGPS)), "accepted"), "push.https.gnss"},
		{pushed(form, aml.EncodeHTTPS(message(aml.SourceWiFi)), "accepted"), "push.https.wifi"},
		{pushed(form, aml.EncodeHTTPS(message(aml.SourceCell)), "accepted"), "push.https.cell"},
		{pushed(text, aml.EncodeSMSv1(message(aml.SourceGPS)), "accepted"), "push.sms.v1"},
		{pushed(text, aml.EncodeSMSv2(message(aml.SourceGPS)), "accepted"), "push.sms.v2"},
		{pushed(text, aml.EncodeSMSv1(noFix), "no_location"), "push.nolocation"},
		{Pushed{Format: aml.FormatHTTPS, Status: "accepted", Duplicate: true}, "push.duplicate"},
		{Pushed{Format: aml.FormatHTTPS, Status: "forbidden"}, "push.foreign-network"},
	} {
		v, ok := Classify(c.p)
		if !ok || v.Case != c.want || v.State != Passed {
			t.Errorf("%s: %+v %v (findings %v)", c.want, v, ok, c.p.Findings)
		}
	}
}

func TestAnSMSWhoseLengthIsWrongFailsItsCaseNamingTheField(t *testing.T) {
	body := aml.EncodeSMSv1(message(aml.SourceGPS))
	bad := bytes.Replace(body, []byte(";ml="), []byte(";ml=9"), 1) // a length one digit longer
	v, ok := Classify(pushed("text/plain", bad, "accepted"))
	if !ok || v.Case != "push.sms.v1" || v.State != Failed || !strings.Contains(v.Reason, "ml (warning)") {
		t.Fatalf("%+v", v)
	}
}

func TestEveryCaseHasItsWordsInBothLanguages(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases {
		if seen[c.ID] || c.Title.FR == "" || c.Title.EN == "" || c.Expect.FR == "" || c.Expect.EN == "" {
			t.Errorf("case %s", c.ID)
		}
		seen[c.ID] = true
	}
}
