// Package pull answers "where is this caller?" for PSAPs: from the newest AML fix socle
// holds for the number if it is fresh enough, else by asking the operator that serves the
// number (ported numbers first, then the numbering plan) over HELD with mutual TLS. It is the
// Go API the PSAP console uses, and what POST /emergency/v1/held serves. Every query is
// recorded with who asked.
package pull

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"socle/internal/emergency/delivery"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/emergency/held"
	"socle/internal/emergency/pidflo"
	"socle/internal/platform/audit"
)

// Service locates callers. Nothing on a query's path waits on PostgreSQL: fixes and
// routings come from Calls, ported numbers from Ported, the numbering plan from the
// directory snapshot, and the audit goes to a local journal shipped to the database.
type Service struct {
	// Calls holds the recent AML fixes and where their calls were routed.
	Calls *Calls
	// Ported returns the operator a number (E.164 digits) was ported to, if any.
	Ported func(digits string) (operator string, ok bool)
	// Journal keeps the audit trail of queries (Record, shipped by AuditSink): each
	// query's record is in it before the answer leaves.
	Journal *audit.Journal
	// Scope says which calls a PSAP may locate: ScopeArea (the default) or ScopeAny.
	Scope     string
	Directory func() *directory.Snapshot
	// ClientCert is socle's certificate towards operators; RootCAs verifies operators
	// that have no CA of their own in the directory.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
	// DefaultResponseTime bounds a query that does not say (RFC 5985 leaves it to the server).
	DefaultResponseTime time.Duration

	flightsMu sync.Mutex
	flights   map[string]*flight // by number: the upstream requests in progress
	clients   sync.Map           // operator id → *http.Client
}

// Answer is a location and where it came from.
type Answer struct {
	Location  pidflo.Document
	Source    string // "aml" or "operator"
	MessageID string // the AML message that answered
	Age       time.Duration
}

// Locate finds the caller of r.Device for the PSAP psapID, records the query in the audit
// journal, and returns the location or the HELD error to send back. No answer leaves
// without its record: if the journal cannot take it, the answer is an error.
func (s *Service) Locate(ctx context.Context, psapID string, r held.Request) (Answer, *held.Error) {
	return s.locateFor(ctx, psapID, false, r)
}

// LegacyRequester is the requester recorded in the audit trail for the legacy platform's
// queries, followed by its organisation id.
const LegacyRequester = "legacy-platform:"

// LocateForLegacy locates the caller of r.Device for the legacy location platform during a
// cutover (docs/operations-cutover.md): a PSAP still connected to it asks it, and it asks
// socle, which has the AML fix if the operator pushed to socle. The legacy platform serves
// PSAPs everywhere, so no area applies; the query is recorded like a PSAP's, with
// LegacyRequester and id as the requester.
func (s *Service) LocateForLegacy(ctx context.Context, id string, r held.Request) (Answer, *held.Error) {
	return s.locateFor(ctx, LegacyRequester+id, true, r)
}

func (s *Service) locateFor(ctx context.Context, psapID string, anywhere bool, r held.Request) (Answer, *held.Error) {
	start := time.Now()
	q := query{psap: psapID, device: strings.TrimPrefix(r.Device, "tel:")}
	ans, herr := s.locate(ctx, q, r)
	result, source := "located", ans.Source
	if herr != nil {
		result, source = herr.Code, "none"
	} else if !anywhere && !s.mayLocate(q, ans, start) {
		// The location is not given; the audit keeps that it was asked for and refused.
		ans, result = Answer{Source: source}, OutOfArea
		herr = &held.Error{Code: held.NotLocatable, Message: "this caller is outside the area of this centre, " +
			"and no call from this number was routed to it in the last " + s.Calls.MaxAge.String()}
	}
	rec := Record{Key: uuid.New(), At: start, PSAP: psapID, Device: q.device, Source: source, Outcome: result,
		MessageID: ans.MessageID, DurationMS: float64(time.Since(start).Microseconds()) / 1000}
	if herr != nil {
		rec.Reason = herr.Message
	}
	if err := s.Journal.Append(rec.encode()); err != nil {
		// No audit, no answer: who asked for a location must always be known.
		return Answer{}, &held.Error{Code: held.GeneralLisError, Message: "the query could not be recorded"}
	}
	return ans, herr
}

