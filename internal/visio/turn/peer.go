package turn

import "net/netip"

// peerPolicy decides which peer addresses the relay may exchange packets with.
type peerPolicy struct {
	allowAll bool           // Config.AllowPrivatePeers
	allowed  []netip.Prefix // Config.AllowedPeers
}

func (p peerPolicy) allow(ip netip.Addr) bool {
	ip = ip.Unmap()
	if p.allowAll {
		return ip.IsValid()
	}
	for _, prefix := range p.allowed {
		if prefix.Contains(ip) {
			return true
		}
	}
	return isGlobal(ip)
}

// nonGlobal lists the special-purpose ranges (RFC 6890 and its updates) that are neither
// caught by netip's predicates nor reachable on the public internet.
var nonGlobal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the limited broadcast address
	netip.MustParsePrefix("::/96"),           // unspecified, loopback, IPv4-compatible
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use IPv4/IPv6 translation
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64 prefix, IPv4 in the last 32 bits
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4, IPv4 in bits 16 to 47
)

// isGlobal reports whether ip is a unicast address of the public internet. Addresses that
// embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by that address.
func isGlobal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, p := range nonGlobal {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return isGlobal(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return isGlobal(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}
