package registrysim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/nrn"
)

// Defaults of NewRegistry and Options.
const (
	DefaultSeed    int64 = 20260101
	DefaultPersons       = 1000
)

// The five demo persons, the first of every registry whatever its seed (see the package
// comment).
const (
	NRNSophieLambert = "85031412401"
	NRNThomasRenard  = "83110203774"
	NRNEmmaRenard    = "15090806208"
	NRNLottePeeters  = "92072121866"
	NRNJonasSchmitz  = "01020915329"
)

// today is the simulation's present: ages, deaths and marriages are drawn before it, so that
// a registry does not change with the day it is made.
var today = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

const day = "2006-01-02"

// Place is a municipality, in Belgium (with its NIS code) or abroad.
type Place struct {
	Municipality string `json:"municipality"`
	NISCode      string `json:"nisCode,omitempty"`
	Country      string `json:"country"` // ISO 3166-1 alpha-2
}

// Address is a residence in Belgium.
type Address struct {
	Street       string `json:"street"`
	Number       string `json:"number"`
	Box          string `json:"box,omitempty"`
	PostalCode   string `json:"postalCode"`
	Municipality string `json:"municipality"`
	NISCode      string `json:"nisCode"`
}

// Person is a person as the population register gives them.
type Person struct {
	NRN          string   `json:"nrn"`
	GivenNames   []string `json:"givenNames"`
	FamilyName   string   `json:"familyName"`
	Gender       string   `json:"gender"`    // male, female
	BirthDate    string   `json:"birthDate"` // YYYY-MM-DD
	BirthPlace   Place    `json:"birthPlace"`
	Nationality  string   `json:"nationality"` // ISO 3166-1 alpha-2
	Address      Address  `json:"address"`     // the last one for the dead
	CivilStatus  string   `json:"civilStatus"` // single, married, widowed, divorced
	LanguageCode string   `json:"languageCode"`
	DateOfDeath  string   `json:"dateOfDeath,omitempty"`
}

// Member is a person of a household.
type Member struct {
	NRN        string   `json:"nrn"`
	GivenNames []string `json:"givenNames"`
	FamilyName string   `json:"familyName"`
	Role       string   `json:"role"` // reference, spouse, child
}

// Household is the people living at one address; the dead are no longer members.
type Household struct {
	ID      string   `json:"householdId"`
	Address Address  `json:"address"`
	Members []Member `json:"members"`
}

// Marriage is a marriage as the civil-status register records it.
type Marriage struct {
	Spouses   [2]string // national register numbers
	Date      string
	Place     Place
	EndDate   string // empty while it lasts
	EndReason string // divorce, death
}

// Event is one entry of a person's civil status.
type Event struct {
	Type    string // birth, marriage, divorce, death
	Date    string
	Place   Place
	Related string // the spouse, for a marriage or a divorce
}

// Registry is the simulated population: persons, households, marriages, driving licences. It is read-only
// once made, so safe for concurrent use.
type Registry struct {
	persons    []Person
	facts      []facts
	index      map[string]int
	households []household
	marriages  []Marriage
	licences   map[string]DrivingLicence // by NRN
}

// facts are what the register knows of a person besides their Person.
type facts struct {
	household      int // -1: none (dead)
	role           string
	father, mother string
	marriages      []int
}

type household struct {
	id      string
	address Address
	members []int
}

// NewRegistry makes a population of about persons people (DefaultPersons if 0 or less, at
// least the five demo persons), the same for the same seed.
func NewRegistry(seed int64, persons int) *Registry {
	if persons <= 0 {
		persons = DefaultPersons
	}
	g := &gen{
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x736f636c65)),
		r:    &Registry{index: map[string]int{}},
		used: map[string]bool{},
		n:    max(persons, 5),
	}
	for _, m := range municipalities {
		g.total += m.weight
	}
	g.demo()
	for len(g.r.persons) < g.n {
		g.household()
	}
	g.licences(seed)
	return g.r
}

// Person returns the person of a national register number, in either written form.
func (r *Registry) Person(nrn string) (Person, bool) {
	i, ok := r.find(nrn)
	if !ok {
		return Person{}, false
	}
	return r.clone(i), true
}

