package registrysim

import (
	"reflect"
	"strings"
	"testing"

	"socle/internal/platform/nrn"
)

func TestRegistryBeginsWithTheDemoPersons(t *testing.T) {
	r := NewRegistry(42, 50)
	want := []struct{ nrn, name, municipality, status string }{
		{NRNSophieLambert, "Sophie Lambert", "Namur", "married"},
		{NRNThomasRenard, "Thomas Renard", "Namur", "married"},
		{NRNEmmaRenard, "Emma Renard", "Namur", "single"},
		{NRNLottePeeters, "Lotte Peeters", "Gent", "single"},
		{NRNJonasSchmitz, "Jonas Schmitz", "Eupen", "single"},
	}
	all := r.Persons()
	for i, w := range want {
		p := all[i]
		if p.NRN != w.nrn || p.GivenNames[0]+" "+p.FamilyName != w.name || p.Address.Municipality != w.municipality || p.CivilStatus != w.status {
			t.Errorf("person %d = %s %s %s, %s in %s; want %s %s, %s in %s", i, p.NRN, p.GivenNames[0], p.FamilyName, p.CivilStatus, p.Address.Municipality,
				w.nrn, w.name, w.status, w.municipality)
		}
	}
	ms := r.Marriages(NRNSophieLambert)
	if len(ms) != 1 || ms[0].Spouses != [2]string{NRNSophieLambert, NRNThomasRenard} || ms[0].Place.NISCode != "92094" {
		t.Errorf("Sophie's marriages = %+v, want one to Thomas in Namur", ms)
	}
	if f, m := r.Parents(NRNEmmaRenard); f != NRNThomasRenard || m != NRNSophieLambert {
		t.Errorf("Emma's parents = %s, %s", f, m)
	}
	h, ok := r.Household("85.03.14-124.01")
	if !ok || len(h.Members) != 3 {
		t.Errorf("Sophie's household = %+v, want her, Thomas and Emma", h)
	}
}

func TestRegistryIsDeterministicBySeed(t *testing.T) {
	a, b, c := NewRegistry(7, 300), NewRegistry(7, 300), NewRegistry(8, 300)
	if !reflect.DeepEqual(a.Persons(), b.Persons()) || !reflect.DeepEqual(a.marriages, b.marriages) {
		t.Fatal("two registries of the same seed differ")
	}
	if reflect.DeepEqual(a.Persons()[5:], c.Persons()[5:]) {
		t.Fatal("two seeds gave the same population")
	}
}

func TestEveryPersonIsConsistent(t *testing.T) {
	r := NewRegistry(DefaultSeed, DefaultPersons)
	all := r.Persons()
	if len(all) != DefaultPersons {
		t.Fatalf("%d persons, want %d", len(all), DefaultPersons)
	}
	deaths, married, from2000, langs := 0, 0, 0, map[string]int{}
	for _, p := range all {
		digits, err := nrn.Parse(p.NRN)
		if err != nil || digits != p.NRN {
			t.Fatalf("%s %s: %v", p.NRN, p.FamilyName, err)
		}
		// The number says the birth date and, by its serial's parity, the gender.
		if y, _ := nrn.BirthYear(p.NRN); p.BirthDate[2:4]+p.BirthDate[5:7]+p.BirthDate[8:10] != p.NRN[:6] || y != atoi(p.BirthDate[:4]) {
			t.Errorf("%s: born %s", p.NRN, p.BirthDate)
		}
		if male := atoi(p.NRN[6:9])%2 == 1; male != (p.Gender == "male") {
			t.Errorf("%s: serial %s for a %s", p.NRN, p.NRN[6:9], p.Gender)
		}
		if p.Address.NISCode == "" || p.Address.PostalCode == "" || p.BirthPlace.Country == "" {
			t.Errorf("%s: incomplete address or birth place: %+v %+v", p.NRN, p.Address, p.BirthPlace)
		}
		if p.BirthDate >= "2000" {
			from2000++
		}
		if p.DateOfDeath != "" {
			deaths++
			if _, ok := r.Household(p.NRN); ok {
				t.Errorf("%s died on %s but is in a household", p.NRN, p.DateOfDeath)
			}
		} else if _, ok := r.Household(p.NRN); !ok {
			t.Errorf("%s is alive and in no household", p.NRN)
		}
		if p.CivilStatus == "married" && p.DateOfDeath == "" { // the dead keep their status at death
			married++
			if ms := r.Marriages(p.NRN); len(ms) == 0 || ms[len(ms)-1].EndDate != "" {
				t.Errorf("%s is married without a marriage under way: %+v", p.NRN, ms)
			}
		}
		langs[p.LanguageCode]++
	}
	if deaths == 0 || married == 0 || from2000 == 0 || langs["fr"] == 0 || langs["nl"] == 0 || langs["de"] == 0 {
		t.Errorf("a population without variety: %d dead, %d married, %d born from 2000, languages %v", deaths, married, from2000, langs)
	}
}

func TestSearch(t *testing.T) {
	r := NewRegistry(DefaultSeed, DefaultPersons)
	got := r.Search("renard", "1983-11-02")
	if len(got) != 1 || got[0].NRN != NRNThomasRenard {
		t.Fatalf("Search(renard, 1983-11-02) = %v", got)
	}
	for _, p := range r.Search("Peeters", "") {
		if !strings.EqualFold(p.FamilyName, "Peeters") {
			t.Fatalf("Search(Peeters) gave %s", p.FamilyName)
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
