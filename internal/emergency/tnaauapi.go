package emergency

import (
	"context"
	"crypto/tls"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/gorilla/feeds"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/munnerz/goautoneg"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/geo"
	"socle/internal/emergency/pdaau"
	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
)

// tnaauOperator is the operator calling, from its client certificate, or a problem written.
func (s *Service) tnaauOperator(w http.ResponseWriter, r *http.Request) (*directory.Operator, bool) {
	return s.callingOperator(w, r, "the TNAAU is served to registered operators; this client certificate belongs to none")
}

// callingOperator is the operator calling, as the interconnect's middleware found it from
// the client certificate, or a problem written (why says what is for operators only).
func (s *Service) callingOperator(w http.ResponseWriter, r *http.Request, why string) (*directory.Operator, bool) {
	c := identity.CallerFrom(r.Context())
	if c.Certificate == nil {
		problem.Write(w, r, problem.New("client-certificate-required", http.StatusUnauthorized, "Client certificate required", ""))
		return nil, false
	}
	op, ok := s.snapshot().OperatorOf(c)
	if !ok {
		problem.Write(w, r, problem.New("certificate-not-registered", http.StatusForbidden, "Certificate not registered", why))
		return nil, false
	}
	return op, true
}

// visible is what the operator may see, narrowed to ?departement= if given; false when a
// problem was written (a malformed or unauthorised département).
func visible(w http.ResponseWriter, r *http.Request, op *directory.Operator) (pdaau.Visible, bool) {
	allowed := pdaau.Visible(op.TNAAU)
	dep := r.URL.Query().Get("departement")
	if dep == "" {
		return allowed, true
	}
	if !geo.ValidDepartement(dep) {
		problem.Write(w, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid query", "").
			With(problem.FieldError{Field: "departement", Reason: "must be a département code: 01 to 95, 2A, 2B, or 971 to 989"}))
		return nil, false
	}
	if !allowed.Allows(dep) {
		problem.Write(w, r, problem.New("departement-not-authorised", http.StatusForbidden, "Département not authorised",
			fmt.Sprintf("operator %s is not authorised by the CCED to receive the routing table of département %s", op.ID, dep)))
		return nil, false
	}
	return pdaau.Visible{dep}, true
}

