package acceptance

import (
	"fmt"
	"strings"

	"socle/internal/emergency/aml"
	"socle/internal/web"
)

// Flow is who speaks first in a case: the operator pushing to socle, or socle querying the
// operator's location server.
type Flow string

const (
	Push Flow = "push"
	Pull Flow = "pull"
)

// Case is one thing an operator must show in a campaign.
type Case struct {
	ID    string
	Flow  Flow
	Title web.Text
	// Expect says what passes, in the words the operator's tester reads.
	Expect web.Text
}

// Cases are a campaign's, in the order the report lists them.
var Cases = []Case{
	{ID: "push.https.gnss", Flow: Push, Title: web.Text{FR: "AML HTTPS, position GNSS", EN: "HTTPS AML, GNSS fix"},
		Expect: web.Text{FR: "un message HTTPS dont la position vient du GNSS, accepté sans erreur ni avertissement", EN: "an HTTPS message whose fix comes from GNSS, accepted without error or warning"}},
	{ID: "push.https.wifi", Flow: Push, Title: web.Text{FR: "AML HTTPS, position Wi-Fi", EN: "HTTPS AML, Wi-Fi fix"},
		Expect: web.Text{FR: "un message HTTPS dont la position vient du Wi-Fi, accepté sans erreur ni avertissement", EN: "an HTTPS message whose fix comes from Wi-Fi, accepted without error or warning"}},
	{ID: "push.https.cell", Flow: Push, Title: web.Text{FR: "AML HTTPS, position cellulaire", EN: "HTTPS AML, cell fix"},
		Expect: web.Text{FR: "un message HTTPS dont la position vient du réseau cellulaire, accepté sans erreur ni avertissement", EN: "an HTTPS message whose fix comes from the cell network, accepted without error or warning"}},
	{ID: "push.nolocation", Flow: Push, Title: web.Text{FR: "AML sans position", EN: "AML without location"},
		Expect: web.Text{FR: "un message qui dit ne pas avoir de position, enregistré comme tel", EN: "a message saying it has no location, recorded as such"}},
	{ID: "push.sms.v1", Flow: Push, Title: web.Text{FR: "AML SMS version 1", EN: "SMS AML version 1"},
		Expect: web.Text{FR: "un message au format SMS v1, accepté sans erreur ni avertissement", EN: "an SMS v1 message, accepted without error or warning"}},
	{ID: "push.sms.v2", Flow: Push, Title: web.Text{FR: "AML SMS version 2", EN: "SMS AML version 2"},
		Expect: web.Text{FR: "un message au format SMS v2, accepté sans erreur ni avertissement", EN: "an SMS v2 message, accepted without error or warning"}},
	{ID: "push.duplicate", Flow: Push, Title: web.Text{FR: "Message envoyé deux fois", EN: "Message sent twice"},
		Expect: web.Text{FR: "le même message envoyé de nouveau, reconnu comme doublon (même identifiant)", EN: "the same message sent again, recognised as a duplicate (same id)"}},
	{ID: "push.foreign-network", Flow: Push, Title: web.Text{FR: "Réseau d'un autre opérateur", EN: "Another operator's network"},
		Expect: web.Text{FR: "un message portant le MCC/MNC d'un autre opérateur, refusé par socle", EN: "a message carrying another operator's MCC/MNC, refused by socle"}},
	{ID: "push.wrong-certificate", Flow: Push, Title: web.Text{FR: "Mauvais certificat", EN: "Wrong certificate"},
		Expect: web.Text{FR: "un message envoyé avec un certificat qui n'est pas celui enregistré, refusé par socle", EN: "a message sent with a certificate that is not the registered one, refused by socle"}},
	{ID: "pull.mobile", Flow: Pull, Title: web.Text{FR: "Localisation d'un mobile", EN: "Locating a mobile"},
		Expect: web.Text{FR: "le numéro mobile de test donne une forme géodésique", EN: "the test mobile number gives a geodetic shape"}},
	{ID: "pull.fixed", Flow: Pull, Title: web.Text{FR: "Localisation d'un fixe", EN: "Locating a fixed line"},
		Expect: web.Text{FR: "le numéro fixe de test donne une adresse civique", EN: "the test fixed number gives a civic address"}},
	{ID: "pull.unknown", Flow: Pull, Title: web.Text{FR: "Numéro inconnu", EN: "Unknown number"},
		Expect: web.Text{FR: "un numéro inconnu donne l'erreur HELD locationUnknown", EN: "an unknown number gives the HELD error locationUnknown"}},
	{ID: "pull.timely", Flow: Pull, Title: web.Text{FR: "Réponse dans le délai", EN: "Answer in time"},
		Expect: web.Text{FR: "la réponse arrive dans le délai demandé (responseTime)", EN: "the answer comes within the time asked (responseTime)"}},
	{ID: "pull.error", Flow: Pull, Title: web.Text{FR: "Erreur bien formée", EN: "Well-formed error"},
		Expect: web.Text{FR: "une requête que le serveur ne peut pas servir reçoit une erreur HELD bien formée", EN: "a request the server cannot serve gets a well-formed HELD error"}},
}

