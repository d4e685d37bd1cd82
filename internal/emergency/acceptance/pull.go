package acceptance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"socle/internal/emergency/held"
)

// PullResponseTime is what the PULL cases ask of the operator's server (RFC 5985 §6.1
// responseTime, in milliseconds): the time PSAPs' queries allow.
const PullResponseTime = 3 * time.Second

// maxExchange bounds what a case keeps of an answer, for the page.
const maxExchange = 4 << 10

// RunPull plays the PULL cases against e over client (socle's client certificate, the
// operator's CA) and records each verdict: the mobile number gives a geodetic shape within
// the response time, the fixed one a civic address, the unknown one locationUnknown, and a
// request the server cannot read a well-formed HELD error (RFC 5985 §4.3).
func RunPull(ctx context.Context, client *http.Client, e Endpoint, record func(v Verdict, exchange string)) {
	type answer struct {
		resp     held.Response
		err      error
		took     time.Duration
		exchange string
	}
	ask := func(body []byte) answer {
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 2*PullResponseTime)
		defer cancel()
		req, err := http.NewRequestWithContext(cctx, http.MethodPost, e.HELDURL, bytes.NewReader(body))
		if err != nil {
			return answer{err: err, exchange: string(body)}
		}
		req.Header.Set("Content-Type", held.MediaType)
		req.Header.Set("Accept", held.MediaType)
		resp, err := client.Do(req)
		a := answer{took: time.Since(start)}
		if err != nil {
			a.err, a.exchange = err, fmt.Sprintf("POST %s\n\n%s\n\n→ %v", e.HELDURL, body, err)
			return a
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, held.MaxSize+1))
		shown := b
		if len(shown) > maxExchange {
			shown = shown[:maxExchange]
		}
		a.exchange = fmt.Sprintf("POST %s\nContent-Type: %s\n\n%s\n\n→ %d %s (%d ms)\n%s", e.HELDURL, held.MediaType, body,
			resp.StatusCode, resp.Header.Get("Content-Type"), a.took.Milliseconds(), shown)
		a.resp, a.err = held.ParseResponse(b)
		return a
	}
	request := func(number string, types ...string) []byte {
		b, _ := held.EncodeRequest(held.Request{Device: "tel:" + number, ResponseTime: PullResponseTime, LocationTypes: types, Exact: true})
		return b
	}
	pass := func(id, exchange string) { record(Verdict{Case: id, State: Passed}, exchange) }
	fail := func(id, exchange, why string, args ...any) {
		record(Verdict{Case: id, State: Failed, Reason: fmt.Sprintf(why, args...)}, exchange)
	}

	m := ask(request(e.MobileNumber, "geodetic"))
	switch {
	case m.err != nil:
		fail("pull.mobile", m.exchange, "pas de localisation : %v", m.err)
	case !m.resp.HasLocation || len(m.resp.Location.Locations) == 0 || m.resp.Location.Locations[0].Shape == nil:
		fail("pull.mobile", m.exchange, "la réponse ne porte pas de forme géodésique")
	default:
		pass("pull.mobile", m.exchange)
	}
	if m.took <= PullResponseTime && m.err == nil {
		pass("pull.timely", m.exchange)
	} else {
		fail("pull.timely", m.exchange, "réponse en %d ms, au-delà des %d ms demandées (ou absente)", m.took.Milliseconds(), PullResponseTime.Milliseconds())
	}

	f := ask(request(e.FixedNumber, "civic"))
	switch {
	case f.err != nil:
		fail("pull.fixed", f.exchange, "pas de localisation : %v", f.err)
	case !f.resp.HasLocation || len(f.resp.Location.Locations) == 0 || f.resp.Location.Locations[0].Civic == nil:
		fail("pull.fixed", f.exchange, "la réponse ne porte pas d'adresse civique")
	default:
		pass("pull.fixed", f.exchange)
	}

	u := ask(request(e.Unknown, "any"))
	var herr *held.Error
	switch {
	case errors.As(u.err, &herr) && herr.Code == held.LocationUnknown:
		pass("pull.unknown", u.exchange)
	case errors.As(u.err, &herr):
		fail("pull.unknown", u.exchange, "erreur %s au lieu de locationUnknown", herr.Code)
	default:
		fail("pull.unknown", u.exchange, "pas d'erreur locationUnknown (%v)", u.err)
	}

	// Not well-formed XML: the server must say so with a HELD error of a known code.
	x := ask([]byte(`<locationRequest xmlns="urn:ietf:params:xml:ns:geopriv:held"><device`))
	switch {
	case errors.As(x.err, &herr) && held.KnownCode(herr.Code):
		pass("pull.error", x.exchange)
	case errors.As(x.err, &herr):
		fail("pull.error", x.exchange, "code d'erreur %q inconnu de RFC 5985 §4.3", herr.Code)
	default:
		fail("pull.error", x.exchange, "pas d'erreur HELD bien formée (%v)", x.err)
	}
}
