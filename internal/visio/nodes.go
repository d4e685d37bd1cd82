package visio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/visio/sfu"
)

// Several media nodes (docs/visio-nodes.md): every `socle serve --services visio` process
// is a node whose SFU holds whole meetings (a meeting never spans nodes, as in LiveKit's
// open-source server and Jitsi without Octo). Each node reports its load to PostgreSQL every
// reportEvery; a meeting is placed, when its first participant comes, on the least-loaded
// live node under its limit; the web replica that holds a participant's WebSocket relays
// their signalling to the meeting's node over NATS (remote.go).
//
// The registry and the placements are in PostgreSQL rather than in a NATS key-value bucket:
// a bucket needs JetStream, and JetStream's clustered metadata needs a majority of the
// servers, which two nodes do not have once one is gone — the very case this exists for.
// PostgreSQL is already shared by every replica and gives the same two operations: create if
// absent (INSERT … ON CONFLICT DO NOTHING) and compare-and-set (UPDATE … WHERE node = old).
const (
	reportEvery = 2 * time.Second
	// A node silent for three reports is gone from the registry.
	reportsMissed = 3
	pingTimeout   = time.Second
)

var nodeIDChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// nodeID is the node's stable name: the setting, or the host's name with a hash of the data
// directory (several processes may share a host). It is a NATS subject token, so only
// letters, digits, - and _.
func nodeID(setting, dataDir string) string {
	if setting != "" {
		return setting
	}
	host, _ := os.Hostname()
	abs, _ := filepath.Abs(dataDir)
	sum := sha256.Sum256([]byte(abs))
	host = nodeIDChars.ReplaceAllString(host, "-")
	if host == "" {
		host = "node"
	}
	return host + "-" + hex.EncodeToString(sum[:4])
}

// Load is what a node reports.
type Load struct {
	Node            string    `json:"node"`
	Seen            time.Time `json:"seen"`
	CPU             float64   `json:"cpu"` // cores used by the process over the last report
	PacketsPerSec   float64   `json:"packets_per_second"`
	Participants    int       `json:"participants"`
	Rooms           int       `json:"rooms"`
	MaxParticipants int       `json:"max_participants"` // 0: no limit
}

// ErrNodesFull is a placement refused: every live node is at its limit.
var ErrNodesFull = errors.New("every media node is at its limit of participants")

// nodes is this node's part of the cluster: its reports, and placing meetings.
type nodes struct {
	id    string
	limit int
	pool  *pgxpool.Pool
	nc    *nats.Conn // nil: no other node can be reached, every meeting is here
	log   *slog.Logger
	// load measures this node (the Service's rooms and SFU peers).
	load func() (participants, rooms int, packets uint64)

	lastCPU     time.Duration
	lastPackets uint64
	lastAt      time.Time

	cpuGauge, ppsGauge, partGauge prometheus.Gauge
	placements                    *prometheus.CounterVec
}

func newNodes(id string, limit int, pool *pgxpool.Pool, nc *nats.Conn, log *slog.Logger) *nodes {
	n := &nodes{id: id, limit: limit, pool: pool, nc: nc, log: log}
	c := prometheus.Labels{"node": id}
	n.cpuGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_node_cpu_cores", ConstLabels: c,
		Help: "CPU used by this media node's process, in cores, over its last load report."})
	n.ppsGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_node_packets_per_second", ConstLabels: c,
		Help: "RTP packets per second this media node's SFU forwarded, over its last load report."})
	n.partGauge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "socle_visio_node_load_ratio", ConstLabels: c,
		Help: "Participants on this media node divided by its limit (SOCLE_VISIO_NODE_LIMIT); 0 without a limit."})
	n.placements = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socle_visio_placements_total",
		Help: "Meetings placed by this replica on a media node: created (new meeting), moved (its node was gone), full (refused: every node at its limit)."},
		[]string{"outcome"})
	return n
}

func (n *nodes) collectors() []prometheus.Collector {
	return []prometheus.Collector{n.cpuGauge, n.ppsGauge, n.partGauge, n.placements}
}

// clustered says whether meetings may be on other nodes.
func (n *nodes) clustered() bool { return n.pool != nil }

// cpuTime is the process' CPU time so far (user and system), from getrusage(2).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure is this node's load now, rates over the time since the last measure.
func (n *nodes) measure() Load {
	now := time.Now()
	cpu := cpuTime()
	parts, rooms, packets := n.load()
	l := Load{Node: n.id, Seen: now, Participants: parts, Rooms: rooms, MaxParticipants: n.limit}
	if !n.lastAt.IsZero() {
		dt := now.Sub(n.lastAt).Seconds()
		l.CPU = (cpu - n.lastCPU).Seconds() / dt
		// Peers that left take their counts with them: a drop is not negative traffic.
		if packets >= n.lastPackets {
			l.PacketsPerSec = float64(packets-n.lastPackets) / dt
		}
	}
	n.lastAt, n.lastCPU, n.lastPackets = now, cpu, packets
	n.cpuGauge.Set(l.CPU)
	n.ppsGauge.Set(l.PacketsPerSec)
	if n.limit > 0 {
		n.partGauge.Set(float64(parts) / float64(n.limit))
	}
	return l
}

