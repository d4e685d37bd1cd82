package documents

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"socle/internal/wallet/sources"
)

var issuer = Issuer{Authority: "SPF Intérieur — Registre national", Country: "BE", VCTBase: "https://socle.example/wallet/vct"}

var sophie = sources.Person{NRN: "85031412401", GivenNames: []string{"Sophie", "Marie"}, FamilyName: "Lambert", Gender: "female",
	BirthDate: "1985-03-14", BirthPlace: sources.Place{Municipality: "Namur", NISCode: "92094", Country: "BE"}, Nationality: "BE",
	Address:     sources.Address{Street: "Rue de Fer", Number: "25", PostalCode: "5000", Municipality: "Namur", NISCode: "92094"},
	CivilStatus: "married", LanguageCode: "fr"}

func paths(d Document) []string {
	var out []string
	for _, p := range d.Disclosable {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}

func TestThePIDHasTheRulebooksClaims(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d, err := issuer.NewPID(sophie, now)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Claims
	if d.VCT != "urn:eudi:pid:1" || c["family_name"] != "Lambert" || c["given_name"] != "Sophie Marie" || c["birthdate"] != "1985-03-14" ||
		c["personal_administrative_number"] != "85031412401" || c["sex"] != 2 || c["age_in_years"] != 41 || c["age_birth_year"] != 1985 ||
		c["issuing_country"] != "BE" || c["date_of_expiry"] != "2027-03-04" {
		t.Fatalf("%v", c)
	}
	over := c["age_equal_or_over"].(map[string]any)
	if over["18"] != true || over["65"] != false {
		t.Fatalf("age_equal_or_over: %v", over)
	}
	if a := c["address"].(map[string]any); a["locality"] != "Namur" || a["postal_code"] != "5000" || a["country"] != "BE" || a["house_number"] != "25" {
		t.Fatalf("address: %v", a)
	}
	got := paths(d)
	for _, want := range []string{"address", "address.locality", "address.street_address", "nationalities", "nationalities[0]",
		`age_equal_or_over["18"]`, "birthdate", "place_of_birth.locality"} {
		if !slices.Contains(got, want) {
			t.Errorf("%s is not disclosable one by one: %v", want, got)
		}
	}
	for _, never := range []string{"issuing_country", "issuing_authority", "date_of_expiry", "date_of_issuance"} {
		if slices.Contains(got, never) {
			t.Errorf("%s, the PID's metadata, is selectively disclosable", never)
		}
	}
}

func TestAPersonAgesOnTheirBirthday(t *testing.T) {
	birth := time.Date(2008, 12, 4, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		now  time.Time
		want int
	}{{time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), 17}, {time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), 18}, {time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 18}} {
		if got := age(birth, c.now); got != c.want {
			t.Errorf("at %v: %d, want %d", c.now, got, c.want)
		}
	}
}

func TestNoPIDForTheDeadOrAnUnreadableBirthDate(t *testing.T) {
	dead := sophie
	dead.DateOfDeath = "2020-01-01"
	if _, err := issuer.NewPID(dead, time.Now()); err == nil || !strings.Contains(err.Error(), "died") {
		t.Fatal(err)
	}
	bad := sophie
	bad.BirthDate = "14/03/1985"
	if _, err := issuer.NewPID(bad, time.Now()); err == nil {
		t.Fatal("a birth date not in ISO 8601 is accepted")
	}
}

func TestCertificatesAndTheirTypeMetadata(t *testing.T) {
	b := issuer.NewBirth(sources.BirthCertificate{Named: sources.Named{NRN: "15090806208", GivenNames: []string{"Emma", "Louise"}, FamilyName: "Renard"},
		Gender: "female", BirthDate: "2015-09-08", BirthPlace: sources.Place{Municipality: "Namur", Country: "BE"},
		Father: &sources.Named{NRN: "83110203774", GivenNames: []string{"Thomas"}, FamilyName: "Renard"}})
	if b.VCT != "https://socle.example/wallet/vct/birth-certificate" || b.Claims["father"].(map[string]any)["personal_administrative_number"] != "83110203774" ||
		b.Claims["mother"] != nil || !slices.Contains(paths(b), "father.family_name") {
		t.Fatalf("%+v", b)
	}
	m := issuer.NewMarriage(sources.MarriageCertificate{Date: "2012-06-16", Place: sources.Place{Municipality: "Namur", Country: "BE"},
		Spouses: []sources.Named{{NRN: "85031412401", FamilyName: "Lambert"}, {NRN: "83110203774", FamilyName: "Renard"}}})
	if len(m.Claims["spouses"].([]any)) != 2 || !slices.Contains(paths(m), "spouses[1].family_name") {
		t.Fatalf("%+v %v", m, paths(m))
	}
	var md map[string]any
	if err := json.Unmarshal(Metadata(b).JSON(), &md); err != nil {
		t.Fatal(err)
	}
	if md["vct"] != b.VCT || md["display"].([]any)[0].(map[string]any)["name"] != "Acte de naissance" {
		t.Fatalf("%v", md)
	}
	for _, c := range md["claims"].([]any) {
		c := c.(map[string]any)
		if c["path"].([]any)[0] == "father" && (c["sd"] != "allowed" || c["display"].([]any)[0].(map[string]any)["label"] != "Père") {
			t.Fatalf("father's metadata: %v", c)
		}
	}
}
