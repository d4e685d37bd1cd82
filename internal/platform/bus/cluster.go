package bus

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Cluster joins the embedded servers of several socle replicas into one NATS cluster: each
// node listens for routes on Addr and dials Routes. socle's parts still talk to their own
// node's server in process; the routes carry what one node publishes to subscribers on the
// others. socle uses core NATS only (no JetStream: PostgreSQL holds everything that must
// last), so any number of nodes works, and a node's death costs the others nothing but its
// events.
type Cluster struct {
	// Name is the cluster's, the same on every node (SOCLE_NATS_CLUSTER_NAME).
	Name string
	// Addr is the route listener, host:port (SOCLE_NATS_CLUSTER_ADDR).
	Addr string
	// Routes are the nodes to dial, nats-route://host:port (SOCLE_NATS_ROUTES). The node's own
	// address may be among them: the server recognises itself and drops that route, so one
	// list serves every pod of a StatefulSet.
	Routes []string
	// TLS secures the routes (RouteTLS). Nil means plain TCP, which Validate allows only
	// when the listener and every route are on loopback: the events carry callers'
	// locations.
	TLS    *tls.Config
	Logger *slog.Logger
}

// Validate checks the settings and says which one is wrong.
func (c Cluster) Validate() error {
	_, err := c.routeURLs()
	return err
}

