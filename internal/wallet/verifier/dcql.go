package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FormatSDJWT is the only credential format socle verifies: IETF SD-JWT VC (OpenID4VP 1.0
// Appendix B.3, HAIP 1.0 §6).
const FormatSDJWT = "dc+sd-jwt"

// Query is a DCQL query (OpenID4VP 1.0 §6.1).
type Query struct {
	Credentials    []CredentialQuery `json:"credentials"`
	CredentialSets []CredentialSet   `json:"credential_sets,omitempty"`
}

// CredentialQuery asks for one credential (§6.1).
type CredentialQuery struct {
	ID       string `json:"id"`
	Format   string `json:"format"`
	Multiple bool   `json:"multiple,omitempty"`
	Meta     Meta   `json:"meta"`
	// require_cryptographic_holder_binding is true when absent (§6.1); ParseQuery refuses
	// false: a presentation without key binding could be replayed.
	Claims    []ClaimQuery `json:"claims,omitempty"`
	ClaimSets [][]string   `json:"claim_sets,omitempty"`
}

// Meta is the format-specific meta of an SD-JWT VC credential query (Appendix B.3.5).
type Meta struct {
	VCTValues []string `json:"vct_values"`
}

// ClaimQuery asks for one claim (§6.3).
type ClaimQuery struct {
	ID     string    `json:"id,omitempty"`
	Path   ClaimPath `json:"path"`
	Values []any     `json:"values,omitempty"`
}

// ClaimPath is a claims path pointer (§7): strings name object members, nil selects every
// element of an array, non-negative integers one element.
type ClaimPath []any

// String writes the path as JSON, the way the query wrote it.
func (p ClaimPath) String() string {
	b, _ := json.Marshal([]any(p))
	return string(b)
}

// CredentialSet is a credential set query (§6.2): one of the options (lists of credential
// query ids) must be satisfied when it is required.
type CredentialSet struct {
	Options  [][]string `json:"options"`
	Required bool       `json:"required"`
}

// QueryError is a refused DCQL query: where (a JSON path into the query, e.g.
// credentials[0].claims[1].path) and why.
type QueryError struct {
	Path   string
	Reason string
}

func (e *QueryError) Error() string {
	if e.Path == "" {
		return "dcql: " + e.Reason
	}
	return "dcql: " + e.Path + ": " + e.Reason
}

// idPattern is what §6.1 and §6.3 allow in an id: alphanumerics, underscore and hyphen.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Limits keep a query a relying party sends within what a wallet could show a person.
const (
	maxCredentials = 16
	maxClaims      = 64
	maxPathLen     = 16
	maxValues      = 64
	maxQueryBytes  = 64 << 10
)

// ParseQuery reads and validates a DCQL query (§6). A query socle could not honour — a format
// other than dc+sd-jwt, no vct_values, holder binding not required — is refused too.
func ParseQuery(b []byte) (*Query, error) {
	if len(b) > maxQueryBytes {
		return nil, &QueryError{Reason: fmt.Sprintf("larger than %d bytes", maxQueryBytes)}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return nil, &QueryError{Reason: "not JSON: " + err.Error()}
	}
	if d.More() {
		return nil, &QueryError{Reason: "more than one JSON value"}
	}
	return queryFrom(raw)
}

// QueryFromValue validates a query already decoded from JSON (as part of a larger document).
func QueryFromValue(v any) (*Query, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &QueryError{Reason: err.Error()}
	}
	return ParseQuery(b)
}

type checker struct{ path []string }

func (c *checker) at(p string) string {
	return strings.Join(append(slices.Clone(c.path), p), ".")
}

func fail(path, format string, a ...any) error {
	return &QueryError{Path: strings.TrimPrefix(strings.ReplaceAll(path, ".[", "["), "."), Reason: fmt.Sprintf(format, a...)}
}

func object(v any, path string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fail(path, "must be an object")
	}
	return m, nil
}

