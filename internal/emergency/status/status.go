package status

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Subject is where nodes publish their reports.
const Subject = "socle.emergency.status"

// Address is one of socle's addresses an organisation must let through its firewall.
type Address struct {
	Flow  string // "operators", "psaps", "cced"
	Value string // host:port, an IP range, a URL...
}

// ParseAddresses reads flow=value items (SOCLE_EMERGENCY_STATUS_ADDRESSES).
func ParseAddresses(items []string) ([]Address, error) {
	var out []Address
	for i, it := range items {
		flow, value, ok := strings.Cut(it, "=")
		flow, value = strings.TrimSpace(flow), strings.TrimSpace(value)
		switch {
		case !ok || value == "":
			return nil, fmt.Errorf("SOCLE_EMERGENCY_STATUS_ADDRESSES: item %d %q is not flow=address", i+1, it)
		case flow != "operators" && flow != "psaps" && flow != "cced":
			return nil, fmt.Errorf("SOCLE_EMERGENCY_STATUS_ADDRESSES: item %d: flow %q is not operators, psaps or cced", i+1, flow)
		}
		out = append(out, Address{Flow: flow, Value: value})
	}
	return out, nil
}

// Status runs the weather: at each tick this node probes, reports on the bus, merges what
// every node reported, records the day's worst, and reads the posts and history again.
type Status struct {
	Observer  *Observer
	Board     *Board
	Store     *Store
	Bus       *nats.Conn
	Interval  time.Duration
	Addresses []Address
	Logger    *slog.Logger

	mu      sync.Mutex
	posts   []Post
	history map[string][]Level
	readAt  time.Time // when posts and history were last read
	dbErr   error     // the last failure to read or record them
}

// Subscribe hears the other nodes' reports.
func (s *Status) Subscribe() (*nats.Subscription, error) {
	return s.Bus.Subscribe(Subject, func(m *nats.Msg) {
		var r Report
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Node == "" {
			s.Logger.Warn("status report from the bus dropped", "error", err)
			return
		}
		s.Board.Put(r)
	})
}

// Run ticks until ctx ends.
func (s *Status) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		s.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick is one round: probes (within the interval), the report, the merge, the record.
func (s *Status) Tick(ctx context.Context) {
	s.Observer.Probe(ctx, min(s.Interval, 5*time.Second))
	now := time.Now()
	r := s.Observer.Report(now)
	s.Board.Put(r)
	if b, err := json.Marshal(r); err == nil {
		if err := s.Bus.Publish(Subject, b); err != nil {
			s.Logger.Warn("status report not published", "error", err)
		}
	}
	cs := s.Board.Components(now)
	rctx, cancel := context.WithTimeout(ctx, min(s.Interval, 5*time.Second))
	defer cancel()
	err := s.Store.Record(rctx, now, cs)
	if err == nil {
		err = s.Store.Purge(rctx, now) // the days the bars no longer show
	}
	var posts []Post
	var history map[string][]Level
	if err == nil {
		posts, err = s.Store.Posts(rctx, now, HistoryDays)
	}
	if err == nil {
		history, err = s.Store.History(rctx, now, HistoryDays)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dbErr = err
	if err != nil {
		if ctx.Err() == nil {
			s.Logger.Warn("status: history and posts not read, the page shows the last ones", "error", err)
		}
		return
	}
	s.posts, s.history, s.readAt = posts, history, now
}

// Refresh reads the posts again at once (after an administrator's change).
func (s *Status) Refresh(ctx context.Context) {
	now := time.Now()
	posts, err := s.Store.Posts(ctx, now, HistoryDays)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.posts = posts
	s.mu.Unlock()
}

// View is the page's content at one moment.
type View struct {
	Updated    time.Time
	Components []Component
	Posts      []Post
	History    map[string][]Level
	// Stale, when the database did not answer at the last tick: the posts and history are
	// those read at ReadAt.
	Stale  bool
	ReadAt time.Time
}

// View is what every page of the weather shows now.
func (s *Status) View(now time.Time) View {
	v := View{Updated: now, Components: s.Board.Components(now)}
	s.mu.Lock()
	defer s.mu.Unlock()
	v.Posts, v.History, v.ReadAt, v.Stale = s.posts, s.history, s.readAt, s.dbErr != nil
	return v
}