// tnaau serves GET /emergency/v1/tnaau: the national routing table, restricted to the
// départements the operator is authorised for, as JSON or CSV (Accept), whole or as the
// changes since a version (?since=), with an entity tag for conditional requests.
func (s *Service) tnaau(w http.ResponseWriter, r *http.Request) {
	op, ok := s.tnaauOperator(w, r)
	if !ok {
		return
	}
	deps, ok := visible(w, r, op)
	if !ok {
		return
	}
	since := int64(-1)
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			problem.Write(w, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid query", "").
				With(problem.FieldError{Field: "since", Reason: "must be a TNAAU version number (0 or more)"}))
			return
		}
		since = n
	}
	format := "application/json"
	if a := r.Header.Get("Accept"); a != "" {
		format = goautoneg.Negotiate(a, []string{"application/json", "text/csv"})
		if format == "" {
			problem.Write(w, r, problem.New("not-acceptable", http.StatusNotAcceptable, "Not acceptable",
				"the TNAAU is served as application/json or text/csv"))
			return
		}
	}
	ctx := r.Context()
	current, err := s.pdaau.InEffectFor(ctx, deps)
	if err != nil {
		s.log.Error("tnaau", "error", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	tag := pdaau.Tag(current, fmt.Sprintf("%s since=%d", format, since))
	w.Header().Set("ETag", tag)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "private, no-cache")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", format+"; charset=utf-8")
	if since < 0 {
		t, err := s.pdaau.TNAAU(ctx, deps)
		if err != nil {
			s.log.Error("tnaau", "error", err)
			problem.Write(w, r, problem.Internal())
			return
		}
		w.Header().Set("Socle-TNAAU-Version", strconv.FormatInt(t.Version, 10))
		if format == "text/csv" {
			writeEntriesCSV(w, "", t.Rows, nil)
			return
		}
		json.NewEncoder(w).Encode(t)
		return
	}
	d, err := s.pdaau.TNAAUDelta(ctx, deps, since)
	if errors.Is(err, pdaau.ErrFuture) {
		w.Header().Del("ETag")
		w.Header().Set("Content-Type", "application/problem+json")
		problem.Write(w, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid query", "").
			With(problem.FieldError{Field: "since", Reason: "is newer than the newest TNAAU version"}))
		return
	}
	if err != nil {
		s.log.Error("tnaau delta", "error", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	w.Header().Set("Socle-TNAAU-Version", strconv.FormatInt(d.Version, 10))
	if format == "text/csv" {
		writeEntriesCSV(w, "action", d.Upsert, d.Delete)
		return
	}
	json.NewEncoder(w).Encode(d)
}

// etagMatches is the weak comparison of If-None-Match (RFC 9110 §13.1.2).
func etagMatches(header, tag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// writeEntriesCSV writes rows; with an action column (a delta), upserts then deletions.
func writeEntriesCSV(w io.Writer, action string, upsert, del []pdaau.Entry) {
	c := csv.NewWriter(w)
	header := []string{"departement", "insee", "commune", "number", "routing_number", "psap"}
	if action != "" {
		header = append([]string{action}, header...)
	}
	c.Write(header)
	write := func(act string, es []pdaau.Entry) {
		for _, e := range es {
			rec := []string{e.Departement, e.INSEE, e.Commune, e.Number, e.RoutingNumber, e.PSAP}
			if action != "" {
				rec = append([]string{act}, rec...)
			}
			c.Write(rec)
		}
	}
	write("upsert", upsert)
	write("delete", del)
	c.Flush()
}

// tnaauFeed serves GET /emergency/v1/tnaau/feed: an Atom feed of the publications the
// operator may see, newest first, for operators that poll rather than take webhooks.
func (s *Service) tnaauFeed(w http.ResponseWriter, r *http.Request) {
	op, ok := s.tnaauOperator(w, r)
	if !ok {
		return
	}
	deps, ok := visible(w, r, op)
	if !ok {
		return
	}
	vs, err := s.pdaau.Published(r.Context(), deps, 50)
	if err != nil {
		s.log.Error("tnaau feed", "error", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	f := &feeds.AtomFeed{Xmlns: atomNS,
		Id: "urn:socle:emergency:tnaau:" + op.ID, Title: "TNAAU — publications des PDAAU",
		Updated: time.Unix(0, 0).UTC().Format(time.RFC3339), Author: &feeds.AtomAuthor{AtomPerson: feeds.AtomPerson{Name: "socle"}},
		Link: &feeds.AtomLink{Rel: "self", Href: "/emergency/v1/tnaau/feed"},
	}
	for i, v := range vs {
		if i == 0 {
			f.Updated = v.PublishedAt.UTC().Format(time.RFC3339)
		}
		summary := fmt.Sprintf("Version %d du PDAAU du département %s, publiée par %s, en vigueur le %s.",
			v.ID, v.Departement, deref(v.PublishedBy), v.EffectiveAt.UTC().Format(time.RFC3339))
		if v.RestoredFrom != nil {
			summary += fmt.Sprintf(" Retour à la version %d.", *v.RestoredFrom)
		}
		f.Entries = append(f.Entries, &feeds.AtomEntry{
			Id:      fmt.Sprintf("urn:socle:emergency:pdaau:%d", v.ID),
			Title:   fmt.Sprintf("PDAAU %s — version %d", v.Departement, v.ID),
			Updated: v.PublishedAt.UTC().Format(time.RFC3339),
			Links:   []feeds.AtomLink{{Href: "/emergency/v1/tnaau?departement=" + v.Departement, Type: "application/json"}},
			Summary: &feeds.AtomSummary{Content: summary, Type: "text"},
		})
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(f)
}

// atomNS is Atom's namespace (RFC 4287 §2): gorilla/feeds' types carry it as an attribute.
const atomNS = "http://www.w3.org/2005/Atom"

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// postNotification sends a publication notice to an operator's webhook over mutual TLS:
// socle's client certificate, the operator's server verified with its location CA (or
// socle's CA). Any status but 2xx is a failure, retried later.
func (s *Service) postNotification(ctx context.Context, operatorID, url string, body []byte) error {
	roots := s.deps.RootCAs
	if op, ok := s.snapshot().Operators[operatorID]; ok && op.LocationCA != nil {
		roots = op.LocationCA
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{s.deps.ClientCert}, RootCAs: roots, MinVersion: tls.VersionTLS12,
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// pdaauLoop activates published versions when their date comes and delivers the operators'
// notifications, every second.
func (s *Service) pdaauLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if ids, err := s.pdaau.ActivateDue(ctx); err != nil && ctx.Err() == nil { // not at shutdown
			s.log.Error("pdaau activation", "error", err)
		} else if len(ids) > 0 {
			s.log.Info("pdaau versions took effect", "versions", ids)
		}
		if n, err := s.pdaau.DeliverDue(ctx, s.postNotification); err != nil && ctx.Err() == nil {
			s.log.Error("tnaau notifications", "error", err)
		} else if n > 0 {
			s.log.Info("tnaau notifications delivered", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