func array(v any, path string, min, max int) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fail(path, "must be an array")
	}
	if len(a) < min {
		return nil, fail(path, "must not be empty")
	}
	if len(a) > max {
		return nil, fail(path, "at most %d entries", max)
	}
	return a, nil
}

// known refuses members a query's object does not define where a typo would silently change
// what is asked (§6 lets extensions add members; socle knows of none, and a misspelt
// "claim_sets" would ask for every claim).
func known(m map[string]any, path string, names ...string) error {
	for k := range m {
		if !slices.Contains(names, k) {
			return fail(path+"."+k, "unknown member (expected one of %s)", strings.Join(names, ", "))
		}
	}
	return nil
}

func queryFrom(raw any) (*Query, error) {
	root, err := object(raw, "")
	if err != nil {
		return nil, err
	}
	if err := known(root, "", "credentials", "credential_sets"); err != nil {
		return nil, err
	}
	creds, ok := root["credentials"]
	if !ok {
		return nil, fail("credentials", "required")
	}
	list, err := array(creds, "credentials", 1, maxCredentials)
	if err != nil {
		return nil, err
	}
	q := &Query{}
	ids := map[string]bool{}
	for i, c := range list {
		cq, err := credentialQuery(c, fmt.Sprintf("credentials[%d]", i))
		if err != nil {
			return nil, err
		}
		if ids[cq.ID] {
			return nil, fail(fmt.Sprintf("credentials[%d].id", i), "%q is used twice (§6.1: ids are unique)", cq.ID)
		}
		ids[cq.ID] = true
		q.Credentials = append(q.Credentials, *cq)
	}
	if sets, ok := root["credential_sets"]; ok {
		list, err := array(sets, "credential_sets", 1, maxCredentials)
		if err != nil {
			return nil, err
		}
		for i, s := range list {
			p := fmt.Sprintf("credential_sets[%d]", i)
			m, err := object(s, p)
			if err != nil {
				return nil, err
			}
			if err := known(m, p, "options", "required", "purpose"); err != nil {
				return nil, err
			}
			cs := CredentialSet{Required: true}
			if r, ok := m["required"]; ok {
				if cs.Required, ok = r.(bool); !ok {
					return nil, fail(p+".required", "must be a boolean")
				}
			}
			opts, ok := m["options"]
			if !ok {
				return nil, fail(p+".options", "required")
			}
			if cs.Options, err = idLists(opts, p+".options", func(id string) bool { return ids[id] }, "credential query"); err != nil {
				return nil, err
			}
			q.CredentialSets = append(q.CredentialSets, cs)
		}
	}
	return q, nil
}

// idLists reads a non-empty array of non-empty arrays of ids that exist.
func idLists(v any, path string, exists func(string) bool, what string) ([][]string, error) {
	outer, err := array(v, path, 1, maxClaims)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for i, o := range outer {
		p := fmt.Sprintf("%s[%d]", path, i)
		inner, err := array(o, p, 1, maxClaims)
		if err != nil {
			return nil, err
		}
		var ids []string
		for j, e := range inner {
			id, ok := e.(string)
			if !ok {
				return nil, fail(fmt.Sprintf("%s[%d]", p, j), "must be a string, the id of a %s", what)
			}
			if !exists(id) {
				return nil, fail(fmt.Sprintf("%s[%d]", p, j), "no %s has the id %q", what, id)
			}
			ids = append(ids, id)
		}
		out = append(out, ids)
	}
	return out, nil
}

