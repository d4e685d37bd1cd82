package documents

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"socle/internal/wallet/mdoc"
	"socle/internal/wallet/sources"
)

// unDistinguishingSigns are the distinguishing signs of vehicles in international traffic
// (Vienna Convention on Road Traffic, 1968, Annex 3), which ISO/IEC 18013-5's
// un_distinguishing_sign writes for the issuing country.
var unDistinguishingSigns = map[string]string{"BE": "B", "FR": "F", "NL": "NL", "DE": "D", "LU": "L"}

// NewDrivingLicence is a driving licence as a credential, issued at now: its claims are the
// mDL's data elements (ISO/IEC 18013-5 §7.2.1), its validity at most a year and never past
// the licence's own expiry.
func (is Issuer) NewDrivingLicence(l sources.DrivingLicence, now time.Time) (Document, error) {
	expiry, err := time.Parse(time.DateOnly, l.ExpiryDate)
	if err != nil {
		return Document{}, fmt.Errorf("driving licence of %s: expiry date %q: %w", l.NRN, l.ExpiryDate, err)
	}
	if !now.Before(expiry) {
		return Document{}, fmt.Errorf("driving licence of %s: it expired on %s", l.NRN, l.ExpiryDate)
	}
	birth, err := time.Parse(time.DateOnly, l.BirthDate)
	if err != nil {
		return Document{}, fmt.Errorf("driving licence of %s: birth date %q: %w", l.NRN, l.BirthDate, err)
	}
	sign, ok := unDistinguishingSigns[l.IssuingCountry]
	if !ok {
		return Document{}, fmt.Errorf("driving licence of %s: no UN distinguishing sign known for %q", l.NRN, l.IssuingCountry)
	}
	// driving_privileges (§7.2.4): a category, the dates it was obtained and ends, and its
	// codes — the Annex I codes of Directive 2006/126/EC, as ISO/IEC 18013-2 Annex A lists them.
	privileges := make([]any, len(l.Categories))
	for i, c := range l.Categories {
		p := map[string]any{"vehicle_category_code": c.Category, "issue_date": c.IssueDate, "expiry_date": c.ExpiryDate}
		if len(c.Restrictions) > 0 {
			codes := make([]any, len(c.Restrictions))
			for j, r := range c.Restrictions {
				codes[j] = map[string]any{"code": r}
			}
			p["codes"] = codes
		}
		privileges[i] = p
	}
	c := map[string]any{
		"family_name":            l.FamilyName,
		"given_name":             strings.Join(l.GivenNames, " "),
		"birth_date":             l.BirthDate,
		"birth_place":            l.BirthPlace,
		"age_over_18":            age(birth, now) >= 18,
		"document_number":        l.DocumentNumber,
		"driving_privileges":     privileges,
		"issue_date":             l.IssueDate,
		"expiry_date":            l.ExpiryDate,
		"issuing_country":        l.IssuingCountry,
		"issuing_authority":      l.IssuingAuthority,
		"un_distinguishing_sign": sign,
	}
	d := Document{Kind: DrivingLicence, VCT: is.VCT(DrivingLicence), Claims: c, Validity: min(CertificateValidity, expiry.Sub(now))}
	d.Disclosable = disclosable(c, "issue_date", "expiry_date", "issuing_country", "issuing_authority", "un_distinguishing_sign")
	return d, nil
}

// fullDates are the mDL's elements written as full-date in CBOR (ISO/IEC 18013-5 §7.2.1,
// §7.2.4): in JSON they are "YYYY-MM-DD" strings.
var fullDates = []string{"birth_date", "issue_date", "expiry_date"}

// MDoc is a driving licence's claims as the elements of an mdoc of doctype
// org.iso.18013.5.1.mDL, in its namespace org.iso.18013.5.1, with the dates as full-dates.
func (d Document) MDoc() (docType string, nameSpaces map[string]map[string]any, err error) {
	if d.Kind != DrivingLicence {
		return "", nil, fmt.Errorf("no mdoc of a %s", d.Kind)
	}
	dated := func(m map[string]any) map[string]any {
		out := make(map[string]any, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok && slices.Contains(fullDates, k) {
				v = mdoc.FullDate(s)
			}
			out[k] = v
		}
		return out
	}
	elements := dated(d.Claims)
	if ps, ok := elements["driving_privileges"].([]any); ok {
		privileges := make([]any, len(ps))
		for i, p := range ps {
			privileges[i] = dated(p.(map[string]any))
		}
		elements["driving_privileges"] = privileges
	}
	return mdoc.DocTypeMDL, map[string]map[string]any{mdoc.NameSpaceMDL: elements}, nil
}
