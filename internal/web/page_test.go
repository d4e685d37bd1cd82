package web

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/problem"
)

//go:embed testdata/*.html
var testPages embed.FS

// thingPage is a service's page value: the layout's part, then its own.
type thingPage struct {
	Page
	Name string
}

func testSite() *Site {
	s := NewSite(Text{"Choses", "Things"}, "/things/", testPages, nil, "testdata/*.html")
	s.Nav = []Link{{Path: "/things/new", Text: Text{"Nouvelle chose", "New thing"}}}
	return s
}

func get(h http.Handler, url, accept string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", url, nil)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "42")
	h.ServeHTTP(rec, req)
	return rec
}

const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func TestEveryPageHasTheOneLayoutNamingItsService(t *testing.T) {
	s := testSite()
	h := s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		s.Render(w, r, http.StatusOK, "thing.html", thingPage{Page: s.Page(r, "Une chose"), Name: "la chose"})
		return nil
	})
	body := get(h, "/things/1?x=y", browser).Body.String()
	for _, want := range []string{
		`<html lang="fr">`, `<title>Une chose — Choses</title>`, `<link rel="stylesheet" href="` + Stylesheet() + `">`,
		`<a class="skip" href="#main">Aller au contenu</a>`, `<a class="service" href="/things/?lang=fr">Choses</a>`,
		`<a href="/things/new?lang=fr">Nouvelle chose</a>`,
		`<a href="/things/1?lang=en&amp;x=y" hreflang="en" lang="en">English</a>`, `<main id="main">`, `<p>la chose</p>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s\n%s", want, body)
		}
	}
}

func TestAFailureIsAPageForPeopleAndAProblemForPrograms(t *testing.T) {
	s := testSite()
	refuse := s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		e := Forbidden()
		e.Fields = []problem.FieldError{{Field: "département", Reason: "13 n'est pas le vôtre"}}
		return fmt.Errorf("editing 13: %w", e)
	})

	rec := get(refuse, "/things/13", browser)
	body := rec.Body.String()
	if rec.Code != http.StatusForbidden || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("a person gets %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{`<title>Erreur — Accès refusé — Choses</title>`, `<h1>Accès refusé</h1>`,
		`role="alert">Votre compte n&#39;a pas de rôle`, `<td>département</td><td>13 n&#39;est pas le vôtre</td>`,
		`<strong>1 problème</strong>`, `href="/things/?lang=fr">Revenir à l&#39;accueil du service</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the error page lacks %s\n%s", want, body)
		}
	}

	rec = get(refuse, "/things/13", "application/json")
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusForbidden ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a program gets %d %s %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if p.Type != problem.TypePrefix+"forbidden" || p.Title != "Access denied" || p.RequestID != "42" ||
		len(p.Errors) != 1 || p.Errors[0].Field != "département" {
		t.Fatalf("problem: %+v", p)
	}
}

func TestProblemsAreListedByLineOrByPlaceAndLinkToTheirField(t *testing.T) {
	s := testSite()
	render := func(fields ...FieldProblem) string {
		h := s.Handle(func(w http.ResponseWriter, r *http.Request) error {
			p := thingPage{Page: s.Page(r, "Une chose")}
			p.Fields = fields
			s.Render(w, r, http.StatusUnprocessableEntity, "form.html", p)
			return nil
		})
		return get(h, "/things/1", browser).Body.String()
	}
	// The lines of a file.
	body := render(FieldProblem{Line: 3, Field: "routing_number", Message: "mal formé"}, FieldProblem{Message: "incomplet"})
	for _, want := range []string{`<caption id="problems-caption">Problèmes, ligne par ligne</caption>`, `<th scope="col">Ligne</th>`,
		`<td>3</td><td>routing_number</td><td>mal formé</td>`, `<td>—</td><td></td><td>incomplet</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("by line: the page lacks %s\n%s", want, body)
		}
	}
	// The cells of a table in a form: each named, its message leading to the field at fault.
	body = render(FieldProblem{Where: "69123 Lyon, 17", Field: "Numéro d'acheminement", Message: "mal formé", Target: "cell-69123-17"})
	for _, want := range []string{`<caption id="problems-caption">Problèmes, case par case</caption>`, `<th scope="col">Emplacement</th>`,
		`<td>69123 Lyon, 17</td><td>Numéro d&#39;acheminement</td><td><a href="#cell-69123-17">mal formé</a></td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("by place: the page lacks %s\n%s", want, body)
		}
	}
}

func TestAnUnexpectedFailureIsLoggedAndShownOnlyAsARequestNumber(t *testing.T) {
	s := testSite()
	var logged strings.Builder
	s.Logger = newTextLogger(&logged)
	h := s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("connection to 10.0.0.7:5432 refused")
	})
	rec := get(h, "/things/", browser)
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError || strings.Contains(body, "10.0.0.7") ||
		!strings.Contains(body, "<code>42</code>") || !strings.Contains(body, "Erreur du serveur") {
		t.Fatalf("%d\n%s", rec.Code, body)
	}
	if !strings.Contains(logged.String(), "10.0.0.7") || !strings.Contains(logged.String(), "request_id=42") {
		t.Fatalf("the cause is not logged: %s", logged.String())
	}
	if rec = get(h, "/things/", "*/*"); strings.Contains(rec.Body.String(), "10.0.0.7") || rec.Code != 500 {
		t.Fatalf("a program sees %d %s", rec.Code, rec.Body)
	}
}

func TestNumbersAndDatesAreWrittenAsTheReaderWritesThem(t *testing.T) {
	at := time.Date(2026, 12, 4, 8, 30, 0, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{Number("fr", 1234567), "1\u202f234\u202f567"}, {Number("en", 1234567), "1,234,567"},
		{Number("fr", -1000), "-1\u202f000"}, {Number("fr", 999), "999"},
		{Decimal("fr", 0.5, 1), "0,5"}, {Decimal("en", 0.5, 1), "0.5"},
		{Date("fr", at), "04/12/2026 09:30"}, {Date("en", at), "2026-12-04 09:30"}, {Date("fr", time.Time{}), "—"},
		{Day("fr", "2026-12-04"), "04/12/2026"}, {Day("en", "2026-12-04"), "2026-12-04"}, {Day("fr", "hier"), "hier"},
		{Plural("fr", 0, "k"), "k.one"}, {Plural("en", 0, "k"), "k"}, {Plural("fr", 2, "k"), "k"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func newTextLogger(w *strings.Builder) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func TestAServicesFilesAreNamedByTheirChecksum(t *testing.T) {
	a := NewAssets(testPages, "/things/static/")
	p := a.Path("testdata/thing.html")
	if !strings.HasPrefix(p, "/things/static/testdata/thing.html?v=") {
		t.Fatalf("path %s", p)
	}
	rec := get(a, p, "*/*")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.Contains(rec.Body.String(), "{{template") {
		t.Fatalf("%d %v", rec.Code, rec.Header())
	}
	// By its bare name (a script's relative import), it is revalidated: unchanged, 304.
	req := httptest.NewRequest("GET", "/things/static/testdata/thing.html", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("revalidation: %d", rec.Code)
	}
	if rec = get(a, "/things/static/nothing.js", "*/*"); rec.Code != http.StatusNotFound {
		t.Fatalf("a missing file: %d", rec.Code)
	}
}
