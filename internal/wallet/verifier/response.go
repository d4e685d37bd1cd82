package verifier

import (
	"bytes"
	"crypto/ecdh"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
)

// Error is a refusal, with the error code of OpenID4VP 1.0 §8.5 (or RFC 6749 §4.1.2.1) where
// one applies, and what went wrong. The wallet's own errors come back as Error too.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Error codes (§8.5, RFC 6749 §4.1.2.1).
const (
	InvalidRequest           = "invalid_request"
	AccessDenied             = "access_denied"
	InvalidRequestURIMethod  = "invalid_request_uri_method"
	VPFormatsNotSupported    = "vp_formats_not_supported"
	CredentialNotValidStatus = AccessDenied // revoked or suspended: the holder may not use it
)

func refuse(code, format string, a ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, a...)}
}

// Response is the wallet's authorisation response (§8): a vp_token, or an error.
type Response struct {
	// VPToken maps each credential query id to its presentations (§8.1).
	VPToken          map[string][]string
	State            string
	Error            string
	ErrorDescription string
}

// maxResponse bounds what is read of a response: a few credentials, not a denial of service.
const maxResponse = 256 << 10

// ParseResponse reads the parameters a wallet posted to the response_uri (§8.2): vp_token
// and state, or error and error_description; with direct_post.jwt (§8.3), a single response
// parameter, a JWE encrypted (ECDH-ES) to the request's ephemeral key whose payload holds
// those parameters as a JSON object. A plain answer to a direct_post.jwt request, or the
// other way round, is refused: HAIP 1.0 requires encryption where the verifier asked for it.
func ParseResponse(form url.Values, mode string, key *ecdh.PrivateKey) (*Response, error) {
	var params map[string]any
	switch mode {
	case ModeDirectPostJWT:
		enc := form.Get("response")
		if enc == "" {
			return nil, refuse(InvalidRequest, "direct_post.jwt: the response parameter is missing (§8.3)")
		}
		if form.Has("vp_token") {
			return nil, refuse(InvalidRequest, "direct_post.jwt: vp_token must be inside the encrypted response, not beside it")
		}
		if len(enc) > maxResponse || key == nil {
			return nil, refuse(InvalidRequest, "direct_post.jwt: response too large")
		}
		msg, err := jwe.Parse([]byte(enc))
		if err != nil {
			return nil, refuse(InvalidRequest, "direct_post.jwt: the response is not a JWE: %v", err)
		}
		h := msg.ProtectedHeaders()
		if alg, _ := h.Algorithm(); alg.String() != jwa.ECDH_ES().String() {
			return nil, refuse(InvalidRequest, "direct_post.jwt: key management %q, ECDH-ES expected (§8.3)", alg)
		}
		if enc, _ := h.ContentEncryption(); !contains(EncValues, enc.String()) {
			return nil, refuse(InvalidRequest, "direct_post.jwt: content encryption %q is not among %q", enc, EncValues)
		}
		plain, err := jwe.Decrypt([]byte(enc), jwe.WithKey(jwa.ECDH_ES(), key))
		if err != nil {
			return nil, refuse(InvalidRequest, "direct_post.jwt: the response does not decrypt with this request's key: %v", err)
		}
		d := json.NewDecoder(bytes.NewReader(plain))
		d.UseNumber()
		if err := d.Decode(&params); err != nil {
			return nil, refuse(InvalidRequest, "direct_post.jwt: the decrypted response is not a JSON object: %v", err)
		}
	case ModeDirectPost:
		if form.Has("response") {
			return nil, refuse(InvalidRequest, "direct_post: an encrypted response was not asked for")
		}
		params = map[string]any{}
		for k, v := range form {
			if len(v) != 1 {
				return nil, refuse(InvalidRequest, "the parameter %s is given %d times", k, len(v))
			}
			params[k] = v[0]
		}
		// vp_token is a JSON object in a form parameter (§8.1).
		if s, ok := params["vp_token"].(string); ok {
			if len(s) > maxResponse {
				return nil, refuse(InvalidRequest, "vp_token too large")
			}
			var v any
			d := json.NewDecoder(bytes.NewReader([]byte(s)))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return nil, refuse(InvalidRequest, "vp_token is not JSON: %v", err)
			}
			params["vp_token"] = v
		}
	default:
		return nil, fmt.Errorf("verifier: response mode %q", mode)
	}
	return responseFrom(params)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func responseFrom(params map[string]any) (*Response, error) {
	r := &Response{}
	str := func(name string) (string, error) {
		v, ok := params[name]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", refuse(InvalidRequest, "%s must be a string", name)
		}
		return s, nil
	}
	var err error
	if r.State, err = str("state"); err != nil {
		return nil, err
	}
	if r.Error, err = str("error"); err != nil {
		return nil, err
	}
	if r.ErrorDescription, err = str("error_description"); err != nil {
		return nil, err
	}
	raw, has := params["vp_token"]
	if r.Error != "" {
		if has {
			return nil, refuse(InvalidRequest, "an error response carries no vp_token")
		}
		return r, nil
	}
	if !has {
		return nil, refuse(InvalidRequest, "vp_token is missing (§8.1)")
	}
	// §8.1: a JSON object whose keys are credential query ids and whose values are
	// non-empty arrays of presentations; an SD-JWT VC presentation is a string.
	obj, ok := raw.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil, refuse(InvalidRequest, "vp_token must be a non-empty JSON object keyed by credential query id (§8.1)")
	}
	r.VPToken = map[string][]string{}
	for id, v := range obj {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return nil, refuse(InvalidRequest, "vp_token.%s must be a non-empty array of presentations (§8.1)", id)
		}
		for i, p := range list {
			s, ok := p.(string)
			if !ok || s == "" {
				return nil, refuse(InvalidRequest, "vp_token.%s[%d] must be an SD-JWT VC presentation, a string", id, i)
			}
			r.VPToken[id] = append(r.VPToken[id], s)
		}
	}
	return r, nil
}