func (r *Registry) find(number string) (int, bool) {
	d, ok := nrn.Digits(number)
	if !ok {
		return 0, false
	}
	i, ok := r.index[d]
	return i, ok
}

func (r *Registry) clone(i int) Person {
	p := r.persons[i]
	p.GivenNames = slices.Clone(p.GivenNames)
	return p
}

// Persons returns everyone, the five demo persons first.
func (r *Registry) Persons() []Person {
	out := make([]Person, len(r.persons))
	for i := range r.persons {
		out[i] = r.clone(i)
	}
	return out
}

// Search returns the persons of a family name (case insensitive) and a birth date
// (YYYY-MM-DD), in the registry's order; an empty criterion matches everyone.
func (r *Registry) Search(familyName, birthDate string) []Person {
	var out []Person
	for i, p := range r.persons {
		if (familyName == "" || strings.EqualFold(p.FamilyName, familyName)) && (birthDate == "" || p.BirthDate == birthDate) {
			out = append(out, r.clone(i))
		}
	}
	return out
}

// Household returns the household a living person belongs to.
func (r *Registry) Household(nrn string) (Household, bool) {
	i, ok := r.find(nrn)
	if !ok || r.facts[i].household < 0 {
		return Household{}, false
	}
	h := r.households[r.facts[i].household]
	out := Household{ID: h.id, Address: h.address}
	for _, m := range h.members {
		p := r.persons[m]
		out.Members = append(out.Members, Member{NRN: p.NRN, GivenNames: slices.Clone(p.GivenNames), FamilyName: p.FamilyName, Role: r.facts[m].role})
	}
	return out, true
}

// Parents returns the national register numbers of a person's father and mother, empty
// when the register does not know them.
func (r *Registry) Parents(nrn string) (father, mother string) {
	if i, ok := r.find(nrn); ok {
		return r.facts[i].father, r.facts[i].mother
	}
	return "", ""
}

// Marriages returns a person's marriages, oldest first.
func (r *Registry) Marriages(nrn string) []Marriage {
	i, ok := r.find(nrn)
	if !ok {
		return nil
	}
	var out []Marriage
	for _, m := range r.facts[i].marriages {
		out = append(out, r.marriages[m])
	}
	return out
}

// Events returns a person's civil-status events in date order: birth, marriages, divorces,
// death.
func (r *Registry) Events(nrn string) []Event {
	i, ok := r.find(nrn)
	if !ok {
		return nil
	}
	p := r.persons[i]
	out := []Event{{Type: "birth", Date: p.BirthDate, Place: p.BirthPlace}}
	for _, m := range r.Marriages(nrn) {
		spouse := m.Spouses[0]
		if spouse == p.NRN {
			spouse = m.Spouses[1]
		}
		out = append(out, Event{Type: "marriage", Date: m.Date, Place: m.Place, Related: spouse})
		if m.EndReason == "divorce" {
			out = append(out, Event{Type: "divorce", Date: m.EndDate, Place: m.Place, Related: spouse})
		}
	}
	if p.DateOfDeath != "" {
		out = append(out, Event{Type: "death", Date: p.DateOfDeath, Place: placeOf(p.Address)})
	}
	slices.SortStableFunc(out, func(a, b Event) int { return cmp.Compare(a.Date, b.Date) })
	return out
}

func placeOf(a Address) Place {
	return Place{Municipality: a.Municipality, NISCode: a.NISCode, Country: "BE"}
}

