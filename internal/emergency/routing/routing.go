// Package routing decides which PSAP receives a location: the point is placed in its commune,
// the commune and the short number dialled give a routing number in the PDAAU, and the
// routing number names the PSAP. The push path and the resolver API use this one function.
package routing

import (
	"errors"
	"fmt"

	"socle/internal/emergency/directory"
)

// Route is the outcome of resolving a location.
type Route struct {
	Commune       string // INSEE code, empty if the point is in no known commune
	Number        string // short number dialled
	RoutingNumber string
	PSAP          *directory.PSAP
	// Fallback is set when the PDAAU gave no PSAP and the fallback PSAP was chosen; it says why.
	Fallback string
}

// Why no route was found.
var (
	ErrNoCommune   = errors.New("no commune contains the location")
	ErrNoPDAAU     = errors.New("no PDAAU row for this commune and number")
	ErrUnknownPSAP = errors.New("no PSAP has the PDAAU's routing number")
)

// Resolve finds the PSAP for a location and a number. When the tables give none and
// fallbackPSAP (an id) is set, the fallback receives it and Route.Fallback says why.
func Resolve(s *directory.Snapshot, lat, lon float64, number, fallbackPSAP string) (Route, error) {
	r := Route{Number: number}
	err := resolve(s, lat, lon, &r)
	if err == nil {
		return r, nil
	}
	if fallbackPSAP != "" {
		if p, ok := s.PSAPs[fallbackPSAP]; ok {
			r.PSAP, r.RoutingNumber, r.Fallback = p, p.RoutingNumber, err.Error()
			return r, nil
		}
		return r, fmt.Errorf("%w; and the fallback PSAP %q is not in the directory", err, fallbackPSAP)
	}
	return r, err
}

func resolve(s *directory.Snapshot, lat, lon float64, r *Route) error {
	code, ok := s.Communes.Locate(lat, lon)
	if !ok {
		return fmt.Errorf("%w (%.5f, %.5f)", ErrNoCommune, lat, lon)
	}
	r.Commune = code
	rn, ok := s.RoutingNumber(code, r.Number)
	if !ok {
		return fmt.Errorf("%w (commune %s, number %s)", ErrNoPDAAU, code, r.Number)
	}
	r.RoutingNumber = rn
	p, ok := s.PSAPByRoutingNumber(rn)
	if !ok {
		return fmt.Errorf("%w (%s)", ErrUnknownPSAP, rn)
	}
	r.PSAP = p
	return nil
}
