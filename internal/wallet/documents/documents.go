// Package documents turns a citizen's records from the authentic sources into the claims of
// the credentials the wallet issues: the Person Identification Data (PID) of the EU wallet,
// and socle's birth and marriage certificates. It says which claims a holder may disclose one
// by one, and describes each type (SD-JWT VC Type Metadata) for wallets and verifiers.
//
// The PID follows the ARF's PID Rulebook (Annex 3.01, chapter 4, "SD-JWT VC-based encoding
// of PID"): type urn:eudi:pid:1, the OpenID Connect and eKYC claim names it lists (family_name,
// given_name, birthdate, place_of_birth, nationalities, address.*), and its private names
// (personal_administrative_number, sex, issuing_authority, issuing_country, date_of_issuance,
// date_of_expiry, age_equal_or_over.NN, age_in_years, age_birth_year).
//
// The driving licence, from the central file of driving licences, names its claims as
// ISO/IEC 18013-5's mobile driving licence names its data elements (§7.2.1: family_name,
// given_name, birth_date, issue_date, expiry_date, issuing_country, issuing_authority,
// document_number, driving_privileges, un_distinguishing_sign...), so that a verifier of
// mDLs reads it without a mapping of socle's.
package documents

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"socle/internal/wallet/sdjwt"
	"socle/internal/wallet/sources"
)

// Kinds of document.
const (
	PID            = "pid"
	Birth          = "birth-certificate"
	Marriage       = "marriage-certificate"
	DrivingLicence = "driving-licence"
)

// VCTPID is the PID's type (PID Rulebook §4.2).
const VCTPID = "urn:eudi:pid:1"

// Document is a credential's content, before it is signed: its type, its claims, and the
// claims a holder may disclose one by one (every other claim is always disclosed).
type Document struct {
	Kind        string
	VCT         string
	Claims      map[string]any
	Disclosable []sdjwt.Path
	// Validity is how long the credential is valid from its issuance.
	Validity time.Duration
}

// Issuer says who issues the documents, as the PID names it.
type Issuer struct {
	Authority string // issuing_authority
	Country   string // issuing_country, ISO 3166-1 alpha-2
	// VCTBase is the HTTPS address under which socle's own types are published:
	// VCTBase + "/" + kind.
	VCTBase string
}

// VCT is the type of a kind of document.
func (is Issuer) VCT(kind string) string {
	if kind == PID {
		return VCTPID
	}
	return is.VCTBase + "/" + kind
}

// PIDValidity is the PID's validity: the Rulebook leaves it to the provider; a short one
// limits what a lost phone gives away (it is also revocable).
const PIDValidity = 90 * 24 * time.Hour

// ages are the thresholds of age_equal_or_over (PID Rulebook §4.1.1).
var ages = []int{12, 14, 16, 18, 21, 65}

// NewPID is the PID of a person of the population register, issued at now.
func (is Issuer) NewPID(p sources.Person, now time.Time) (Document, error) {
	birth, err := time.Parse(time.DateOnly, p.BirthDate)
	if err != nil {
		return Document{}, fmt.Errorf("PID of %s: birth date %q: %w", p.NRN, p.BirthDate, err)
	}
	if p.DateOfDeath != "" {
		return Document{}, fmt.Errorf("PID of %s: the person died on %s", p.NRN, p.DateOfDeath)
	}
	years := age(birth, now)
	over := map[string]any{}
	for _, a := range ages {
		over[fmt.Sprint(a)] = years >= a
	}
	c := map[string]any{
		"family_name":                    p.FamilyName,
		"given_name":                     strings.Join(p.GivenNames, " "),
		"birthdate":                      p.BirthDate,
		"place_of_birth":                 place(p.BirthPlace),
		"nationalities":                  []any{p.Nationality},
		"address":                        address(p.Address),
		"personal_administrative_number": p.NRN,
		"sex":                            sex(p.Gender),
		"age_equal_or_over":              over,
		"age_in_years":                   years,
		"age_birth_year":                 birth.Year(),
		"issuing_authority":              is.Authority,
		"issuing_country":                is.Country,
		"date_of_issuance":               now.Format(time.DateOnly),
		"date_of_expiry":                 now.Add(PIDValidity).Format(time.DateOnly),
	}
	d := Document{Kind: PID, VCT: VCTPID, Claims: c, Validity: PIDValidity}
	d.Disclosable = disclosable(c, "issuing_authority", "issuing_country", "date_of_issuance", "date_of_expiry")
	return d, nil
}

