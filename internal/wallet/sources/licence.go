package sources

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// DrivingLicence is a citizen's driving licence, as the central file of driving licences
// holds it: what the card prints (Directive 2006/126/EC, Annex I, fields 1 to 12).
type DrivingLicence struct {
	NRN              string            `json:"nrn"`
	DocumentNumber   string            `json:"documentNumber"`
	FamilyName       string            `json:"familyName"`
	GivenNames       []string          `json:"givenNames"`
	BirthDate        string            `json:"birthDate"`
	BirthPlace       string            `json:"birthPlace"`
	IssueDate        string            `json:"issueDate"`
	ExpiryDate       string            `json:"expiryDate"`
	IssuingAuthority string            `json:"issuingAuthority"`
	IssuingCountry   string            `json:"issuingCountry"`
	Categories       []LicenceCategory `json:"categories"`
}

// LicenceCategory is a category the licence covers, with the dates it was obtained and ends
// and its restriction codes (Annex I harmonised codes: 01.06, 78...).
type LicenceCategory struct {
	Category     string   `json:"category"`
	IssueDate    string   `json:"issueDate"`
	ExpiryDate   string   `json:"expiryDate"`
	Restrictions []string `json:"restrictions"`
}

// Categories are the licence categories of Directive 2006/126/EC, Article 4.
var Categories = []string{"AM", "A1", "A2", "A", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"}

var (
	documentNumber  = regexp.MustCompile(`^[0-9A-Z]{1,20}$`)
	restrictionCode = regexp.MustCompile(`^[0-9]{2}(\.[0-9]{2})?$`)
	countryCode     = regexp.MustCompile(`^[A-Z]{2}$`)
)

// DrivingLicence reads a citizen's driving licence from the central file; ErrNotFound when
// they hold none.
func (c *Client) DrivingLicence(ctx context.Context, nrn string) (DrivingLicence, error) {
	body, err := c.get(ctx, c.DrivingLicences, "/v1/licences/"+url.PathEscape(nrn))
	if err != nil {
		return DrivingLicence{}, err
	}
	return parseLicence(body, nrn)
}

// parseLicence reads the central file's answer for nrn, and refuses what a credential must
// not say: another person, a date that is not one, a category the directive does not know.
func parseLicence(body []byte, nrn string) (DrivingLicence, error) {
	var l DrivingLicence
	if err := json.Unmarshal(body, &l); err != nil {
		return DrivingLicence{}, fmt.Errorf("driving licences: %w", err)
	}
	bad := func(format string, a ...any) (DrivingLicence, error) {
		return DrivingLicence{}, fmt.Errorf("driving licences: licence of %s: "+format, append([]any{nrn}, a...)...)
	}
	switch {
	case l.NRN != nrn:
		return bad("the answer is of %q", l.NRN)
	case !documentNumber.MatchString(l.DocumentNumber):
		return bad("document number %q", l.DocumentNumber)
	case l.FamilyName == "" || len(l.GivenNames) == 0:
		return bad("no name")
	case !countryCode.MatchString(l.IssuingCountry):
		return bad("issuing country %q: want ISO 3166-1 alpha-2", l.IssuingCountry)
	case l.IssuingAuthority == "":
		return bad("no issuing authority")
	case len(l.Categories) == 0:
		return bad("no category")
	}
	dates := map[string]string{"birthDate": l.BirthDate, "issueDate": l.IssueDate, "expiryDate": l.ExpiryDate}
	for _, c := range l.Categories {
		if !slices.Contains(Categories, c.Category) {
			return bad("category %q is not one of Directive 2006/126/EC", c.Category)
		}
		for _, r := range c.Restrictions {
			if !restrictionCode.MatchString(r) {
				return bad("category %s: restriction code %q", c.Category, r)
			}
		}
		dates[c.Category+".issueDate"], dates[c.Category+".expiryDate"] = c.IssueDate, c.ExpiryDate
	}
	for name, d := range dates {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return bad("%s %q is not a date", name, d)
		}
	}
	if l.ExpiryDate <= l.IssueDate {
		return bad("it expires (%s) before it is issued (%s)", l.ExpiryDate, l.IssueDate)
	}
	return l, nil
}
