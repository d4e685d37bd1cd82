package documents

import (
	"encoding/json"
	"maps"
	"slices"
)

// Type Metadata of SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-26 §6): what a wallet shows of a
// type and of each claim, in French and English, and which claims may be disclosed one by
// one. socle publishes it for its own types at their vct (an HTTPS address).

type display struct {
	Locale      string `json:"locale"`
	Name        string `json:"name,omitempty"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
}

type claimMetadata struct {
	Path      []any     `json:"path"` // SD-JWT VC claim path: names, and null for every element
	Display   []display `json:"display"`
	Mandatory bool      `json:"mandatory,omitempty"`
	SD        string    `json:"sd"` // always, allowed, never (§6.5.2)
}

// TypeMetadata is a type's metadata document.
type TypeMetadata struct {
	VCT         string          `json:"vct"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Display     []display       `json:"display"`
	Claims      []claimMetadata `json:"claims"`
}

// label is a claim's name in French and English.
type label struct{ fr, en string }

var typeNames = map[string][2]label{
	PID:      {{"Identité (PID)", "Identity (PID)"}, {"Données d'identification de la personne, du registre national", "Person identification data, from the national register"}},
	Birth:    {{"Acte de naissance", "Birth certificate"}, {"Extrait du registre de l'état civil", "Extract of the civil-status register"}},
	Marriage: {{"Acte de mariage", "Marriage certificate"}, {"Extrait du registre de l'état civil", "Extract of the civil-status register"}},
	DrivingLicence: {{"Permis de conduire", "Driving licence"}, {"Extrait du fichier central des permis de conduire (SPF Mobilité et Transports)",
		"Extract of the central file of driving licences (FPS Mobility and Transport)"}},
}

var claimLabels = map[string]label{
	"family_name": {"Nom", "Family name"}, "given_name": {"Prénoms", "Given names"}, "birthdate": {"Date de naissance", "Date of birth"},
	"place_of_birth": {"Lieu de naissance", "Place of birth"}, "nationalities": {"Nationalités", "Nationalities"},
	"address": {"Adresse", "Address"}, "personal_administrative_number": {"Numéro de registre national", "National register number"},
	"sex": {"Sexe", "Sex"}, "age_equal_or_over": {"Âge atteint", "Age reached"}, "age_in_years": {"Âge", "Age"},
	"age_birth_year": {"Année de naissance", "Year of birth"}, "issuing_authority": {"Autorité de délivrance", "Issuing authority"},
	"issuing_country": {"Pays de délivrance", "Issuing country"}, "date_of_issuance": {"Date de délivrance", "Date of issuance"},
	"date_of_expiry": {"Date d'expiration", "Date of expiry"}, "father": {"Père", "Father"}, "mother": {"Mère", "Mother"},
	"date_of_marriage": {"Date du mariage", "Date of marriage"}, "place_of_marriage": {"Lieu du mariage", "Place of marriage"},
	"spouses": {"Époux", "Spouses"}, "date_of_end": {"Fin du mariage", "End of marriage"}, "reason_of_end": {"Motif de la fin", "Reason of the end"},
	// The driving licence's, ISO/IEC 18013-5's data elements.
	"birth_date": {"Date de naissance", "Date of birth"}, "birth_place": {"Lieu de naissance", "Place of birth"},
	"age_over_18": {"18 ans ou plus", "Aged 18 or over"}, "document_number": {"Numéro du permis", "Licence number"},
	"driving_privileges": {"Catégories", "Categories"}, "issue_date": {"Date de délivrance", "Date of issue"},
	"expiry_date": {"Date d'expiration", "Date of expiry"}, "un_distinguishing_sign": {"Signe distinctif (ONU)", "UN distinguishing sign"},
}

// Metadata is the Type Metadata of a document of kind, whose claims are those of d.
func Metadata(d Document) TypeMetadata {
	names := typeNames[d.Kind]
	m := TypeMetadata{VCT: d.VCT, Name: names[0].en, Description: names[1].en,
		Display: []display{{Locale: "fr-BE", Name: names[0].fr, Description: names[1].fr}, {Locale: "en", Name: names[0].en, Description: names[1].en}}}
	sd := map[string]bool{}
	for _, p := range d.Disclosable {
		if len(p) == 1 {
			sd[p[0].(string)] = true
		}
	}
	for _, k := range sortedKeys(d.Claims) {
		l, ok := claimLabels[k]
		if !ok {
			l = label{k, k}
		}
		c := claimMetadata{Path: []any{k}, Display: []display{{Locale: "fr-BE", Label: l.fr}, {Locale: "en", Label: l.en}}, SD: "never"}
		if sd[k] {
			c.SD = "allowed"
		}
		m.Claims = append(m.Claims, c)
	}
	return m
}

// JSON is the document as served.
func (m TypeMetadata) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ") // plain data: cannot fail
	return b
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
