package documents

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"socle/internal/wallet/mdoc"
	"socle/internal/wallet/sources"
)

var sophiesLicence = sources.DrivingLicence{NRN: "85031412401", DocumentNumber: "9204513287", FamilyName: "Lambert",
	GivenNames: []string{"Sophie", "Marie"}, BirthDate: "1985-03-14", BirthPlace: "Namur", IssueDate: "2021-04-12", ExpiryDate: "2031-04-12",
	IssuingAuthority: "Namur", IssuingCountry: "BE", Categories: []sources.LicenceCategory{
		{Category: "AM", IssueDate: "2004-06-03", ExpiryDate: "2031-04-12"},
		{Category: "B", IssueDate: "2004-06-03", ExpiryDate: "2031-04-12", Restrictions: []string{"01.06"}},
	}}

func TestTheDrivingLicenceHasTheMDLsDataElements(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d, err := issuer.NewDrivingLicence(sophiesLicence, now)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Claims
	if d.Kind != DrivingLicence || d.VCT != "https://socle.example/wallet/vct/driving-licence" || c["family_name"] != "Lambert" ||
		c["given_name"] != "Sophie Marie" || c["birth_date"] != "1985-03-14" || c["issue_date"] != "2021-04-12" || c["expiry_date"] != "2031-04-12" ||
		c["issuing_country"] != "BE" || c["issuing_authority"] != "Namur" || c["document_number"] != "9204513287" ||
		c["un_distinguishing_sign"] != "B" || c["age_over_18"] != true {
		t.Fatalf("%v", c)
	}
	b, _ := json.Marshal(c["driving_privileges"])
	if want := `[{"expiry_date":"2031-04-12","issue_date":"2004-06-03","vehicle_category_code":"AM"},` +
		`{"codes":[{"code":"01.06"}],"expiry_date":"2031-04-12","issue_date":"2004-06-03","vehicle_category_code":"B"}]`; string(b) != want {
		t.Fatalf("driving_privileges %s, want %s", b, want)
	}
	if d.Validity != CertificateValidity {
		t.Errorf("validity %v, want a year: the licence lasts longer", d.Validity)
	}
	got := paths(d)
	for _, want := range []string{"document_number", "driving_privileges", "driving_privileges[1]", "driving_privileges[1].codes[0].code",
		"driving_privileges[0].vehicle_category_code", "birth_date", "age_over_18"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s is not disclosable one by one: %v", want, got)
		}
	}
	for _, never := range []string{"issuing_country", "issuing_authority", "issue_date", "expiry_date", "un_distinguishing_sign"} {
		if slices.Contains(got, never) {
			t.Errorf("%s, the licence's own data, is selectively disclosable", never)
		}
	}
	var md map[string]any
	if err := json.Unmarshal(Metadata(d).JSON(), &md); err != nil {
		t.Fatal(err)
	}
	if md["vct"] != d.VCT || md["display"].([]any)[0].(map[string]any)["name"] != "Permis de conduire" || md["name"] != "Driving licence" {
		t.Fatalf("%v", md)
	}
	labels := map[string]string{}
	for _, c := range md["claims"].([]any) {
		c := c.(map[string]any)
		labels[c["path"].([]any)[0].(string)] = c["display"].([]any)[1].(map[string]any)["label"].(string)
	}
	if labels["driving_privileges"] != "Categories" || labels["document_number"] != "Licence number" || len(labels) != len(c) {
		t.Fatalf("claims' labels: %v", labels)
	}
}

// A credential never outlives its licence, and an expired licence gives none.
func TestADrivingLicenceCredentialEndsWithTheLicence(t *testing.T) {
	soon := time.Date(2031, 1, 12, 0, 0, 0, 0, time.UTC)
	d, err := issuer.NewDrivingLicence(sophiesLicence, soon)
	if err != nil || d.Validity != 90*24*time.Hour {
		t.Fatalf("%v %v, want 90 days, to 2031-04-12", d.Validity, err)
	}
	for _, c := range []struct {
		change func(*sources.DrivingLicence)
		now    time.Time
		reason string
	}{
		{func(*sources.DrivingLicence) {}, time.Date(2031, 4, 12, 0, 0, 0, 0, time.UTC), "expired on 2031-04-12"},
		{func(l *sources.DrivingLicence) { l.ExpiryDate = "12/04/2031" }, soon, "expiry date"},
		{func(l *sources.DrivingLicence) { l.BirthDate = "" }, soon, "birth date"},
		{func(l *sources.DrivingLicence) { l.IssuingCountry = "XX" }, soon, "UN distinguishing sign"},
	} {
		l := sophiesLicence
		c.change(&l)
		if _, err := issuer.NewDrivingLicence(l, c.now); err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%v, want an error saying %q", err, c.reason)
		}
	}
}

// As an mdoc, the licence's elements are its claims, in the mDL's namespace, with the dates
// as full-dates; no other document is an mdoc.
func TestTheDrivingLicenceAsAnMDoc(t *testing.T) {
	d, err := issuer.NewDrivingLicence(sophiesLicence, time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	docType, ns, err := d.MDoc()
	if err != nil || docType != mdoc.DocTypeMDL || len(ns) != 1 {
		t.Fatalf("%s %v %v", docType, ns, err)
	}
	el := ns[mdoc.NameSpaceMDL]
	b := el["driving_privileges"].([]any)[1].(map[string]any)
	if len(el) != len(d.Claims) || el["birth_date"] != mdoc.FullDate("1985-03-14") || el["expiry_date"] != mdoc.FullDate("2031-04-12") ||
		el["family_name"] != "Lambert" || b["issue_date"] != mdoc.FullDate("2004-06-03") || b["vehicle_category_code"] != "B" {
		t.Fatalf("elements %v", el)
	}
	if d.Claims["birth_date"] != "1985-03-14" {
		t.Fatal("making the mdoc changed the SD-JWT VC's claims")
	}
	pid, _ := issuer.NewPID(sophie, time.Now())
	if _, _, err := pid.MDoc(); err == nil {
		t.Fatal("the PID as an mdoc")
	}
}
