package emergency

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"socle/internal/emergency/geo"
	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/routing"
	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
)

// Resolution is the answer of GET /emergency/v1/routes/resolve.
type Resolution struct {
	Commune       string `json:"commune"`
	CommuneName   string `json:"commune_name"`
	Departement   string `json:"departement"`
	Number        string `json:"number"`
	RoutingNumber string `json:"routing_number"`
	PSAP          string `json:"psap"`
	PSAPName      string `json:"psap_name"`
	// PDAAUVersion is the version of the département's table that gave the route, and
	// TNAAUVersion the national table version its activation made.
	PDAAUVersion int64 `json:"pdaau_version"`
	TNAAUVersion int64 `json:"tnaau_version"`
}

// resolve answers which PSAP the routing tables give for a place and a number: the same
// resolver as the push path, without the fallback, so that the tables' gaps show. Operators
// and PSAPs call it on the interconnect with their registered certificate; administrators on
// the web, signed in.
func (s *Service) resolve(w http.ResponseWriter, r *http.Request) {
	snap := s.snapshot()
	if u, ok := identity.UserFrom(r.Context()); ok {
		// On the web: administrators, signed in.
		if !u.Can(identity.RoleAdmin, identity.AllScopes) {
			problem.Write(w, r, problem.New("forbidden", http.StatusForbidden, "Forbidden",
				"resolving routes on the web is for administrators; operators and PSAPs use the interconnect"))
			return
		}
	} else {
		c := identity.CallerFrom(r.Context())
		if c.Certificate == nil {
			problem.Write(w, r, problem.New("client-certificate-required", http.StatusUnauthorized, "Client certificate required", ""))
			return
		}
		_, isOperator := snap.OperatorOf(c)
		_, isPSAP := snap.PSAPOf(c)
		if !isOperator && !isPSAP {
			problem.Write(w, r, problem.New("certificate-not-registered", http.StatusForbidden, "Certificate not registered",
				"this client certificate belongs to no registered operator or PSAP"))
			return
		}
	}
	q := r.URL.Query()
	var errs []problem.FieldError
	lat, err := strconv.ParseFloat(q.Get("lat"), 64)
	if err != nil || !(lat >= -90 && lat <= 90) { // NaN too
		errs = append(errs, problem.FieldError{Field: "lat", Reason: "must be a latitude between -90 and 90 degrees"})
	}
	lon, err := strconv.ParseFloat(q.Get("lon"), 64)
	if err != nil || !(lon >= -180 && lon <= 180) {
		errs = append(errs, problem.FieldError{Field: "lon", Reason: "must be a longitude between -180 and 180 degrees"})
	}
	number := q.Get("number")
	if !pdaau.IsShortNumber(number) {
		errs = append(errs, problem.FieldError{Field: "number", Reason: "must be a routed short number (15, 17, 18, 112, ...)"})
	}
	if len(errs) > 0 {
		problem.Write(w, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid query", "").With(errs...))
		return
	}
	route, err := routing.Resolve(snap, lat, lon, number, "")
	if err != nil {
		typ := map[error]string{routing.ErrNoCommune: "no-commune", routing.ErrNoPDAAU: "no-pdaau-row",
			routing.ErrUnknownPSAP: "unknown-psap"}
		for sentinel, t := range typ {
			if errors.Is(err, sentinel) {
				p := problem.New(t, http.StatusNotFound, "No route", err.Error())
				if route.Commune != "" {
					p.Extra = map[string]any{"commune": route.Commune}
				}
				problem.Write(w, r, p)
				return
			}
		}
		problem.Write(w, r, problem.Internal())
		return
	}
	c, _ := snap.Communes.Commune(route.Commune)
	dep := geo.Departement(route.Commune)
	v, _ := snap.TableVersion(dep)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(Resolution{
		Commune: route.Commune, CommuneName: c.Name, Departement: dep,
		Number: number, RoutingNumber: route.RoutingNumber, PSAP: route.PSAP.ID, PSAPName: route.PSAP.Name,
		PDAAUVersion: v.PDAAU, TNAAUVersion: v.TNAAU,
	})
}
