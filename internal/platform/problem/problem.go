// Package problem writes HTTP errors as RFC 9457 "problem details" (application/problem+json),
// with a stable type URI, the fields at fault, and the request id that is also in the log.
package problem

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 §3 problem details object, with two extension members (§3.2):
// errors, one per field at fault, and request_id.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	// Extra members a handler adds (the id of a stored message, say).
	Extra map[string]any `json:"-"`
}

// FieldError names one field of the request and what is wrong with it.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// TypePrefix is the namespace of socle's problem types: URNs are stable and need no
// document to resolve (RFC 9457 §3.1.1 allows non-dereferenceable URIs).
const TypePrefix = "urn:socle:problem:"

// New returns a problem of the given short type (e.g. "unusable-aml") and status.
func New(typ string, status int, title, detail string) *Problem {
	return &Problem{Type: TypePrefix + typ, Status: status, Title: title, Detail: detail}
}

// With appends field errors.
func (p *Problem) With(errs ...FieldError) *Problem {
	p.Errors = append(p.Errors, errs...)
	return p
}

// MarshalJSON flattens Extra into the object.
func (p *Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal((*plain)(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	json.Unmarshal(b, &m)
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// Write sends p as the response, filling request_id and instance from r.
func Write(w http.ResponseWriter, r *http.Request, p *Problem) {
	if p.RequestID == "" {
		p.RequestID = w.Header().Get("X-Request-Id")
	}
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(p)
}

// Common problems.
var (
	NotFound = func() *Problem { return New("not-found", http.StatusNotFound, "Not found", "") }
	Internal = func() *Problem {
		return New("internal", http.StatusInternalServerError, "Internal error",
			"the server could not handle the request; quote the request_id to the operators")
	}
)
