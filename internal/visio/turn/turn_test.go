package turn

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"socle/internal/visio/pionlog"
)

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestServer starts a server on loopback, UDP and TCP, relaying to any peer unless edit
// says otherwise, closed at the end of the test.
func newTestServer(t *testing.T, edit func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Realm:             "socle",
		Secret:            []byte("test-secret"),
		PublicIP:          "127.0.0.1",
		ListenUDP:         "127.0.0.1:0",
		ListenTCP:         "127.0.0.1:0",
		AllowPrivatePeers: true,
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// udpEcho starts a UDP peer on loopback that sends every packet back to its sender.
func udpEcho(t *testing.T) net.PacketConn {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = conn.WriteTo(buf[:n], from)
		}
	}()
	return conn
}

// newClient starts a Pion TURN client talking to s over transport ("udp" or "tcp").
func newClient(t *testing.T, s *Server, transport, username, password string) *pionturn.Client {
	t.Helper()
	udpAddr, tcpAddr := s.Addrs()
	var conn net.PacketConn
	server := udpAddr
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		server = tcpAddr
		c, err := net.DialTimeout("tcp", tcpAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	default:
		t.Fatalf("transport %q", transport)
	}
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       username,
		Password:       password,
		Realm:          "socle",
		RTO:            100 * time.Millisecond,
		LoggerFactory:  pionlog.Factory(testLogger()),
	})
	if err != nil {
		_ = conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.Close()
		_ = conn.Close()
	})
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	return client
}

// allocate asks for a UDP relay, giving up after a few seconds.
func allocate(t *testing.T, client *pionturn.Client) (net.PacketConn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	relay, err := client.AllocateWithContext(ctx)
	if err == nil {
		t.Cleanup(func() { _ = relay.Close() })
	}
	return relay, err
}

// wantCode fails the test unless err is a TURN error response with that code. Pion's client
// reports the code only in the error text ("... error response (error 401: ...)").
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want error %s", code)
	}
	if !strings.Contains(err.Error(), "error "+code) {
		t.Fatalf("error %q, want code %s", err, code)
	}
}

// ping sends msg from the relay to peer and waits for the echo.
func ping(t *testing.T, relay net.PacketConn, peer net.Addr, msg string) {
	t.Helper()
	if _, err := relay.WriteTo([]byte(msg), peer); err != nil {
		t.Fatalf("write to %s through relay: %v", peer, err)
	}
	if err := relay.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read echo through relay: %v", err)
	}
	if got := string(buf[:n]); got != msg || from.String() != peer.String() {
		t.Fatalf("relay read %q from %s, want %q from %s", got, from, msg, peer)
	}
}

func TestRelayToEchoPeer(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			s := newTestServer(t, nil)
			echo := udpEcho(t)
			cred := s.Credentials("alice", time.Now())
			client := newClient(t, s, transport, cred.Username, cred.Credential)

			relay, err := allocate(t, client)
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			relayAddr := relay.LocalAddr().(*net.UDPAddr)
			if !relayAddr.IP.Equal(net.IPv4(127, 0, 0, 1)) || relayAddr.Port == 0 {
				t.Fatalf("relay address %s, want 127.0.0.1:<port>", relayAddr)
			}
			ping(t, relay, echo.LocalAddr(), "hello over "+transport)
			ping(t, relay, echo.LocalAddr(), "again")
			if n := s.quota.total(); n != 1 {
				t.Errorf("allocations counted: %d, want 1", n)
			}

			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := s.quota.total(); n != 0 {
				t.Errorf("allocations counted after Close: %d, want 0", n)
			}
		})
	}
}

