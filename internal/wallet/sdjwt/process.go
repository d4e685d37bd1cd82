package sdjwt

import (
	"fmt"
	"slices"
	"strings"
)

// processor rebuilds the processed payload from the issuer-signed payload and the
// Disclosures, following RFC 9901 §7.1 step 3.
type processor struct {
	byDigest map[string]*Disclosure
	seen     map[string]bool // every digest met in the payload or in a disclosed value (§7.1 3.4)
	used     []*Disclosure   // in the order they were met
}

// process returns the processed payload: _sd, _sd_alg and ... digests replaced by the
// disclosed claims, undisclosed digests and decoys dropped.
func process(payload map[string]any, ds []*Disclosure) (map[string]any, []*Disclosure, error) {
	p := &processor{byDigest: make(map[string]*Disclosure, len(ds)), seen: map[string]bool{}}
	for _, d := range ds {
		// Two copies of one Disclosure would both match one digest: §7.1 3.4 refuses that.
		if _, dup := p.byDigest[d.Digest]; dup {
			return nil, nil, fmt.Errorf("%w: the same disclosure is presented twice", ErrDuplicateDigest)
		}
		p.byDigest[d.Digest] = d
	}
	out, err := p.object(payload, nil)
	if err != nil {
		return nil, nil, err
	}
	delete(out, "_sd_alg") // §7.1 step 3.6: removed from the top level only
	// §7.1 step 3.5: every Disclosure must have been reached from the signed payload.
	if len(p.used) != len(ds) {
		for _, d := range ds {
			if !slices.Contains(p.used, d) {
				return nil, nil, fmt.Errorf("%w: %s", ErrUnreferenced, abbrev(d.Encoded))
			}
		}
	}
	return out, p.used, nil
}

func abbrev(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func (p *processor) mark(dg string) error {
	if p.seen[dg] {
		return fmt.Errorf("%w: %s", ErrDuplicateDigest, abbrev(dg))
	}
	p.seen[dg] = true
	return nil
}

func (p *processor) object(in map[string]any, at Path) (map[string]any, error) {
	out := make(map[string]any, len(in))
	// Plain members first, so that a Disclosure naming one of them is found in conflict
	// whatever the order of the _sd array.
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	slices.Sort(names) // a stable order for Disclosed, whatever the map's
	for _, k := range names {
		v := in[k]
		if k == "_sd" {
			continue
		}
		if k == "..." {
			return nil, fmt.Errorf("%w: \"...\" as a claim name at %s", ErrReservedName, at)
		}
		pv, err := p.value(v, at.child(k))
		if err != nil {
			return nil, err
		}
		out[k] = pv
	}
	raw, ok := in["_sd"]
	if !ok {
		return out, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: _sd at %s is not an array", ErrMalformed, at)
	}
	for _, e := range list {
		dg, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%w: _sd at %s holds a non-string", ErrMalformed, at)
		}
		if err := p.mark(dg); err != nil {
			return nil, err
		}
		d, ok := p.byDigest[dg]
		if !ok {
			continue // undisclosed claim or decoy (§7.1 3.3.1.4)
		}
		if d.Element {
			return nil, fmt.Errorf("%w: an array-element disclosure is referenced from _sd at %s", ErrMalformedDisclosure, at)
		}
		if _, clash := out[d.Name]; clash {
			return nil, fmt.Errorf("%w: %s", ErrClaimConflict, at.child(d.Name))
		}
		if at == nil && d.Name == "_sd_alg" {
			return nil, fmt.Errorf("%w: _sd_alg may not be disclosed", ErrReservedName)
		}
		d.Path = at.child(d.Name)
		p.used = append(p.used, d)
		pv, err := p.value(d.Value, d.Path)
		if err != nil {
			return nil, err
		}
		out[d.Name] = pv
	}
	return out, nil
}

// elementDigest recognises the {"...": "<digest>"} form of §4.2.4.2.
func elementDigest(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	dg, ok := m["..."].(string)
	return dg, ok
}

func (p *processor) value(v any, at Path) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		return p.object(t, at)
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			if dg, ok := elementDigest(e); ok {
				if err := p.mark(dg); err != nil {
					return nil, err
				}
				d, ok := p.byDigest[dg]
				if !ok {
					continue // undisclosed element or decoy: dropped (§7.1 3.3.2.2)
				}
				if !d.Element {
					return nil, fmt.Errorf("%w: an object-member disclosure is referenced from the array at %s", ErrMalformedDisclosure, at)
				}
				d.Path = at.child(len(out))
				p.used = append(p.used, d)
				pv, err := p.value(d.Value, d.Path)
				if err != nil {
					return nil, err
				}
				out = append(out, pv)
				continue
			}
			pv, err := p.value(e, at.child(len(out)))
			if err != nil {
				return nil, err
			}
			out = append(out, pv)
		}
		return out, nil
	default:
		return v, nil
	}
}

// splitCompact cuts <JWT>~<D1>~...~<Dn>~[<KB-JWT>] (§4, §5) into its parts.
func splitCompact(s string) (jwt string, disclosures []string, kb string, err error) {
	parts := strings.Split(s, "~")
	if len(parts) < 2 {
		return "", nil, "", fmt.Errorf("%w: no ~ after the issuer-signed JWT", ErrMalformed)
	}
	jwt, kb = parts[0], parts[len(parts)-1]
	disclosures = parts[1 : len(parts)-1]
	if jwt == "" {
		return "", nil, "", fmt.Errorf("%w: empty issuer-signed JWT", ErrMalformed)
	}
	for _, d := range disclosures {
		if d == "" {
			return "", nil, "", fmt.Errorf("%w: empty disclosure", ErrMalformed)
		}
	}
	return jwt, disclosures, kb, nil
}