// CertificateValidity is how long a certificate's credential is valid: an extract of the
// civil-status register is dated; the holder asks for a new one when it is old.
const CertificateValidity = 365 * 24 * time.Hour

// NewBirth is a birth certificate as a credential.
func (is Issuer) NewBirth(b sources.BirthCertificate) Document {
	c := map[string]any{
		"personal_administrative_number": b.NRN,
		"family_name":                    b.FamilyName,
		"given_name":                     strings.Join(b.GivenNames, " "),
		"birthdate":                      b.BirthDate,
		"place_of_birth":                 place(b.BirthPlace),
		"sex":                            sex(b.Gender),
	}
	if b.Father != nil {
		c["father"] = named(*b.Father)
	}
	if b.Mother != nil {
		c["mother"] = named(*b.Mother)
	}
	d := Document{Kind: Birth, VCT: is.VCT(Birth), Claims: c, Validity: CertificateValidity}
	d.Disclosable = disclosable(c)
	return d
}

// NewMarriage is a marriage certificate as a credential, for one of the spouses.
func (is Issuer) NewMarriage(m sources.MarriageCertificate) Document {
	spouses := make([]any, len(m.Spouses))
	for i, s := range m.Spouses {
		spouses[i] = named(s)
	}
	c := map[string]any{
		"date_of_marriage":  m.Date,
		"place_of_marriage": place(m.Place),
		"spouses":           spouses,
	}
	if m.EndDate != "" {
		c["date_of_end"], c["reason_of_end"] = m.EndDate, m.EndReason
	}
	d := Document{Kind: Marriage, VCT: is.VCT(Marriage), Claims: c, Validity: CertificateValidity}
	d.Disclosable = disclosable(c)
	return d
}

// disclosable lists the paths a holder may disclose one by one: every claim but those named,
// and within objects and arrays every member and element too (SD-JWT's recursive
// disclosures, RFC 9901 §4.2.6), so that a holder shows the locality of their address
// without its street, or one spouse without the other.
func disclosable(c map[string]any, always ...string) []sdjwt.Path {
	var out []sdjwt.Path
	var walk func(p sdjwt.Path, v any)
	walk = func(p sdjwt.Path, v any) {
		out = append(out, p)
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(append(p[:len(p):len(p)], k), e)
			}
		case []any:
			for i, e := range v {
				walk(append(p[:len(p):len(p)], i), e)
			}
		}
	}
	for k, v := range c {
		if !slices.Contains(always, k) {
			walk(sdjwt.Path{k}, v)
		}
	}
	return out
}

// place is a place as the eKYC place_of_birth structure writes it.
func place(p sources.Place) map[string]any {
	m := map[string]any{"locality": p.Municipality}
	if p.Country != "" {
		m["country"] = p.Country
	}
	return m
}

// address is a residence in OpenID Connect's address structure, with the PID's house_number.
func address(a sources.Address) map[string]any {
	number := a.Number
	if a.Box != "" {
		number += " bte " + a.Box
	}
	return map[string]any{
		"street_address": a.Street,
		"house_number":   number,
		"postal_code":    a.PostalCode,
		"locality":       a.Municipality,
		"country":        "BE",
		"formatted":      fmt.Sprintf("%s %s, %s %s, Belgique", a.Street, number, a.PostalCode, a.Municipality),
	}
}

// named is a person named in a certificate.
func named(n sources.Named) map[string]any {
	return map[string]any{"family_name": n.FamilyName, "given_name": strings.Join(n.GivenNames, " "),
		"personal_administrative_number": n.NRN}
}

// sex is the PID's numeric sex (PID Rulebook §2.3, ISO/IEC 5218): 1 male, 2 female, 0 not
// known.
func sex(gender string) int {
	switch gender {
	case "male":
		return 1
	case "female":
		return 2
	}
	return 0
}

// age is the age in whole years at now of someone born on birth.
func age(birth, now time.Time) int {
	y := now.Year() - birth.Year()
	if now.Month() < birth.Month() || now.Month() == birth.Month() && now.Day() < birth.Day() {
		y--
	}
	return y
}
