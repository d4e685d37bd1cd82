package sdjwt

import (
	"bytes"
	"crypto"
	"crypto/rand"
	_ "crypto/sha256" // sha-256, the default _sd_alg
	_ "crypto/sha512" // sha-384 and sha-512
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Disclosure is one salted claim (RFC 9901 §4.2.1 for an object member, §4.2.2 for an array
// element).
type Disclosure struct {
	Encoded string // base64url of the JSON array, exactly as carried in the SD-JWT
	Salt    string
	Name    string // the claim name; empty for an array element
	Element bool   // true for the two-element form [salt, value] of §4.2.2
	Value   any
	Digest  string // base64url of the hash of Encoded (§4.2.3), under the SD-JWT's _sd_alg
	Path    Path   // where the claim sits in the processed payload; set by Parse and Verify
}

// hashAlgs are the _sd_alg values this package computes, named as in the IANA "Named
// Information Hash Algorithm" registry that §4.1.1 points to.
var hashAlgs = map[string]crypto.Hash{
	"sha-256": crypto.SHA256,
	"sha-384": crypto.SHA384,
	"sha-512": crypto.SHA512,
}

// DefaultHashAlg is the _sd_alg used when the issuer names none, and assumed when the payload
// carries none (§4.1.1).
const DefaultHashAlg = "sha-256"

var b64 = base64.RawURLEncoding

// digest hashes the ASCII bytes of the base64url string, not the decoded JSON (§4.2.3).
func digest(alg, encoded string) (string, error) {
	h, ok := hashAlgs[alg]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnsupportedHashAlg, alg)
	}
	w := h.New()
	w.Write([]byte(encoded))
	return b64.EncodeToString(w.Sum(nil)), nil
}

// newSalt draws 128 bits from crypto/rand, the minimum §9.3 recommends.
func newSalt() (string, error) {
	var s [16]byte
	if _, err := rand.Read(s[:]); err != nil {
		return "", fmt.Errorf("sdjwt: salt: %w", err)
	}
	return b64.EncodeToString(s[:]), nil
}

// marshal writes JSON without HTML escaping, so < > & in claim values stay as they are.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// newDisclosure salts and encodes one claim; name is empty for an array element.
func newDisclosure(alg, name string, element bool, value any) (*Disclosure, error) {
	salt, err := newSalt()
	if err != nil {
		return nil, err
	}
	arr := []any{salt, name, value}
	if element {
		arr = []any{salt, value}
	}
	raw, err := marshal(arr)
	if err != nil {
		return nil, fmt.Errorf("sdjwt: disclosure of %q: %w", name, err)
	}
	d := &Disclosure{Encoded: b64.EncodeToString(raw), Salt: salt, Name: name, Element: element, Value: value}
	if d.Digest, err = digest(alg, d.Encoded); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeJSON reads exactly one JSON value, keeping numbers as json.Number so that no
// precision is lost between what the issuer signed and what the verifier returns.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// ParseDisclosure decodes one Disclosure and computes its digest under alg (RFC 9901 §4.2,
// and the refusals of §7.1 step 3.2.2: names _sd and ... are not claims).
func ParseDisclosure(encoded, alg string) (*Disclosure, error) {
	raw, err := b64.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrMalformedDisclosure, err)
	}
	var arr []any
	if err := decodeJSON(raw, &arr); err != nil {
		return nil, fmt.Errorf("%w: not a JSON array: %v", ErrMalformedDisclosure, err)
	}
	d := &Disclosure{Encoded: encoded}
	var ok bool
	switch len(arr) {
	case 3:
		if d.Name, ok = arr[1].(string); !ok {
			return nil, fmt.Errorf("%w: claim name is not a string", ErrMalformedDisclosure)
		}
		if d.Name == "_sd" || d.Name == "..." {
			return nil, fmt.Errorf("%w: %q may not be a disclosed claim name (§7.1)", ErrMalformedDisclosure, d.Name)
		}
		d.Value = arr[2]
	case 2:
		d.Element = true
		d.Value = arr[1]
	default:
		return nil, fmt.Errorf("%w: %d elements, want 2 or 3", ErrMalformedDisclosure, len(arr))
	}
	if d.Salt, ok = arr[0].(string); !ok {
		return nil, fmt.Errorf("%w: salt is not a string", ErrMalformedDisclosure)
	}
	if d.Digest, err = digest(alg, encoded); err != nil {
		return nil, err
	}
	return d, nil
}