func TestAuthRefused(t *testing.T) {
	s := newTestServer(t, nil)
	now := time.Now()
	good := s.Credentials("alice", now)
	expired := s.Credentials("alice", now.Add(-DefaultTTL-time.Minute))
	otherSecret := sign([]byte("other-secret"), good.Username)
	tests := []struct {
		name, username, password string
	}{
		{"expired", expired.Username, expired.Credential},
		{"wrong password", good.Username, otherSecret},
		{"password of another username", good.Username, s.Credentials("bob", now).Credential},
		{"username without expiry", "alice", sign(s.cfg.Secret, "alice")},
		{"expiry in the future but tampered", strings.Replace(good.Username, "alice", "mallory", 1), good.Credential},
	}
	for _, transport := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				client := newClient(t, s, transport, tt.username, tt.password)
				_, err := allocate(t, client)
				wantCode(t, err, "401")
			})
		}
	}
	if n := s.quota.total(); n != 0 {
		t.Errorf("allocations counted: %d, want 0", n)
	}
}

func TestPrivatePeerRefused(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.AllowPrivatePeers = false })
	echo := udpEcho(t)
	cred := s.Credentials("alice", time.Now())
	client := newClient(t, s, "udp", cred.Username, cred.Credential)
	relay, err := allocate(t, client)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	wantCode(t, client.CreatePermission(echo.LocalAddr()), "403")
	if _, err := relay.WriteTo([]byte("leak"), echo.LocalAddr()); err == nil {
		t.Fatal("write to a loopback peer accepted")
	}
	// And nothing reached the peer.
	if err := echo.SetReadDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, from, err := echo.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("peer received %d bytes from %s", n, from)
	}
}

func TestAllowedPeers(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.AllowPrivatePeers = false
		c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	echo := udpEcho(t)
	cred := s.Credentials("alice", time.Now())
	relay, err := allocate(t, newClient(t, s, "udp", cred.Username, cred.Credential))
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	ping(t, relay, echo.LocalAddr(), "allowed")
}

func TestQuota(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.MaxAllocationsPerUser = 1
		c.MaxAllocations = 2
	})
	now := time.Now()
	alloc := func(user string) (net.PacketConn, error) {
		cred := s.Credentials(user, now)
		return allocate(t, newClient(t, s, "udp", cred.Username, cred.Credential))
	}
	alice, err := alloc("alice")
	if err != nil {
		t.Fatalf("alice's first allocation: %v", err)
	}
	_, err = alloc("alice")
	wantCode(t, err, "486") // alice is at her quota
	if _, err := alloc("bob"); err != nil {
		t.Fatalf("bob's allocation: %v", err)
	}
	_, err = alloc("carol")
	wantCode(t, err, "486") // the server is full
	if err := alice.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.quota.total() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("alice's allocation still counted after release: total %d", s.quota.total())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := alloc("carol"); err != nil {
		t.Fatalf("carol's allocation after alice left: %v", err)
	}
}

func TestTCPRelayRefused(t *testing.T) {
	s := newTestServer(t, nil)
	cred := s.Credentials("alice", time.Now())
	client := newClient(t, s, "tcp", cred.Username, cred.Credential)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	alloc, err := client.AllocateTCPWithContext(ctx)
	if err == nil {
		_ = alloc.Close()
	}
	wantCode(t, err, "508")
	if n := s.quota.total(); n != 0 {
		t.Errorf("allocations counted: %d, want 0", n)
	}
}