// report writes this node's load to the registry, and forgets placements on this node for
// meetings it does not hold (an agent who was placed here and never came) and placements
// on nodes long gone.
func (n *nodes) report(ctx context.Context, holds func(room string) bool) error {
	l := n.measure()
	if n.pool == nil {
		return nil
	}
	_, err := n.pool.Exec(ctx, `
		INSERT INTO visio.nodes (id, seen_at, cpu, packets_per_second, participants, rooms, max_participants)
		VALUES ($1, now(), $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET seen_at = now(), cpu = $2, packets_per_second = $3, participants = $4,
			rooms = $5, max_participants = $6`,
		n.id, l.CPU, l.PacketsPerSec, l.Participants, l.Rooms, l.MaxParticipants)
	if err != nil {
		return fmt.Errorf("visio node report: %w", err)
	}
	rows, _ := n.pool.Query(ctx, `SELECT room FROM visio.placements WHERE node = $1 AND placed_at < now() - interval '1 minute'`, n.id)
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("visio placements: %w", err)
	}
	for _, room := range old {
		if !holds(room) {
			n.pool.Exec(ctx, `DELETE FROM visio.placements WHERE room = $1 AND node = $2 AND placed_at < now() - interval '1 minute'`, room, n.id)
		}
	}
	_, err = n.pool.Exec(ctx, `DELETE FROM visio.placements p WHERE NOT EXISTS
		(SELECT FROM visio.nodes n WHERE n.id = p.node AND n.seen_at > now() - interval '10 minutes')`)
	return err
}

// leave takes this node out of the registry (a clean stop): nobody is placed here any more.
func (n *nodes) leave(ctx context.Context) {
	if n.pool != nil {
		n.pool.Exec(ctx, `DELETE FROM visio.nodes WHERE id = $1`, n.id)
	}
}

// Live are the nodes that reported lately, this one first among equals.
func (n *nodes) live(ctx context.Context) ([]Load, error) {
	rows, _ := n.pool.Query(ctx, `
		SELECT id, seen_at, cpu::float8, packets_per_second::float8, participants, rooms, max_participants FROM visio.nodes
		WHERE seen_at > now() - $1::interval ORDER BY id`, fmt.Sprintf("%d milliseconds", (reportsMissed*reportEvery).Milliseconds()))
	ls, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Load])
	if err != nil {
		return nil, fmt.Errorf("visio nodes: %w", err)
	}
	return ls, nil
}

// alive says whether node answers on the bus now: this node does; another one must answer a
// ping within pingTimeout. The registry's freshness lags by up to three reports, the bus
// knows at once when a node's connection is gone (no responders).
func (n *nodes) alive(node string) bool {
	if node == n.id {
		return true
	}
	if n.nc == nil {
		return false
	}
	_, err := n.nc.Request(pingSubject(node), nil, pingTimeout)
	return err == nil
}

// pick chooses a node for a new meeting: among the live nodes under their limit, the one
// with the fewest participants plus meetings placed on it. Placed meetings count because
// reports lag: meetings created in a burst must not all land on the node that reported
// least; ties are broken at random, as replicas placing at the same instant read the same
// counts. Candidates that do not answer a ping are skipped.
func (n *nodes) pick(ctx context.Context, not string) (string, error) {
	rows, _ := n.pool.Query(ctx, `
		SELECT n.id, n.participants + (SELECT count(*) FROM visio.placements p WHERE p.node = n.id)::int
		FROM visio.nodes n
		WHERE n.seen_at > now() - $1::interval AND n.id <> $2 AND (n.max_participants = 0 OR n.participants < n.max_participants)
		ORDER BY 2, random()`, fmt.Sprintf("%d milliseconds", (reportsMissed*reportEvery).Milliseconds()), not)
	type cand struct {
		ID   string
		Load int
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[cand])
	if err != nil {
		return "", fmt.Errorf("visio placement: %w", err)
	}
	for _, c := range cs {
		if n.alive(c.ID) {
			return c.ID, nil
		}
	}
	return "", ErrNodesFull
}

