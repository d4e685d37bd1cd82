package registrysim

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLicencesOpenAPIDocumentDescribesTheOperation(t *testing.T) {
	doc, _ := openAPIRouter(t, LicencesOpenAPI())
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi: %s, want 3.1", doc.OpenAPI)
	}
	var ids []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != http.MethodGet {
				t.Errorf("%s %s: the registers are read-only", method, path)
			}
			ids = append(ids, op.OperationID)
		}
	}
	if !slices.Equal(ids, []string{"getDrivingLicence"}) {
		t.Errorf("operationIds %v, want getDrivingLicence", ids)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/driving-licences" {
		t.Errorf("servers: %v, want /driving-licences", doc.Servers)
	}
	if k := doc.Components.SecuritySchemes["apiKey"].Value; k.In != "header" || k.Name != "X-API-Key" {
		t.Errorf("the API key is in %s %s, want header X-API-Key", k.In, k.Name)
	}
}

// categories are a licence's categories, as "B" or "B(01.06)", in the card's order.
func categories(b map[string]any) []string {
	var out []string
	for _, c := range b["categories"].([]any) {
		c := c.(map[string]any)
		s := c["category"].(string)
		if r, ok := c["restrictions"].([]any); ok {
			var codes []string
			for _, x := range r {
				codes = append(codes, x.(string))
			}
			s += "(" + strings.Join(codes, ",") + ")"
		}
		out = append(out, s)
	}
	return out
}

func hasCategories(want ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		if got := categories(b); !slices.Equal(got, want) {
			t.Errorf("categories %v, want %v", got, want)
		}
	}
}