// CaseByID finds a case.
func CaseByID(id string) (Case, bool) {
	for _, c := range Cases {
		if c.ID == id {
			return c, true
		}
	}
	return Case{}, false
}

// Verdict is a case's state in a campaign.
type Verdict struct {
	Case   string `json:"case"`
	State  string `json:"state"` // waiting, passed, failed
	Reason string `json:"reason,omitempty"`
}

// States of a case.
const (
	Waiting = "waiting"
	Passed  = "passed"
	Failed  = "failed"
)

// Pushed is what intake did with one of the operator's messages.
type Pushed struct {
	Format    aml.Format
	Source    aml.Source // of its fix; "" without one
	Status    string     // intake's: accepted, no_location, unusable, forbidden
	Duplicate bool       // sent before: the first copy's status
	Findings  []aml.Finding
}

// Classify says which case a pushed message answers, and whether it passes it. A message
// that answers none (one of unknown positioning, say) gives ok == false. Acceptance is
// stricter than operation: intake accepts a message with warnings (an ml that does not match
// the length, a missing field it can do without), a campaign fails it, naming each.
func Classify(p Pushed) (v Verdict, ok bool) {
	errs := findingsOf(p.Findings)
	verdict := func(id string, pass bool, why string) (Verdict, bool) {
		if pass {
			return Verdict{Case: id, State: Passed}, true
		}
		return Verdict{Case: id, State: Failed, Reason: why}, true
	}
	switch {
	case p.Duplicate:
		return verdict("push.duplicate", true, "")
	case p.Status == "forbidden":
		return verdict("push.foreign-network", true, "")
	case p.Status == "no_location":
		return verdict("push.nolocation", len(errs) == 0, "message sans position, mais : "+errs)
	case p.Format == aml.FormatSMSv1:
		return verdict("push.sms.v1", p.Status == "accepted" && len(errs) == 0, reason(p, errs))
	case p.Format == aml.FormatSMSv2:
		return verdict("push.sms.v2", p.Status == "accepted" && len(errs) == 0, reason(p, errs))
	case p.Format == aml.FormatHTTPS:
		id := map[aml.Source]string{aml.SourceGPS: "push.https.gnss", aml.SourceWiFi: "push.https.wifi", aml.SourceCell: "push.https.cell"}[p.Source]
		if id == "" {
			return Verdict{}, false
		}
		return verdict(id, p.Status == "accepted" && len(errs) == 0, reason(p, errs))
	}
	return Verdict{}, false
}

func reason(p Pushed, errs string) string {
	if errs != "" {
		return errs
	}
	return fmt.Sprintf("statut %s", p.Status)
}

// findingsOf lists the findings, errors and warnings, field by field.
func findingsOf(fs []aml.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s (%s) : %s", f.Field, f.Severity, f.Reason))
	}
	return strings.Join(out, " ; ")
}
