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
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"socle/internal/emergency/delivery"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/emergency/held"
	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/pidflo"
)

// Service locates callers.
type Service struct {
	Pool *pgxpool.Pool
	// AuditPool commits without waiting for the WAL flush (synchronous_commit off): a
	// PSAP's answer never waits on a disk hiccup. A PostgreSQL crash, not a socle crash,
	// can lose the audit rows of the last fraction of a second.
	AuditPool *pgxpool.Pool
	// MaxAge is how old an AML fix may be and still answer a query.
	MaxAge time.Duration
	// Scope says which calls a PSAP may locate: ScopeArea (the default) or ScopeAny.
	Scope     string
	Directory func() *directory.Snapshot
	// ClientCert is socle's certificate towards operators; RootCAs verifies operators
	// that have no CA of their own in the directory.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
	// DefaultResponseTime bounds a query that does not say (RFC 5985 leaves it to the server).
	DefaultResponseTime time.Duration

	// Logger reports what cannot be answered to anyone (an outcome not recorded).
	Logger *slog.Logger

	flights      singleflight.Group
	clients      sync.Map // operator id → *http.Client
	outcomes     chan outcome
	outcomesOnce sync.Once
	running      atomic.Bool
}

// Answer is a location and where it came from.
type Answer struct {
	Location  pidflo.Document
	Source    string // "aml" or "operator"
	MessageID string // the AML message that answered
	Age       time.Duration
}

// Locate finds the caller of r.Device for the PSAP psapID, records the query, and returns
// the location or the HELD error to send back.
//
// Who asked is recorded before any answer leaves: in the same statement as the look-up of
// the caller's fix, so the audit costs no round trip of its own. The outcome (located, or
// the error code) is added afterwards, off the answer's path, by the outcome writer (Run);
// until then the row reads "pending".
func (s *Service) Locate(ctx context.Context, psapID string, r held.Request) (Answer, *held.Error) {
	start := time.Now()
	q := query{psap: psapID, device: strings.TrimPrefix(r.Device, "tel:")}
	ans, herr := s.locate(ctx, &q, r)
	result, source := "located", ans.Source
	if herr != nil {
		result, source = herr.Code, "none"
	} else if !s.mayLocate(q, ans) {
		// The location is not given; the audit keeps that it was asked for and refused.
		ans, result = Answer{Source: source}, OutOfArea
		herr = &held.Error{Code: held.NotLocatable, Message: "this caller is outside the area of this centre, " +
			"and no call from this number was routed to it in the last " + s.MaxAge.String()}
	}
	var msg *string
	if ans.MessageID != "" {
		msg = &ans.MessageID
	}
	took := float64(time.Since(start).Microseconds()) / 1000
	if q.auditID != 0 {
		s.recordOutcome(ctx, outcome{q.auditID, source, result, msg, took})
		return ans, herr
	}
	// Refused before the look-up, or the look-up failed: record the query on its own.
	_, err := s.AuditPool.Exec(ctx, `INSERT INTO emergency.pull_queries (psap_id, device, source, outcome, message_id, duration_ms)
		VALUES ($1, $2, $3, $4, $5, $6)`, psapID, q.device, source, result, msg, took)
	if err != nil {
		// No audit, no answer: who asked for a location must always be known.
		return Answer{}, &held.Error{Code: held.GeneralLocationError, Message: "the query could not be recorded"}
	}
	return ans, herr
}

