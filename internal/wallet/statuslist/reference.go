package statuslist

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
)

// ErrReference is returned for a `status` claim that does not follow §6.2.
var ErrReference = errors.New("statuslist: invalid status claim")

// Reference is the `status_list` member of a Referenced Token's `status`
// claim (§6.2): the index to look up and the URI of the Status List Token.
type Reference struct {
	Idx int    `json:"idx"`
	URI string `json:"uri"`
}

// Validate checks §6.2: a non-negative idx and an absolute URI (RFC 3986).
// It does not require https; the [Checker] does when it fetches.
func (r Reference) Validate() error {
	if r.Idx < 0 {
		return fmt.Errorf("%w: negative idx %d", ErrReference, r.Idx)
	}
	u, err := url.Parse(r.URI)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return fmt.Errorf("%w: uri %q is not an absolute URI", ErrReference, r.URI)
	}
	return nil
}

// StatusClaim is the `status` claim of a Referenced Token (§6.1, §6.2). Other
// status mechanisms may add members; they are kept, untouched, in Other.
type StatusClaim struct {
	StatusList *Reference
	Other      map[string]json.RawMessage
}

// MarshalJSON writes {"status_list": {"idx": N, "uri": "..."}} plus Other.
func (c StatusClaim) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(c.Other)+1)
	for k, v := range c.Other {
		m[k] = v
	}
	if c.StatusList != nil {
		if err := c.StatusList.Validate(); err != nil {
			return nil, err
		}
		m["status_list"] = c.StatusList
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w: no status mechanism", ErrReference)
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a `status` claim and validates its status_list.
func (c *StatusClaim) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrReference, err)
	}
	if m == nil || len(m) == 0 {
		// §6.2: at least one reference to a status mechanism.
		return fmt.Errorf("%w: no status mechanism", ErrReference)
	}
	*c = StatusClaim{}
	if raw, ok := m["status_list"]; ok {
		var r struct {
			Idx json.RawMessage `json:"idx"`
			URI *string         `json:"uri"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%w: status_list: %v", ErrReference, err)
		}
		if r.Idx == nil || r.URI == nil {
			return fmt.Errorf("%w: status_list needs idx and uri", ErrReference)
		}
		// A JSON number, not a string that looks like one.
		idx, err := strconv.ParseInt(string(r.Idx), 10, 64)
		if err != nil || idx < 0 || idx > maxIndex {
			return fmt.Errorf("%w: idx %.20s is not a non-negative integer", ErrReference, r.Idx)
		}
		ref := Reference{Idx: int(idx), URI: *r.URI}
		if err := ref.Validate(); err != nil {
			return err
		}
		c.StatusList = &ref
		delete(m, "status_list")
	}
	if len(m) > 0 {
		c.Other = m
	}
	return nil
}

// maxIndex is the largest index accepted in a claim: a list of 1-bit entries
// within DefaultMaxListBytes is far smaller, and the bound keeps int safe.
const maxIndex = 1<<31 - 1

// ParseStatusClaim reads the `status` claim from a Referenced Token's
// claims set and returns its status_list reference (§8.3 step 1).
func ParseStatusClaim(claims []byte) (Reference, error) {
	var c struct {
		Status *StatusClaim `json:"status"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return Reference{}, fmt.Errorf("%w: %v", ErrReference, err)
	}
	if c.Status == nil {
		return Reference{}, fmt.Errorf("%w: no status claim", ErrReference)
	}
	if c.Status.StatusList == nil {
		return Reference{}, fmt.Errorf("%w: no status_list in the status claim", ErrReference)
	}
	return *c.Status.StatusList, nil
}
