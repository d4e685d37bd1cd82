package registrysim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// openAPIRouter loads and validates an embedded OpenAPI document.
func openAPIRouter(t *testing.T, document []byte) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

func TestOpenAPIDocumentDescribesTheOperations(t *testing.T) {
	doc, _ := openAPIRouter(t, OpenAPI())
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
	slices.Sort(ids)
	if want := []string{"getPerson", "getPersonAddress", "getPersonHousehold", "searchPersons"}; !slices.Equal(ids, want) {
		t.Errorf("operationIds %v, want %v", ids, want)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/population" {
		t.Errorf("servers: %v, want /population", doc.Servers)
	}
	for _, name := range []string{"apiKey", "bearer"} {
		if doc.Components.SecuritySchemes[name] == nil {
			t.Errorf("no security scheme %s", name)
		}
	}
	if k := doc.Components.SecuritySchemes["apiKey"].Value; k.In != "header" || k.Name != "X-API-Key" {
		t.Errorf("the API key is in %s %s, want header X-API-Key", k.In, k.Name)
	}
}

// TestPopulationAnswersAsDocumented: every answer, found or refused, is the one the OpenAPI
// document describes, down to its schema.
func TestPopulationAnswersAsDocumented(t *testing.T) {
	_, router := openAPIRouter(t, OpenAPI())
	s, c := start(t, nil)
	dead := ""
	for _, p := range s.Registry.Persons() {
		if p.DateOfDeath != "" {
			dead = p.NRN
			break
		}
	}
	for _, tc := range []struct {
		path   string
		status int
		check  func(t *testing.T, body map[string]any)
	}{
		{"/population/v1/persons/85031412401", 200, field("familyName", "Lambert")},
		{"/population/v1/persons/85.03.14-124.01", 200, field("nrn", "85031412401")},
		{"/population/v1/persons/01020915329", 200, field("languageCode", "de")},
		{"/population/v1/persons/85031412401/address", 200, field("nisCode", "92094")},
		{"/population/v1/persons/85031412401/household", 200, func(t *testing.T, b map[string]any) {
			if n := len(b["members"].([]any)); n != 3 {
				t.Errorf("%d members, want Sophie, Thomas and Emma", n)
			}
		}},
		{"/population/v1/persons/" + dead, 200, func(t *testing.T, b map[string]any) {
			if b["dateOfDeath"] == nil {
				t.Error("no dateOfDeath")
			}
		}},
		{"/population/v1/persons/" + dead + "/household", 404, field("type", "urn:socle:problem:no-household")},
		{"/population/v1/persons/85031412696", 404, field("type", "urn:socle:problem:person-not-found")},
		{"/population/v1/persons/85031412402", 400, problemOf("nrn", "Wrong check digits in the national register number")},
		{"/population/v1/persons/8503141240", 400, problemOf("nrn", "Malformed national register number")},
		{"/population/v1/persons/85133412401/address", 400, problemOf("nrn", "Malformed national register number")},
		{"/population/v1/persons?familyName=Renard", 200, func(t *testing.T, b map[string]any) {
			found := map[any]bool{}
			for _, it := range b["items"].([]any) {
				found[it.(map[string]any)["nrn"]] = true
			}
			if !found[NRNThomasRenard] || !found[NRNEmmaRenard] {
				t.Errorf("items %v: want Thomas and Emma among them", b["items"])
			}
		}},
		{"/population/v1/persons?familyName=renard&birthDate=1983-11-02", 200, field("total", 1.0)},
		{"/population/v1/persons?pageSize=5", 200, field("next", "/population/v1/persons?page=2&pageSize=5")},
		{"/population/v1/persons?birthDate=1983-13-02", 400, problemOf("birthDate", "Invalid search")},
		{"/population/v1/persons?pageSize=101", 400, problemOf("pageSize", "Invalid search")},
	} {
		t.Run(tc.path, func(t *testing.T) {
			tc.check(t, getAsDocumented(t, c, router, s.URL()+tc.path, tc.status))
		})
	}
}

// asDocumented checks that an answer is one the document of router describes for its
// request, down to its schema.
func asDocumented(t *testing.T, router routers.Router, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("no operation of the document: %v", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(t.Context(), in); err != nil {
		t.Fatalf("the answer is not as documented: %v\n%s", err, body)
	}
}

// getAsDocumented GETs url, wants status, checks that the answer is as the OpenAPI document
// says, and returns its JSON body.
func getAsDocumented(t *testing.T, c *http.Client, router routers.Router, url string, status int) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != status {
		t.Fatalf("%s: %s", res.Status, body)
	}
	asDocumented(t, router, req, res, body)
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func field(name string, want any) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		if b[name] != want {
			t.Errorf("%s = %v, want %v", name, b[name], want)
		}
	}
}

// problemOf checks a problem's title and the field it names.
func problemOf(fieldName, title string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		errs, _ := b["errors"].([]any)
		if b["title"] != title || len(errs) != 1 || errs[0].(map[string]any)["field"] != fieldName || errs[0].(map[string]any)["reason"] == "" {
			t.Errorf("problem %v, want %q naming %s", b, title, fieldName)
		}
	}
}

func TestSearchPagesThroughEveryone(t *testing.T) {
	s, c := start(t, nil)
	seen, next := map[string]bool{}, "/population/v1/persons?pageSize=100"
	for next != "" {
		var page SearchResult
		getJSON(t, c, s.URL()+next, nil, &page)
		for _, p := range page.Items {
			seen[p.NRN] = true
		}
		if page.Total != DefaultPersons {
			t.Fatalf("total %d, want %d", page.Total, DefaultPersons)
		}
		next = page.Next
	}
	if len(seen) != DefaultPersons {
		t.Errorf("the pages held %d persons, want %d", len(seen), DefaultPersons)
	}
}

func TestNextLinkBehindAGateway(t *testing.T) {
	s, c := start(t, nil)
	var page SearchResult
	getJSON(t, c, s.URL()+"/population/v1/persons?familyName=Peeters&pageSize=1", http.Header{"X-Forwarded-Prefix": {"/apis/population/"}}, &page)
	if want := "/apis/population/population/v1/persons?familyName=Peeters&page=2&pageSize=1"; page.Next != want {
		t.Errorf("next = %s, want %s", page.Next, want)
	}
}

func TestOtherMethodsAreRefused(t *testing.T) {
	s, c := start(t, nil)
	for _, path := range []string{"/population/v1/persons/85031412401", "/population/v1/persons"} {
		res, err := c.Post(s.URL()+path, "application/json", bytes.NewReader([]byte("{}")))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(res.Header.Get("Allow"), "GET") ||
			res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("POST %s: %s, Allow %q, %s", path, res.Status, res.Header.Get("Allow"), res.Header.Get("Content-Type"))
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	s, c := start(t, nil)
	res, err := c.Get(s.URL() + "/population/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(b, OpenAPI()) {
		t.Errorf("%s, %d bytes, want the embedded document", res.Status, len(b))
	}
}

func getJSON(t *testing.T, c *http.Client, url string, h http.Header, v any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