func TestCredentials(t *testing.T) {
	s := newTestServer(t, func(c *Config) {
		c.Secret = []byte("s3cret")
		c.TTL = time.Hour
	})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got := s.Credentials("alice", now)
	// Computed independently: base64(HMAC-SHA1("s3cret", "1767326645:alice")).
	if got.Username != "1767326645:alice" || got.Credential != "MWxOnvt1AuETmzJs2dKK9KK0ZVQ=" {
		t.Errorf("credentials %q / %q", got.Username, got.Credential)
	}
	udpAddr, tcpAddr := s.Addrs()
	want := []string{"turn:" + udpAddr + "?transport=udp", "turn:" + tcpAddr + "?transport=tcp"}
	if strings.Join(got.URLs, " ") != strings.Join(want, " ") {
		t.Errorf("urls %q, want %q", got.URLs, want)
	}
	// And the server reads back what it minted.
	if user, err := parseUsername(got.Username, now); err != nil || user != "alice" {
		t.Errorf("parseUsername(%q) = %q, %v", got.Username, user, err)
	}

	udpOnly := newTestServer(t, func(c *Config) { c.Secret = []byte("s3cret"); c.ListenTCP = "" })
	got = udpOnly.Credentials("alice", now)
	if got.Username != "1767366245:alice" || got.Credential != "8tYcNWofuKKr1rQ+tGc0oVsrFc4=" {
		t.Errorf("default ttl: credentials %q / %q", got.Username, got.Credential)
	}
	if len(got.URLs) != 1 || !strings.HasSuffix(got.URLs[0], "?transport=udp") {
		t.Errorf("udp-only urls %q", got.URLs)
	}
	if _, tcp := udpOnly.Addrs(); tcp != "" {
		t.Errorf("udp-only server has a tcp address %q", tcp)
	}
}

func TestParseUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		username string
		user     string
		err      error
	}{
		{"1800000060:alice", "alice", nil},
		{"1800000000:alice", "alice", nil}, // expires at the end of this second
		{"1800000000:a:b", "a:b", nil},
		{"1799999999:alice", "alice", errExpired},
		{"alice", "", errMalformedUsername},
		{"1800000060:", "", errMalformedUsername},
		{":alice", "", errMalformedUsername},
		{"soon:alice", "", errMalformedUsername},
		{"-1:alice", "", errMalformedUsername},
		{"+1800000060:alice", "", errMalformedUsername},
		{" 1800000060:alice", "", errMalformedUsername},
		{"99999999999999999999:alice", "", errMalformedUsername},
		{"1800000060:" + strings.Repeat("a", maxUsernameLen), "", errMalformedUsername},
	}
	for _, tt := range tests {
		user, err := parseUsername(tt.username, now)
		if user != tt.user || err != tt.err {
			t.Errorf("parseUsername(%.40q) = %q, %v; want %q, %v", tt.username, user, err, tt.user, tt.err)
		}
	}
}

