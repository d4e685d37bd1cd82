// Package services is the list of services built into socle: one import each. A service
// registers itself (see platform/service); adding one is its folder and a line here.
package services

import (
	_ "socle/internal/collab"
	_ "socle/internal/emergency"
	_ "socle/internal/gateway"
	_ "socle/internal/visio"
	_ "socle/internal/wallet"
)
