package status

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"socle/internal/emergency/directory"
)

// Thresholds of the rules below.
const (
	slowHandshake = time.Second     // a handshake slower than this makes a link degraded
	slowDelivery  = 2 * time.Second // so does a delivery slower than this (its p95)
	recentWindow  = 5 * time.Minute // the deliveries the rules look at
	downWindow    = 2 * time.Minute // every delivery failing for this long: down
)

// Observer is what this node sees: TLS handshakes to every PSAP's endpoint and every
// operator's location server, the outcome of every delivery, and whether its database
// answers.
type Observer struct {
	Node      string
	Directory func() *directory.Snapshot
	// ClientCert is socle's certificate towards PSAPs and operators; RootCAs verifies those
	// without a CA of their own in the directory.
	ClientCert tls.Certificate
	RootCAs    *x509.CertPool
	// Ping reports whether this node's database answers.
	Ping func(context.Context) error
	// Forward, if set, reports the cutover relay's forwarding to the legacy platform
	// (docs/operations-cutover.md): the page then shows it as a service.
	Forward func() Forwarding

	mu         sync.Mutex
	received   map[string]time.Time // by operator id: its last message accepted
	probes     map[string]*probe    // by component id
	deliveries map[string][]outcome // by PSAP id, oldest first, recentWindow at most
	dbErr      error
}

type probe struct {
	fails   int // consecutive failed handshakes
	lastErr string
	lastOK  time.Time
	took    time.Duration // the last good handshake's duration
}

type outcome struct {
	at      time.Time
	ok      bool
	latency time.Duration
}

// Delivered records a delivery attempt to a PSAP (delivery.Config.Observe).
func (o *Observer) Delivered(psap string, ok bool, latency time.Duration, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.deliveries == nil {
		o.deliveries = map[string][]outcome{}
	}
	list := append(o.deliveries[psap], outcome{at: at, ok: ok, latency: latency})
	cut := 0
	for cut < len(list) && at.Sub(list[cut].at) > recentWindow {
		cut++
	}
	o.deliveries[psap] = list[cut:]
}

// Received records a message accepted from an operator (its push works).
func (o *Observer) Received(operator string, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.received == nil {
		o.received = map[string]time.Time{}
	}
	if at.After(o.received[operator]) {
		o.received[operator] = at
	}
}

// target is an endpoint to shake hands with.
type target struct {
	id, addr, host string
	ca             *x509.CertPool
}

// Probe shakes hands with every endpoint of the directory at once, each within timeout, and
// pings the database.
func (o *Observer) Probe(ctx context.Context, timeout time.Duration) {
	snap := o.Directory()
	var targets []target
	add := func(id, endpoint string, ca *x509.CertPool) {
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return
		}
		port := u.Port()
		if port == "" {
			port = "443"
		}
		if ca == nil {
			ca = o.RootCAs
		}
		targets = append(targets, target{id: id, addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(), ca: ca})
	}
	if snap != nil {
		for _, p := range snap.PSAPs {
			add("psap:"+p.ID, p.Endpoint, p.CA)
		}
		for _, op := range snap.Operators {
			if op.LocationEndpoint != "" {
				add("operator:"+op.ID, op.LocationEndpoint, op.LocationCA)
			}
		}
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			start := time.Now()
			err := o.handshake(ctx, t, timeout)
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.probes == nil {
				o.probes = map[string]*probe{}
			}
			p := o.probes[t.id]
			if p == nil {
				p = &probe{}
				o.probes[t.id] = p
			}
			if err != nil {
				p.fails++
				p.lastErr = err.Error()
				return
			}
			p.fails, p.lastErr, p.lastOK, p.took = 0, "", time.Now(), time.Since(start)
		})
	}
	var dbErr error
	if o.Ping != nil {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		dbErr = o.Ping(pctx)
		cancel()
	}
	wg.Wait()
	o.mu.Lock()
	o.dbErr = dbErr
	o.mu.Unlock()
}

