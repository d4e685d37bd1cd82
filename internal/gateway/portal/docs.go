package portal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/soap"
	"socle/internal/gateway/spec"
)

// apiRow is an API of the catalogue.
type apiRow struct {
	Name, Title, Description, Kind string
	Auth                           []string
}

func row(a *catalog.API) apiRow {
	title := a.Spec.Title
	if title == "" {
		title = a.Spec.Name
	}
	return apiRow{Name: a.Spec.Name, Title: title, Description: a.Spec.Description, Kind: a.Spec.Kind, Auth: a.Spec.Auth}
}

func (p *Portal) catalogue(w http.ResponseWriter, r *http.Request) error {
	cat, err := p.current(r.Context())
	if err != nil {
		return err
	}
	var rows []apiRow
	for _, a := range cat.APIs {
		rows = append(rows, row(a))
	}
	slices.SortFunc(rows, func(a, b apiRow) int { return strings.Compare(a.Title, b.Title) })
	p.render(w, r, http.StatusOK, "catalogue.html", "catalogue.title", rows)
	return nil
}

func (p *Portal) guide(w http.ResponseWriter, r *http.Request) error {
	p.render(w, r, http.StatusOK, "guide.html", "guide.title", nil)
	return nil
}

// operation is a REST operation, as the documentation page lists it without the viewer.
type operation struct{ Method, Path, ID, Summary string }

// soapOperation is a SOAP operation as the page lists it.
type soapOperation struct {
	Name, Documentation string
	Actions             []string // soapAction by binding version: "1.1: urn:…"
	Input, Output       *soapMessage
	Faults              []*soapMessage
}

type soapMessage struct {
	Name   string
	Fields []soapField
}

// soapField is a field of a message, with its depth for the indentation.
type soapField struct {
	Name, Type, Occurs, Documentation string
	Depth                             int
}

type docPage struct {
	API        apiRow
	Viewer     bool // Swagger UI is installed
	Operations []operation
	SOAP       []soapOperation
	Format     string // json or yaml: the stored document's
	Unreadable bool   // the stored document could not be read
	Endpoint   string // /apis/NAME
}

func (p *Portal) apiDoc(w http.ResponseWriter, r *http.Request) error {
	cat, err := p.current(r.Context())
	if err != nil {
		return err
	}
	a := cat.APIs[r.PathValue("name")]
	if a == nil {
		return notFound()
	}
	d := docPage{API: row(a), Viewer: p.viewer, Endpoint: "/apis/" + a.Spec.Name}
	switch a.Spec.Kind {
	case spec.REST:
		d.Format = docFormat(a.Doc)
		doc, err := openAPI(a.Doc)
		d.Unreadable = err != nil && len(a.Doc) > 0
		d.Operations = operations(doc)
		if d.Viewer && doc != nil {
			// Swagger UI sets styles on its elements: this page alone allows them.
			w.Header().Set("Content-Security-Policy", strings.Replace(csp, "style-src 'self'", "style-src 'self' 'unsafe-inline'", 1))
		}
	case spec.SOAP:
		desc, err := soap.ParseWSDL(a.Doc)
		d.Unreadable = err != nil && len(a.Doc) > 0
		if err == nil {
			d.SOAP = soapOperations(desc)
		}
	}
	p.render(w, r, http.StatusOK, "api.html", "", d)
	return nil
}

// docFormat says how a stored OpenAPI document is written.
func docFormat(b []byte) string {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		return "json"
	}
	return "yaml"
}

// openAPI reads an OpenAPI document (JSON is YAML) into plain values.
func openAPI(b []byte) (map[string]any, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	m, ok := plain(v).(map[string]any)
	if !ok || m["openapi"] == nil {
		return nil, fmt.Errorf("not an OpenAPI document")
	}
	return m, nil
}

