package emergency

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"socle/internal/emergency/pull"
)

// Every node answers location queries from its own memory of recent calls (pull.Calls). A
// node feeds it directly with what it accepts and routes, and announces the same on
// CallsSubject for the other nodes. The bus may drop a message when a node is slow or
// disconnected: after a reconnection, or when another node's route comes up, the node
// reloads its memory from PostgreSQL, the source of truth. The events hold locations
// (personal data) and are believed: an external NATS must use TLS, and only socle's nodes
// may publish on its subjects (the embedded servers' routes admit only socle's certificate).

// announce tells the other nodes. A lost announcement costs another node the fix (it asks
// the operator instead) until its next reload; it never delays this node.
func (s *Service) announce(e pull.CallEvent) {
	e.Node = s.node
	b, err := pull.EncodeCallEvent(e)
	if err != nil {
		s.log.Warn("call not announced on the bus", "error", err)
		return
	}
	s.deps.Bus.Publish(CallsSubject, b)
}

// hearCalls subscribes to the other nodes' announcements, and reloads the memory of recent
// calls whenever the bus comes back after a disconnection.
func (s *Service) hearCalls(ctx context.Context) (*nats.Subscription, error) {
	reload := func() {
		if ctx.Err() != nil {
			return // stopping
		}
		if err := s.calls.Load(ctx, s.deps.Pool); err != nil {
			s.log.Error("recent calls not reloaded after the bus reconnected: other nodes' calls may be missing",
				"error", err)
		}
	}
	s.deps.Bus.SetReconnectHandler(func(*nats.Conn) { go reload() })
	// With socle's own servers clustered, this node's connection never drops: what it may
	// have missed is another node's announcements while their route was down.
	s.deps.Bus.OnPeerJoined(func() { go reload() })
	return s.deps.Bus.Subscribe(CallsSubject, func(m *nats.Msg) {
		e, err := pull.DecodeCallEvent(m.Data, time.Now())
		if err != nil {
			// Only socle's nodes publish here: an event they cannot have sent is a bug or
			// an intruder, worth a line; it is dropped, never half-believed.
			s.log.Warn("call event from the bus dropped", "error", err)
			return
		}
		if e.Node == s.node {
			return
		}
		switch {
		case e.Fix != nil:
			s.calls.Fixed(*e.Fix)
		case e.Routed != nil:
			s.calls.Routed(e.Routed.Device, e.Routed.PSAP, e.Routed.At)
		}
	})
}

// sweepCalls forgets calls older than the pull's maximum age, once a minute.
func (s *Service) sweepCalls(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.calls.Sweep(now)
		}
	}
}