// query is one PSAP query.
type query struct {
	psap, device string
}

// Scopes: which calls a PSAP may locate.
const (
	// ScopeArea: a PSAP may locate a caller in its area — a département from which the
	// PDAAU in effect routes some number to it — or one whose AML message (for any number
	// dialled) was routed to it within MaxAge, wherever the caller is now. A location
	// whose département cannot be told (at sea, a civic address without postal code) is
	// given: the caller is on the line, and the query is audited.
	ScopeArea = "area"
	// ScopeAny: every registered PSAP may locate every caller; every query is audited.
	ScopeAny = "any"
)

// OutOfArea is the audit outcome of a location found but not given (ScopeArea).
const OutOfArea = "outOfArea"

// mayLocate applies the scope to a location found for q.
func (s *Service) mayLocate(q query, ans Answer, now time.Time) bool {
	if s.Scope == ScopeAny || s.Calls.RoutedTo(q.device, q.psap, now) {
		return true
	}
	snap := s.Directory()
	dep := departementOf(snap, ans.Location)
	return dep == "" || snap.Serves(q.psap, dep)
}

// departementOf is the département of a location: of the commune holding its shape's
// centre, else of its civic address; "" when neither tells.
func departementOf(snap *directory.Snapshot, d pidflo.Document) string {
	for _, l := range d.Locations {
		if l.Shape != nil {
			if code, ok := snap.Communes.Locate(l.Shape.Center()); ok {
				return geo.Departement(code)
			}
		}
		if l.Civic != nil {
			if dep := civicDepartement(l.Civic); dep != "" {
				return dep
			}
		}
	}
	return ""
}

// civicDepartement reads a French civic address's département: A2 when it is written as a
// code, else the postal code's (two digits; three overseas; Corsica's 20 split at 20200).
func civicDepartement(c *pidflo.Civic) string {
	if c.Country != "" && !strings.EqualFold(c.Country, "FR") {
		return ""
	}
	if a2 := strings.ToUpper(strings.TrimSpace(c.A2)); geo.ValidDepartement(a2) {
		return a2
	}
	pc := strings.TrimSpace(c.PC)
	if len(pc) != 5 || strings.Trim(pc, "0123456789") != "" {
		return ""
	}
	switch {
	case strings.HasPrefix(pc, "97") || strings.HasPrefix(pc, "98"):
		return pc[:3]
	case strings.HasPrefix(pc, "20"):
		if pc < "20200" {
			return "2A"
		}
		return "2B"
	}
	return pc[:2]
}

func (s *Service) locate(ctx context.Context, q query, r held.Request) (Answer, *held.Error) {
	if r.Exact && !wants(r.LocationTypes, held.TypeGeodetic, held.TypeAny) {
		// An AML fix is geodetic; civic addresses and location URIs come from operators.
		return Answer{}, &held.Error{Code: held.CannotProvideLiType, Message: "only geodetic locations can be provided for this number"}
	}
	// The device is a tel: URI; AML messages hold the E.164 number, ported numbers the digits.
	if j, ok := s.Calls.Fix(q.device, time.Now()); ok {
		return Answer{Location: delivery.Document(j), Source: "aml", MessageID: j.ID, Age: time.Since(FixTime(j))}, nil
	}
	wait := r.ResponseTime
	if wait <= 0 {
		wait = s.DefaultResponseTime
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return s.askOperator(ctx, q.device, r)
}

func wants(types []string, any ...string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		for _, a := range any {
			if t == a {
				return true
			}
		}
	}
	return false
}

