package acceptance

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
)

// RoleTester runs an operator's campaigns: its scope is the operator's id in the directory.
const RoleTester = "acceptance.tester"

var operatorID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Roles are the acceptance's, for the service's definition.
var Roles = []identity.Role{{Name: RoleTester, Description: "registers an operator's certificate and runs its acceptance campaigns",
	Scope: func(s string) (string, error) {
		if !operatorID.MatchString(s) {
			return "", fmt.Errorf("scope %q is not an operator id of the directory (lower-case letters, digits, . _ -)", s)
		}
		return s, nil
	}}}

// Acceptance is the campaigns of socle's acceptance environment: registered certificates
// that may push, the verdicts of what they push, and the PULL cases socle runs.
type Acceptance struct {
	Store     *Store
	Directory func() *directory.Snapshot
	// CA signs the requests testers send; Roots is what a registered certificate must chain
	// to (the interconnect's client CAs, which include CA).
	CA     *pki.CA
	Roots  *x509.CertPool
	Logger *slog.Logger
	Now    func() time.Time

	mu    sync.RWMutex
	certs map[string]string // acceptable fingerprint → operator id
	// from remembers which operator last pushed from an address, and when: a push refused
	// for its certificate is that operator's wrong-certificate case.
	from map[string]pushedFrom
}

type pushedFrom struct {
	operator string
	at       time.Time
}

// attribution is how long after an operator's push from an address a refused certificate
// from that address is taken as the operator's.
const attribution = time.Hour

func (a *Acceptance) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Load reads the registered certificates that may push.
func (a *Acceptance) Load(ctx context.Context) error {
	certs, err := a.Store.Acceptable(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.certs = certs
	a.mu.Unlock()
	return nil
}

// Organisation resolves a registered certificate to its operator, for the interconnect.
func (a *Acceptance) Organisation(fingerprint string) (identity.Organisation, bool) {
	a.mu.RLock()
	op, ok := a.certs[fingerprint]
	a.mu.RUnlock()
	if !ok {
		return identity.Organisation{}, false
	}
	o, ok := a.Directory().Operators[op]
	if !ok {
		return identity.Organisation{}, false
	}
	return identity.Organisation{Kind: directory.KindOperator, ID: o.ID, Name: o.Name}, true
}

// Check reads an upload and checks the certificate it is, or the one socle's CA signs for its
// request, as op's. The certificate is not registered yet.
func (a *Acceptance) Check(upload []byte, op *directory.Operator) (*x509.Certificate, CertReport, bool, error) {
	up, err := ParseUpload(upload)
	if err != nil {
		return nil, CertReport{}, false, err
	}
	c, signed := up.Cert, false
	if up.CSR != nil {
		// The CA names the holder: the operator, and its networks.
		c, _, err = a.CA.SignCSR(up.CSR, pki.Request{Name: op.ID, Organization: op.Name, Units: op.MCCMNC,
			NotAfter: nextRenewal(a.now())})
		if err != nil {
			return nil, CertReport{}, false, fmt.Errorf("%w: %v", ErrUpload, err)
		}
		signed = true
	}
	return c, CheckCertificate(c, a.Roots, op, a.Directory().Operators, a.now()), signed, nil
}

// nextRenewal is the end of the first September at least six months away: certificates are
// renewed each September (the kick-off's rule), and one signed in August lives until the
// September after, not a month.
func nextRenewal(now time.Time) time.Time {
	end := time.Date(now.Year(), time.September, 30, 23, 59, 59, 0, time.UTC)
	for end.Before(now.AddDate(0, 6, 0)) {
		end = end.AddDate(1, 0, 0)
	}
	return end
}

// Pushed records what intake made of a message of op, sent from remote (an IP address), in
// op's running campaign, if any.
func (a *Acceptance) Pushed(ctx context.Context, op, remote string, p Pushed, exchange string) {
	a.mu.Lock()
	if a.from == nil {
		a.from = map[string]pushedFrom{}
	}
	now := a.now()
	for ip, f := range a.from { // addresses stay few (operators' gateways); the stale go
		if now.Sub(f.at) > attribution {
			delete(a.from, ip)
		}
	}
	a.from[remote] = pushedFrom{operator: op, at: now}
	a.mu.Unlock()
	v, ok := Classify(p)
	if !ok {
		return
	}
	id, running, err := a.Store.Running(ctx, op)
	if err != nil || !running {
		if err != nil {
			a.Logger.Warn("acceptance: running campaign not found", "operator", op, "error", err)
		}
		return
	}
	if err := a.Store.Record(ctx, id, v, exchange, a.now()); err != nil {
		a.Logger.Warn("acceptance: verdict not recorded", "campaign", id, "case", v.Case, "error", err)
	}
}

// Refused records a push from remote refused because its certificate is no operator's: the
// wrong-certificate case of the operator that pushed from that address within the hour, if
// its campaign is running. A certificate of an unknown CA never gets this far: TLS refuses
// it before anyone knows who calls.
func (a *Acceptance) Refused(ctx context.Context, remote string, c *x509.Certificate) {
	a.mu.RLock()
	f, ok := a.from[remote]
	a.mu.RUnlock()
	if !ok || a.now().Sub(f.at) > attribution {
		return
	}
	id, running, err := a.Store.Running(ctx, f.operator)
	if err != nil || !running {
		return
	}
	exchange := fmt.Sprintf("certificat %s (SHA-256 %s)\n\n→ 403 certificate-not-registered", c.Subject.String(), pki.Fingerprint(c))
	if err := a.Store.Record(ctx, id, Verdict{Case: "push.wrong-certificate", State: Passed}, exchange, a.now()); err != nil {
		a.Logger.Warn("acceptance: verdict not recorded", "campaign", id, "error", err)
	}
}

// Exchange writes a request and its answer as the campaign page shows them.
func Exchange(reqHead map[string]string, reqBody []byte, status int, answer string) string {
	var b strings.Builder
	for _, k := range []string{"Content-Type", "Device-Number", "Emergency-Number"} {
		if v := reqHead[k]; v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintf(&b, "\n%s\n\n→ %d %s\n", reqBody, status, answer)
	return b.String()
}
