package wallet

import (
	"net/http"
	"net/url"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
)

// Partner is an organisation calling one of the wallet's partner APIs — a relying party the
// verifier API, an administration the inbox API — as a consumer of the API gateway. Those
// APIs are served on the interconnect listener and published on the gateway with an
// upstream socle://interconnect/wallet/partners/...: the gateway authenticates the
// organisation (key, JWT or certificate), applies its quota, and forwards the call as socle,
// naming the consumer. (docs/wallet.md, "Relying parties and administrations".)
type Partner struct {
	// Consumer is the gateway's consumer name: the partner's identifier.
	Consumer string
	// Organisation is its organisation as the gateway knows it (may be empty).
	Organisation string
}

// partnerFunc serves a partner's call.
type partnerFunc func(rw http.ResponseWriter, r *http.Request, p Partner)

// partnerPrefix is where the partner APIs are on the interconnect listener.
const partnerPrefix = "/wallet/partners/"

// partner serves fn to calls the gateway forwards: made with socle's own client certificate
// (identity.Self), naming a consumer. Anyone else is refused: only the gateway may say which
// consumer calls.
func (w *Wallet) partner(fn partnerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if org := identity.CallerFrom(r.Context()).Org; org == nil || org.Kind != identity.KindSocle {
			problem.Write(rw, r, problem.New("not-through-the-gateway", http.StatusForbidden, "Call through the API gateway",
				"this API is published on socle's API gateway, at /apis/…: call it there, with your consumer's credentials"))
			return
		}
		p := Partner{Consumer: r.Header.Get("X-Socle-Consumer")}
		if p.Consumer == "" {
			problem.Write(rw, r, problem.New("no-consumer", http.StatusForbidden, "No consumer",
				"the gateway named no consumer for this call"))
			return
		}
		p.Organisation, _ = url.PathUnescape(r.Header.Get("X-Socle-Organisation"))
		fn(rw, r, p)
	})
}