// askOperator finds the operator serving number (the one it was ported to, else the
// numbering plan's) and asks it. Concurrent queries for one number share one upstream
// request; each waits no longer than its own deadline.
func (s *Service) askOperator(ctx context.Context, number string, r held.Request) (Answer, *held.Error) {
	snap := s.Directory()
	digits := strings.TrimPrefix(number, "+")
	var op *directory.Operator
	if id, ok := s.Ported(digits); ok {
		op = snap.Operators[id]
	} else if b, ok := snap.BlockFor(digits); ok {
		op = b.Operator
	}
	if op == nil {
		return Answer{}, &held.Error{Code: held.LocationUnknown,
			Message: fmt.Sprintf("no AML fix in the last %s, and no operator is known to serve this number", s.Calls.MaxAge)}
	}
	if op.LocationEndpoint == "" {
		return Answer{}, &held.Error{Code: held.LocationUnknown, Message: "no recent AML fix, and the serving operator has no location server"}
	}
	doc, err := s.shared(ctx, number, func() (pidflo.Document, error) {
		// The upstream request serves every caller that joins it: it lives until the
		// deadline of the first, whose goroutine runs it, even if that caller leaves.
		deadline, _ := ctx.Deadline()
		uctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return s.ask(uctx, op, number, time.Until(deadline))
	})
	if err != nil {
		var herr *held.Error
		if errors.As(err, &herr) {
			return Answer{}, herr
		}
		return Answer{}, &held.Error{Code: held.GeneralLisError, Message: "the operator's answer is unusable: " + err.Error()}
	}
	return Answer{Location: doc, Source: "operator"}, nil
}

// flight is one upstream request that concurrent queries for a number share.
type flight struct {
	done chan struct{}
	doc  pidflo.Document
	err  error
}

