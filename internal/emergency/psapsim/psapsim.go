// Package psapsim is a PSAP simulator: an HTTPS server requiring client certificates that
// receives PIDF-LO pushes like an emergency centre would, prints what it receives, and can be
// told to fail or be slow. `socle sim psap` runs it; tests and the benchmark embed it.
package psapsim

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"socle/internal/emergency/pidflo"
)

// Received is one push as the simulator saw it.
type Received struct {
	At        time.Time
	PSAP      string // last path element: which simulated centre
	MessageID string
	Repeat    bool // the same Message-Id came before
	Document  pidflo.Document
	Body      []byte
}

// Sim is the simulator's handler.
type Sim struct {
	// Out, if set, gets one human-readable line per push.
	Out io.Writer
	// OnReceive, if set, is called for every push.
	OnReceive func(Received)
	// SkipDecode acknowledges pushes without parsing them (Document stays empty): for
	// benchmarks, so that the simulator's own XML parsing is not counted against socle.
	SkipDecode bool

	down  atomic.Bool
	delay atomic.Int64
	mu    sync.Mutex
	seen  map[string]bool
	count atomic.Int64
}

// New returns a simulator.
func New(out io.Writer) *Sim { return &Sim{Out: out, seen: map[string]bool{}} }

// SetDown makes the simulator answer 503 to every push (a centre out of service).
func (s *Sim) SetDown(down bool) { s.down.Store(down) }

// SetDelay makes every answer wait d.
func (s *Sim) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// Count is the number of pushes acknowledged.
func (s *Sim) Count() int64 { return s.count.Load() }

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a PIDF-LO document", http.StatusMethodNotAllowed)
		return
	}
	if d := s.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	if s.down.Load() {
		http.Error(w, "centre out of service (simulated)", http.StatusServiceUnavailable)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/pidf+xml") {
		http.Error(w, "want Content-Type application/pidf+xml", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var doc pidflo.Document
	if !s.SkipDecode {
		if doc, err = pidflo.Decode(body); err != nil {
			http.Error(w, "not a PIDF-LO document: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	id := r.Header.Get("Message-Id")
	s.mu.Lock()
	repeat := s.seen[id]
	s.seen[id] = true
	s.mu.Unlock()
	rec := Received{At: time.Now(), PSAP: r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], MessageID: id,
		Repeat: repeat, Document: doc, Body: body}
	s.count.Add(1)
	if s.OnReceive != nil {
		s.OnReceive(rec)
	}
	if s.Out != nil {
		fmt.Fprintln(s.Out, rec.String())
	}
	w.WriteHeader(http.StatusNoContent)
}

// String is the line printed for a push.
func (r Received) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s PSAP %s reçu %s de %s", r.At.Format("15:04:05.000"), r.PSAP, r.MessageID, r.Document.Entity)
	if r.Repeat {
		b.WriteString(" (répétition)")
	}
	for _, l := range r.Document.Locations {
		switch s := l.Shape.(type) {
		case pidflo.Circle:
			fmt.Fprintf(&b, " cercle %.6f,%.6f r=%.0fm", s.Lat, s.Lon, s.Radius)
		case pidflo.Point:
			fmt.Fprintf(&b, " point %.6f,%.6f", s.Lat, s.Lon)
		default:
			fmt.Fprintf(&b, " %T", s)
		}
		if l.Confidence > 0 {
			fmt.Fprintf(&b, " confiance=%d%%", l.Confidence)
		}
		if l.Method != "" {
			fmt.Fprintf(&b, " méthode=%s", l.Method)
		}
	}
	return b.String()
}
