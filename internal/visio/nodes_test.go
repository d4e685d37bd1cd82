package visio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"socle/internal/platform/bus"
	"socle/internal/platform/database/dbtest"
)

// testNode is a media node as the placement sees it: a registry row and a ping answer on a
// real (embedded) NATS server, with the load it is told to report.
type testNode struct {
	*nodes
	ping         *nats.Subscription
	participants int
}

func newTestNode(t *testing.T, id string, limit int, n *nodes) *testNode {
	t.Helper()
	tn := &testNode{nodes: newNodes(id, limit, n.pool, n.nc, slog.New(slog.DiscardHandler))}
	tn.load = func() (int, int, uint64) { return tn.participants, 0, 0 }
	var err error
	if tn.ping, err = n.nc.Subscribe(pingSubject(id), func(m *nats.Msg) { m.Respond(nil) }); err != nil {
		t.Fatal(err)
	}
	n.nc.Flush()
	tn.reportNow(t)
	return tn
}

func (tn *testNode) reportNow(t *testing.T) {
	t.Helper()
	if err := tn.report(context.Background(), func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
}

// die is kill -9 as the bus sees it: nobody answers the node's pings any more. Its registry
// row stays (as for the few seconds before it is stale).
func (tn *testNode) die(t *testing.T) {
	tn.ping.Unsubscribe()
	tn.nc.Flush()
}

func placementEnv(t *testing.T) *nodes {
	t.Helper()
	pool := dbtest.New(t, Migrations())
	b, err := bus.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &nodes{pool: pool, nc: b.Conn}
}

func TestPlacementRaceHasOneWinnerPerRoom(t *testing.T) {
	env := placementEnv(t)
	a, b := newTestNode(t, "node-a", 0, env), newTestNode(t, "node-b", 0, env)
	const rooms = 12
	got := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range rooms {
		for _, placer := range []*testNode{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				room := fmt.Sprintf("salle-%d", i)
				node, err := placer.place(context.Background(), room, true)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[room] = append(got[room], node)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	on := map[string]int{}
	for room, nodes := range got {
		if len(nodes) != 2 || nodes[0] != nodes[1] {
			t.Errorf("%s: the two placers disagree: %v", room, nodes)
		}
		on[nodes[0]]++
	}
	created := count(a.placements.WithLabelValues("created")) + count(b.placements.WithLabelValues("created"))
	if created != rooms {
		t.Errorf("%v placements created for %d rooms: some room was placed twice", created, rooms)
	}
	// Placed meetings count as load: neither node gets them all.
	if on["node-a"] == 0 || on["node-b"] == 0 {
		t.Errorf("meetings not spread: %v", on)
	}
	t.Logf("%d rooms placed by two racing placers: %v", rooms, on)
}

func TestPlacementOfADeadNodesMeetingMovesOnce(t *testing.T) {
	env := placementEnv(t)
	a, b, c := newTestNode(t, "node-a", 0, env), newTestNode(t, "node-b", 0, env), newTestNode(t, "node-c", 0, env)
	// node-b is the least loaded: the meeting goes there.
	a.participants, c.participants = 5, 5
	a.reportNow(t)
	c.reportNow(t)
	if node, err := a.place(context.Background(), "salle", true); err != nil || node != "node-b" {
		t.Fatalf("placed on %q (%v), want node-b, the least loaded", node, err)
	}
	b.die(t)
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i, placer := range []*testNode{a, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node, err := placer.place(context.Background(), "salle", true)
			if err != nil {
				t.Error(err)
			}
			got[i] = node
		}()
	}
	wg.Wait()
	if got[0] != got[1] || got[0] == "node-b" || got[0] == "" {
		t.Fatalf("after node-b died the placers chose %v: want one live node for both", got)
	}
	moved := count(a.placements.WithLabelValues("moved")) + count(c.placements.WithLabelValues("moved"))
	if moved != 1 {
		t.Errorf("the placement was moved %v times, want once (compare-and-set)", moved)
	}
}

func TestPlacementHonoursTheNodesLimits(t *testing.T) {
	env := placementEnv(t)
	a, b := newTestNode(t, "node-a", 10, env), newTestNode(t, "node-b", 10, env)
	a.participants = 10 // at its limit
	a.reportNow(t)
	for i := range 3 {
		if node, err := a.place(context.Background(), fmt.Sprintf("salle-%d", i), true); err != nil || node != "node-b" {
			t.Fatalf("placed on %q (%v): node-a is at its limit", node, err)
		}
	}
	b.participants = 10
	b.reportNow(t)
	_, err := b.place(context.Background(), "une-de-trop", true)
	if !errors.Is(err, ErrNodesFull) {
		t.Fatalf("every node full: got %v, want ErrNodesFull", err)
	}
	if v := count(b.placements.WithLabelValues("full")); v != 1 {
		t.Errorf("placements full counter %v, want 1", v)
	}
	// A guest places nothing: no placement, no meeting.
	if node, err := a.place(context.Background(), "personne", false); err != nil || node != "node-a" {
		t.Errorf("a guest's placement of an unplaced room: %q (%v), want this node's own lookup", node, err)
	}
	// A meeting already placed is still reached when its node is full: only new ones are refused.
	if node, err := a.place(context.Background(), "salle-0", true); err != nil || node != "node-b" {
		t.Errorf("salle-0 now on %q (%v), want node-b where it is", node, err)
	}
}

func count(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}