// plain turns YAML's maps (whose keys may be numbers: 200: of a response) into maps of
// strings, as JSON writes them.
func plain(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = plain(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = plain(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = plain(e)
		}
	}
	return v
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func operations(doc map[string]any) []operation {
	paths, _ := doc["paths"].(map[string]any)
	var out []operation
	for path, item := range paths {
		item, _ := item.(map[string]any)
		for _, m := range methods {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			id, _ := op["operationId"].(string)
			sum, _ := op["summary"].(string)
			out = append(out, operation{Method: strings.ToUpper(m), Path: path, ID: id, Summary: sum})
		}
	}
	slices.SortFunc(out, func(a, b operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return slices.Index(methods, strings.ToLower(a.Method)) - slices.Index(methods, strings.ToLower(b.Method))
	})
	return out
}

func soapOperations(d *soap.Description) []soapOperation {
	var out []soapOperation
	message := func(m *soap.Message) *soapMessage {
		if m == nil {
			return nil
		}
		sm := &soapMessage{Name: m.Name}
		for _, part := range m.Parts {
			if e, ok := d.Element(part.Element); ok {
				sm.Fields = append(sm.Fields, fieldsOf(d, e, 0)...)
				continue
			}
			sm.Fields = append(sm.Fields, soapField{Name: part.Name, Type: part.Type.Local, Occurs: "1"})
		}
		return sm
	}
	for _, o := range d.Operations {
		so := soapOperation{Name: o.Name, Documentation: o.Documentation, Input: message(o.Input), Output: message(o.Output)}
		for _, b := range o.Bindings {
			so.Actions = append(so.Actions, fmt.Sprintf("SOAP %s : %s", b.Version, orDash(b.Action)))
		}
		for _, f := range o.Faults {
			so.Faults = append(so.Faults, message(&f))
		}
		out = append(out, so)
	}
	return out
}

// fieldsOf lists an element and its fields, depth first, to a depth of 6 (a recursive type
// is shown to that depth).
func fieldsOf(d *soap.Description, e soap.Element, depth int) []soapField {
	occurs := fmt.Sprintf("%d..%d", e.MinOccurs, e.MaxOccurs)
	if e.MaxOccurs == soap.Unbounded {
		occurs = fmt.Sprintf("%d..n", e.MinOccurs)
	}
	out := []soapField{{Name: e.Name.Local, Type: e.Type.Local, Occurs: occurs, Documentation: e.Documentation, Depth: depth}}
	if depth < 6 {
		for _, f := range d.FieldsOf(e) {
			out = append(out, fieldsOf(d, f, depth+1)...)
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// rawDoc serves an API's description as stored: openapi.json and openapi.yaml serve an
// OpenAPI document in its own format, and the other one converted; service.wsdl a WSDL.
func (p *Portal) rawDoc(format string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		cat, err := p.current(r.Context())
		if err != nil {
			return err
		}
		a := cat.APIs[r.PathValue("name")]
		if a == nil || len(a.Doc) == 0 || (format == "wsdl") != (a.Spec.Kind == spec.SOAP) {
			return notFound()
		}
		body, kind := a.Doc, ""
		switch {
		case format == "wsdl":
			kind = "application/wsdl+xml"
		case format == docFormat(a.Doc) && format == "json":
			kind = "application/json"
		case format == docFormat(a.Doc):
			kind = "application/yaml"
		case format == "json": // stored as YAML
			doc, err := openAPI(a.Doc)
			if err != nil {
				return notFound()
			}
			body, _ = json.MarshalIndent(doc, "", "  ")
			kind = "application/json"
		default: // YAML asked of a JSON document: JSON is YAML
			kind = "application/yaml"
		}
		w.Header().Set("Content-Type", kind+"; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		w.Write(body)
		return nil
	}
}

// viewerDoc is the OpenAPI document for the viewer: as JSON, its servers replaced by the
// gateway's address of the API, so that "try it out" calls the gateway and nothing else.
func (p *Portal) viewerDoc(w http.ResponseWriter, r *http.Request) error {
	cat, err := p.current(r.Context())
	if err != nil {
		return err
	}
	a := cat.APIs[r.PathValue("name")]
	if a == nil || a.Spec.Kind != spec.REST {
		return notFound()
	}
	doc, err := openAPI(a.Doc)
	if err != nil {
		return notFound()
	}
	doc["servers"] = []any{map[string]any{"url": "/apis/" + a.Spec.Name, "description": "socle"}}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	return json.NewEncoder(w).Encode(doc)
}
