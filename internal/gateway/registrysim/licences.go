package registrysim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"socle/internal/platform/nrn"
	"socle/internal/platform/problem"
)

// The central file of driving licences of the FPS Mobility and Transport, read by national
// register number: the licence a person holds now, as its card prints it (Directive
// 2006/126/EC, Annex I: fields 1 to 12).

// DrivingLicence is a person's driving licence.
type DrivingLicence struct {
	NRN              string            `json:"nrn"`
	DocumentNumber   string            `json:"documentNumber"` // field 5: ten digits
	FamilyName       string            `json:"familyName"`     // field 1
	GivenNames       []string          `json:"givenNames"`     // field 2
	BirthDate        string            `json:"birthDate"`      // field 3
	BirthPlace       string            `json:"birthPlace"`     // field 3
	IssueDate        string            `json:"issueDate"`      // field 4a
	ExpiryDate       string            `json:"expiryDate"`     // field 4b: ten years after 4a
	IssuingAuthority string            `json:"issuingAuthority"`
	IssuingCountry   string            `json:"issuingCountry"` // ISO 3166-1 alpha-2
	Categories       []LicenceCategory `json:"categories"`     // field 9, with 10 to 12
}

// LicenceCategory is one category the licence covers (Directive 2006/126/EC, Article 4).
type LicenceCategory struct {
	Category     string   `json:"category"`               // AM, A1, A2, A, B, BE, C1, C1E, C, CE, D1, D1E, D, DE
	IssueDate    string   `json:"issueDate"`              // field 10: when first obtained
	ExpiryDate   string   `json:"expiryDate"`             // field 11
	Restrictions []string `json:"restrictions,omitempty"` // field 12: the Annex I harmonised codes
}

// Licence categories, in the order a card lists them.
var categoryOrder = []string{"AM", "A1", "A2", "A", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"}

// group2 are the categories of heavy vehicles, valid five years at most (Directive
// 2006/126/EC, Article 7(2)(b)); the others are valid as long as the card, ten years in
// Belgium (Article 7(2)(a)).
func group2(category string) bool {
	return category[0] == 'C' || category[0] == 'D'
}

// licenceValidity is a Belgian card's: ten years.
const licenceValidity = 10

// DrivingLicence returns the licence of a person, in either written form of their number.
func (r *Registry) DrivingLicence(nrn string) (DrivingLicence, bool) {
	i, ok := r.find(nrn)
	if !ok {
		return DrivingLicence{}, false
	}
	l, ok := r.licences[r.persons[i].NRN]
	if !ok {
		return DrivingLicence{}, false
	}
	l.GivenNames = slices.Clone(l.GivenNames)
	l.Categories = slices.Clone(l.Categories)
	for j := range l.Categories {
		l.Categories[j].Restrictions = slices.Clone(l.Categories[j].Restrictions)
	}
	return l, true
}

// demoLicences are the licences of the demo persons (Emma, a child, has none).
var demoLicences = []struct {
	nrn, number, issued string
	categories          []LicenceCategory
}{
	{NRNSophieLambert, "9204513287", "2021-04-12", []LicenceCategory{
		{Category: "AM", IssueDate: "2004-06-03", Restrictions: []string{"01.06"}},
		{Category: "B", IssueDate: "2004-06-03", Restrictions: []string{"01.06"}},
	}},
	{NRNThomasRenard, "9201947760", "2019-10-07", []LicenceCategory{
		{Category: "AM", IssueDate: "2002-03-15"},
		{Category: "A2", IssueDate: "2008-05-20"},
		{Category: "A", IssueDate: "2010-06-11"},
		{Category: "B", IssueDate: "2002-03-15"},
		{Category: "BE", IssueDate: "2014-04-22"},
	}},
	{NRNLottePeeters, "4402176315", "2023-02-20", []LicenceCategory{
		{Category: "AM", IssueDate: "2011-08-30", Restrictions: []string{"78"}},
		{Category: "B", IssueDate: "2011-08-30", Restrictions: []string{"78"}},
	}},
	{NRNJonasSchmitz, "6302358841", "2024-09-16", []LicenceCategory{
		{Category: "AM", IssueDate: "2019-05-13"},
		{Category: "B", IssueDate: "2019-05-13"},
		{Category: "C1", IssueDate: "2022-03-02", Restrictions: []string{"95"}},
	}},
}

// licences draws the central file: the demo persons' licences, and for the living adults of
// the population a licence for most, drawn from a generator of its own so that the
// population stays what it was for a seed.
func (g *gen) licences(seed int64) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6c6963656e6365))
	g.r.licences = map[string]DrivingLicence{}
	numbers := map[string]bool{}
	for _, d := range demoLicences {
		p := g.r.persons[g.r.index[d.nrn]]
		issued, _ := time.Parse(day, d.issued)
		g.r.licences[p.NRN] = licenceOf(p, d.number, issued, slices.Clone(d.categories))
		numbers[d.number] = true
	}
	for _, p := range g.r.persons {
		if _, demo := g.r.licences[p.NRN]; demo || p.DateOfDeath != "" {
			continue
		}
		birth, _ := time.Parse(day, p.BirthDate)
		adult := birth.AddDate(18, 0, 0)
		if !adult.Before(today) {
			continue
		}
		// Most adults drive; fewer of the oldest, who grew up when fewer did.
		share := 78
		if birth.Year() < 1945 {
			share = 45
		}
		if rng.IntN(100) >= share {
			continue
		}
		number := ""
		for number == "" || numbers[number] {
			number = fmt.Sprintf("%010d", rng.Int64N(10_000_000_000))
		}
		numbers[number] = true
		cats := drawCategories(rng, adult)
		// A card is reissued at each new category and at each renewal: the last of them, in
		// the nine years before today, so that it is valid past today — in the five years
		// for a lorry or bus driver, whose categories are renewed every five.
		years, last := 9, time.Time{}
		for _, c := range cats {
			t, _ := time.Parse(day, c.IssueDate)
			last = later(last, t)
			if group2(c.Category) {
				years = 5
			}
		}
		renewed := today.AddDate(0, 0, -1-rng.IntN(years*365))
		g.r.licences[p.NRN] = licenceOf(p, number, later(last, renewed), cats)
	}
}

