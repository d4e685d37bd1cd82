// Package acceptance is the operators' acceptance campaign ("test de recevabilité") before
// the cutover: an operator's tester registers the operator's client certificate, socle
// checks it, and campaigns run every case of the PUSH and PULL flows against socle's
// acceptance environment.
package acceptance

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/platform/pki"
)

// RenewalNotice is how long before its expiry a certificate is flagged: certificates are
// renewed each September, and a renewal campaign takes weeks.
const RenewalNotice = 60 * 24 * time.Hour

// MinRSABits is the smallest RSA key accepted (ANSSI's RGS, annex B1: 2048 bits until 2030).
const MinRSABits = 2048

// ErrUpload is an upload that is neither a certificate nor a signing request.
var ErrUpload = errors.New("acceptance: not a certificate or a certificate signing request")

// Upload is what a tester sent: a certificate, or a request for socle's acceptance CA to
// sign.
type Upload struct {
	Cert *x509.Certificate
	CSR  *x509.CertificateRequest
}

// maxUpload bounds what is read: a certificate or a request is a few kilobytes.
const maxUpload = 64 << 10

// ParseUpload reads one PEM block (CERTIFICATE or CERTIFICATE REQUEST) or one DER structure.
// Anything else, several certificates, or trailing data, is refused with the reason.
func ParseUpload(b []byte) (Upload, error) {
	if len(b) == 0 {
		return Upload{}, fmt.Errorf("%w: the file is empty", ErrUpload)
	}
	if len(b) > maxUpload {
		return Upload{}, fmt.Errorf("%w: the file is larger than %d KiB", ErrUpload, maxUpload>>10)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		// DER: a certificate, else a request.
		if c, err := x509.ParseCertificate(b); err == nil {
			return Upload{Cert: c}, nil
		}
		if r, err := x509.ParseCertificateRequest(b); err == nil {
			return Upload{CSR: r}, nil
		}
		return Upload{}, fmt.Errorf("%w: neither PEM nor DER", ErrUpload)
	}
	if len(strings.TrimSpace(string(rest))) > 0 {
		return Upload{}, fmt.Errorf("%w: one certificate or request per file (something follows the first PEM block)", ErrUpload)
	}
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return Upload{}, fmt.Errorf("%w: the certificate cannot be read: %v", ErrUpload, err)
		}
		return Upload{Cert: c}, nil
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		r, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return Upload{}, fmt.Errorf("%w: the request cannot be read: %v", ErrUpload, err)
		}
		if err := r.CheckSignature(); err != nil {
			return Upload{}, fmt.Errorf("%w: the request's signature does not hold: %v", ErrUpload, err)
		}
		return Upload{CSR: r}, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return Upload{}, fmt.Errorf("%w: this is a private key: it must never leave the operator; send the certificate or a signing request", ErrUpload)
	}
	return Upload{}, fmt.Errorf("%w: a PEM block of type %q", ErrUpload, block.Type)
}

// Check is one verdict on a certificate.
type Check struct {
	Name   string `json:"name"`   // chain, validity, expiry, key, usage, networks
	Result string `json:"result"` // pass, warn, fail
	Detail string `json:"detail"` // why, in French
}

// Results of a check.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
)

// CertReport is what socle found in a certificate: who it names, its key, its life, the
// networks it is bound to, and each check.
type CertReport struct {
	Fingerprint string    `json:"fingerprint"` // SHA-256 of the DER, as the directory keys operators
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	Key         string    `json:"key"` // "RSA 2048", "ECDSA P-256", "Ed25519"
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	Networks    []string  `json:"networks"` // MCC-MNC
	Checks      []Check   `json:"checks"`
}

// Acceptable says whether no check failed.
func (r CertReport) Acceptable() bool {
	return !slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Result == Fail })
}

// network is an MCC-MNC as the directory writes it (ITU-T E.212: 3 digits, then 2 or 3).
var network = regexp.MustCompile(`^[0-9]{3}-[0-9]{2,3}$`)

