// Package pull answers "where is this caller?" for PSAPs: from the newest AML fix socle
// holds for the number, if it is fresh enough. It is the Go API the PSAP console uses, and
// what POST /emergency/v1/held serves. Every query is recorded with who asked.
package pull

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/delivery"
	"socle/internal/emergency/held"
	"socle/internal/emergency/pidflo"
)

// Service locates callers.
type Service struct {
	Pool *pgxpool.Pool
	// MaxAge is how old an AML fix may be and still answer a query.
	MaxAge time.Duration
}

// Answer is a location and where it came from.
type Answer struct {
	Location  pidflo.Document
	Source    string // "aml"
	MessageID string // the AML message that answered
	Age       time.Duration
}

// Locate finds the caller of r.Device for the PSAP psapID, records the query, and returns
// the location or the HELD error to send back.
func (s *Service) Locate(ctx context.Context, psapID string, r held.Request) (Answer, *held.Error) {
	start := time.Now()
	ans, herr := s.locate(ctx, r)
	outcome, source := "located", ans.Source
	if herr != nil {
		outcome, source = herr.Code, "none"
	}
	var msg *string
	if ans.MessageID != "" {
		msg = &ans.MessageID
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO emergency.pull_queries (psap_id, device, source, outcome, message_id, duration_ms)
		VALUES ($1, $2, $3, $4, $5, $6)`, psapID, strings.TrimPrefix(r.Device, "tel:"), source, outcome, msg,
		float64(time.Since(start).Microseconds())/1000)
	if err != nil {
		// No audit, no answer: who asked for a location must always be known.
		return Answer{}, &held.Error{Code: held.GeneralLocationError, Message: "the query could not be recorded"}
	}
	return ans, herr
}

func (s *Service) locate(ctx context.Context, r held.Request) (Answer, *held.Error) {
	if r.Exact && !wants(r.LocationTypes, held.TypeGeodetic, held.TypeAny) {
		// An AML fix is geodetic; civic addresses and location URIs come from operators.
		return Answer{}, &held.Error{Code: held.CannotProvideLiType, Message: "only geodetic locations can be provided for this number"}
	}
	if r.ResponseTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.ResponseTime)
		defer cancel()
	}
	// The device is a tel: URI; AML messages store the E.164 number.
	number := strings.TrimPrefix(r.Device, "tel:")
	var j delivery.Job
	err := s.Pool.QueryRow(ctx, `
		SELECT id::text, received_at, device_number, latitude, longitude, accuracy_m, confidence_pct, located_at,
			location_source, imei
		FROM emergency.aml_messages
		WHERE device_number = $1 AND status = 'accepted' AND purged_at IS NULL
		  AND received_at > now() - $2::interval
		ORDER BY received_at DESC LIMIT 1`, number, s.MaxAge).
		Scan(&j.ID, &j.ReceivedAt, &j.Device, &j.Lat, &j.Lon, &j.Accuracy, &j.Confidence, &j.LocatedAt, &j.Source, &j.IMEI)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return Answer{}, &held.Error{Code: held.LocationUnknown,
			Message: fmt.Sprintf("no location for this number in the last %s", s.MaxAge)}
	case ctx.Err() != nil:
		return Answer{}, &held.Error{Code: held.Timeout, Message: "no answer within the requested response time"}
	case err != nil:
		return Answer{}, &held.Error{Code: held.GeneralLocationError, Message: "location store unavailable"}
	}
	return Answer{Location: delivery.Document(j), Source: "aml", MessageID: j.ID, Age: time.Since(j.ReceivedAt)}, nil
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