// gen draws a registry.
type gen struct {
	rng   *rand.Rand
	r     *Registry
	used  map[string]bool
	n     int
	total int // sum of the municipalities' weights
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func muni(name string) municipality {
	for _, m := range municipalities {
		if m.name == name {
			return m
		}
	}
	panic("registrysim: no municipality " + name)
}

func (m municipality) place() Place {
	return Place{Municipality: m.name, NISCode: m.nisCode, Country: "BE"}
}

// demo adds the five fixed persons of the package comment.
func (g *gen) demo() {
	namur, liege, gent, eupen := muni("Namur"), muni("Liège"), muni("Gent"), muni("Eupen")
	home := g.newHousehold(Address{Street: "Rue de Fer", Number: "25", PostalCode: namur.postalCode, Municipality: namur.name, NISCode: namur.nisCode})
	sophie := g.add(Person{NRN: NRNSophieLambert, GivenNames: []string{"Sophie", "Marie"}, FamilyName: "Lambert", Gender: "female",
		BirthDate: "1985-03-14", BirthPlace: namur.place(), LanguageCode: "fr"}, home, "reference")
	thomas := g.add(Person{NRN: NRNThomasRenard, GivenNames: []string{"Thomas"}, FamilyName: "Renard", Gender: "male",
		BirthDate: "1983-11-02", BirthPlace: liege.place(), LanguageCode: "fr"}, home, "spouse")
	g.marry(sophie, thomas, "2012-06-16", namur.place())
	emma := g.add(Person{NRN: NRNEmmaRenard, GivenNames: []string{"Emma", "Louise"}, FamilyName: "Renard", Gender: "female",
		BirthDate: "2015-09-08", BirthPlace: namur.place(), LanguageCode: "fr"}, home, "child")
	g.r.facts[emma].father, g.r.facts[emma].mother = NRNThomasRenard, NRNSophieLambert
	g.add(Person{NRN: NRNLottePeeters, GivenNames: []string{"Lotte"}, FamilyName: "Peeters", Gender: "female",
		BirthDate: "1992-07-21", BirthPlace: gent.place(), LanguageCode: "nl"},
		g.newHousehold(Address{Street: "Veldstraat", Number: "10", Box: "3", PostalCode: gent.postalCode, Municipality: gent.name, NISCode: gent.nisCode}), "reference")
	g.add(Person{NRN: NRNJonasSchmitz, GivenNames: []string{"Jonas", "Peter"}, FamilyName: "Schmitz", Gender: "male",
		BirthDate: "2001-02-09", BirthPlace: eupen.place(), LanguageCode: "de"},
		g.newHousehold(Address{Street: "Gospertstraße", Number: "12", PostalCode: eupen.postalCode, Municipality: eupen.name, NISCode: eupen.nisCode}), "reference")
}

// add records p in household h (-1 for none), with the address of h; its civil status is
// single until a marriage changes it.
func (g *gen) add(p Person, h int, role string) int {
	i := len(g.r.persons)
	if p.Nationality == "" {
		p.Nationality = "BE"
	}
	p.CivilStatus = "single"
	if h >= 0 {
		p.Address = g.r.households[h].address
		g.r.households[h].members = append(g.r.households[h].members, i)
	}
	g.r.persons = append(g.r.persons, p)
	g.r.facts = append(g.r.facts, facts{household: h, role: role})
	g.r.index[p.NRN] = i
	g.used[p.NRN[:9]] = true
	return i
}

func (g *gen) newHousehold(a Address) int {
	g.r.households = append(g.r.households, household{id: fmt.Sprintf("HH-%06d", len(g.r.households)+1), address: a})
	return len(g.r.households) - 1
}

func (g *gen) marry(a, b int, on string, at Place) int {
	g.r.marriages = append(g.r.marriages, Marriage{Spouses: [2]string{g.r.persons[a].NRN, g.r.persons[b].NRN}, Date: on, Place: at})
	m := len(g.r.marriages) - 1
	for _, i := range []int{a, b} {
		g.r.facts[i].marriages = append(g.r.facts[i].marriages, m)
		g.r.persons[i].CivilStatus = "married"
	}
	return m
}

// end ends marriage m on a date, by divorce or by the death of one spouse.
func (g *gen) end(m int, on time.Time, reason string) {
	g.r.marriages[m].EndDate, g.r.marriages[m].EndReason = on.Format(day), reason
	for _, nrn := range g.r.marriages[m].Spouses {
		p := &g.r.persons[g.r.index[nrn]]
		switch {
		case p.DateOfDeath != "":
		case reason == "divorce":
			p.CivilStatus = "divorced"
		default:
			p.CivilStatus = "widowed"
		}
	}
}

// die records the death of person i and takes them out of their household.
func (g *gen) die(i int, on time.Time) {
	g.r.persons[i].DateOfDeath = on.Format(day)
	if h := g.r.facts[i].household; h >= 0 {
		ms := g.r.households[h].members
		g.r.households[h].members = slices.DeleteFunc(slices.Clone(ms), func(m int) bool { return m == i })
		g.r.facts[i].household = -1
	}
}

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// between is a day in [from, to).
func (g *gen) between(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.rng.IntN(days))
}

