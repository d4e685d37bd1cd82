package emergency

import (
	"errors"
	"io"
	"net/http"

	"socle/internal/emergency/held"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
)

// heldQuery serves POST /emergency/v1/held: a PSAP, identified by its registered client
// certificate, asks where a caller is (RFC 5985). HELD errors travel in the body with their
// RFC 5985 §4.3.2 code; the HTTP status says whether the request was taken (200) or refused
// (4xx).
func (s *Service) heldQuery(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, body []byte) {
		w.Header().Set("Content-Type", held.MediaType)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write(body)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		reply(http.StatusUnauthorized, held.EncodeError(&held.Error{Code: held.RequestError, Message: "a PSAP client certificate is required"}))
		return
	}
	psap, ok := s.snapshot().PSAPByCert(pki.Fingerprint(r.TLS.PeerCertificates[0]))
	if !ok {
		s.log.Warn("held query with a certificate of no PSAP", "request_id", server.RequestID(r.Context()),
			"subject", r.TLS.PeerCertificates[0].Subject.String())
		reply(http.StatusForbidden, held.EncodeError(&held.Error{Code: held.RequestError,
			Message: "this certificate belongs to no registered PSAP: only emergency centres may locate callers"}))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, held.MaxSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(http.StatusRequestEntityTooLarge, held.EncodeError(&held.Error{Code: held.XMLError, Message: "document larger than 64 KiB"}))
			return
		}
		reply(http.StatusBadRequest, held.EncodeError(&held.Error{Code: held.RequestError, Message: "unreadable body"}))
		return
	}
	req, herr := held.ParseRequest(body)
	if herr != nil {
		reply(http.StatusBadRequest, held.EncodeError(herr))
		return
	}
	ans, herr := s.pull.Locate(r.Context(), psap.ID, req)
	if herr != nil {
		reply(http.StatusOK, held.EncodeError(herr))
		return
	}
	out, err := held.EncodeResponse(ans.Location)
	if err != nil {
		reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.GeneralLocationError, Message: "the location could not be encoded"}))
		return
	}
	reply(http.StatusOK, out)
}