func credentialQuery(v any, p string) (*CredentialQuery, error) {
	m, err := object(v, p)
	if err != nil {
		return nil, err
	}
	if err := known(m, p, "id", "format", "multiple", "meta", "trusted_authorities",
		"require_cryptographic_holder_binding", "claims", "claim_sets"); err != nil {
		return nil, err
	}
	cq := &CredentialQuery{}
	id, ok := m["id"].(string)
	if !ok || !idPattern.MatchString(id) {
		return nil, fail(p+".id", "required: a non-empty string of letters, digits, _ and - (§6.1)")
	}
	cq.ID = id
	if cq.Format, ok = m["format"].(string); !ok {
		return nil, fail(p+".format", "required: a string")
	}
	if cq.Format != FormatSDJWT {
		return nil, fail(p+".format", "%q is not supported: socle verifies %q (SD-JWT VC)", cq.Format, FormatSDJWT)
	}
	if mv, ok := m["multiple"]; ok {
		if cq.Multiple, ok = mv.(bool); !ok {
			return nil, fail(p+".multiple", "must be a boolean")
		}
	}
	if hb, ok := m["require_cryptographic_holder_binding"]; ok {
		if b, ok := hb.(bool); !ok {
			return nil, fail(p+".require_cryptographic_holder_binding", "must be a boolean")
		} else if !b {
			return nil, fail(p+".require_cryptographic_holder_binding", "socle requires holder binding: a presentation without it could be replayed")
		}
	}
	if _, ok := m["trusted_authorities"]; ok {
		return nil, fail(p+".trusted_authorities", "not supported: socle trusts the issuers its trust list names")
	}
	// meta is required (§6.1); for dc+sd-jwt it holds vct_values (Appendix B.3.5).
	meta, ok := m["meta"]
	if !ok {
		return nil, fail(p+".meta", "required (§6.1), with vct_values")
	}
	mm, err := object(meta, p+".meta")
	if err != nil {
		return nil, err
	}
	if err := known(mm, p+".meta", "vct_values"); err != nil {
		return nil, err
	}
	vcts, ok := mm["vct_values"]
	if !ok {
		return nil, fail(p+".meta.vct_values", "required: the credential types accepted")
	}
	vl, err := array(vcts, p+".meta.vct_values", 1, maxValues)
	if err != nil {
		return nil, err
	}
	for i, x := range vl {
		s, ok := x.(string)
		if !ok || s == "" {
			return nil, fail(fmt.Sprintf("%s.meta.vct_values[%d]", p, i), "must be a non-empty string")
		}
		cq.Meta.VCTValues = append(cq.Meta.VCTValues, s)
	}
	claimIDs := map[string]bool{}
	if cl, ok := m["claims"]; ok {
		list, err := array(cl, p+".claims", 1, maxClaims)
		if err != nil {
			return nil, err
		}
		for i, c := range list {
			cp := fmt.Sprintf("%s.claims[%d]", p, i)
			q, err := claimQuery(c, cp)
			if err != nil {
				return nil, err
			}
			if q.ID != "" {
				if claimIDs[q.ID] {
					return nil, fail(cp+".id", "%q is used twice (§6.3)", q.ID)
				}
				claimIDs[q.ID] = true
			}
			cq.Claims = append(cq.Claims, *q)
		}
	}
	if cs, ok := m["claim_sets"]; ok {
		if len(cq.Claims) == 0 {
			return nil, fail(p+".claim_sets", "only with claims (§6.1)")
		}
		for i, c := range cq.Claims {
			if c.ID == "" {
				return nil, fail(fmt.Sprintf("%s.claims[%d].id", p, i), "required when claim_sets is present (§6.3)")
			}
		}
		if cq.ClaimSets, err = idLists(cs, p+".claim_sets", func(id string) bool { return claimIDs[id] }, "claim"); err != nil {
			return nil, err
		}
	}
	return cq, nil
}