func (g *gen) municipality(lang string) municipality {
	for {
		w := g.rng.IntN(g.total)
		for _, m := range municipalities {
			if w < m.weight {
				if lang == "" || m.lang == lang || (m.lang == "bxl" && lang != "de" && g.rng.IntN(4) == 0) {
					return m
				}
				break
			}
			w -= m.weight
		}
	}
}

func (g *gen) address(m municipality, lang string) Address {
	a := Address{Street: g.pick(byLanguage[lang].streets), Number: strconv.Itoa(1 + g.rng.IntN(180)),
		PostalCode: m.postalCode, Municipality: m.name, NISCode: m.nisCode}
	if g.rng.IntN(5) == 0 {
		a.Box = strconv.Itoa(1 + g.rng.IntN(12))
	}
	return a
}

// person draws a person born on birth, of a language community and family name, living in
// household h.
func (g *gen) person(lang string, male bool, family string, birth time.Time, at Place, h int, role string) int {
	names := byLanguage[lang]
	list, gender, serial := names.women, "female", 2+2*g.rng.IntN(498)
	if male {
		list, gender, serial = names.men, "male", 1+2*g.rng.IntN(499)
	}
	for g.used[nrn.Make(birth, serial)[:9]] { // the next free serial of the same parity
		if serial += 2; serial > 997 {
			serial = 2 - serial%2
		}
	}
	given := []string{g.pick(list)}
	if g.rng.IntN(5) < 2 {
		if second := g.pick(list); second != given[0] {
			given = append(given, second)
		}
	}
	p := Person{NRN: nrn.Make(birth, serial), GivenNames: given, FamilyName: family, Gender: gender,
		BirthDate: birth.Format(day), BirthPlace: at, LanguageCode: lang}
	if at.Country != "BE" && g.rng.IntN(2) == 0 {
		p.Nationality = at.Country
	}
	return g.add(p, h, role)
}

// birthPlace is where an adult of a language community was born: mostly in a municipality
// of their community, sometimes abroad.
func (g *gen) birthPlace(lang string) Place {
	if g.rng.IntN(20) == 0 {
		return foreignPlaces[g.rng.IntN(len(foreignPlaces))]
	}
	return g.municipality(lang).place()
}

// household draws one household at a new address: a single person, a widow(er), a divorced
// pair living apart, or a couple with their children.
func (g *gen) household() {
	m := g.municipality("")
	lang := m.lang
	if lang == "bxl" {
		lang = "fr"
		if g.rng.IntN(4) == 0 {
			lang = "nl"
		}
	}
	h := g.newHousehold(g.address(m, lang))
	room := g.n - len(g.r.persons)
	surnames := byLanguage[lang].surnames
	switch roll := g.rng.IntN(100); {
	case room < 2 || roll < 30:
		birth := g.between(date(1935, 1, 1), date(2006, 1, 1))
		g.person(lang, g.rng.IntN(2) == 0, g.pick(surnames), birth, g.birthPlace(lang), h, "reference")
	case roll < 38:
		g.widow(lang, h)
	case roll < 45:
		g.divorce(lang, h)
	default:
		g.couple(lang, m, h, room)
	}
}

