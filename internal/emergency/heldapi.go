package emergency

import (
	"errors"
	"io"
	"net/http"

	"socle/internal/emergency/directory"
	"socle/internal/emergency/held"
	"socle/internal/emergency/pull"
	"socle/internal/platform/identity"
	"socle/internal/platform/server"
)

// heldQuery serves POST /emergency/v1/held: a PSAP, identified by its registered client
// certificate, asks where a caller is (RFC 5985). Every HELD error travels in a 200 with
// its §4.3.2 code (§8: "HELD error messages are sent in 2xx responses"); only what is
// refused before HTTP — a handshake without a certificate of ours — never gets a body.
func (s *Service) heldQuery(w http.ResponseWriter, r *http.Request) {
	reply := func(status int, body []byte) {
		w.Header().Set("Content-Type", held.MediaType)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		w.Write(body)
	}
	c := identity.CallerFrom(r.Context())
	if c.Certificate == nil {
		reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.RequestError, Message: "a PSAP client certificate is required"}))
		return
	}
	// The legacy platform asks for the PSAPs still connected to it, during a cutover.
	legacy := c.Org != nil && c.Org.Kind == directory.KindLegacy
	psap, ok := s.snapshot().PSAPOf(c)
	if !ok && !legacy {
		s.log.Warn("held query with a certificate of no PSAP", "request_id", server.RequestID(r.Context()),
			"subject", c.Certificate.Subject.String())
		reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.RequestError,
			Message: "this certificate belongs to no registered PSAP: only emergency centres may locate callers"}))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, held.MaxSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.XMLError, Message: "document larger than 64 KiB"}))
			return
		}
		reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.RequestError, Message: "unreadable body"}))
		return
	}
	req, herr := held.ParseRequest(body)
	if herr != nil {
		reply(http.StatusOK, held.EncodeError(herr))
		return
	}
	var ans pull.Answer
	if legacy {
		ans, herr = s.pull.LocateForLegacy(r.Context(), c.Org.ID, req)
	} else {
		ans, herr = s.pull.Locate(r.Context(), psap.ID, req)
	}
	if herr != nil {
		reply(http.StatusOK, held.EncodeError(herr))
		return
	}
	out, err := held.EncodeResponse(ans.Location)
	if err != nil {
		reply(http.StatusOK, held.EncodeError(&held.Error{Code: held.GeneralLisError, Message: "the location could not be encoded"}))
		return
	}
	reply(http.StatusOK, out)
}