func claimQuery(v any, p string) (*ClaimQuery, error) {
	m, err := object(v, p)
	if err != nil {
		return nil, err
	}
	if err := known(m, p, "id", "path", "values", "intent_to_retain"); err != nil {
		return nil, err
	}
	q := &ClaimQuery{}
	if id, ok := m["id"]; ok {
		s, ok := id.(string)
		if !ok || !idPattern.MatchString(s) {
			return nil, fail(p+".id", "a non-empty string of letters, digits, _ and - (§6.3)")
		}
		q.ID = s
	}
	raw, ok := m["path"]
	if !ok {
		return nil, fail(p+".path", "required: a claims path pointer (§7)")
	}
	list, err := array(raw, p+".path", 1, maxPathLen)
	if err != nil {
		return nil, err
	}
	for i, e := range list {
		ep := fmt.Sprintf("%s.path[%d]", p, i)
		switch e := e.(type) {
		case string:
			q.Path = append(q.Path, e)
		case nil:
			q.Path = append(q.Path, nil)
		case json.Number:
			n, err := strconv.Atoi(e.String())
			if err != nil || n < 0 {
				return nil, fail(ep, "an array index is a non-negative integer (§7)")
			}
			q.Path = append(q.Path, n)
		default:
			return nil, fail(ep, "a string, null or a non-negative integer (§7)")
		}
	}
	// An SD-JWT VC's claims start at an object: the first component names a member (§7.1).
	if _, ok := q.Path[0].(string); !ok {
		return nil, fail(p+".path[0]", "must be a string: the credential's claims are an object")
	}
	if vals, ok := m["values"]; ok {
		list, err := array(vals, p+".values", 1, maxValues)
		if err != nil {
			return nil, err
		}
		for i, x := range list {
			switch x := x.(type) {
			case string, bool:
				q.Values = append(q.Values, x)
			case json.Number:
				n, err := strconv.ParseInt(x.String(), 10, 64)
				if err != nil {
					return nil, fail(fmt.Sprintf("%s.values[%d]", p, i), "numbers must be integers (§6.3)")
				}
				q.Values = append(q.Values, n)
			default:
				return nil, fail(fmt.Sprintf("%s.values[%d]", p, i), "a string, integer or boolean (§6.3)")
			}
		}
	}
	return q, nil
}

// errNoMatch is why a credential does not answer a query.
var errNoMatch = errors.New("dcql: the credential does not answer the query")

// Selected is one claim a path selected: its concrete path (indices instead of nulls) and value.
type Selected struct {
	Path  ClaimPath
	Value any
}