func TestPeerPolicy(t *testing.T) {
	tests := []struct {
		ip     string
		global bool
	}{
		{"8.8.8.8", true},
		{"203.0.114.1", true},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"127.0.0.1", false},
		{"127.255.0.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"255.255.255.255", false},
		{"224.0.0.1", false},
		{"192.0.2.1", false},
		{"198.18.0.1", false},
		{"240.0.0.1", false},
		{"2001:4860:4860::8888", true},
		{"::", false},
		{"::1", false},
		{"::10.0.0.1", false},
		{"fe80::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::a00:1", false},    // NAT64 of 10.0.0.1
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},   // NAT64 of 8.8.8.8
		{"2002:a00:1::1", false},     // 6to4 of 10.0.0.1
		{"2002:808:808::1", true},    // 6to4 of 8.8.8.8
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
	}
	strict := peerPolicy{}
	allowLoopback := peerPolicy{allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	open := peerPolicy{allowAll: true}
	for _, tt := range tests {
		ip := netip.MustParseAddr(tt.ip)
		if got := strict.allow(ip); got != tt.global {
			t.Errorf("strict.allow(%s) = %v, want %v", ip, got, tt.global)
		}
		if !open.allow(ip) {
			t.Errorf("open.allow(%s) = false", ip)
		}
		wantAllowed := tt.global || strings.HasPrefix(tt.ip, "127.") || tt.ip == "::ffff:127.0.0.1"
		if got := allowLoopback.allow(ip); got != wantAllowed {
			t.Errorf("allowLoopback.allow(%s) = %v, want %v", ip, got, wantAllowed)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Realm: "socle", Secret: []byte("s"), PublicIP: "203.0.113.7", ListenUDP: ":3478"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no realm", func(c *Config) { c.Realm = "" }},
		{"no secret", func(c *Config) { c.Secret = nil }},
		{"no public ip", func(c *Config) { c.PublicIP = "" }},
		{"public ip a name", func(c *Config) { c.PublicIP = "turn.example.org" }},
		{"public ip unspecified", func(c *Config) { c.PublicIP = "0.0.0.0" }},
		{"public ip v6", func(c *Config) { c.PublicIP = "2001:db8::7" }},
		{"no listener", func(c *Config) { c.ListenUDP = "" }},
		{"half a port range", func(c *Config) { c.RelayPortMin = 50000 }},
		{"inverted port range", func(c *Config) { c.RelayPortMin, c.RelayPortMax = 50010, 50000 }},
		{"negative ttl", func(c *Config) { c.TTL = -time.Second }},
		{"negative limit", func(c *Config) { c.MaxAllocations = -1 }},
		{"invalid allowed peer", func(c *Config) { c.AllowedPeers = []netip.Prefix{{}} }},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
		if _, err := New(c, nil); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

func TestRelayPortRange(t *testing.T) {
	// Find a free block of loopback UDP ports by asking the kernel for one and hoping its
	// neighbours are free too; the range allocator retries within the range.
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := probe.LocalAddr().(*net.UDPAddr).Port
	_ = probe.Close()
	if base > 65000 {
		base = 40000
	}
	lo, hi := uint16(base), uint16(base+20)
	s := newTestServer(t, func(c *Config) { c.RelayPortMin, c.RelayPortMax = lo, hi })
	echo := udpEcho(t)
	cred := s.Credentials("alice", time.Now())
	relay, err := allocate(t, newClient(t, s, "udp", cred.Username, cred.Credential))
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	if p := relay.LocalAddr().(*net.UDPAddr).Port; p < int(lo) || p > int(hi) {
		t.Fatalf("relay port %d outside [%d, %d]", p, lo, hi)
	}
	ping(t, relay, echo.LocalAddr(), "in range")
}

func TestNoRelayToOwnListener(t *testing.T) {
	s := newTestServer(t, nil) // even with every peer allowed
	cred := s.Credentials("alice", time.Now())
	relay, err := allocate(t, newClient(t, s, "udp", cred.Username, cred.Credential))
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	// A STUN binding request, through the relay to the server's own listener: were it
	// relayed, the server would answer the relay and the answer would come back to us.
	binding := []byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	listener := s.udp.LocalAddr()
	if _, err := relay.WriteTo(binding, listener); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := relay.SetReadDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, from, err := relay.ReadFrom(make([]byte, 1500)); err == nil {
		t.Fatalf("relay read %d bytes from %s: the server relayed to its own listener", n, from)
	}
	for _, a := range []string{"127.0.0.1", "0.0.0.0", "::ffff:127.0.0.1"} {
		addr := &net.UDPAddr{IP: net.ParseIP(a), Port: listener.(*net.UDPAddr).Port}
		if !s.relays.self.contains(addr) {
			t.Errorf("%s not recognised as the server's own listener", addr)
		}
	}
}

func TestTCPConnectionLimit(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.MaxAllocations = 1 })
	cred := s.Credentials("alice", time.Now())
	if _, err := allocate(t, newClient(t, s, "tcp", cred.Username, cred.Credential)); err != nil {
		t.Fatalf("allocate: %v", err)
	}
	_, tcpAddr := s.Addrs()
	extra, err := net.DialTimeout("tcp", tcpAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if err := extra.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection past the limit not closed by the server: %v", err)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newTCPListener(inner, 10, 100*time.Millisecond, testLogger())
	defer ln.Close()
	client, err := net.DialTimeout("tcp", inner.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = conn.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("idle read returned %v after %s", err, time.Since(start))
	}
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	ln.mu.Lock()
	n := len(ln.conns)
	ln.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d connections tracked after close", n)
	}
}
