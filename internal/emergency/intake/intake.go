// Package intake receives AML messages that operators relay over mutual TLS. It is a
// tolerant reader and an exact judge: every message is stored with its raw bytes and its
// findings, in the same statement as its outbox row when usable, and only then answered.
//
// It is also the message store, the one package that reads and writes the messages
// (emergency.aml_messages) and their outbox (emergency.deliveries): an outbox row is born in
// its message's transaction and a claim reads both, so one owner keeps them consistent.
// Others go through its functions: the delivery worker works the outbox (ClaimDue,
// MarkDelivered, Reschedule, Expire), the operator's status endpoint reads MessageStatus,
// the memory of recent calls reloads from RecentFixes, and the purge is Purge.
package intake

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/aml"
	"socle/internal/emergency/directory"
	"socle/internal/emergency/pdaau"
	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
	"socle/internal/platform/server"
)

// MaxBody is the largest request body read. The AML parsers judge smaller limits per
// format; anything larger is not an AML message and is refused without being stored.
const MaxBody = 64 << 10

// DefaultNumber is the short number assumed when neither the message nor the operator says
// which was dialled (SMS v1 does not carry it): 112 reaches every PSAP's PDAAU.
const DefaultNumber = "112"

// Handler serves POST /emergency/v1/aml.
type Handler struct {
	Store     *Store
	Directory func() *directory.Snapshot
	// Accepted is called after a new usable message is committed, to hand it to delivery.
	Accepted func(Result, Record)
	// Fresh, if set, is called after any new message is committed, whatever its status:
	// the cutover's forwarding is woken by it.
	Fresh func(Result)
	// Stored, if set, is told of every message stored, whatever its status, with the HTTP
	// status of the answer: the acceptance campaigns judge what operators push.
	Stored func(ctx context.Context, rec Record, res Result, r *http.Request, answer int)
	// Unregistered, if set, is told of a push refused because its certificate, trusted by TLS,
	// is no operator's: the acceptance campaigns' wrong-certificate case.
	Unregistered func(r *http.Request, cert *x509.Certificate)
	Logger       *slog.Logger
	Metrics      *Metrics
}

// Metrics counts what intake sees.
type Metrics struct {
	Received *prometheus.CounterVec
	Latency  prometheus.Histogram
}

// NewMetrics registers intake's metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socle_emergency_aml_received_total",
			Help: "AML messages received, by outcome (accepted, unusable, forbidden, duplicate) and format.",
		}, []string{"outcome", "format"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "socle_emergency_aml_accept_seconds",
			Help:    "Time from request received to answer sent, for AML pushes.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1},
		}),
	}
	reg.MustRegister(m.Received, m.Latency)
	return m
}

