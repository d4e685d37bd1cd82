// Package pdaau is the lifecycle of France's emergency routing tables. Each département's
// PDAAU (plan départemental d'acheminement des appels d'urgence, decided by the prefect) says,
// for every commune and every short number, which centre's 10-digit routing number takes the
// call. Here a PDAAU is a series of versions:
//
//	draft ──approve (another person)──▶ approved ──publish (effective date)──▶ published
//	  └──discard──▶ discarded                                  └── becomes active at its date
//
// An active version is copied into emergency.pdaau, the table the router reads, and numbered
// with the next TNAAU version: the national table (TNAAU) operators fetch is every
// département's active version, and its version number is the highest of theirs.
// Any published version can be published again as a new version (rollback).
//
// A département has one open version at most — a draft, or approved and not yet published —
// enforced by a unique index; and a version that changes nothing against the one in effect
// is neither drafted, saved, approved nor published (CodeNoChange).
package pdaau

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"socle/internal/emergency/geo"
)

// ShortNumbers are the numbers a PDAAU routes: France's emergency and social emergency short
// numbers (15 SAMU, 17 police, 18 pompiers, 112, 114 for the deaf, 115 social emergency,
// 119 children, 191 aviation, 196 sea, 197 alert, 116000 missing children, 116117 on-call
// doctors).
var ShortNumbers = []string{"15", "17", "18", "112", "114", "115", "119", "191", "196", "197", "116000", "116117"}

// IsShortNumber reports whether s is a number the PDAAU routes.
func IsShortNumber(s string) bool { return slices.Contains(ShortNumbers, s) }

// Row is one routing row: calls to Number from commune INSEE go to RoutingNumber.
type Row struct {
	INSEE         string `json:"insee"`
	Number        string `json:"number"`
	RoutingNumber string `json:"routing_number"`
	Line          int    `json:"-"` // where it came from in an uploaded file; 0 otherwise
}

// Departement is the département of a row's commune.
func (r Row) Departement() string { return geo.Departement(r.INSEE) }

// State is where a version is in its lifecycle.
type State string

// States of a version.
const (
	Draft     State = "draft"
	Approved  State = "approved"
	Published State = "published"
	Discarded State = "discarded"
)

// Version is one version of a département's PDAAU.
type Version struct {
	ID           int64
	Departement  string
	State        State
	Source       string
	BasedOn      *int64
	RestoredFrom *int64
	CreatedBy    string
	CreatedAt    time.Time
	Editors      []string
	ApprovedBy   *string
	ApprovedAt   *time.Time
	PublishedBy  *string
	PublishedAt  *time.Time
	EffectiveAt  *time.Time
	ActiveSeq    *int64 // the TNAAU version its activation made; nil until it takes effect
	ActivatedAt  *time.Time
	DiscardedBy  *string
	DiscardedAt  *time.Time
	Rows         int // how many rows it holds
}

// Open reports whether the version is its département's open one: a draft, or approved and
// not yet published. A département has one at most.
func (v Version) Open() bool { return v.State == Draft || v.State == Approved }

// Active reports whether the version has taken effect (it may have been replaced since).
func (v Version) Active() bool { return v.ActiveSeq != nil }

// Problem is one reason a table cannot be saved, for the line it came from (0: the table as
// a whole, such as a missing route, or a row with no line, edited in a page) and the commune
// and number of its row (or of the missing route). Code says which rule; Message words it.
type Problem struct {
	Line   int    `json:"line,omitempty"`
	Field  string `json:"field,omitempty"`
	Code   string `json:"code"`
	Value  string `json:"value,omitempty"`
	INSEE  string `json:"insee,omitempty"`
	Number string `json:"number,omitempty"`
	Other  int    `json:"other_line,omitempty"` // the first line of a duplicate
}

// Codes of the validation rules.
const (
	CodeFile             = "file"              // the file's structure: not CSV (quotes...)
	CodeEmptyFile        = "empty-file"        // no header line
	CodeHeader           = "header"            // another header than insee,number,routing_number
	CodeWidth            = "width"             // a line of another number of fields
	CodeMalformedINSEE   = "malformed-insee"   // not a commune code
	CodeUnknownCommune   = "unknown-commune"   // no commune has this code
	CodeOtherDepartement = "other-departement" // the commune is in another département
	CodeUnknownNumber    = "unknown-number"    // not a routed short number
	CodeMalformedRouting = "malformed-routing" // not 10 digits
	CodeUnknownPSAP      = "unknown-psap"      // no PSAP has this routing number
	CodeDuplicate        = "duplicate"         // the same commune and number twice
	CodeMissingRoute     = "missing-route"     // a commune × number without a row
	CodeNoCommunes       = "no-communes"       // the département has no commune loaded
	CodeNoChange         = "no-change"         // the table is the one in effect
)

