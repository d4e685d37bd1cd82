package verifier

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseQuery: any input is a valid query or a *QueryError, never a panic; a valid one
// matches any claims without panicking.
func FuzzParseQuery(f *testing.F) {
	f.Add([]byte(familyAndBirth))
	f.Add([]byte(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"id":"c","path":["a",null,0],"values":[1,"x",true]}],"claim_sets":[["c"]]}],"credential_sets":[{"options":[["a"]],"required":false}]}`))
	f.Add([]byte(`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a",-1]}]}]}`))
	f.Add([]byte(`{"credentials":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuery(b)
		if err != nil {
			var e *QueryError
			if !errors.As(err, &e) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		claims := map[string]any{"a": []any{map[string]any{"b": 1.0}, "x"}, "family_name": "L"}
		for i := range q.Credentials {
			if sel, err := q.Credentials[i].Match("x", claims); err == nil {
				Keep(sel)
			}
		}
		q.Satisfied(map[string]bool{"a": true})
	})
}

// FuzzParseResponse: any posted form is a response or an *Error, never a panic.
func FuzzParseResponse(f *testing.F) {
	f.Add(`{"pid":["eyJ~"]}`, "s", "", "")
	f.Add(`[]`, "", "access_denied", "")
	f.Add(``, "", "", "eyJhbGciOiJFQ0RILUVTIn0.a.b.c.d")
	f.Fuzz(func(t *testing.T, vp, state, errCode, response string) {
		form := url.Values{}
		for k, v := range map[string]string{"vp_token": vp, "state": state, "error": errCode, "response": response} {
			if v != "" {
				form.Set(k, v)
			}
		}
		key, _ := NewEncryptionKey()
		for _, mode := range []string{ModeDirectPost, ModeDirectPostJWT} {
			r, err := ParseResponse(form, mode, key)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%T %v", err, err)
				}
				continue
			}
			if r.Error == "" && len(r.VPToken) == 0 {
				t.Fatal("a response with neither vp_token nor error")
			}
		}
	})
}
