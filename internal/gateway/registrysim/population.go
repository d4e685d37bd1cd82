package registrysim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"socle/internal/platform/nrn"
	"socle/internal/platform/problem"
)

// Paging of the search.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// population is the population register's REST API, under /population/.
type population struct{ reg *Registry }

func (p population) routes(mux *http.ServeMux) {
	get(mux, "/population/v1/persons", p.search)
	get(mux, "/population/v1/persons/{nrn}", p.person)
	get(mux, "/population/v1/persons/{nrn}/address", p.address)
	get(mux, "/population/v1/persons/{nrn}/household", p.household)
	get(mux, "/population/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	})
	mux.HandleFunc("/population/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.New("not-found", http.StatusNotFound, "Not found", "the population register has no such resource"))
	})
}

// get mounts a read-only resource: GET (and HEAD) go to h, other methods get a 405.
func get(mux *http.ServeMux, path string, h http.HandlerFunc) {
	mux.HandleFunc("GET "+path, h)
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		problem.Write(w, r, problem.New("method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed",
			r.Method+" is not allowed here: the register is read-only"))
	})
}

// PersonSummary is one person of a search's results.
type PersonSummary struct {
	NRN         string   `json:"nrn"`
	GivenNames  []string `json:"givenNames"`
	FamilyName  string   `json:"familyName"`
	Gender      string   `json:"gender"`
	BirthDate   string   `json:"birthDate"`
	DateOfDeath string   `json:"dateOfDeath,omitempty"`
}

// SearchResult is one page of a search.
type SearchResult struct {
	Total    int             `json:"total"`
	Page     int             `json:"page"`
	PageSize int             `json:"pageSize"`
	Items    []PersonSummary `json:"items"`
	Next     string          `json:"next,omitempty"`
}

func (p population) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var bad []problem.FieldError
	if d := q.Get("birthDate"); d != "" {
		if _, err := time.Parse(day, d); err != nil {
			bad = append(bad, problem.FieldError{Field: "birthDate", Reason: "must be a date, YYYY-MM-DD"})
		}
	}
	number := func(name string, def, lo, hi int) int {
		v := q.Get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			bad = append(bad, problem.FieldError{Field: name, Reason: "must be a whole number from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
		}
		return n
	}
	page := number("page", 1, 1, 1_000_000)
	size := number("pageSize", defaultPageSize, 1, maxPageSize)
	if len(bad) > 0 {
		problem.Write(w, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid search", "").With(bad...))
		return
	}
	found := p.reg.Search(q.Get("familyName"), q.Get("birthDate"))
	res := SearchResult{Total: len(found), Page: page, PageSize: size, Items: []PersonSummary{}}
	for _, f := range found[min((page-1)*size, len(found)):min(page*size, len(found))] {
		res.Items = append(res.Items, PersonSummary{NRN: f.NRN, GivenNames: f.GivenNames, FamilyName: f.FamilyName,
			Gender: f.Gender, BirthDate: f.BirthDate, DateOfDeath: f.DateOfDeath})
	}
	if page*size < len(found) {
		next := url.Values{}
		for _, k := range []string{"familyName", "birthDate"} {
			if v := q.Get(k); v != "" {
				next.Set(k, v)
			}
		}
		next.Set("page", strconv.Itoa(page+1))
		next.Set("pageSize", strconv.Itoa(size))
		res.Next = forwardedPrefix(r) + r.URL.Path + "?" + next.Encode()
	}
	writeJSON(w, res)
}

// lookup finds the person of the request's {nrn}, or writes the problem.
func (p population) lookup(w http.ResponseWriter, r *http.Request) (Person, bool) {
	id, err := nrn.Parse(r.PathValue("nrn"))
	if err != nil {
		writeNRNProblem(w, r, err)
		return Person{}, false
	}
	person, ok := p.reg.Person(id)
	if !ok {
		problem.Write(w, r, problem.New("person-not-found", http.StatusNotFound, "Person not found",
			"no person has the national register number "+nrn.Format(id)))
	}
	return person, ok
}

func writeNRNProblem(w http.ResponseWriter, r *http.Request, err error) {
	title := "Malformed national register number"
	var e *nrn.Error
	if errors.As(err, &e) && e.Checksum {
		title = "Wrong check digits in the national register number"
	}
	reason := err.Error()
	if e != nil {
		reason = e.Reason
	}
	problem.Write(w, r, problem.New("invalid-nrn", http.StatusBadRequest, title, "").
		With(problem.FieldError{Field: "nrn", Reason: reason}))
}

func (p population) person(w http.ResponseWriter, r *http.Request) {
	if person, ok := p.lookup(w, r); ok {
		writeJSON(w, person)
	}
}

func (p population) address(w http.ResponseWriter, r *http.Request) {
	if person, ok := p.lookup(w, r); ok {
		writeJSON(w, person.Address)
	}
}

func (p population) household(w http.ResponseWriter, r *http.Request) {
	person, ok := p.lookup(w, r)
	if !ok {
		return
	}
	h, ok := p.reg.Household(person.NRN)
	if !ok {
		problem.Write(w, r, problem.New("no-household", http.StatusNotFound, "No household",
			"the person died on "+person.DateOfDeath+" and belongs to no household"))
		return
	}
	writeJSON(w, h)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