// drawCategories draws the categories of someone of age to drive from adult on: B (with AM,
// which B includes in Belgium) a few years after, sometimes motorcycles, a trailer, or a
// lorry or a bus for a professional driver; and the restriction codes some of them carry.
func drawCategories(rng *rand.Rand, adult time.Time) []LicenceCategory {
	between := func(from, to time.Time) time.Time {
		from = later(from, date(1967, 1, 1)) // the first Belgian licences
		days := int(to.Sub(from).Hours() / 24)
		if days <= 0 {
			return from
		}
		return from.AddDate(0, 0, rng.IntN(days))
	}
	b := between(adult, earlier(adult.AddDate(8, 0, 0), today))
	cats := []LicenceCategory{{Category: "AM", IssueDate: b.Format(day)}, {Category: "B", IssueDate: b.Format(day)}}
	// add adds a category obtained after another, if there was time for it before today; it
	// returns when, or a date past today, after which nothing is added.
	add := func(category string, after time.Time) time.Time {
		if !after.Before(today) {
			return after
		}
		on := between(after, today)
		cats = append(cats, LicenceCategory{Category: category, IssueDate: on.Format(day)})
		return on
	}
	roll := rng.IntN(100)
	switch {
	case roll < 10:
		add("A", add("A2", b))
	case roll < 16:
		add("A2", b)
	}
	if rng.IntN(100) < 10 {
		add("BE", b)
	}
	switch roll := rng.IntN(100); {
	case roll < 4:
		add("CE", add("C", add("C1", b.AddDate(3, 0, 0))))
	case roll < 7:
		add("C1", b.AddDate(3, 0, 0))
	case roll < 9:
		add("D", add("D1", b.AddDate(6, 0, 0)))
	}
	// Annex I codes: 01.06 glasses or lenses, 78 automatic gearbox only, 95 the certificate
	// of professional competence (Directive 2003/59/EC) of a lorry or bus driver.
	var onAll []string
	if rng.IntN(100) < 20 {
		onAll = append(onAll, "01.06")
	}
	auto := rng.IntN(100) < 5
	for i := range cats {
		cats[i].Restrictions = slices.Clone(onAll)
		if auto && (cats[i].Category == "B" || cats[i].Category == "AM") {
			cats[i].Restrictions = append(cats[i].Restrictions, "78")
		}
		if group2(cats[i].Category) {
			cats[i].Restrictions = append(cats[i].Restrictions, "95")
		}
	}
	return cats
}

// licenceOf makes a licence of p's categories, on a card issued on issued by p's
// municipality.
func licenceOf(p Person, number string, issued time.Time, cats []LicenceCategory) DrivingLicence {
	expiry := issued.AddDate(licenceValidity, 0, 0)
	for i := range cats {
		cats[i].ExpiryDate = expiry.Format(day)
		if group2(cats[i].Category) {
			cats[i].ExpiryDate = issued.AddDate(5, 0, 0).Format(day)
		}
	}
	slices.SortStableFunc(cats, func(a, b LicenceCategory) int {
		return slices.Index(categoryOrder, a.Category) - slices.Index(categoryOrder, b.Category)
	})
	return DrivingLicence{NRN: p.NRN, DocumentNumber: number, FamilyName: p.FamilyName, GivenNames: slices.Clone(p.GivenNames),
		BirthDate: p.BirthDate, BirthPlace: p.BirthPlace.Municipality, IssueDate: issued.Format(day), ExpiryDate: expiry.Format(day),
		IssuingAuthority: p.Address.Municipality, IssuingCountry: "BE", Categories: cats}
}

// drivingLicences is the central file's REST API, under /driving-licences/.
type drivingLicences struct{ reg *Registry }

func (d drivingLicences) routes(mux *http.ServeMux) {
	get(mux, "/driving-licences/v1/licences/{nrn}", d.licence)
	get(mux, "/driving-licences/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(licencesOpenAPI)
	})
	mux.HandleFunc("/driving-licences/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New("not-found", http.StatusNotFound, "Not found", "the central file of driving licences has no such resource"))
	})
}

func (d drivingLicences) licence(w http.ResponseWriter, r *http.Request) {
	id, err := nrn.Parse(r.PathValue("nrn"))
	if err != nil {
		writeNRNProblem(w, r, err)
		return
	}
	if _, ok := d.reg.Person(id); !ok {
		problem.Write(w, r, problem.New("person-not-found", http.StatusNotFound, "Person not found",
			"no person has the national register number "+nrn.Format(id)))
		return
	}
	l, ok := d.reg.DrivingLicence(id)
	if !ok {
		problem.Write(w, r, problem.New("no-driving-licence", http.StatusNotFound, "No driving licence",
			"the person of the national register number "+nrn.Format(id)+" holds no driving licence"))
		return
	}
	writeJSON(w, l)
}
