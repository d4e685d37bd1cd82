package wallet

import (
	"time"

	"socle/internal/wallet/sources"
)

// examplePeople fill every claim of each kind of document, for the metadata that describe
// them; nobody's data.
var examplePeople = struct {
	person   sources.Person
	birth    sources.BirthCertificate
	marriage sources.MarriageCertificate
	licence  sources.DrivingLicence
	now      time.Time
}{
	person: sources.Person{NRN: "00000000000", GivenNames: []string{"-"}, FamilyName: "-", Gender: "female", BirthDate: "1970-01-01",
		BirthPlace: sources.Place{Municipality: "-", Country: "BE"}, Nationality: "BE",
		Address: sources.Address{Street: "-", Number: "-", PostalCode: "-", Municipality: "-"}},
	birth: sources.BirthCertificate{Named: sources.Named{NRN: "-", GivenNames: []string{"-"}, FamilyName: "-"}, BirthDate: "1970-01-01",
		Father: &sources.Named{}, Mother: &sources.Named{}},
	marriage: sources.MarriageCertificate{Date: "1970-01-01", Spouses: []sources.Named{{}, {}}, EndDate: "-", EndReason: "-"},
	licence: sources.DrivingLicence{GivenNames: []string{"-"}, BirthDate: "1970-01-01", ExpiryDate: "2010-01-01", IssuingCountry: "BE",
		Categories: []sources.LicenceCategory{{Restrictions: []string{"-"}}}},
	now: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
}
