package bus

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"socle/internal/platform/pki"
	"socle/internal/platform/porttest"
)

// freeAddrs picks n loopback ports, so that every node's route list can name them all before
// any node starts (as a StatefulSet's pod names are known in advance).
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, porttest.Addr(t))
	}
	return out
}

func routeList(addrs []string) []string {
	var r []string
	for _, a := range addrs {
		r = append(r, "nats-route://"+a)
	}
	return r
}

// devTLS is route TLS from a development PKI: socle's server certificate and its CA.
func devTLS(t *testing.T) (string, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(dir); err != nil {
		t.Fatal(err)
	}
	roots, err := pki.LoadPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := RouteTLS(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), roots)
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: not %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hears subscribes b to subject and counts what arrives.
func hears(t *testing.T, b *Bus, subject string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	if _, err := b.Subscribe(subject, func(*nats.Msg) { n.Add(1) }); err != nil {
		t.Fatal(err)
	}
	b.Flush()
	return &n
}

// TestThreeClusteredNodesTalkAndSurviveALoss forms a cluster of three embedded servers over
// mutual TLS, each given the same route list (its own address included), and checks that a
// message published on one node reaches subscribers on the others, before and after a node
// dies, and that a node coming back is announced.
func TestThreeClusteredNodesTalkAndSurviveALoss(t *testing.T) {
	_, cfg := devTLS(t)
	addrs := freeAddrs(t, 3)
	nodes := make([]*Bus, 3)
	joined := make([]atomic.Int64, 3)
	for i := range nodes {
		b, err := OpenCluster(Cluster{Name: "socle-test", Addr: addrs[i], Routes: routeList(addrs), TLS: cfg})
		if err != nil {
			t.Fatal(err)
		}
		b.OnPeerJoined(func() { joined[i].Add(1) })
		nodes[i] = b
	}
	defer func() {
		for _, b := range nodes {
			if b != nil {
				b.Close()
			}
		}
	}()
	waitFor(t, "every node routed to the two others", func() bool {
		return nodes[0].Peers() == 2 && nodes[1].Peers() == 2 && nodes[2].Peers() == 2
	})
	waitFor(t, "peers announced", func() bool { return joined[0].Load() > 0 && joined[1].Load() > 0 && joined[2].Load() > 0 })
	on1, on2 := hears(t, nodes[1], "socle.test"), hears(t, nodes[2], "socle.test")
	// Interest crosses the routes asynchronously: publish until both have heard one.
	waitFor(t, "a message from node 0 heard on nodes 1 and 2", func() bool {
		nodes[0].Publish("socle.test", []byte("réveil"))
		nodes[0].Flush()
		return on1.Load() > 0 && on2.Load() > 0
	})

	nodes[0].Close()
	nodes[0] = nil
	waitFor(t, "nodes 1 and 2 saw node 0 go", func() bool { return nodes[1].Peers() == 1 && nodes[2].Peers() == 1 })
	before := on2.Load()
	waitFor(t, "a message from node 1 heard on node 2 with node 0 gone", func() bool {
		nodes[1].Publish("socle.test", []byte("toujours là"))
		nodes[1].Flush()
		return on2.Load() > before
	})

	// Node 0 comes back on its address: the others redial it, and say so.
	was := joined[1].Load()
	b, err := OpenCluster(Cluster{Name: "socle-test", Addr: addrs[0], Routes: routeList(addrs), TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	nodes[0] = b
	waitFor(t, "node 0 back in the cluster", func() bool { return nodes[0].Peers() == 2 && nodes[1].Peers() == 2 })
	waitFor(t, "node 1 told that a peer joined", func() bool { return joined[1].Load() > was })
	on0 := hears(t, nodes[0], "socle.test")
	waitFor(t, "a message from node 2 heard on the restarted node 0", func() bool {
		nodes[2].Publish("socle.test", []byte("revenu"))
		nodes[2].Flush()
		return on0.Load() > 0
	})
}

// TestARouteIsRefusedToACertificateThatIsNotSocles: an operator's certificate signed by the
// same CA must not join the bus, which carries callers' locations.
func TestARouteIsRefusedToACertificateThatIsNotSocles(t *testing.T) {
	dir, cfg := devTLS(t)
	if _, err := pki.EnsureIssued(dir, "operator", pki.Request{Name: "operator", Organization: "Opérateur", Usage: pki.ServerAndClient}); err != nil {
		t.Fatal(err)
	}
	roots, _ := pki.LoadPool(filepath.Join(dir, "ca.crt"))
	// The intruder's RouteTLS checks the others as strictly; what matters is that socle's
	// nodes refuse it.
	intruderCfg, err := RouteTLS(filepath.Join(dir, "operator.crt"), filepath.Join(dir, "operator.key"), roots)
	if err != nil {
		t.Fatal(err)
	}
	intruderCfg.VerifyConnection = nil
	addrs := freeAddrs(t, 2)
	refusals := make(chan string, 100)
	a, err := OpenCluster(Cluster{Name: "socle-test", Addr: addrs[0], TLS: cfg, Logger: slog.New(lines(refusals))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	intruder, err := OpenCluster(Cluster{Name: "socle-test", Addr: addrs[1], Routes: routeList(addrs[:1]), TLS: intruderCfg})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	timeout := time.After(20 * time.Second)
	for refused := false; !refused; {
		select {
		case l := <-refusals:
			refused = strings.Contains(l, `route peer is "CN=operator,O=Opérateur", not socle`)
		case <-timeout:
			t.Fatal("after 20s: the intruder's route was not refused")
		}
	}
	if a.Peers() != 0 || intruder.Peers() != 0 {
		t.Fatal("a certificate that is not socle's joined the cluster")
	}
	// The same CA's socle certificate joins.
	b, err := OpenCluster(Cluster{Name: "socle-test", Addr: "127.0.0.1:0", Routes: routeList(addrs[:1]), TLS: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "socle's own node joined", func() bool { return a.Peers() == 1 && b.Peers() == 1 })
}

func TestBadClusterSettingsAreRefusedClearly(t *testing.T) {
	_, cfg := devTLS(t)
	for _, c := range []struct {
		cluster Cluster
		want    string
	}{
		{Cluster{Name: "", Addr: "127.0.0.1:6222", TLS: cfg}, "SOCLE_NATS_CLUSTER_NAME: empty"},
		{Cluster{Name: "a b", Addr: "127.0.0.1:6222", TLS: cfg}, "SOCLE_NATS_CLUSTER_NAME"},
		{Cluster{Name: "socle", Addr: "6222", TLS: cfg}, "SOCLE_NATS_CLUSTER_ADDR: \"6222\": want host:port"},
		{Cluster{Name: "socle", Addr: "0.0.0.0:http", TLS: cfg}, "the port is not a number"},
		{Cluster{Name: "socle", Addr: "0.0.0.0:6222"}, "SOCLE_NATS_CLUSTER_TLS=none: only for routes on loopback"},
		{Cluster{Name: "socle", Addr: "127.0.0.1:6222", Routes: []string{"nats-route://socle-1.socle:6222"}}, "not socle-1.socle:6222"},
		{Cluster{Name: "socle", Addr: "0.0.0.0:6222", Routes: []string{"nats://socle-1:6222"}, TLS: cfg}, "item 1 \"nats://socle-1:6222\": want nats-route://host:port"},
		{Cluster{Name: "socle", Addr: "0.0.0.0:6222", Routes: []string{"nats-route://u:p@socle-1:6222"}, TLS: cfg}, "no credentials"},
		{Cluster{Name: "socle", Addr: "0.0.0.0:6222", Routes: []string{"nats-route://socle-0:6222", "nats-route://socle-1"}, TLS: cfg}, "item 2"},
	} {
		err := c.cluster.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error with %q", c.cluster.Routes, err, c.want)
		}
		if _, err := OpenCluster(c.cluster); err == nil {
			t.Errorf("%+v: OpenCluster accepted what Validate refuses", c.cluster)
		}
	}
	// Plain routes on loopback are allowed (tests, one machine).
	if err := (Cluster{Name: "socle", Addr: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6223", "nats-route://localhost:6224"}}).Validate(); err != nil {
		t.Errorf("plain routes on loopback: %v", err)
	}
	// A busy route port fails the start, saying which setting.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := OpenCluster(Cluster{Name: "socle", Addr: l.Addr().String(), TLS: cfg}); err == nil || !strings.Contains(err.Error(), "SOCLE_NATS_CLUSTER_ADDR") {
		t.Errorf("busy route port: got %v", err)
	}
	// A certificate that does not chain to the CA is refused at once.
	other, _ := devTLS(t)
	dir, _ := devTLS(t)
	roots, _ := pki.LoadPool(filepath.Join(other, "ca.crt"))
	if _, err := RouteTLS(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), roots); err == nil || !strings.Contains(err.Error(), "does not chain") {
		t.Errorf("foreign CA: got %v", err)
	}
}

// lines is a slog handler that sends each record's message to a channel (dropping when full).
type lines chan string

func (l lines) Enabled(context.Context, slog.Level) bool { return true }
func (l lines) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default:
	}
	return nil
}
func (l lines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l lines) WithGroup(string) slog.Handler      { return l }