// place returns the node of room's meeting, placing it if it has none or if its node is
// gone. Two replicas placing the same room at once agree: the first INSERT wins and the
// other reads the winner; a dead node's placement is replaced by compare-and-set, so one
// replica moves it and the others follow.
// A participant who may not open the room (create false: a guest) places nothing: with no
// placement there is no meeting, and this node's own lookup says so.
func (n *nodes) place(ctx context.Context, room string, create bool) (string, error) {
	if !n.clustered() {
		return n.id, nil
	}
	for range 5 {
		var node string
		err := n.pool.QueryRow(ctx, `SELECT node FROM visio.placements WHERE room = $1`, room).Scan(&node)
		switch {
		case errors.Is(err, pgx.ErrNoRows) && !create:
			return n.id, nil
		case errors.Is(err, pgx.ErrNoRows):
			to, err := n.pick(ctx, "")
			if err != nil {
				n.placements.WithLabelValues("full").Inc()
				return "", err
			}
			tag, err := n.pool.Exec(ctx, `INSERT INTO visio.placements (room, node) VALUES ($1, $2) ON CONFLICT (room) DO NOTHING`, room, to)
			if err != nil {
				return "", fmt.Errorf("visio placement: %w", err)
			}
			if tag.RowsAffected() == 1 {
				n.placements.WithLabelValues("created").Inc()
				n.log.Info("meeting placed", "room", room, "node", to)
				return to, nil
			}
			// Another replica placed it meanwhile: read its choice.
		case err != nil:
			return "", fmt.Errorf("visio placement: %w", err)
		default:
			if n.alive(node) {
				return node, nil
			}
			to, err := n.pick(ctx, node)
			if err != nil {
				n.placements.WithLabelValues("full").Inc()
				return "", err
			}
			tag, err := n.pool.Exec(ctx, `UPDATE visio.placements SET node = $3, placed_at = now() WHERE room = $1 AND node = $2`, room, node, to)
			if err != nil {
				return "", fmt.Errorf("visio placement: %w", err)
			}
			if tag.RowsAffected() == 1 {
				n.endConferencesOf(ctx, node)
				n.placements.WithLabelValues("moved").Inc()
				n.log.Warn("meeting moved: its node is gone", "room", room, "from", node, "to", to)
				return to, nil
			}
			// Another replica moved it first (or the meeting ended): read again.
		}
	}
	return "", fmt.Errorf("visio placement of %q: still contended after 5 attempts", room)
}

// endConferencesOf closes the statistics rows a dead node left open, at its last report:
// its meetings ended with it. Their counts (peak, entries) were in its memory and stay 0.
func (n *nodes) endConferencesOf(ctx context.Context, node string) {
	_, err := n.pool.Exec(ctx, `UPDATE visio.conferences SET ended_at = coalesce((SELECT seen_at FROM visio.nodes WHERE id = $1), now())
		WHERE node = $1 AND ended_at IS NULL`, node)
	if err != nil {
		n.log.Warn("a dead node's conferences not closed", "node", node, "error", err)
	}
}

// unplace forgets room's placement on this node once its meeting has ended.
func (n *nodes) unplace(ctx context.Context, room string) {
	if n.pool != nil {
		if _, err := n.pool.Exec(ctx, `DELETE FROM visio.placements WHERE room = $1 AND node = $2`, room, n.id); err != nil {
			n.log.Warn("visio placement not removed", "room", room, "error", err)
		}
	}
}

// forwarded counts the RTP packets the SFU has sent to the peers present.
func forwarded(peers []*sfu.Peer) uint64 {
	var total uint64
	for _, p := range peers {
		for _, st := range p.Stats() {
			if st.Direction == sfu.Outbound {
				total += st.Packets
			}
		}
	}
	return total
}

func pingSubject(node string) string { return "visio.node." + node + ".ping" }
func openSubject(node string) string { return "visio.node." + node + ".open" }

// load measures this node for its reports.
func (s *Service) load() (participants, rooms int, packets uint64) {
	s.mu.Lock()
	for _, r := range s.rooms {
		rooms++
		participants += r.Size()
	}
	s.mu.Unlock()
	var peers []*sfu.Peer
	s.peers.Range(func(_, v any) bool { peers = append(peers, v.(*sfu.Peer)); return true })
	return participants, rooms, forwarded(peers)
}

// holds says whether a meeting of that room is in progress here.
func (s *Service) holds(room string) bool {
	r, _ := s.room(room, false)
	return r != nil
}

// startNode makes this node one of the media nodes: its first report (so that it can be
// chosen as soon as Start returns), its subjects on the bus, then a report every
// reportEvery until Stop.
func (s *Service) startNode(ctx context.Context) error {
	if !s.nodes.clustered() {
		return nil
	}
	// A previous life of this node (same SOCLE_VISIO_NODE_ID) may have died with meetings
	// in progress: they ended then.
	s.nodes.endConferencesOf(ctx, s.nodes.id)
	if err := s.nodes.report(ctx, s.holds); err != nil {
		return err
	}
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if err := s.serveNode(life); err != nil {
		stop()
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(reportEvery)
		defer t.Stop()
		for {
			select {
			case <-life.Done():
				return
			case <-t.C:
			}
			if err := s.nodes.report(life, s.holds); err != nil && life.Err() == nil {
				s.log.Warn("media node load not reported", "error", err)
			}
		}
	}()
	s.res.AddFunc(func() { stop(); <-done })
	s.log.Info("media node", "node", s.nodes.id, "limit", s.nodes.limit)
	return nil
}
