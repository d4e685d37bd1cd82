// Package turn is the conference's built-in TURN relay (RFC 8656), for participants whose
// firewall lets no direct UDP media through. It listens for TURN over UDP and over TCP, and
// relays over UDP only: that is all browsers ask for, and it means the server never opens
// TCP connections on a client's behalf (RFC 6062 TCP allocations are refused).
//
// Clients authenticate with time-limited credentials from the TURN REST API scheme
// (draft-uberti-behave-turn-rest-00): the username is "<expiry-unix>:<user>" and the
// password is base64(HMAC-SHA1(secret, username)). Server.Credentials mints them; the
// conference hands them to the browser as an RTCIceServer. Nothing is stored: an expired
// username or a message that does not carry the HMAC's integrity is refused.
//
// Allocations are bounded per user (Config.MaxAllocationsPerUser) and in total
// (Config.MaxAllocations); each holds one relay socket until it expires or is released.
//
// A relay that can reach internal networks is a server-side request forgery tool, so by
// default the server refuses permissions (and so any relaying) towards loopback, private,
// link-local, shared (CGNAT), multicast, documentation and other non-global addresses,
// IPv4-mapped, NAT64 and 6to4 forms included. Config.AllowedPeers lets chosen ranges
// through, such as the SFU's own private address; Config.AllowPrivatePeers lifts the
// restriction entirely, for tests and closed networks. Either way the relay never sends to
// the server's own UDP listener, and since it only relays UDP, TCP services are out of reach.
// The machine's public address is a global address like any other: UDP services listening
// on it are reachable through the relay, from the relay's address.
package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"

	"socle/internal/visio/pionlog"
)

// Defaults applied by New to the zero values of Config.
const (
	DefaultTTL                   = 12 * time.Hour
	DefaultMaxAllocationsPerUser = 16
	DefaultMaxAllocations        = 1024
)

// Config says where the relay listens, what it announces and whom it serves.
type Config struct {
	// Realm is the TURN realm, e.g. "socle".
	Realm string
	// Secret is the shared secret the time-limited credentials are signed with.
	Secret []byte
	// PublicIP is the IPv4 relay address announced to clients, and the host in the URLs
	// that Credentials returns. Relaying is IPv4 only.
	PublicIP string
	// ListenUDP and ListenTCP are the listen addresses, e.g. ":3478"; "" means no listener
	// of that kind. At least one is required. Relay sockets are bound to the host of the
	// UDP listen address (or else the TCP one) when it is a specific IPv4 address, and to
	// 0.0.0.0 otherwise.
	ListenUDP string
	ListenTCP string
	// RelayPortMin and RelayPortMax bound the UDP ports of relay sockets; 0 means any.
	RelayPortMin, RelayPortMax uint16
	// TTL is the lifetime of the credentials Credentials mints. 0 means DefaultTTL.
	TTL time.Duration
	// MaxAllocationsPerUser caps the live allocations of one user (the part of the username
	// after the expiry). 0 means DefaultMaxAllocationsPerUser.
	MaxAllocationsPerUser int
	// MaxAllocations caps the live allocations of the whole server, and the number of open
	// TCP connections. 0 means DefaultMaxAllocations.
	MaxAllocations int
	// AllowedPeers are peer address ranges the relay may reach even though they are not
	// global unicast addresses, such as the SFU's private address.
	AllowedPeers []netip.Prefix
	// AllowPrivatePeers lets the relay reach any peer address, loopback and private ones
	// included. For tests and closed networks only: on the internet it turns the relay into
	// a way into the server's own network.
	AllowPrivatePeers bool
}

// Validate reports the first inconsistency in the configuration.
func (c Config) Validate() error {
	if c.Realm == "" {
		return errors.New("turn: realm is empty")
	}
	if len(c.Secret) == 0 {
		return errors.New("turn: secret is empty")
	}
	if ip := net.ParseIP(c.PublicIP); ip == nil || ip.To4() == nil || ip.IsUnspecified() {
		return fmt.Errorf("turn: public ip %q is not a usable IPv4 address", c.PublicIP)
	}
	if c.ListenUDP == "" && c.ListenTCP == "" {
		return errors.New("turn: no listener: set ListenUDP, ListenTCP or both")
	}
	if (c.RelayPortMin == 0) != (c.RelayPortMax == 0) {
		return errors.New("turn: relay port range: set both bounds or neither")
	}
	if c.RelayPortMin > c.RelayPortMax {
		return fmt.Errorf("turn: relay port range: min %d above max %d", c.RelayPortMin, c.RelayPortMax)
	}
	if c.TTL < 0 {
		return fmt.Errorf("turn: negative ttl %s", c.TTL)
	}
	if c.MaxAllocationsPerUser < 0 || c.MaxAllocations < 0 {
		return errors.New("turn: negative allocation limit")
	}
	for _, p := range c.AllowedPeers {
		if !p.IsValid() {
			return fmt.Errorf("turn: allowed peer range %q is not valid", p)
		}
	}
	return nil
}

// ICEServer is one entry of a WebRTC configuration's iceServers, as the browser reads it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username"`
	Credential string   `json:"credential"`
}

