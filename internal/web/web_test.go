package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestTheHomePageSpeaksFrenchUnlessAskedOtherwise(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux, []Home{{Title: Text{FR: "Sondages de réunion", EN: "Meeting polls"},
		Links: []Link{{Path: "/polls/", Text: Text{FR: "Créer un sondage", EN: "Create a poll"}}}}})
	for _, c := range []struct{ url, accept, lang, text string }{
		{"/", "", "fr", `<a href="/polls/?lang=fr">Créer un sondage</a>`},
		{"/", "en-GB,en;q=0.9", "en", "Meeting polls"},
		{"/?lang=fr", "en", "fr", "Sondages de réunion"},
		{"/?lang=en", "", "en", `<a href="/polls/?lang=en">Create a poll</a>`},
	} {
		req := httptest.NewRequest("GET", c.url, nil)
		req.Header.Set("Accept-Language", c.accept)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		body := rec.Body.String()
		if !strings.Contains(body, `<html lang="`+c.lang+`">`) || !strings.Contains(body, c.text) {
			t.Errorf("%s (Accept-Language %q): want %s page with %q", c.url, c.accept, c.lang, c.text)
		}
	}
}

func TestEveryMessageExistsInBothLanguages(t *testing.T) {
	for _, c := range []Catalog{messages, chromeWords} {
		for key := range c["fr"] {
			if _, ok := c["en"][key]; !ok {
				t.Errorf("%q has no English", key)
			}
		}
		for key := range c["en"] {
			if _, ok := c["fr"][key]; !ok {
				t.Errorf("%q has no French", key)
			}
		}
	}
}

func TestAnAddressNothingServesIsAPageForPeopleAndAProblemForPrograms(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux, nil)
	if rec := get(mux, "/nulle-part", browser); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "<h1>Page introuvable</h1>") {
		t.Fatalf("a person gets %d\n%s", rec.Code, rec.Body)
	}
	if rec := get(mux, "/nulle-part", "application/json"); rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a program gets %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}