// handshake opens a TLS connection as socle does to deliver or to query (its client
// certificate, the endpoint's trust anchor) and closes it: the link works up to TLS.
func (o *Observer) handshake(ctx context.Context, t target, timeout time.Duration) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: t.ca, ServerName: t.host, Certificates: []tls.Certificate{o.ClientCert}}}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(hctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Forwarding is the state of the cutover's forwarding, as the forwarder last measured it.
type Forwarding struct {
	Pending int           // messages not yet acknowledged by the legacy platform
	Oldest  time.Duration // how long ago the oldest of them was received
	Alarm   time.Duration // behind when Oldest exceeds it
}

// Report is what this node sees at now.
func (o *Observer) Report(now time.Time) Report {
	snap := o.Directory()
	o.mu.Lock()
	defer o.mu.Unlock()
	r := Report{Node: o.Node, At: now}
	psapDown, psapBad, psaps := 0, 0, 0
	opBad := 0
	if snap != nil {
		for _, p := range snap.PSAPs {
			s := o.psapSeen(p, now)
			psaps++
			switch s.Level {
			case Down:
				psapDown++
			case Degraded:
				psapBad++
			}
			r.Seen = append(r.Seen, s)
		}
		for _, op := range snap.Operators {
			s := Seen{ID: "operator:" + op.ID, Name: op.Name, Kind: KindOperator, Level: Operational}
			if p := o.probes[s.ID]; op.LocationEndpoint != "" && p != nil {
				s.Level, s.Why, s.LastOK = probeLevel(p, "lis")
			}
			if at := o.received[op.ID]; at.After(s.LastOK) {
				s.LastOK = at
			}
			if s.Level != Operational {
				opBad++
			}
			r.Seen = append(r.Seen, s)
		}
	}

	intake := Seen{ID: "service:intake", Name: "Réception des AML", Kind: KindService, Level: Operational}
	if o.dbErr != nil {
		intake.Level, intake.Why = Down, why("db.down")
	}
	delivery := Seen{ID: "service:delivery", Name: "Remise aux centres (PSAP)", Kind: KindService, Level: Operational}
	switch {
	case psaps > 0 && psapDown == psaps:
		delivery.Level, delivery.Why = Down, why("psaps.none")
	case psapDown+psapBad > 0:
		delivery.Level, delivery.Why = Degraded, why("psaps.some", psapDown+psapBad, psaps)
	}
	pull := Seen{ID: "service:pull", Name: "Interrogation de localisation (HELD)", Kind: KindService, Level: Operational}
	if opBad > 0 {
		pull.Level, pull.Why = Degraded, why("lis.some", opBad)
	}
	routing := Seen{ID: "service:routing", Name: "Tables de routage (PDAAU)", Kind: KindService, Level: Operational}
	if snap == nil || len(snap.PSAPs) == 0 {
		routing.Level, routing.Why = Down, why("directory.none")
	} else if o.dbErr != nil {
		routing.Level, routing.Why = Degraded, why("routing.db")
	}
	services := []Seen{intake, delivery, pull, routing}
	if o.Forward != nil {
		f := o.Forward()
		fwd := Seen{ID: "service:forward", Name: "Relais vers l'ancienne plateforme (bascule)", Kind: KindService, Level: Operational}
		if f.Oldest > f.Alarm {
			fwd.Level, fwd.Why = Degraded, why("forward.behind", f.Pending, int(f.Oldest.Seconds()))
		}
		services = append(services, fwd)
	}
	r.Seen = append(services, r.Seen...)
	return r
}

// psapSeen applies the PSAP rules: down when the last two handshakes failed, or every
// delivery of the last two minutes (two at least) failed; degraded when one handshake failed,
// a handshake was slow, the last delivery failed, a quarter of the last five minutes'
// deliveries failed, or they were slow.
func (o *Observer) psapSeen(p *directory.PSAP, now time.Time) Seen {
	s := Seen{ID: "psap:" + p.ID, Name: p.Name, Kind: KindPSAP, Level: Operational}
	if pr := o.probes[s.ID]; pr != nil {
		s.Level, s.Why, s.LastOK = probeLevel(pr, "psap")
	}
	var failed, all, recentN, recentFailed int
	var lastFailed bool
	var latencies []time.Duration
	for _, d := range o.deliveries[p.ID] {
		if now.Sub(d.at) > recentWindow {
			continue
		}
		all++
		lastFailed = !d.ok
		if d.ok {
			latencies = append(latencies, d.latency)
			if d.at.After(s.LastOK) {
				s.LastOK = d.at
			}
		} else {
			failed++
		}
		if now.Sub(d.at) <= downWindow {
			recentN++
			if !d.ok {
				recentFailed++
			}
		}
	}
	switch {
	case recentN >= 2 && recentFailed == recentN:
		s.Level, s.Why = Down, why("deliveries.down", recentN)
	case s.Level != Operational:
	// A link that failed once and works again is operational; one that still fails, or
	// fails often (a quarter of the deliveries, twice at least), is degraded.
	case lastFailed || failed >= 2 && failed*4 >= all:
		s.Level, s.Why = Degraded, why("deliveries.failing", failed, all)
	case len(latencies) > 0:
		slices.Sort(latencies)
		if p95 := latencies[len(latencies)*95/100]; p95 > slowDelivery {
			s.Level, s.Why = Degraded, why("deliveries.slow", p95.Milliseconds())
		}
	}
	return s
}

// probeLevel applies the handshake rules to an endpoint of kind what ("psap", "lis").
func probeLevel(p *probe, what string) (Level, Reason, time.Time) {
	switch {
	case p.fails >= 2:
		return Down, why("probe.down", what, p.fails, p.lastErr), p.lastOK
	case p.fails == 1:
		return Degraded, why("probe.once", what, p.lastErr), p.lastOK
	case p.took > slowHandshake:
		return Degraded, why("probe.slow", what, p.took.Milliseconds()), p.lastOK
	}
	return Operational, Reason{}, p.lastOK
}