func (c Cluster) routeURLs() ([]*url.URL, error) {
	if c.Name == "" {
		return nil, errors.New("SOCLE_NATS_CLUSTER_NAME: empty: every node of a cluster gives the same name")
	}
	if strings.ContainsAny(c.Name, " \t\r\n") {
		return nil, fmt.Errorf("SOCLE_NATS_CLUSTER_NAME: %q: no spaces", c.Name)
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("SOCLE_NATS_CLUSTER_ADDR: %q: want host:port, such as 0.0.0.0:6222", c.Addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("SOCLE_NATS_CLUSTER_ADDR: %q: the port is not a number", c.Addr)
	}
	plain := c.TLS == nil
	if plain && !isLoopback(host) {
		return nil, fmt.Errorf("SOCLE_NATS_CLUSTER_TLS=none: only for routes on loopback, not a listener on %q: the bus carries callers' locations", c.Addr)
	}
	var urls []*url.URL
	for i, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Scheme != "nats-route" || u.Hostname() == "" || u.Port() == "" || u.Path != "" && u.Path != "/" || u.User != nil {
			return nil, fmt.Errorf("SOCLE_NATS_ROUTES: item %d %q: want nats-route://host:port (no credentials: nodes prove who they are by certificate)", i+1, r)
		}
		if _, err := strconv.ParseUint(u.Port(), 10, 16); err != nil {
			return nil, fmt.Errorf("SOCLE_NATS_ROUTES: item %d %q: the port is not a number", i+1, r)
		}
		if plain && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("SOCLE_NATS_CLUSTER_TLS=none: only for routes on loopback, not %s: the bus carries callers' locations", u.Host)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OpenCluster starts this node's embedded server as a member of the cluster c and connects
// to it in process. It does not wait for the other nodes: the first node of a cluster must
// start alone, and routes to nodes still down are retried for as long as socle runs.
func OpenCluster(c Cluster) (*Bus, error) {
	routes, err := c.routeURLs()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(c.Addr)
	p, _ := strconv.Atoi(port)
	if p == 0 {
		p = natsserver.RANDOM_PORT // ":0", as for socle's other listeners (tests)
	} else {
		// nats-server reports a busy port only by timing out; binding first says why at once.
		l, err := net.Listen("tcp", c.Addr)
		if err != nil {
			return nil, fmt.Errorf("bus: SOCLE_NATS_CLUSTER_ADDR: %w", err)
		}
		l.Close()
	}
	// nats-server starts its routes only once its client listener is up (Server.Start waits on
	// it), so a clustered server cannot be DontListen. Clients get a loopback port, any free
	// one, and a password known only to this process: nobody else can connect, and socle
	// itself connects in process.
	token := make([]byte, 24)
	if _, err := rand.Read(token); err != nil {
		return nil, fmt.Errorf("bus: %w", err)
	}
	hostname, _ := os.Hostname()
	suffix := make([]byte, 4)
	rand.Read(suffix)
	opts := &natsserver.Options{
		// Names must differ between nodes (the server closes a route to a duplicate) and
		// nothing depends on them outside a process' life: the host (a pod's name) and a
		// random suffix, since several replicas may share a host.
		ServerName:    cmp.Or(hostname, "socle") + "-" + hex.EncodeToString(suffix),
		Host:          "127.0.0.1",
		Port:          natsserver.RANDOM_PORT,
		Authorization: hex.EncodeToString(token),
		NoSigs:        true,
		NoLog:         c.Logger == nil,
		Cluster: natsserver.ClusterOpts{
			Name: c.Name,
			Host: host,
			Port: p,
			// The client port is loopback and private: peers must not hand it to clients.
			NoAdvertise: true,
			TLSConfig:   c.TLS,
			TLSTimeout:  5,
			// Routes listed here are "explicit": the server redials them for as long as it
			// runs, so a node that is down or restarting is found again when it is back.
		},
		Routes: routes,
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	if c.Logger != nil {
		srv.SetLogger(natsLogger{c.Logger.With("component", "nats")}, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: embedded server did not start (is SOCLE_NATS_CLUSTER_ADDR %s free?)", c.Addr)
	}
	if srv.ClusterAddr() == nil {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: SOCLE_NATS_CLUSTER_ADDR %s: the route listener did not start (port in use?)", c.Addr)
	}
	nc, err := nats.Connect("", nats.Name("socle"), nats.InProcessServer(srv), nats.Token(opts.Authorization))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: connect to embedded server: %w", err)
	}
	b := &Bus{Conn: nc, srv: srv, peers: &peerWatch{quit: make(chan struct{}), done: make(chan struct{})}}
	go b.peers.run(b.peerIDs)
	return b, nil
}

// ClusterAddr is the route listener's bound address (useful with port 0), or "" when this
// node is not clustered.
func (b *Bus) ClusterAddr() string {
	if b.srv == nil || b.srv.ClusterAddr() == nil {
		return ""
	}
	return b.srv.ClusterAddr().String()
}

// Peers is the number of other nodes this node's embedded server has routes to.
func (b *Bus) Peers() int {
	if b.peers == nil {
		return 0
	}
	return len(b.peerIDs())
}

// peerIDs are the server ids of the nodes routed to: a node has a new id at each start, and
// several route connections (a pool) may lead to one node.
func (b *Bus) peerIDs() map[string]bool {
	ids := map[string]bool{}
	rz, err := b.srv.Routez(nil)
	if err != nil {
		return ids
	}
	for _, r := range rz.Routes {
		ids[r.RemoteID] = true
	}
	return ids
}

// OnPeerJoined registers f, called (on a goroutine of the bus) each time another node
// joins this node's cluster: at start-up, when a restarted node comes back, when a cut route
// is restored. Events published meanwhile were not heard here, so whoever keeps state from
// the bus reloads it from PostgreSQL then, as after an external NATS connection comes back.
// Without a clustered embedded server f is never called.
func (b *Bus) OnPeerJoined(f func()) {
	if b.peers == nil {
		return
	}
	b.peers.mu.Lock()
	defer b.peers.mu.Unlock()
	b.peers.joined = append(b.peers.joined, f)
}

// peerWatch polls the routes: nats-server has no callback for a route coming up, and a
// second before a reload is nothing next to what the reload repairs.
type peerWatch struct {
	mu     sync.Mutex
	joined []func()
	quit   chan struct{}
	done   chan struct{}
}

func (w *peerWatch) run(ids func() map[string]bool) {
	defer close(w.done)
	known := map[string]bool{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		now := ids()
		fresh := false
		for id := range now {
			fresh = fresh || !known[id]
		}
		known = now
		if fresh {
			w.mu.Lock()
			fs := append([]func(){}, w.joined...)
			w.mu.Unlock()
			for _, f := range fs {
				f()
			}
		}
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
	}
}

func (w *peerWatch) stop() {
	close(w.quit)
	<-w.done
}

// RouteTLS is mutual TLS between nodes with socle's server certificate: each node presents
// it, in both directions, and accepts a peer only if the peer's certificate chains to roots,
// is meant for a server, and names the same subject as this node's own. The chain alone is
// not enough: the CA that signs socle's certificate may also sign operators' and PSAPs'
// (the development CA does), and none of them may join the bus. The peer's address is not
// checked against its certificate: nodes are found by pod names or IPs that the public
// certificate does not list, and the subject is what identifies socle.
func RouteTLS(certFile, keyFile string, roots *x509.CertPool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bus: route certificate: %w", err)
	}
	own, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("bus: route certificate: %w", err)
	}
	if roots == nil {
		return nil, errors.New("bus: route TLS needs the CA that signs socle's server certificate")
	}
	if _, err := own.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates(cert.Certificate[1:]),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("bus: socle's server certificate does not chain to the route CA, so no peer would accept it: %w", err)
	}
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("bus: route peer presented no certificate")
		}
		peer := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := peer.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			return fmt.Errorf("bus: route peer's certificate: %w", err)
		}
		if !bytes.Equal(peer.RawSubject, own.RawSubject) {
			return fmt.Errorf("bus: route peer is %q, not socle (%q)", peer.Subject, own.Subject)
		}
		return nil
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// Go's own checks are replaced by verify, in both directions: a server certificate
		// has no client-auth usage, and the peer's name is not what identifies it (above).
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}, nil
}

func intermediates(ders [][]byte) *x509.CertPool {
	p := x509.NewCertPool()
	for _, d := range ders {
		if c, err := x509.ParseCertificate(d); err == nil {
			p.AddCert(c)
		}
	}
	return p
}

// natsLogger writes the embedded server's log through slog: route connections and their
// failures are what an operator of a cluster needs to see. The server's errors are warnings
// for socle: a route down delays events between nodes, it loses nothing (PostgreSQL holds
// what matters), and a replica restarting is expected to refuse routes for a while.
type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(format string, v ...any) { n.l.Info(fmt.Sprintf(format, v...)) }
func (n natsLogger) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "will not be verified") {
		// nats-server sees InsecureSkipVerify on the route TLS and warns; RouteTLS verifies
		// the peer itself (VerifyConnection): chain, usage and subject.
		n.l.Debug(msg, "note", "route certificates are verified by socle: chain to the CA and socle's subject")
		return
	}
	n.l.Warn(msg)
}
func (n natsLogger) Fatalf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Errorf(format string, v ...any) { n.l.Warn(fmt.Sprintf(format, v...)) }
func (n natsLogger) Debugf(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
