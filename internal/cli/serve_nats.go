package cli

import (
	"crypto/tls"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/platform/bus"
	"socle/internal/platform/config"
	"socle/internal/platform/pki"
)

// natsCluster joins the embedded NATS servers of several `socle serve` replicas (see
// bus.Cluster and docs/operations-replicas.md).
type natsCluster struct {
	Addr   string
	Routes []string
	Name   string
	TLS    string
	CA     string
}

func (n *natsCluster) register(s *config.Set, natsURL *string) {
	s.String(&n.Addr, "nats-cluster-addr", "", "route listener of the embedded NATS server, host:port such as 0.0.0.0:6222, joining the replicas' servers in one cluster; empty: not clustered")
	s.List(&n.Routes, "nats-routes", "", "the cluster's nodes, comma-separated nats-route://host:port (this node's own address may be in the list)")
	s.String(&n.Name, "nats-cluster-name", "socle", "NATS cluster name, the same on every replica")
	s.Enum(&n.TLS, "nats-cluster-tls", "mutual", []string{"mutual", "none"},
		"routes between replicas: mutual TLS with the server certificate, or none (loopback only)")
	s.String(&n.CA, "nats-cluster-ca", "", "CA bundle that the replicas' server certificates chain to; empty: SOCLE_CLIENT_CA's")
	s.Check(func() error {
		switch {
		case n.Addr == "" && len(n.Routes) > 0:
			return errors.New("SOCLE_NATS_ROUTES needs SOCLE_NATS_CLUSTER_ADDR: a node that dials others must also listen for them")
		case n.Addr != "" && *natsURL != "":
			return errors.New("SOCLE_NATS_CLUSTER_ADDR and SOCLE_NATS_URL exclude each other: cluster socle's embedded servers, or use an external NATS")
		case n.Addr == "":
			return nil
		}
		// The certificates are read at start; the addresses can be checked now.
		c := bus.Cluster{Name: n.Name, Addr: n.Addr, Routes: n.Routes}
		if n.TLS == "mutual" {
			c.TLS = &tls.Config{} // only its presence counts here: the certificates are read at start
		}
		return c.Validate()
	})
}

// openBus opens the bus as configured: external, clustered embedded, or embedded alone.
func (c *serveConfig) openBus(tlsFiles tlsMaterial, log *slog.Logger) (*bus.Bus, error) {
	n := c.NATSCluster
	if n.Addr == "" {
		return bus.Open(c.NATSURL)
	}
	cl := bus.Cluster{Name: n.Name, Addr: n.Addr, Routes: n.Routes, Logger: log}
	if n.TLS == "mutual" {
		roots := tlsFiles.clientCAs
		if n.CA != "" {
			var err error
			if roots, err = pki.LoadPool(n.CA); err != nil {
				return nil, err
			}
		}
		var err error
		if cl.TLS, err = bus.RouteTLS(tlsFiles.cert, tlsFiles.key, roots); err != nil {
			return nil, err
		}
	}
	b, err := bus.OpenCluster(cl)
	if err != nil {
		return nil, err
	}
	log.Info("NATS cluster node", "cluster", n.Name, "routes_addr", b.ClusterAddr(), "routes", n.Routes, "tls", n.TLS)
	return b, nil
}

// busPeers is the number of other replicas this one's embedded NATS server is routed to: with
// N replicas it should read N-1 on each; less means events (status reports, the pull's calls)
// do not reach every node.
func busPeers(b *bus.Bus) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "socle_bus_peers",
		Help: "Other socle replicas routed to by this replica's embedded NATS server (0 when not clustered)."},
		func() float64 { return float64(b.Peers()) })
}