// Answer is the JSON body of a 202: status "accepted" (routed and delivered) or
// "no_location" (recorded, nothing to route).
type Answer struct {
	ID        string        `json:"id"`
	Status    string        `json:"status"`
	Duplicate bool          `json:"duplicate,omitempty"`
	Warnings  []aml.Finding `json:"warnings"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { h.Metrics.Latency.Observe(time.Since(start).Seconds()) }()

	c := identity.CallerFrom(r.Context())
	if c.Certificate == nil {
		problem.Write(w, r, problem.New("client-certificate-required", http.StatusUnauthorized,
			"Client certificate required", "the interconnect requires mutual TLS with a registered operator certificate"))
		return
	}
	snap := h.Directory()
	op, ok := snap.OperatorOf(c)
	relayedBy := ""
	if !ok && c.Org != nil && c.Org.Kind == directory.KindLegacy {
		// The legacy platform relays what operators pushed to it (the cutover's rollback,
		// docs/operations-cutover.md): accepted like an operator's push, marked as relayed.
		ok, relayedBy = true, c.Org.ID
	}
	if !ok {
		h.Logger.Warn("aml push with an unregistered certificate", "request_id", server.RequestID(r.Context()),
			"subject", c.Certificate.Subject.String())
		problem.Write(w, r, problem.New("certificate-not-registered", http.StatusForbidden,
			"Certificate not registered", "this client certificate belongs to no registered operator"))
		if h.Unregistered != nil {
			h.Unregistered(r, c.Certificate)
		}
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(w, r, problem.New("body-too-large", http.StatusRequestEntityTooLarge,
				"Body too large", "an AML message is a few hundred bytes; this body exceeds 64 KiB").
				With(problem.FieldError{Field: "body", Reason: "larger than 64 KiB"}))
			return
		}
		problem.Write(w, r, problem.New("bad-request", http.StatusBadRequest, "Unreadable body", err.Error()))
		return
	}

	contentType := r.Header.Get("Content-Type")
	mediaType, _, _ := mime.ParseMediaType(contentType)
	msg, findings := aml.Parse(contentType, body, r.Header.Get("Device-Number"))
	number := msg.EmergencyNumber
	if number == "" {
		number = r.Header.Get("Emergency-Number")
		if number == "" {
			number = DefaultNumber
			findings = append(findings, aml.Finding{Field: "emergency_number", Severity: aml.Warning,
				Reason: "not given by the message nor an Emergency-Number header; routed as " + DefaultNumber})
		} else if !pdaau.IsShortNumber(number) {
			findings = append(findings, aml.Finding{Field: "Emergency-Number", Severity: aml.Error,
				Reason: "not a routed short number"})
		}
	}

	operatorID := ""
	if op != nil {
		operatorID = op.ID
	} else {
		operatorID = relayedOperator(snap, msg, relayedBy)
	}
	status := StatusAccepted
	switch {
	case op != nil && msg.NetworkMCC != "" && msg.NetworkMNC != "" && !op.Owns(msg.NetworkMCC, msg.NetworkMNC):
		status = StatusForbidden
		findings = append(findings, aml.Finding{Field: "network", Severity: aml.Error,
			Reason: "network " + msg.NetworkMCC + "-" + msg.NetworkMNC + " is not run by operator " + op.ID})
	case aml.NoFix(msg, findings):
		status = StatusNoLocation
	case !aml.Usable(msg, findings):
		status = StatusUnusable
	}

	rec := Record{
		OperatorID:      operatorID,
		RelayedBy:       relayedBy,
		DedupeKey:       dedupeKey(operatorID, mediaType, r.Header.Get("Device-Number"), r.Header.Get("Emergency-Number"), body),
		Status:          status,
		ContentType:     mediaType,
		Raw:             body,
		Message:         msg,
		EmergencyNumber: number,
		Findings:        findings,
	}
	res, err := h.Store.Insert(r.Context(), rec)
	if err != nil {
		h.Logger.Error("store aml message", "request_id", server.RequestID(r.Context()), "error", err)
		problem.Write(w, r, problem.New("unavailable", http.StatusServiceUnavailable, "Not stored",
			"the message could not be stored and is NOT accepted: send it again"))
		return
	}
	if res.Fresh && res.Status == StatusAccepted && h.Accepted != nil {
		h.Accepted(res, rec)
	}
	if res.Fresh && h.Fresh != nil {
		h.Fresh(res)
	}
	outcome := res.Status
	if !res.Fresh {
		outcome = "duplicate"
	}
	h.Metrics.Received.WithLabelValues(outcome, string(msg.Format)).Inc()
	if h.Logger.Enabled(r.Context(), slog.LevelDebug) {
		h.Logger.Debug("aml received", "request_id", server.RequestID(r.Context()), "id", res.ID,
			"operator", operatorID, "relayed_by", relayedBy, "status", res.Status, "duplicate", !res.Fresh)
	}

	if h.Stored != nil {
		answer := http.StatusUnprocessableEntity
		switch res.Status {
		case StatusAccepted, StatusNoLocation:
			answer = http.StatusAccepted
		case StatusForbidden:
			answer = http.StatusForbidden
		}
		h.Stored(r.Context(), rec, res, r, answer)
	}

	switch res.Status {
	case StatusAccepted, StatusNoLocation:
		ans := Answer{ID: res.ID, Status: res.Status, Duplicate: !res.Fresh, Warnings: warnings(res.Findings)}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/emergency/v1/aml/"+res.ID)
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(ans)
	case StatusForbidden:
		p := problem.New("network-not-owned", http.StatusForbidden, "Network not run by this operator",
			"the message claims a network (MCC-MNC) that the certificate's operator does not run").
			With(fieldErrors(res.Findings)...)
		p.Extra = map[string]any{"id": res.ID}
		problem.Write(w, r, p)
	default:
		p := problem.New("unusable-aml", http.StatusUnprocessableEntity, "Unusable AML message",
			"the message was stored but cannot be routed").With(fieldErrors(res.Findings)...)
		p.Extra = map[string]any{"id": res.ID, "warnings": warnings(res.Findings)}
		problem.Write(w, r, p)
	}
}

// relayedOperator is the operator a relayed message is stored under: the one that runs the
// network (MCC-MNC) the message names, else the relay platform itself. The same message
// pushed to socle by its operator and relayed by the legacy platform (a DNS change caught
// half-way, a retry that went the other way) then has the same dedupe key, and is stored
// and delivered once, when the relay passes on the operator's Device-Number and
// Emergency-Number headers as they were.
func relayedOperator(snap *directory.Snapshot, msg aml.Message, relay string) string {
	found := ""
	if msg.NetworkMCC != "" && msg.NetworkMNC != "" {
		for _, o := range snap.Operators {
			// The smallest id when several claim the network: the same answer on every node.
			if o.Owns(msg.NetworkMCC, msg.NetworkMNC) && (found == "" || o.ID < found) {
				found = o.ID
			}
		}
	}
	if found == "" {
		return relay
	}
	return found
}

// dedupeKey identifies a message by what the operator sent: the same bytes with the same
// headers from the same operator are the same message, sent again.
func dedupeKey(operator, mediaType, deviceNumber, emergencyNumber string, body []byte) []byte {
	h := sha256.New()
	for _, s := range []string{operator, mediaType, deviceNumber, emergencyNumber} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)
}

func warnings(fs []aml.Finding) []aml.Finding {
	out := []aml.Finding{}
	for _, f := range fs {
		if f.Severity == aml.Warning {
			out = append(out, f)
		}
	}
	return out
}

func fieldErrors(fs []aml.Finding) []problem.FieldError {
	var out []problem.FieldError
	for _, f := range fs {
		if f.Severity == aml.Error {
			out = append(out, problem.FieldError{Field: f.Field, Reason: f.Reason})
		}
	}
	return out
}