// Server is a running TURN relay.
type Server struct {
	cfg    Config
	logger *slog.Logger
	pion   *pionturn.Server
	quota  *quota
	relays *relayGenerator
	peers  peerPolicy

	udp  net.PacketConn // nil without a UDP listener
	tcp  *tcpListener   // nil without a TCP listener
	urls []string

	closeOnce sync.Once
	closeErr  error
}

// New checks the configuration, opens the listeners and starts serving.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxAllocationsPerUser == 0 {
		cfg.MaxAllocationsPerUser = DefaultMaxAllocationsPerUser
	}
	if cfg.MaxAllocations == 0 {
		cfg.MaxAllocations = DefaultMaxAllocations
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	cfg.AllowedPeers = append([]netip.Prefix(nil), cfg.AllowedPeers...)
	publicIP := net.ParseIP(cfg.PublicIP)

	s := &Server{
		cfg:    cfg,
		logger: logger,
		quota:  newQuota(cfg.MaxAllocationsPerUser, cfg.MaxAllocations),
		peers:  peerPolicy{allowAll: cfg.AllowPrivatePeers, allowed: cfg.AllowedPeers},
	}
	relays := newRelayGenerator(cfg, publicIP, s.quota)
	s.relays = relays

	pcfg := pionturn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.allowAllocation,
		EventHandler:  pionturn.EventHandler{OnAuth: s.onAuth},
		LoggerFactory: pionlog.Factory(logger),
	}
	if cfg.ListenUDP != "" {
		conn, err := net.ListenPacket("udp", cfg.ListenUDP)
		if err != nil {
			return nil, fmt.Errorf("turn: listen udp: %w", err)
		}
		s.udp = conn
		pcfg.PacketConnConfigs = []pionturn.PacketConnConfig{{
			PacketConn: conn, RelayAddressGenerator: relays, PermissionHandler: s.permit,
		}}
	}
	if cfg.ListenTCP != "" {
		ln, err := net.Listen("tcp", cfg.ListenTCP)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("turn: listen tcp: %w", err)
		}
		s.tcp = newTCPListener(ln, cfg.MaxAllocations, tcpIdleTimeout, logger)
		pcfg.ListenerConfigs = []pionturn.ListenerConfig{{
			Listener: s.tcp, RelayAddressGenerator: relays, PermissionHandler: s.permit,
		}}
	}

	udpAddr, tcpAddr := s.Addrs()
	if s.udp != nil {
		relays.self = newSelfAddrs(s.udp.LocalAddr().(*net.UDPAddr).Port, publicIP, net.ParseIP(relays.bind))
	}
	for _, a := range []struct{ addr, transport string }{{udpAddr, "udp"}, {tcpAddr, "tcp"}} {
		if a.addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(a.addr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("turn: %s listener address: %w", a.transport, err)
		}
		s.urls = append(s.urls, "turn:"+net.JoinHostPort(publicIP.String(), port)+"?transport="+a.transport)
	}

	pion, err := pionturn.NewServer(pcfg)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("turn: start: %w", err)
	}
	s.pion = pion
	logger.Info("turn relay listening", "udp_addr", udpAddr, "tcp_addr", tcpAddr,
		"relay_ip", publicIP.String(), "relay_bind", relays.bind,
		"allow_private_peers", cfg.AllowPrivatePeers)
	return s, nil
}

// Addrs returns the addresses the listeners are bound to, "" for a listener not configured.
func (s *Server) Addrs() (udp, tcp string) {
	if s.udp != nil {
		udp = s.udp.LocalAddr().String()
	}
	if s.tcp != nil {
		tcp = s.tcp.Addr().String()
	}
	return udp, tcp
}

// Credentials mints TURN credentials for user valid until now plus the configured TTL, with
// one URL per listener: turn:<public-ip>:<port>?transport=udp and ?transport=tcp.
func (s *Server) Credentials(user string, now time.Time) ICEServer {
	username := strconv.FormatInt(now.Add(s.cfg.TTL).Unix(), 10) + ":" + user
	return ICEServer{
		URLs:       append([]string(nil), s.urls...),
		Username:   username,
		Credential: sign(s.cfg.Secret, username),
	}
}

// Close stops the listeners, hangs up TCP clients and releases every allocation. It waits a
// little for the relay sockets to be closed.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.pion.Close()
		if s.tcp != nil {
			s.tcp.closeConns()
		}
		// Pion closes the allocations once its read loops have stopped, asynchronously.
		deadline := time.Now().Add(2 * time.Second)
		for s.quota.total() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("turn: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}

func (s *Server) closeListeners() {
	if s.udp != nil {
		_ = s.udp.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
}

// permit is Pion's permission handler: it decides, for CreatePermission and ChannelBind,
// whether the relay may exchange packets with peerIP.
func (s *Server) permit(client net.Addr, peerIP net.IP) bool {
	ip, ok := netip.AddrFromSlice(peerIP)
	if ok && s.peers.allow(ip) {
		return true
	}
	s.logger.Debug("turn peer refused", "remote_addr", addrString(client), "peer_ip", peerIP.String())
	return false
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