// shared runs ask for the first query of number and lets the queries that come meanwhile
// wait for its answer, each no longer than its own deadline. Unlike singleflight's DoChan,
// the request runs in the first caller's goroutine, whose stack has already grown for XML:
// no goroutine to start, no stack to grow again, on every query.
func (s *Service) shared(ctx context.Context, number string, ask func() (pidflo.Document, error)) (pidflo.Document, error) {
	s.flightsMu.Lock()
	if f, ok := s.flights[number]; ok {
		s.flightsMu.Unlock()
		select {
		case <-f.done:
			return f.doc, f.err
		case <-ctx.Done():
			return pidflo.Document{}, &held.Error{Code: held.Timeout, Message: "the operator did not answer within the requested response time"}
		}
	}
	if s.flights == nil {
		s.flights = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	s.flights[number] = f
	s.flightsMu.Unlock()
	defer func() {
		s.flightsMu.Lock()
		delete(s.flights, number)
		s.flightsMu.Unlock()
		close(f.done)
	}()
	f.doc, f.err = ask()
	return f.doc, f.err
}

func (s *Service) ask(ctx context.Context, op *directory.Operator, number string, wait time.Duration) (pidflo.Document, error) {
	r, err := s.post(ctx, op, op.LocationEndpoint, held.Request{Device: "tel:" + number, ResponseTime: wait})
	if err != nil {
		return pidflo.Document{}, err
	}
	if r.HasLocation {
		return r.Location, nil
	}
	return s.dereference(ctx, op, r)
}

// dereference fetches a location the operator answered by reference (RFC 5985 §6.2.1: only a
// locationUriSet) with a HELD dereference request (RFC 6753 §3) over the same mutual TLS. It
// follows one URI, once: socle presents its client certificate there, so the URI must be
// https on the host of the operator's location server — a reference elsewhere is refused,
// never followed (a LIS is not to send socle's queries to a third party). Each refusal says
// why, and the audit trail keeps it.
func (s *Service) dereference(ctx context.Context, op *directory.Operator, r held.Response) (pidflo.Document, error) {
	refuse := func(format string, args ...any) (pidflo.Document, error) {
		return pidflo.Document{}, &held.Error{Code: held.GeneralLisError,
			Message: "the operator answered by reference, and " + fmt.Sprintf(format, args...)}
	}
	if time.Now().After(r.Expires) {
		return refuse("its location URIs expired at %s", r.Expires.Format(time.RFC3339))
	}
	endpoint, err := url.Parse(op.LocationEndpoint)
	if err != nil {
		return refuse("its location server's address is unreadable")
	}
	target := ""
	for _, raw := range r.URIs {
		u, err := url.Parse(raw)
		if err == nil && u.Scheme == "https" && u.User == nil && strings.EqualFold(u.Hostname(), endpoint.Hostname()) {
			target = u.String()
			break
		}
	}
	if target == "" {
		return refuse("none of its %d location URIs is https on %s, its location server's host", len(r.URIs), endpoint.Hostname())
	}
	deadline, _ := ctx.Deadline()
	ref, err := s.post(ctx, op, target, held.Request{ResponseTime: time.Until(deadline)})
	if err != nil {
		var herr *held.Error
		if errors.As(err, &herr) {
			herr.Message = "dereferencing " + target + ": " + herr.Message
			return pidflo.Document{}, herr
		}
		return refuse("dereferencing %s failed: %v", target, err)
	}
	if !ref.HasLocation {
		return refuse("dereferencing %s gave another reference, not a location", target)
	}
	return ref.Location, nil
}

// post sends a HELD locationRequest to one of the operator's URLs and reads its answer.
func (s *Service) post(ctx context.Context, op *directory.Operator, to string, hr held.Request) (held.Response, error) {
	body, err := held.EncodeRequest(hr)
	if err != nil {
		return held.Response{}, &held.Error{Code: held.RequestError, Message: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return held.Response{}, err
	}
	req.Header.Set("Content-Type", held.MediaType)
	req.Header.Set("Accept", held.MediaType) // RFC 5985 §8: a HELD client MUST say so
	resp, err := s.client(op).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return held.Response{}, &held.Error{Code: held.Timeout, Message: "the operator did not answer in time"}
		}
		return held.Response{}, &held.Error{Code: held.GeneralLisError, Message: "the operator's location server is unreachable"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, held.MaxSize+1))
	if err != nil {
		return held.Response{}, &held.Error{Code: held.Timeout, Message: "the operator's answer was cut off"}
	}
	// The operator's HELD error codes of RFC 5985 §4.3.2 share our vocabulary and are passed
	// on; one it invented is generalLisError for the PSAP, its own code kept in the message (and
	// so in the audit record). Errors come in a 200 (§8), but a LIS that answers them with a
	// 4xx is read the same.
	r, err := held.ParseResponse(b)
	if err != nil {
		var herr *held.Error
		if errors.As(err, &herr) && !held.KnownCode(herr.Code) {
			return held.Response{}, &held.Error{Code: held.GeneralLisError,
				Message: "the operator's location server failed (" + herr.Code + ")"}
		}
		return held.Response{}, err
	}
	return r, nil
}

// client returns the mutual-TLS client for an operator.
func (s *Service) client(op *directory.Operator) *http.Client {
	if c, ok := s.clients.Load(op.ID); ok {
		return c.(*http.Client)
	}
	ca := op.LocationCA
	if ca == nil {
		ca = s.RootCAs
	}
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{s.ClientCert}, RootCAs: ca,
			// A new connection resumes an earlier session (RFC 8446 §2.2): no certificate
			// signatures to make or check when a burst needs more connections.
			ClientSessionCache: tls.NewLRUClientSessionCache(64)},
		// HTTP/2 where the operator offers it: concurrent queries share one connection
		// instead of each opening its own (a mutual-TLS handshake apiece) when a burst
		// comes, just when time is short.
		ForceAttemptHTTP2: true,
		// Keep what a burst opened, for HTTP/1.1 servers.
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	actual, _ := s.clients.LoadOrStore(op.ID, c)
	return actual.(*http.Client)
}
