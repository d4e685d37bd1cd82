package emergency

import (
	"encoding/json"
	"fmt"
	"net/http"

	"socle/internal/emergency/porting"
	"socle/internal/platform/problem"
	"socle/internal/platform/server"
)

// maxPortingFile bounds an upload: about five million numbers.
const maxPortingFile = 64 << 20

// portedNumbers serves PUT /emergency/v1/ported-numbers (the full set of numbers ported to
// the calling operator) and POST /emergency/v1/ported-numbers/delta (its daily changes).
// Every line is checked first; a file with errors changes nothing.
func (s *Service) portedNumbers(delta bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, ok := s.callingOperator(w, r, "only operators declare ported numbers")
		if !ok {
			return
		}
		body := http.MaxBytesReader(w, r.Body, maxPortingFile)
		var numbers []string
		var changes []porting.Change
		var lineErrs []porting.LineError
		if delta {
			changes, lineErrs = porting.ParseDelta(body)
		} else {
			numbers, lineErrs = porting.ParseFull(body)
		}
		if len(lineErrs) > 0 {
			p := problem.New("invalid-ported-numbers", http.StatusUnprocessableEntity, "Invalid file",
				"nothing was changed: correct the lines below and send the whole file again")
			for _, e := range lineErrs {
				p.Errors = append(p.Errors, problem.FieldError{Field: fmt.Sprintf("line %d", e.Line), Reason: e.Reason})
			}
			problem.Write(w, r, p)
			return
		}
		var res porting.Result
		var err error
		if delta {
			res, err = porting.ApplyDelta(r.Context(), s.deps.Pool, op.ID, changes)
		} else {
			res, err = porting.Replace(r.Context(), s.deps.Pool, op.ID, numbers)
		}
		if err != nil {
			s.log.Error("ported numbers", "operator", op.ID, "error", err, "request_id", server.RequestID(r.Context()))
			problem.Write(w, r, problem.Internal())
			return
		}
		s.log.Info("ported numbers updated", "operator", op.ID, "delta", delta, "added", res.Added, "removed", res.Removed, "total", res.Total)
		// Read-your-writes: this node answers from the new sets before the operator hears back,
		// rather than when the notification comes round. A failed reload only delays that:
		// the upload is committed, and Watch reloads on the notification or its next Load.
		for changed, version := range res.Changed {
			if err := s.ported.Reload(r.Context(), changed, version); err != nil {
				s.log.Warn("ported numbers: reload after upload", "operator", changed, "version", version, "error", err,
					"request_id", server.RequestID(r.Context()))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}
}