// selectPath applies a claims path pointer to claims (§7.1, the processing rules): a string
// selects a member of every selected object, null every element of every selected array, an
// index one element. It fails if a component meets the wrong type or nothing is selected.
func selectPath(claims map[string]any, path ClaimPath) ([]Selected, bool) {
	cur := []Selected{{Path: ClaimPath{}, Value: claims}}
	for _, c := range path {
		var next []Selected
		for _, s := range cur {
			switch c := c.(type) {
			case string:
				m, ok := s.Value.(map[string]any)
				if !ok {
					return nil, false
				}
				if v, ok := m[c]; ok {
					next = append(next, Selected{append(slices.Clone(s.Path), c), v})
				}
			case nil:
				a, ok := s.Value.([]any)
				if !ok {
					return nil, false
				}
				for i, v := range a {
					next = append(next, Selected{append(slices.Clone(s.Path), i), v})
				}
			case int:
				a, ok := s.Value.([]any)
				if !ok {
					return nil, false
				}
				if c < len(a) {
					next = append(next, Selected{append(slices.Clone(s.Path), c), a[c]})
				}
			}
		}
		if len(next) == 0 {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// valueMatches compares a selected value with a claim query's values (§6.4.1: the claim
// matches if one of them equals it; JSON numbers compared as integers).
func valueMatches(v any, values []any) bool {
	if len(values) == 0 {
		return true
	}
	for _, want := range values {
		switch want := want.(type) {
		case int64:
			switch got := v.(type) {
			case float64:
				if got == float64(want) {
					return true
				}
			case json.Number:
				if got.String() == strconv.FormatInt(want, 10) {
					return true
				}
			case int64:
				if got == want {
					return true
				}
			case int:
				if int64(got) == want {
					return true
				}
			}
		default:
			if v == want {
				return true
			}
		}
	}
	return false
}

// Match says whether a credential — its vct and processed claims, after verification —
// answers cq, and which claims it answers with (§6.4.1): none but the credential's type when
// cq names no claims; all of them when it has no claim_sets; else those of the first claim
// set, in the verifier's order of preference, that the credential satisfies.
func (cq *CredentialQuery) Match(vct string, claims map[string]any) ([]Selected, error) {
	if !slices.Contains(cq.Meta.VCTValues, vct) {
		return nil, fmt.Errorf("%w: vct %q is not among %q", errNoMatch, vct, cq.Meta.VCTValues)
	}
	answered := map[int][]Selected{}
	var missing []string
	for i, c := range cq.Claims {
		sel, ok := selectPath(claims, c.Path)
		if ok {
			var kept []Selected
			for _, s := range sel {
				if valueMatches(s.Value, c.Values) {
					kept = append(kept, s)
				}
			}
			if len(kept) > 0 {
				answered[i] = kept
				continue
			}
		}
		missing = append(missing, c.Path.String())
	}
	collect := func(idx []int) []Selected {
		var out []Selected
		for _, i := range idx {
			out = append(out, answered[i]...)
		}
		return out
	}
	if len(cq.ClaimSets) == 0 {
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w: claims %s not disclosed", errNoMatch, strings.Join(missing, ", "))
		}
		idx := make([]int, len(cq.Claims))
		for i := range idx {
			idx[i] = i
		}
		return collect(idx), nil
	}
	byID := map[string]int{}
	for i, c := range cq.Claims {
		byID[c.ID] = i
	}
	for _, set := range cq.ClaimSets {
		var idx []int
		ok := true
		for _, id := range set {
			if _, has := answered[byID[id]]; !has {
				ok = false
				break
			}
			idx = append(idx, byID[id])
		}
		if ok {
			return collect(idx), nil
		}
	}
	return nil, fmt.Errorf("%w: no claim set satisfied (missing %s)", errNoMatch, strings.Join(missing, ", "))
}

// Satisfied says whether the credential queries answered satisfy the query (§6.4.2): every
// required credential set has an option whose queries were all answered; without
// credential_sets, every credential query must be.
func (q *Query) Satisfied(answered map[string]bool) error {
	if len(q.CredentialSets) == 0 {
		for _, c := range q.Credentials {
			if !answered[c.ID] {
				return fmt.Errorf("%w: no credential for %q", errNoMatch, c.ID)
			}
		}
		return nil
	}
	for i, s := range q.CredentialSets {
		if !s.Required {
			continue
		}
		ok := false
		for _, opt := range s.Options {
			all := true
			for _, id := range opt {
				all = all && answered[id]
			}
			if all {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("%w: credential set %d has no option answered", errNoMatch, i)
		}
	}
	return nil
}

// Credential returns the credential query with id, or nil.
func (q *Query) Credential(id string) *CredentialQuery {
	for i := range q.Credentials {
		if q.Credentials[i].ID == id {
			return &q.Credentials[i]
		}
	}
	return nil
}

// Keep builds the part of claims the selected paths cover, and nothing else: the only claims
// the relying party receives. Array elements not selected are null, so indices keep their
// meaning.
func Keep(sel []Selected) map[string]any {
	out := map[string]any{}
	for _, s := range sel {
		var root any = out
		root = insert(root, s.Path, s.Value)
		out = root.(map[string]any)
	}
	return out
}

func insert(dst any, path ClaimPath, v any) any {
	if len(path) == 0 {
		return v
	}
	switch c := path[0].(type) {
	case string:
		m, _ := dst.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m[c] = insert(m[c], path[1:], v)
		return m
	case int:
		a, _ := dst.([]any)
		for len(a) <= c {
			a = append(a, nil)
		}
		a[c] = insert(a[c], path[1:], v)
		return a
	}
	return dst
}
