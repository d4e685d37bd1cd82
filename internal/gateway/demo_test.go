package gateway

import (
	"fmt"
	"testing"

	"socle/internal/gateway/registrysim"
)

// The demo's file, which make run applies, is a valid gateway section: every API, plan and
// consumer of it passes socle apply's checks, and it applies.
func TestTheDemoFileApplies(t *testing.T) {
	w := newWorld(t)
	text := fmt.Sprintf(demoFile, "127.0.0.1:9101")
	// The OpenAPI and WSDL documents it names are the simulator's, written beside it.
	w.mustApply(text, map[string]string{"population.yaml": string(registrysim.OpenAPI()), "civil-status.wsdl": string(registrysim.WSDL()),
		"driving-licences.yaml": string(registrysim.LicencesOpenAPI())})
}