// query is one PSAP query as the audit trail knows it.
type query struct {
	psap, device string
	auditID      int64 // its row, once the look-up has recorded it
	routedHere   bool  // an AML message from this number was routed to this PSAP lately
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
func (s *Service) mayLocate(q query, ans Answer) bool {
	if s.Scope == ScopeAny || q.routedHere {
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
	if a2 := strings.ToUpper(strings.TrimSpace(c.A2)); pdaau.ValidDepartement(a2) {
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

func (s *Service) locate(ctx context.Context, q *query, r held.Request) (Answer, *held.Error) {
	if r.Exact && !wants(r.LocationTypes, held.TypeGeodetic, held.TypeAny) {
		// An AML fix is geodetic; civic addresses and location URIs come from operators.
		return Answer{}, &held.Error{Code: held.CannotProvideLiType, Message: "only geodetic locations can be provided for this number"}
	}
	wait := r.ResponseTime
	if wait <= 0 {
		wait = s.DefaultResponseTime
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	// The device is a tel: URI; AML messages store the E.164 number, ported numbers the
	// digits. One round trip records who asked and answers both "is there a fresh fix?" and
	// "who serves it if ported?" (the second is asked for nothing only when a fix answers).
	// It runs on the audit pool: its commit does not wait for the WAL flush.
	number := q.device
	var j delivery.Job
	var id *string
	var received *time.Time
	var lat, lon *float64
	var ported *string
	err := s.AuditPool.QueryRow(ctx, `
		WITH audit AS (
			INSERT INTO emergency.pull_queries (psap_id, device, source, outcome, duration_ms)
			VALUES ($4, $1, 'none', 'pending', 0) RETURNING id)
		SELECT (SELECT id FROM audit), m.id::text, m.received_at, m.latitude, m.longitude, m.accuracy_m,
			m.confidence_pct, m.located_at, m.location_source, m.imei,
			(SELECT operator_id FROM emergency.ported_numbers WHERE number = $3),
			EXISTS (SELECT 1 FROM emergency.aml_messages a JOIN emergency.deliveries d ON d.message_id = a.id
				WHERE a.device_number = $1 AND a.status = 'accepted' AND a.received_at > now() - $2::interval AND d.psap_id = $4)
		FROM (SELECT) AS one LEFT JOIN LATERAL (
			SELECT id, received_at, latitude, longitude, accuracy_m, confidence_pct, located_at, location_source, imei
			FROM emergency.aml_messages
			WHERE device_number = $1 AND status = 'accepted' AND purged_at IS NULL
			  AND received_at > now() - $2::interval
			ORDER BY received_at DESC LIMIT 1) AS m ON true`, number, s.MaxAge, strings.TrimPrefix(number, "+"), q.psap).
		Scan(&q.auditID, &id, &received, &lat, &lon, &j.Accuracy, &j.Confidence, &j.LocatedAt, &j.Source, &j.IMEI, &ported, &q.routedHere)
	switch {
	case ctx.Err() != nil:
		return Answer{}, &held.Error{Code: held.Timeout, Message: "no answer within the requested response time"}
	case err != nil:
		q.auditID = 0
		return Answer{}, &held.Error{Code: held.GeneralLocationError, Message: "location store unavailable"}
	case id == nil:
		return s.askOperator(ctx, number, ported, r)
	}
	j.ID, j.ReceivedAt, j.Device = *id, *received, number
	if lat != nil && lon != nil {
		j.Lat, j.Lon = *lat, *lon
	}
	return Answer{Location: delivery.Document(j), Source: "aml", MessageID: j.ID, Age: time.Since(j.ReceivedAt)}, nil
}

// outcome completes an audit row.
type outcome struct {
	id              int64
	source, outcome string
	message         *string
	durationMS      float64
}

// recordOutcome hands an outcome to the writer; if the writer is not running or is behind,
// the caller writes it itself (the queue's bound is the backpressure).
func (s *Service) recordOutcome(ctx context.Context, o outcome) {
	s.outcomesOnce.Do(func() { s.outcomes = make(chan outcome, 4096) })
	if s.running.Load() {
		select {
		case s.outcomes <- o:
			return
		default:
		}
	}
	s.writeOutcomes(ctx, []outcome{o})
}

// Run writes query outcomes in batches until ctx ends, then writes what is left.
func (s *Service) Run(ctx context.Context) {
	s.outcomesOnce.Do(func() { s.outcomes = make(chan outcome, 4096) })
	s.running.Store(true)
	defer s.running.Store(false)
	batch := make([]outcome, 0, 256)
	for {
		select {
		case o := <-s.outcomes:
			batch = append(batch[:0], o)
		drain:
			for len(batch) < cap(batch) {
				select {
				case o := <-s.outcomes:
					batch = append(batch, o)
				default:
					break drain
				}
			}
			s.writeOutcomes(context.WithoutCancel(ctx), batch)
		case <-ctx.Done():
			s.running.Store(false)
			for {
				select {
				case o := <-s.outcomes:
					s.writeOutcomes(context.WithoutCancel(ctx), []outcome{o})
				default:
					return
				}
			}
		}
	}
}

func (s *Service) writeOutcomes(ctx context.Context, os []outcome) {
	ids, sources, outcomes, messages, durations := make([]int64, len(os)), make([]string, len(os)),
		make([]string, len(os)), make([]*string, len(os)), make([]float64, len(os))
	for i, o := range os {
		ids[i], sources[i], outcomes[i], messages[i], durations[i] = o.id, o.source, o.outcome, o.message, o.durationMS
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.AuditPool.Exec(ctx, `UPDATE emergency.pull_queries q
		SET source = u.source, outcome = u.outcome, message_id = u.message::uuid, duration_ms = u.duration
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS u(id, source, outcome, message, duration)
		WHERE q.id = u.id`, ids, sources, outcomes, messages, durations); err != nil && s.Logger != nil {
		s.Logger.Warn("pull: query outcomes not recorded (their rows stay pending)", "count", len(os), "error", err)
	}
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

// askOperator finds the operator serving number (ported to that operator if ported is set,
// else by the numbering plan) and asks it. Concurrent queries for one number share one
// upstream request; each waits no longer than its own deadline.
func (s *Service) askOperator(ctx context.Context, number string, ported *string, r held.Request) (Answer, *held.Error) {
	snap := s.Directory()
	var op *directory.Operator
	if ported != nil {
		op = snap.Operators[*ported]
	} else if b, ok := snap.BlockFor(strings.TrimPrefix(number, "+")); ok {
		op = b.Operator
	}
	if op == nil {
		return Answer{}, &held.Error{Code: held.LocationUnknown,
			Message: fmt.Sprintf("no recent AML fix, and no operator serves this number in the last %s", s.MaxAge)}
	}
	if op.LocationEndpoint == "" {
		return Answer{}, &held.Error{Code: held.LocationUnknown, Message: "no recent AML fix, and the serving operator has no location server"}
	}
	deadline, _ := ctx.Deadline()
	ch := s.flights.DoChan(number, func() (any, error) {
		// The upstream request belongs to no single caller: it lives until the first
		// caller's deadline, which the others share.
		uctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return s.ask(uctx, op, number, time.Until(deadline))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			var herr *held.Error
			if errors.As(res.Err, &herr) {
				return Answer{}, herr
			}
			return Answer{}, &held.Error{Code: held.GeneralLocationError, Message: "the operator's answer is unusable"}
		}
		return Answer{Location: res.Val.(pidflo.Document), Source: "operator"}, nil
	case <-ctx.Done():
		return Answer{}, &held.Error{Code: held.Timeout, Message: "the operator did not answer within the requested response time"}
	}
}

func (s *Service) ask(ctx context.Context, op *directory.Operator, number string, wait time.Duration) (pidflo.Document, error) {
	body, err := held.EncodeRequest(held.Request{Device: "tel:" + number, ResponseTime: wait})
	if err != nil {
		return pidflo.Document{}, &held.Error{Code: held.RequestError, Message: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, op.LocationEndpoint, bytes.NewReader(body))
	if err != nil {
		return pidflo.Document{}, err
	}
	req.Header.Set("Content-Type", held.MediaType)
	resp, err := s.client(op).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return pidflo.Document{}, &held.Error{Code: held.Timeout, Message: "the operator did not answer in time"}
		}
		return pidflo.Document{}, &held.Error{Code: held.GeneralLocationError, Message: "the operator's location server is unreachable"}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, held.MaxSize+1))
	if err != nil {
		return pidflo.Document{}, &held.Error{Code: held.Timeout, Message: "the operator's answer was cut off"}
	}
	// The operator's HELD error codes share our vocabulary: they are passed on as they are.
	r, err := held.ParseResponse(b)
	if err != nil {
		return pidflo.Document{}, err
	}
	return r.Location, nil
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
