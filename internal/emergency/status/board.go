// Package status is the emergency platform's public weather ("météo"): whether AML intake,
// delivery to the PSAPs, the location pull and the routing tables work, and each operator's
// and PSAP's link, computed from live signals — TLS handshakes to every endpoint at an
// interval, the outcome and latency of every delivery, the age of the last good exchange —
// never typed by hand. Administrators add incidents, maintenance windows and news.
//
// Every node observes what it can reach and publishes its report on the bus; every node
// merges the reports of all the nodes it heard from lately, so that each replica's page says
// the same, and says it while PostgreSQL is down (the history and the posts, which live
// there, are then shown as last read, and the page says so).
package status

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Level is how a component is.
type Level string

const (
	Operational Level = "operational"
	Degraded    Level = "degraded"
	Down        Level = "down"
)

func (l Level) rank() int {
	switch l {
	case Down:
		return 2
	case Degraded:
		return 1
	}
	return 0
}

// worse returns the worse of two levels.
func worse(a, b Level) Level {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Kinds of component, as /status.json names them.
const (
	KindService  = "service"
	KindOperator = "operator"
	KindPSAP     = "psap"
)

// Seen is one node's view of one component.
type Seen struct {
	ID     string    `json:"id"` // "service:intake", "psap:bspp", "operator:demo-mobile"
	Name   string    `json:"name"`
	Kind   string    `json:"kind"`
	Level  Level     `json:"status"`
	Why    Reason    `json:"why,omitzero"`
	LastOK time.Time `json:"last_ok,omitzero"` // the last good exchange this node saw
}

// Report is what a node publishes at each tick.
type Report struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
	Seen []Seen    `json:"seen"`
}

// Component is a component as the page shows it, all nodes heard.
type Component struct {
	ID     string    `json:"id"`
	Name   string    `json:"name"`
	Kind   string    `json:"kind"`
	Status Level     `json:"status"`
	Since  time.Time `json:"since"`
	Detail string    `json:"detail"` // why, in French (the page's default language)

	Why    Reason    `json:"-"`
	LastOK time.Time `json:"-"` // the last good exchange any node saw
}

// Reason says why a component is not operational: a key of the words, and its values
// (numbers and texts: it travels on the bus as JSON).
type Reason struct {
	Key  string `json:"key"`
	Args []any  `json:"args,omitempty"`
}

func why(key string, args ...any) Reason { return Reason{Key: key, Args: args} }

// Text is the reason, and the last good exchange, in lang.
func (c Component) Text(lang string, now time.Time) string {
	var parts []string
	if c.Why.Key != "" {
		args := append([]any(nil), c.Why.Args...)
		if strings.HasPrefix(c.Why.Key, "probe.") && len(args) > 0 {
			args[0] = messages.T(lang, fmt.Sprint("target.", args[0]))
		}
		parts = append(parts, fmt.Sprintf(messages.T(lang, "why."+c.Why.Key), args...))
	}
	if !c.LastOK.IsZero() {
		parts = append(parts, messages.T(lang, "last.ok")+" "+ago(lang, now, c.LastOK))
	}
	return strings.Join(parts, " ; ")
}

// Board merges the nodes' reports. A report older than staleAfter is forgotten: its node is
// gone, or cut off.
type Board struct {
	staleAfter time.Duration

	mu      sync.Mutex
	reports map[string]Report // by node
	since   map[string]sinceAt
	heard   chan struct{} // ticks after each report put
}

type sinceAt struct {
	level Level
	at    time.Time
}

// NewBoard returns a board forgetting reports older than staleAfter.
func NewBoard(staleAfter time.Duration) *Board {
	return &Board{staleAfter: staleAfter, reports: map[string]Report{}, since: map[string]sinceAt{}, heard: make(chan struct{}, 1)}
}

// Heard ticks after a report is put (ticks coalesce): for whoever waits for a node's report
// to reach this board.
func (b *Board) Heard() <-chan struct{} { return b.heard }

// Put records a node's report, its own or another's, unless it is older than the one held.
func (b *Board) Put(r Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.reports[r.Node]; ok && old.At.After(r.At) {
		return
	}
	b.reports[r.Node] = r
	select {
	case b.heard <- struct{}{}:
	default:
	}
}

// Components merges the fresh reports at now. A component is down when every node that sees it
// sees it down (a PSAP one node cannot reach still gets its messages through the others:
// degraded), degraded when any node sees it less than operational, operational otherwise.
// Since is when its merged level last changed, as this node saw it.
func (b *Board) Components(now time.Time) []Component {
	b.mu.Lock()
	defer b.mu.Unlock()
	type acc struct {
		Component
		all, down int
	}
	byID := map[string]*acc{}
	for node, r := range b.reports {
		if now.Sub(r.At) > b.staleAfter {
			delete(b.reports, node)
			continue
		}
		for _, s := range r.Seen {
			a := byID[s.ID]
			if a == nil {
				a = &acc{Component: Component{ID: s.ID, Name: s.Name, Kind: s.Kind, Status: Operational}}
				byID[s.ID] = a
			}
			a.all++
			if s.Level == Down {
				a.down++
			}
			if s.Level != Operational {
				a.Status = worse(a.Status, Degraded)
				if a.Why.Key == "" || s.Level == Down {
					a.Why = s.Why
				}
			}
			if s.LastOK.After(a.LastOK) {
				a.LastOK = s.LastOK
			}
		}
	}
	out := make([]Component, 0, len(byID))
	for _, a := range byID {
		if a.down == a.all {
			a.Status = Down
		}
		if a.Status == Operational {
			a.Why = Reason{}
		}
		a.Detail = a.Text("fr", now)
		s, ok := b.since[a.ID]
		if !ok || s.level != a.Status {
			s = sinceAt{level: a.Status, at: now}
			b.since[a.ID] = s
		}
		a.Since = s.at
		out = append(out, a.Component)
	}
	slices.SortFunc(out, func(x, y Component) int {
		return cmp.Or(cmp.Compare(kindOrder(x.Kind), kindOrder(y.Kind)), cmp.Compare(serviceOrder(x.ID), serviceOrder(y.ID)),
			cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	return out
}

func kindOrder(k string) int {
	switch k {
	case KindService:
		return 0
	case KindOperator:
		return 1
	}
	return 2
}

// serviceOrder puts the services in the order a message goes through them.
func serviceOrder(id string) int {
	if i := slices.Index([]string{"service:intake", "service:routing", "service:delivery", "service:forward", "service:pull"}, id); i >= 0 {
		return i
	}
	return 99
}

// ago says how long ago t was, in lang, to the second under a minute.
func ago(lang string, now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return messages.T(lang, "ago.now")
	case d < time.Minute:
		return fmt.Sprintf(messages.T(lang, "ago.s"), int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf(messages.T(lang, "ago.min"), int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf(messages.T(lang, "ago.h"), int(d/time.Hour))
	}
	return fmt.Sprintf(messages.T(lang, "ago.days"), int(d/(24*time.Hour)))
}