var messages = map[string]map[string]string{
	"fr": {
		CodeFile:             "fichier illisible : %[1]s",
		CodeEmptyFile:        "fichier vide : la première ligne doit être l'en-tête %[1]s",
		CodeHeader:           "la première ligne doit être l'en-tête %[1]s",
		CodeWidth:            "%[2]s champs au lieu de 3 (%[1]s)",
		CodeMalformedINSEE:   "code INSEE %[1]q mal formé (attendu : 5 caractères, par ex. 75056 ou 2A004)",
		CodeUnknownCommune:   "code INSEE %[1]q : aucune commune connue ne porte ce code",
		CodeOtherDepartement: "la commune %[1]s n'est pas dans le département %[2]s",
		CodeUnknownNumber:    "numéro %[1]q : ce n'est pas un numéro court acheminé (%[2]s)",
		CodeMalformedRouting: "numéro d'acheminement %[1]q mal formé (attendu : 10 chiffres)",
		CodeUnknownPSAP:      "numéro d'acheminement %[1]s : aucun centre (PSAP) n'a ce numéro",
		CodeDuplicate:        "la commune %[1]s et le numéro %[2]s figurent déjà ligne %[3]d",
		CodeMissingRoute:     "la commune %[1]s n'a pas de centre pour le %[2]s",
		CodeNoCommunes:       "aucune commune du département %[1]s n'est chargée (importer les contours d'abord)",
		CodeNoChange:         "aucun changement par rapport à la version en vigueur (version %[1]s) : il n'y aurait rien à publier",
	},
	"en": {
		CodeFile:             "unreadable file: %[1]s",
		CodeEmptyFile:        "empty file: the first line must be the header %[1]s",
		CodeHeader:           "the first line must be the header %[1]s",
		CodeWidth:            "%[2]s fields instead of 3 (%[1]s)",
		CodeMalformedINSEE:   "INSEE code %[1]q is malformed (want 5 characters, e.g. 75056 or 2A004)",
		CodeUnknownCommune:   "INSEE code %[1]q: no known commune has this code",
		CodeOtherDepartement: "commune %[1]s is not in department %[2]s",
		CodeUnknownNumber:    "number %[1]q: not a routed short number (%[2]s)",
		CodeMalformedRouting: "routing number %[1]q is malformed (want 10 digits)",
		CodeUnknownPSAP:      "routing number %[1]s: no centre (PSAP) has this number",
		CodeDuplicate:        "commune %[1]s and number %[2]s already appear on line %[3]d",
		CodeMissingRoute:     "commune %[1]s has no centre for %[2]s",
		CodeNoCommunes:       "no commune of department %[1]s is loaded (import the boundaries first)",
		CodeNoChange:         "no change against the version in effect (version %[1]s): there would be nothing to publish",
	},
}

// Message words the problem in lang ("fr" or "en"; French otherwise).
func (p Problem) Message(lang string) string {
	m, ok := messages[lang]
	if !ok {
		m = messages["fr"]
	}
	switch p.Code {
	case CodeOtherDepartement:
		return fmt.Sprintf(m[p.Code], p.INSEE, p.Value)
	case CodeUnknownNumber:
		return fmt.Sprintf(m[p.Code], p.Value, strings.Join(ShortNumbers, ", "))
	case CodeDuplicate:
		return fmt.Sprintf(m[p.Code], p.INSEE, p.Number, p.Other)
	case CodeMissingRoute:
		return fmt.Sprintf(m[p.Code], p.INSEE, p.Number)
	case CodeWidth:
		return fmt.Sprintf(m[p.Code], strings.Join(Header, ","), p.Value)
	case CodeEmptyFile, CodeHeader:
		return fmt.Sprintf(m[p.Code], strings.Join(Header, ","))
	}
	return fmt.Sprintf(m[p.Code], p.Value)
}

// Problems is every problem of a table. As an error it reads in English, one per line.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.Message("en"))
	}
	return b.String()
}
