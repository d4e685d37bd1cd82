package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteIsRFC9457WithFieldsAndRequestID(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req-1")
	req := httptest.NewRequest("POST", "/emergency/v1/aml", nil)
	p := New("unusable-aml", 422, "Unusable AML message", "no location").
		With(FieldError{Field: "lt", Reason: "missing"})
	p.Extra = map[string]any{"id": "abc"}
	Write(rec, req, p)
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q", ct)
	}
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", rec.Code)
	}
	var got map[string]any
	json.Unmarshal(rec.Body.Bytes(), &got)
	want := map[string]any{"type": "urn:socle:problem:unusable-aml", "status": 422.0, "request_id": "req-1",
		"instance": "/emergency/v1/aml", "id": "abc"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if errs := got["errors"].([]any); errs[0].(map[string]any)["field"] != "lt" {
		t.Errorf("errors = %v", errs)
	}
}