func (g *gen) widow(lang string, h int) {
	surnames := byLanguage[lang].surnames
	hb := g.between(date(1930, 1, 1), date(1960, 1, 1))
	wb := g.between(hb.AddDate(-3, 0, 0), hb.AddDate(5, 0, 0))
	husband := g.person(lang, true, g.pick(surnames), hb, g.birthPlace(lang), h, "reference")
	wife := g.person(lang, false, g.pick(surnames), wb, g.birthPlace(lang), h, "spouse")
	on := g.between(hb.AddDate(21, 0, 0), hb.AddDate(32, 0, 0))
	m := g.marry(husband, wife, on.Format(day), placeOf(g.r.households[h].address))
	dead, survivor, died := husband, wife, g.between(later(on.AddDate(5, 0, 0), date(1995, 1, 1)), today)
	if g.rng.IntN(3) == 0 {
		dead, survivor = wife, husband
	}
	g.die(dead, died)
	g.r.facts[survivor].role = "reference"
	g.end(m, died, "death")
}

func (g *gen) divorce(lang string, h int) {
	surnames := byLanguage[lang].surnames
	hb := g.between(date(1950, 1, 1), date(1996, 1, 1))
	wb := g.between(hb.AddDate(-3, 0, 0), hb.AddDate(5, 0, 0))
	other := g.municipality(lang)
	elsewhere := g.newHousehold(g.address(other, lang))
	husband, wife := g.person(lang, true, g.pick(surnames), hb, g.birthPlace(lang), h, "reference"),
		g.person(lang, false, g.pick(surnames), wb, g.birthPlace(lang), elsewhere, "reference")
	if g.rng.IntN(2) == 0 { // she kept the home
		g.r.persons[husband].Address, g.r.persons[wife].Address = g.r.persons[wife].Address, g.r.persons[husband].Address
		g.r.households[h].members, g.r.households[elsewhere].members = []int{wife}, []int{husband}
		g.r.facts[husband].household, g.r.facts[wife].household = elsewhere, h
	}
	on := g.between(later(hb, wb).AddDate(21, 0, 0), earlier(later(hb, wb).AddDate(30, 0, 0), today.AddDate(-3, 0, 0)))
	m := g.marry(husband, wife, on.Format(day), other.place())
	g.end(m, g.between(on.AddDate(2, 0, 0), earlier(on.AddDate(20, 0, 0), today)), "divorce")
}

func (g *gen) couple(lang string, mu municipality, h, room int) {
	surnames := byLanguage[lang].surnames
	hb := g.between(date(1938, 1, 1), date(2001, 1, 1))
	wb := earlier(g.between(hb.AddDate(-3, 0, 0), hb.AddDate(6, 0, 0)), date(2003, 12, 31))
	family := g.pick(surnames)
	husband := g.person(lang, true, family, hb, g.birthPlace(lang), h, "reference")
	wife := g.person(lang, false, g.pick(surnames), wb, g.birthPlace(lang), h, "spouse")
	older := later(hb, wb)
	on := g.between(older.AddDate(20, 0, 0), earlier(older.AddDate(35, 0, 0), today))
	at := mu.place()
	if bp := g.r.persons[wife].BirthPlace; bp.Country == "BE" && g.rng.IntN(2) == 0 {
		at = bp
	}
	m := g.marry(husband, wife, on.Format(day), at)
	var died time.Time
	if hb.Year() < 1950 && g.rng.IntN(3) == 0 {
		died = g.between(later(on.AddDate(10, 0, 0), date(2000, 1, 1)), today)
	}
	for range min(g.rng.IntN(4), room-2) {
		birth := g.between(on.AddDate(1, 0, 0), earlier(on.AddDate(15, 0, 0), wb.AddDate(44, 0, 0)))
		if !birth.Before(today) || birth.Before(today.AddDate(-27, 0, 0)) || (!died.IsZero() && !birth.Before(died)) {
			continue // not born yet, or grown up and gone
		}
		c := g.person(lang, g.rng.IntN(2) == 0, family, birth, mu.place(), h, "child")
		g.r.facts[c].father, g.r.facts[c].mother = g.r.persons[husband].NRN, g.r.persons[wife].NRN
	}
	if !died.IsZero() {
		g.die(husband, died)
		g.end(m, died, "death")
		g.r.facts[wife].role = "reference"
	}
}
