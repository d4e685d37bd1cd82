package sources

import (
	"context"
	"errors"
	"strings"
	"testing"

	"socle/internal/gateway/registrysim"
)

func TestADrivingLicenceIsReadFromTheCentralFile(t *testing.T) {
	c := gateway(t)
	ctx := context.Background()
	l, err := c.DrivingLicence(ctx, registrysim.NRNSophieLambert)
	if err != nil || l.FamilyName != "Lambert" || l.DocumentNumber != "9204513287" || l.IssuingAuthority != "Namur" || l.ExpiryDate != "2031-04-12" ||
		len(l.Categories) != 2 || l.Categories[1].Category != "B" || l.Categories[1].Restrictions[0] != "01.06" {
		t.Fatalf("Sophie's licence: %+v %v", l, err)
	}
	for _, nrn := range []string{registrysim.NRNEmmaRenard, "85031412696"} {
		if _, err := c.DrivingLicence(ctx, nrn); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s holds no licence: %v", nrn, err)
		}
	}
}

const sophiesLicence = `{"nrn":"85031412401","documentNumber":"9204513287","familyName":"Lambert","givenNames":["Sophie","Marie"],
"birthDate":"1985-03-14","birthPlace":"Namur","issueDate":"2021-04-12","expiryDate":"2031-04-12","issuingAuthority":"Namur",
"issuingCountry":"BE","categories":[{"category":"B","issueDate":"2004-06-03","expiryDate":"2031-04-12","restrictions":["01.06"]}]}`

// A licence that says what a credential must not is refused, and says why.
func TestALicenceThatCannotBeTrueIsRefused(t *testing.T) {
	if _, err := parseLicence([]byte(sophiesLicence), "85031412401"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ old, new, reason string }{
		{`"nrn":"85031412401"`, `"nrn":"83110203774"`, `the answer is of "83110203774"`},
		{`"documentNumber":"9204513287"`, `"documentNumber":"92 04"`, "document number"},
		{`"familyName":"Lambert"`, `"familyName":""`, "no name"},
		{`"issuingCountry":"BE"`, `"issuingCountry":"Belgique"`, "issuing country"},
		{`"issuingAuthority":"Namur"`, `"issuingAuthority":""`, "no issuing authority"},
		{`"category":"B"`, `"category":"Z"`, `category "Z"`},
		{`["01.06"]`, `["01.6"]`, `restriction code "01.6"`},
		{`"birthDate":"1985-03-14"`, `"birthDate":"14/03/1985"`, "birthDate"},
		{`"expiryDate":"2031-04-12","restrictions"`, `"expiryDate":"2031-04-31","restrictions"`, "B.expiryDate"},
		{`"issueDate":"2021-04-12"`, `"issueDate":"2032-04-12"`, "before it is issued"},
		{`"categories":[`, `"categories":[],"x":[`, "no category"},
		{`{"nrn"`, `["nrn"`, "driving licences"},
	} {
		body := strings.Replace(sophiesLicence, c.old, c.new, 1)
		if _, err := parseLicence([]byte(body), "85031412401"); err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: %v, want an error saying %q", c.new, err, c.reason)
		}
	}
}

// FuzzParseLicence: whatever the central file answers, the wallet reads it or refuses it
// with a reason, and what it reads is a licence of the citizen asked about.
func FuzzParseLicence(f *testing.F) {
	f.Add([]byte(sophiesLicence), "85031412401")
	f.Add([]byte(`{"nrn":"1","categories":[{}]}`), "1")
	f.Add([]byte(`null`), "")
	f.Add([]byte(`{"nrn":"","documentNumber":"A","familyName":"x","givenNames":["y"],"issuingCountry":"BE","issuingAuthority":"z",`+
		`"birthDate":"2000-01-01","issueDate":"2020-01-01","expiryDate":"2030-01-01","categories":[{"category":"AM","issueDate":"2020-01-01","expiryDate":"2030-01-01"}]}`), "")
	f.Fuzz(func(t *testing.T, body []byte, nrn string) {
		l, err := parseLicence(body, nrn)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "driving licences: ") {
				t.Fatalf("an error that does not say its source: %v", err)
			}
			return
		}
		if l.NRN != nrn || len(l.Categories) == 0 || l.ExpiryDate <= l.IssueDate {
			t.Fatalf("accepted %+v for %q", l, nrn)
		}
	})
}