// CheckCertificate checks c as op's client certificate at now: it chains to roots for client
// authentication, is valid and not near its end, has a strong key, and the networks it names
// in its organizational units (MCC-MNC, as socle's acceptance CA writes them) are op's — a
// network of another operator fails, naming it. A certificate naming none is bound to op's
// networks in the directory.
func CheckCertificate(c *x509.Certificate, roots *x509.CertPool, op *directory.Operator, all map[string]*directory.Operator, now time.Time) CertReport {
	r := CertReport{Fingerprint: pki.Fingerprint(c), Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		Key: keyName(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	add := func(name, result, detail string, args ...any) {
		r.Checks = append(r.Checks, Check{Name: name, Result: result, Detail: fmt.Sprintf(detail, args...)})
	}

	// The chain, apart from the dates (checked below, each with its own verdict).
	at := now
	if at.Before(c.NotBefore) {
		at = c.NotBefore
	}
	if at.After(c.NotAfter) {
		at = c.NotAfter
	}
	// Any usage here: whether it is a client certificate is the usage check's verdict.
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		var unknown x509.UnknownAuthorityError
		switch {
		case errors.As(err, &unknown):
			add("chain", Fail, "émis par %s, qui n'est pas une autorité reconnue par socle", c.Issuer.String())
		default:
			add("chain", Fail, "la chaîne de certification ne tient pas : %v", err)
		}
	} else {
		add("chain", Pass, "émis par %s, autorité reconnue", c.Issuer.String())
	}

	switch {
	case now.Before(c.NotBefore):
		add("validity", Fail, "pas encore valide : il le sera le %s", c.NotBefore.UTC().Format(time.RFC3339))
	case now.After(c.NotAfter):
		add("validity", Fail, "expiré depuis le %s", c.NotAfter.UTC().Format(time.RFC3339))
	case c.NotAfter.Sub(now) < RenewalNotice:
		add("validity", Warn, "expire dans %d jours (le %s) : à renouveler", int(c.NotAfter.Sub(now)/(24*time.Hour)), c.NotAfter.UTC().Format(time.DateOnly))
	default:
		add("validity", Pass, "valide jusqu'au %s", c.NotAfter.UTC().Format(time.DateOnly))
	}

	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			add("key", Fail, "clé RSA de %d bits, trop faible (au moins %d)", k.N.BitLen(), MinRSABits)
		} else {
			add("key", Pass, "clé RSA de %d bits", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521() {
			add("key", Pass, "clé %s", r.Key)
		} else {
			add("key", Fail, "courbe elliptique non admise")
		}
	case ed25519.PublicKey:
		add("key", Pass, "clé Ed25519")
	default:
		add("key", Fail, "type de clé non admis")
	}

	if len(c.ExtKeyUsage) > 0 && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
		add("usage", Fail, "le certificat n'est pas fait pour l'authentification d'un client TLS (extended key usage clientAuth absent)")
	} else {
		add("usage", Pass, "authentification de client TLS")
	}

	var named []string
	for _, u := range c.Subject.OrganizationalUnit {
		if network.MatchString(u) {
			named = append(named, u)
		}
	}
	sort.Strings(named)
	switch {
	case op == nil:
		add("networks", Fail, "opérateur inconnu de l'annuaire")
	case len(named) == 0:
		r.Networks = slices.Clone(op.MCCMNC)
		add("networks", Pass, "lié aux réseaux de l'opérateur dans l'annuaire : %s", strings.Join(op.MCCMNC, ", "))
	default:
		r.Networks = named
		var bad []string
		for _, n := range named {
			if slices.Contains(op.MCCMNC, n) {
				continue
			}
			owner := "aucun opérateur de l'annuaire"
			for _, other := range sortedOperators(all) {
				if other.ID != op.ID && slices.Contains(other.MCCMNC, n) {
					owner = "l'opérateur " + other.Name
				}
			}
			bad = append(bad, n+" ("+owner+")")
		}
		if len(bad) > 0 {
			add("networks", Fail, "réseaux qui ne sont pas ceux de %s : %s", op.Name, strings.Join(bad, ", "))
		} else {
			add("networks", Pass, "lié aux réseaux %s", strings.Join(named, ", "))
		}
	}
	return r
}

func sortedOperators(all map[string]*directory.Operator) []*directory.Operator {
	out := make([]*directory.Operator, 0, len(all))
	for _, o := range all {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b *directory.Operator) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func keyName(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}
