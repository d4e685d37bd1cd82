// Package bus carries wake-ups and live events between socle's parts and nodes over NATS:
// an in-process server by default, an external cluster when SOCLE_NATS_URL is set, or the
// in-process servers of several socle replicas joined by routes (OpenCluster, cluster.go).
// PostgreSQL stays the source of truth: a lost event only delays work, never loses it.
package bus

import (
	"fmt"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Bus is a connection to NATS, and the embedded server when socle runs one.
type Bus struct {
	*nats.Conn
	srv   *natsserver.Server
	peers *peerWatch // clustered embedded server only
}

// Open connects to url, or starts an embedded server reachable only from this process when
// url is empty.
func Open(url string) (*Bus, error) {
	if url != "" {
		nc, err := nats.Connect(url, nats.Name("socle"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("bus: connect to SOCLE_NATS_URL: %w", err)
		}
		return &Bus{Conn: nc}, nil
	}
	srv, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "socle-embedded",
		DontListen: true, // in-process only: nothing to secure on the network
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: embedded server did not start")
	}
	nc, err := nats.Connect("", nats.Name("socle"), nats.InProcessServer(srv))
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("bus: connect to embedded server: %w", err)
	}
	return &Bus{Conn: nc, srv: srv}, nil
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	b.Conn.Drain()
	b.Conn.Close()
	if b.peers != nil {
		b.peers.stop()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
