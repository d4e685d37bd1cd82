package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"

	pionturn "github.com/pion/turn/v5"
)

var (
	errServerFull = errors.New("server allocation limit reached")
	errUserQuota  = errors.New("user allocation limit reached")
	errTCPRelay   = errors.New("tcp relay allocations are not supported")
	errSelfPeer   = errors.New("relaying to the server's own listener refused")
)

// quota counts live allocations, per user and in total.
type quota struct {
	maxPerUser, max int

	mu      sync.Mutex
	perUser map[string]int
	n       int
}

func newQuota(maxPerUser, max int) *quota {
	return &quota{maxPerUser: maxPerUser, max: max, perUser: make(map[string]int)}
}

// check reports whether user may have one more allocation.
func (q *quota) check(user string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.checkLocked(user)
}

func (q *quota) checkLocked(user string) error {
	if q.n >= q.max {
		return errServerFull
	}
	if q.perUser[user] >= q.maxPerUser {
		return errUserQuota
	}
	return nil
}

// acquire counts one more allocation for user, unless that would pass a limit.
func (q *quota) acquire(user string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.checkLocked(user); err != nil {
		return err
	}
	q.perUser[user]++
	q.n++
	return nil
}

// release forgets one allocation of user.
func (q *quota) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.perUser[user] <= 1 {
		delete(q.perUser, user)
	} else {
		q.perUser[user]--
	}
	q.n--
}

func (q *quota) total() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// relayGenerator creates the relay sockets of allocations, one per allocation, counting
// them against the quota until they are closed. It refuses TCP relaying (RFC 6062).
type relayGenerator struct {
	inner pionturn.RelayAddressGenerator
	bind  string // the address relay sockets are bound to
	quota *quota
	self  selfAddrs // set before the server starts
}

var _ pionturn.RelayAddressGenerator = (*relayGenerator)(nil)

// newRelayGenerator binds relay sockets to the host of the UDP (or else TCP) listen address
// when it is a specific IPv4 address, to 0.0.0.0 otherwise, and announces them at publicIP.
func newRelayGenerator(cfg Config, publicIP net.IP, q *quota) *relayGenerator {
	bind := "0.0.0.0"
	listen := cfg.ListenUDP
	if listen == "" {
		listen = cfg.ListenTCP
	}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is4() && !ip.IsUnspecified() {
			bind = ip.Unmap().String()
		}
	}
	g := &relayGenerator{bind: bind, quota: q}
	if cfg.RelayPortMin != 0 {
		g.inner = &pionturn.RelayAddressGeneratorPortRange{
			RelayAddress: publicIP, Address: bind, MinPort: cfg.RelayPortMin, MaxPort: cfg.RelayPortMax,
		}
	} else {
		g.inner = &pionturn.RelayAddressGeneratorStatic{RelayAddress: publicIP, Address: bind}
	}
	return g
}

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if err := g.quota.acquire(conf.UserID); err != nil {
		return nil, nil, err
	}
	conn, addr, err := g.inner.AllocatePacketConn(conf)
	if err != nil {
		g.quota.release(conf.UserID)
		return nil, nil, fmt.Errorf("turn: relay socket: %w", err)
	}
	return &relayConn{
		PacketConn: conn,
		self:       &g.self,
		release:    sync.OnceFunc(func() { g.quota.release(conf.UserID) }),
	}, addr, nil
}

func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPRelay
}

// relayConn is a relay socket that gives its quota back when closed, and that will not send
// to the server's own UDP listener.
type relayConn struct {
	net.PacketConn
	self    *selfAddrs
	release func()
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.self.contains(addr) {
		return 0, errSelfPeer
	}
	return c.PacketConn.WriteTo(p, addr)
}

func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	c.release()
	return err
}

// selfAddrs is the server's own UDP listener, as a peer would address it. Relaying to it
// would loop a client's packets back into the server as if from another client (nested
// allocations), whatever the peer policy allows.
type selfAddrs struct {
	port int          // 0 without a UDP listener
	ips  []netip.Addr // the public IP, the relay bind IP, the machine's interface addresses
}

func newSelfAddrs(port int, ips ...net.IP) selfAddrs {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips = append(ips, n.IP)
			}
		}
	}
	s := selfAddrs{port: port}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			s.ips = append(s.ips, a.Unmap())
		}
	}
	return s
}

func (s *selfAddrs) contains(addr net.Addr) bool {
	u, ok := addr.(*net.UDPAddr)
	if !ok || s.port == 0 || u.Port != s.port {
		return false
	}
	ip, ok := netip.AddrFromSlice(u.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified() || slices.Contains(s.ips, ip)
}
