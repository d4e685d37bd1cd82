package emergency

// The cutover relay (docs/operations-cutover.md): while traffic moves from the legacy
// location platform to socle by DNS, socle forwards every AML message it answers 202 to the
// legacy platform (package forward), accepts what the legacy platform relays to it as an
// operator's push marked relayed (never forwarded back), and answers the legacy platform's
// HELD location requests. Either platform can then be put back in the flow without losing a
// location.

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/forward"
	"socle/internal/emergency/intake"
	"socle/internal/emergency/status"
	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
)

// CutoverConfig is the relay's part of the configuration.
type CutoverConfig struct {
	// Forward is the legacy platform's AML endpoint; empty: nothing is forwarded.
	Forward string
	// ForwardCA is a PEM file of the CA(s) that sign the legacy platform's server
	// certificate; empty: socle's client CA bundle.
	ForwardCA string
	// LegacyCerts is a PEM file of the legacy platform's client certificate(s): calls made
	// with one of them are the legacy platform's (relayed AML, HELD requests). Several may
	// be given, for the yearly renewal's overlap.
	LegacyCerts string
	// ForwardConcurrency is how many messages a node forwards at once.
	ForwardConcurrency int
	// ForwardAlarm: the alarm is raised while the oldest message not yet forwarded is older.
	ForwardAlarm time.Duration
	// PSAPDelivery is "on" (socle pushes to the PSAPs) or "off": the relay-only mode of a
	// rollback, when the legacy platform pushes to the PSAPs again and socle only forwards
	// what still reaches it.
	PSAPDelivery string

	prepared bool
	roots    *x509.CertPool  // from ForwardCA; nil: socle's client CAs
	legacy   map[string]bool // fingerprints of LegacyCerts
}

// LegacyID is the legacy platform's organisation id: in relayed messages' relayed_by, and
// as the requester of its location queries in the audit trail.
const LegacyID = "legacy"

func (c *CutoverConfig) register(s *config.Set) {
	s.String(&c.Forward, "emergency-cutover-forward", "",
		"cutover relay: the legacy platform's AML endpoint (https URL); every AML message socle accepts is also forwarded there (empty: none)")
	s.String(&c.ForwardCA, "emergency-cutover-forward-ca", "",
		"PEM file of the CA(s) of the legacy platform's server certificate; empty: the client CA bundle")
	s.String(&c.LegacyCerts, "emergency-cutover-legacy-certs", "",
		"PEM file of the legacy platform's client certificate(s): it may relay AML to socle and locate callers over HELD (empty: none)")
	s.Int(&c.ForwardConcurrency, "emergency-cutover-forward-concurrency", 16, 1, 1024,
		"messages forwarded to the legacy platform at once per node")
	s.Duration(&c.ForwardAlarm, "emergency-cutover-forward-alarm", time.Minute,
		"raise the forwarding alarm while the oldest message not yet forwarded is older than this")
	s.Enum(&c.PSAPDelivery, "emergency-cutover-psap-delivery", "on", []string{"on", "off"},
		"off: socle pushes no location to any PSAP and only forwards to the legacy platform (a rollback's relay-only mode; needs SOCLE_EMERGENCY_CUTOVER_FORWARD)")
}

// relayOnly: socle delivers to no PSAP, the legacy platform does.
func (c *CutoverConfig) relayOnly() bool { return c.PSAPDelivery == "off" }

// prepare checks the settings and reads the files they name, once; the error names the
// setting at fault.
func (c *CutoverConfig) prepare() error {
	if c.prepared {
		return nil
	}
	if c.Forward != "" {
		u, err := url.Parse(c.Forward)
		switch {
		case err != nil:
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD=%q: not a URL: %w", c.Forward, err)
		case u.Scheme != "https":
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD=%q: the scheme must be https (locations travel over mutual TLS only)", c.Forward)
		case u.Host == "" || u.Hostname() == "":
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD=%q: no host", c.Forward)
		case u.User != nil:
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD=%q: no user or password in the URL: socle authenticates with its client certificate", c.Forward)
		case u.Fragment != "":
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD=%q: a fragment is not sent to a server", c.Forward)
		}
	} else if c.ForwardCA != "" {
		return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD_CA is set but SOCLE_EMERGENCY_CUTOVER_FORWARD is empty: forward to where?")
	} else if c.relayOnly() {
		// Locations accepted would reach nobody.
		return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY=off needs SOCLE_EMERGENCY_CUTOVER_FORWARD: the accepted locations must reach the PSAPs through the legacy platform")
	}
	if c.PSAPDelivery != "" && c.PSAPDelivery != "on" && c.PSAPDelivery != "off" {
		return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY=%q: want on or off", c.PSAPDelivery)
	}
	if c.ForwardCA != "" {
		roots, err := pki.LoadPool(c.ForwardCA)
		if err != nil {
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_FORWARD_CA=%s: %w", c.ForwardCA, err)
		}
		c.roots = roots
	}
	if c.LegacyCerts != "" {
		certs, err := pki.LoadCertificates(c.LegacyCerts)
		if err != nil {
			return fmt.Errorf("SOCLE_EMERGENCY_CUTOVER_LEGACY_CERTS=%s: %w", c.LegacyCerts, err)
		}
		c.legacy = map[string]bool{}
		for _, cert := range certs {
			c.legacy[pki.Fingerprint(cert)] = true
		}
	}
	c.prepared = true
	return nil
}

// legacyOrganisation is the legacy platform, if fingerprint is one of its certificates.
func (c *CutoverConfig) legacyOrganisation(fingerprint string) (identity.Organisation, bool) {
	if !c.legacy[fingerprint] {
		return identity.Organisation{}, false
	}
	return identity.Organisation{Kind: directory.KindLegacy, ID: LegacyID, Name: "legacy location platform"}, true
}

// startForwarder builds the forwarding worker on pool (Start runs it) and wakes it on every
// new message.
func (s *Service) startForwarder(pool *pgxpool.Pool) error {
	c := s.cfg.Cutover
	roots := c.roots
	if roots == nil {
		roots = s.deps.RootCAs
	}
	w, err := forward.New(forward.Config{URL: c.Forward, ClientCert: s.deps.ClientCert, RootCAs: roots,
		Concurrency: c.ForwardConcurrency, AttemptTimeout: s.cfg.AttemptTimeout, Lease: s.cfg.Lease,
		PollInterval: s.cfg.PollInterval, BehindAlarm: c.ForwardAlarm,
		// The backlog is a count over the partial index of pending rows: cheap enough each second.
		MeasureInterval: max(s.cfg.PollInterval, time.Second)},
		pool, s.log.With("component", "forward"), s.deps.Registry)
	if err != nil {
		return err
	}
	s.res.AddFunc(func() { w.Unregister(s.deps.Registry) })
	s.forwarder = w
	s.observer.Forward = func() status.Forwarding {
		b := w.Backlog()
		return status.Forwarding{Pending: b.Pending, Oldest: b.Oldest, Alarm: c.ForwardAlarm}
	}
	s.intake.Fresh = func(intake.Result) { w.Nudge() }
	s.log.Warn("cutover relay: every AML message accepted is also forwarded to the legacy platform", "to", c.Forward)
	if c.relayOnly() {
		s.log.Warn("cutover relay only: no location is pushed to any PSAP, the legacy platform pushes them (SOCLE_EMERGENCY_CUTOVER_PSAP_DELIVERY=off)")
	}
	return nil
}