// TestDrivingLicencesAnswerAsDocumented: every answer, found or refused, is the one the
// OpenAPI document describes, down to its schema.
func TestDrivingLicencesAnswerAsDocumented(t *testing.T) {
	_, router := openAPIRouter(t, LicencesOpenAPI())
	s, c := start(t, nil)
	var dead, driver string
	for _, p := range s.Registry.Persons()[5:] {
		if _, ok := s.Registry.DrivingLicence(p.NRN); ok && driver == "" {
			driver = p.NRN
		}
		if p.DateOfDeath != "" && dead == "" {
			dead = p.NRN
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		check  func(t *testing.T, body map[string]any)
	}{
		{"/driving-licences/v1/licences/85031412401", 200, func(t *testing.T, b map[string]any) {
			if b["familyName"] != "Lambert" || b["documentNumber"] != "9204513287" || b["issueDate"] != "2021-04-12" ||
				b["expiryDate"] != "2031-04-12" || b["issuingAuthority"] != "Namur" || b["issuingCountry"] != "BE" {
				t.Errorf("Sophie's licence: %v", b)
			}
			hasCategories("AM(01.06)", "B(01.06)")(t, b)
		}},
		{"/driving-licences/v1/licences/83.11.02-037.74", 200, hasCategories("AM", "A2", "A", "B", "BE")},
		{"/driving-licences/v1/licences/92072121866", 200, hasCategories("AM(78)", "B(78)")},
		{"/driving-licences/v1/licences/01020915329", 200, func(t *testing.T, b map[string]any) {
			hasCategories("AM", "B", "C1(95)")(t, b)
			// Category C1 lasts five years, the card ten.
			cs := b["categories"].([]any)
			if b["expiryDate"] != "2034-09-16" || cs[2].(map[string]any)["expiryDate"] != "2029-09-16" || cs[1].(map[string]any)["expiryDate"] != "2034-09-16" {
				t.Errorf("Jonas's licence: %v", b)
			}
		}},
		{"/driving-licences/v1/licences/" + driver, 200, field("nrn", driver)},
		{"/driving-licences/v1/licences/15090806208", 404, field("type", "urn:socle:problem:no-driving-licence")},
		{"/driving-licences/v1/licences/" + dead, 404, field("type", "urn:socle:problem:no-driving-licence")},
		{"/driving-licences/v1/licences/85031412696", 404, field("type", "urn:socle:problem:person-not-found")},
		{"/driving-licences/v1/licences/85031412402", 400, problemOf("nrn", "Wrong check digits in the national register number")},
		{"/driving-licences/v1/licences/8503141240", 400, problemOf("nrn", "Malformed national register number")},
		{"/driving-licences/v1/licences/85133412401", 400, problemOf("nrn", "Malformed national register number")},
	} {
		t.Run(tc.path, func(t *testing.T) {
			tc.check(t, getAsDocumented(t, c, router, s.URL()+tc.path, tc.status))
		})
	}
}

// Every licence of a population is one a living adult could hold today: a card of ten
// years valid past the simulation's present, issued where they live, B from 18 on, lorry
// and bus categories of five years, numbers unique — and most adults hold one.
func TestEveryLicenceIsPlausible(t *testing.T) {
	r := NewRegistry(DefaultSeed, DefaultPersons)
	adults, drivers, numbers := 0, 0, map[string]bool{}
	seen := map[string]bool{}
	for _, p := range r.Persons() {
		birth, _ := time.Parse(day, p.BirthDate)
		l, ok := r.DrivingLicence(p.NRN)
		if p.DateOfDeath == "" && !birth.AddDate(18, 0, 0).After(today) {
			adults++
		}
		if !ok {
			continue
		}
		drivers++
		if p.DateOfDeath != "" || birth.AddDate(18, 0, 0).After(today) {
			t.Fatalf("%s (born %s, died %q) holds a licence", p.NRN, p.BirthDate, p.DateOfDeath)
		}
		issued, err1 := time.Parse(day, l.IssueDate)
		expiry, err2 := time.Parse(day, l.ExpiryDate)
		switch {
		case err1 != nil || err2 != nil:
			t.Fatalf("%s: dates %s %s", p.NRN, l.IssueDate, l.ExpiryDate)
		case !expiry.Equal(issued.AddDate(10, 0, 0)) || issued.After(today) || !expiry.After(today):
			t.Fatalf("%s: a card of %s to %s", p.NRN, l.IssueDate, l.ExpiryDate)
		case len(l.DocumentNumber) != 10 || strings.Trim(l.DocumentNumber, "0123456789") != "" || numbers[l.DocumentNumber]:
			t.Fatalf("%s: document number %q (twice: %v)", p.NRN, l.DocumentNumber, numbers[l.DocumentNumber])
		case l.IssuingAuthority != p.Address.Municipality || l.FamilyName != p.FamilyName || l.BirthDate != p.BirthDate ||
			!slices.Equal(l.GivenNames, p.GivenNames):
			t.Fatalf("%s: %+v is not of %+v", p.NRN, l, p)
		}
		numbers[l.DocumentNumber] = true
		var order []int
		for _, c := range l.Categories {
			seen[c.Category] = true
			order = append(order, slices.Index(categoryOrder, c.Category))
			first, _ := time.Parse(day, c.IssueDate)
			if first.Before(birth.AddDate(18, 0, 0)) || first.After(issued) {
				t.Fatalf("%s (born %s, card of %s): %s obtained on %s", p.NRN, p.BirthDate, l.IssueDate, c.Category, c.IssueDate)
			}
			want := l.ExpiryDate
			if group2(c.Category) {
				want = issued.AddDate(5, 0, 0).Format(day)
				if !slices.Contains(c.Restrictions, "95") {
					t.Errorf("%s: %s without code 95", p.NRN, c.Category)
				}
			}
			if c.ExpiryDate != want {
				t.Fatalf("%s: %s valid until %s, want %s", p.NRN, c.Category, c.ExpiryDate, want)
			}
		}
		if !slices.IsSorted(order) || !slices.ContainsFunc(l.Categories, func(c LicenceCategory) bool { return c.Category == "B" }) {
			t.Fatalf("%s: categories %+v", p.NRN, l.Categories)
		}
	}
	if share := drivers * 100 / adults; share < 55 || share > 90 {
		t.Errorf("%d of %d living adults hold a licence", drivers, adults)
	}
	for _, c := range []string{"A", "BE", "C", "D"} {
		if !seen[c] {
			t.Errorf("nobody holds category %s", c)
		}
	}
}

func TestLicencesAreDeterministicBySeed(t *testing.T) {
	a, b, c := NewRegistry(7, 300), NewRegistry(7, 300), NewRegistry(8, 300)
	if !reflect.DeepEqual(a.licences, b.licences) {
		t.Fatal("two registries of the same seed differ in their licences")
	}
	if la, _ := a.DrivingLicence(NRNSophieLambert); !reflect.DeepEqual(la, func() DrivingLicence { l, _ := c.DrivingLicence(NRNSophieLambert); return l }()) {
		t.Fatal("the demo persons' licences depend on the seed")
	}
	// A caller's copy is its own.
	l, _ := a.DrivingLicence(NRNSophieLambert)
	l.Categories[0].Restrictions[0] = "78"
	if again, _ := a.DrivingLicence(NRNSophieLambert); again.Categories[0].Restrictions[0] != "01.06" {
		t.Fatal("a caller changed the register")
	}
}

func TestLicencesOpenAPIIsServedAndTheFileIsReadOnly(t *testing.T) {
	s, c := start(t, nil)
	res, err := c.Get(s.URL() + "/driving-licences/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(b, LicencesOpenAPI()) {
		t.Errorf("%s, %d bytes, want the embedded document", res.Status, len(b))
	}
	res, err = c.Post(s.URL()+"/driving-licences/v1/licences/85031412401", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("POST: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	res, err = c.Get(s.URL() + "/driving-licences/v1/points/85031412401")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("an unknown resource: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
}
