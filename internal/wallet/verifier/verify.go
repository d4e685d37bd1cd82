package verifier

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"time"

	"socle/internal/wallet/sdjwt"
	"socle/internal/wallet/statuslist"
)

// StatusChecker answers a credential's status (statuslist.Checker does, over HTTPS).
type StatusChecker interface {
	Status(ctx context.Context, ref statuslist.Reference) (statuslist.Status, error)
}

// Verifier checks wallets' responses. It is safe for concurrent use once made, and holds no
// state between calls but the status checker's cache: a benchmark calls Verify in a loop.
type Verifier struct {
	// Roots are the trust anchors of issuers' x5c chains (socle's CA, plus the trust list).
	Roots *x509.CertPool
	// Status checks Token Status List references; a credential with a status claim is
	// refused when Status is nil (it cannot be shown valid).
	Status StatusChecker
	// KeyBindingMaxAge is how old a KB-JWT may be; zero means 5 minutes (sdjwt's default).
	KeyBindingMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Expect is what a response must answer: the request's query, and the client_id and nonce
// every key binding must name (OpenID4VP 1.0 §14.1: they bind the presentation to this
// request of this verifier, so it cannot be replayed elsewhere).
type Expect struct {
	Query    *Query
	ClientID string
	Nonce    string
}

// Result is a verified answer: per credential query id, what each credential disclosed of
// what was asked. It holds nothing the query did not ask for.
type Result struct {
	Credentials map[string][]Credential `json:"credentials"`
}

// Credential is one verified credential as the relying party sees it.
type Credential struct {
	VCT    string `json:"vct"`
	Issuer string `json:"issuer"`
	// Status is the credential's status list entry when it has one ("VALID"), or "none".
	Status string `json:"status"`
	// Claims are the requested claims, and only those, as nested JSON.
	Claims map[string]any `json:"claims"`
	// Disclosed are the concrete paths of Claims (§7), in order.
	Disclosed []ClaimPath `json:"disclosed"`
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks a response against the request it answers. The wallet's error comes back as
// an *Error with its code; every refusal is an *Error, with invalid_request for a presentation
// that does not verify (§8.5, §8.6) and access_denied for a revoked or suspended credential.
func (v *Verifier) Verify(ctx context.Context, r *Response, exp Expect) (*Result, error) {
	if exp.Query == nil || exp.ClientID == "" || exp.Nonce == "" {
		return nil, errors.New("verifier: Verify needs the query, client_id and nonce")
	}
	if r.Error != "" {
		return nil, &Error{Code: r.Error, Description: "the wallet answered: " + r.ErrorDescription}
	}
	sv := &sdjwt.Verifier{
		IssuerKey:         sdjwt.X5CKeyFunc(v.Roots, v.now),
		Algorithms:        []string{"ES256"}, // as client_metadata said (HAIP 1.0 §7)
		RequireKeyBinding: true,              // §6.1 require_cryptographic_holder_binding
		KeyBindingMaxAge:  v.KeyBindingMaxAge,
		Now:               v.Now,
	}
	res := &Result{Credentials: map[string][]Credential{}}
	answered := map[string]bool{}
	// Sorted: the same response is judged the same way, whatever the map's order.
	ids := make([]string, 0, len(r.VPToken))
	for id := range r.VPToken {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		pres := r.VPToken[id]
		cq := exp.Query.Credential(id)
		if cq == nil {
			return nil, refuse(InvalidRequest, "vp_token.%s: no credential query has this id", id)
		}
		if len(pres) > 1 && !cq.Multiple {
			return nil, refuse(InvalidRequest, "vp_token.%s: %d presentations, the query allows one (§6.1 multiple)", id, len(pres))
		}
		for i, p := range pres {
			c, err := v.credential(ctx, sv, cq, p, exp)
			if err != nil {
				var e *Error
				if errors.As(err, &e) {
					e.Description = fmt.Sprintf("vp_token.%s[%d]: %s", id, i, e.Description)
					return nil, e
				}
				return nil, refuse(InvalidRequest, "vp_token.%s[%d]: %v", id, i, err)
			}
			res.Credentials[id] = append(res.Credentials[id], *c)
		}
		answered[id] = true
	}
	if err := exp.Query.Satisfied(answered); err != nil {
		return nil, refuse(InvalidRequest, "%v", err)
	}
	return res, nil
}

func (v *Verifier) credential(ctx context.Context, sv *sdjwt.Verifier, cq *CredentialQuery, p string, exp Expect) (*Credential, error) {
	vres, vc, err := sv.VerifyVC(ctx, p, sdjwt.Expect{Audience: exp.ClientID, Nonce: exp.Nonce})
	if err != nil {
		return nil, err
	}
	if !vres.KeyBound {
		return nil, errors.New("no key binding JWT (§6.1: holder binding is required)")
	}
	c := &Credential{VCT: vc.VCT, Issuer: vc.Issuer, Status: "none"}
	if vc.Status != nil {
		if v.Status == nil {
			return nil, errors.New("the credential has a status and no checker is configured")
		}
		st, err := v.Status.Status(ctx, statuslist.Reference{Idx: vc.Status.Index, URI: vc.Status.URI})
		if err != nil {
			return nil, fmt.Errorf("status unknown: %w", err)
		}
		if st != statuslist.Valid {
			return nil, refuse(CredentialNotValidStatus, "the credential's status is %s", st)
		}
		c.Status = st.String()
	}
	sel, err := cq.Match(vc.VCT, vres.Claims)
	if err != nil {
		return nil, err
	}
	c.Claims = Keep(sel)
	for _, s := range sel {
		c.Disclosed = append(c.Disclosed, s.Path)
	}
	return c, nil
}
