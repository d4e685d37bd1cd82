package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"socle/internal/collab"
	"socle/internal/emergency/aml"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/gateway"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/visio"
	"socle/internal/wallet"
)

// replica is one `socle serve` process of the three, with its own data directory and fixed
// addresses, so that it comes back where the others and the operators expect it.
type replica struct {
	name          string
	env           []string
	ic, ops, cl   string
	logs          *os.File
	cmd           *exec.Cmd
	exited        chan struct{}
	mu            sync.Mutex
	ready         bool // /readyz said 200 at the last probe
	readyProbeErr string
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	r.cmd = serve(t, r.env, r.logs)
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.exited)
}

func (r *replica) isReady() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.ready }

// load is the operators: workers pushing AML through a balancer of their own that sends
// each push to a replica whose /readyz answers 200 (as a load balancer's health check
// would), round robin; a push that fails is sent again, same bytes, to the next replica, as
// an operator's client retries. A retry of a message a replica had stored before failing
// finds it by its dedupe key and answers with the same id.
type load struct {
	mu        sync.Mutex
	replicas  []*replica
	next      int
	seq       int
	accepted  []string        // ids answered 202, in order
	ids       map[string]bool // the same, as a set
	failed    int             // pushes that failed (refused, reset, 5xx, timeout)
	retried   int             // messages that needed more than one push
	sameID    int             // retries answered "duplicate" with the id of a copy stored by a failed push
	failedBy  map[string]int  // failures by cause, for the log
	stop      chan struct{}
	giveUp    chan struct{} // closed when the test fails: pushes stop retrying
	wg        sync.WaitGroup
	pushLimit time.Duration
}

func (l *load) pick() *replica {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(l.replicas); i++ {
		r := l.replicas[(l.next+i)%len(l.replicas)]
		if r.isReady() {
			l.next = (l.next + i + 1) % len(l.replicas)
			return r
		}
	}
	// No replica is ready (the database is down): a balancer with no healthy backend
	// tries them all.
	r := l.replicas[l.next%len(l.replicas)]
	l.next = (l.next + 1) % len(l.replicas)
	return r
}

func (l *load) counts() (accepted, failed, retried, sameID int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted), l.failed, l.retried, l.sameID
}

// push sends one message until a replica answers 202.
func (l *load) push(ctx context.Context, client *http.Client, body []byte) {
	for attempt := 1; ; attempt++ {
		r := l.pick()
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		status, b, err := testbed.Push(pctx, client, "https://"+r.ic, "application/x-www-form-urlencoded", body, nil)
		cancel()
		if err == nil && status == http.StatusAccepted {
			var a struct {
				ID        string
				Duplicate bool
			}
			json.Unmarshal(b, &a)
			l.mu.Lock()
			l.accepted = append(l.accepted, a.ID)
			l.ids[a.ID] = true
			if attempt > 1 {
				l.retried++
				if a.Duplicate {
					l.sameID++
				}
			}
			l.mu.Unlock()
			return
		}
		cause := fmt.Sprintf("HTTP %d", status)
		if err != nil {
			cause = errorKind(err)
		}
		l.mu.Lock()
		l.failed++
		l.failedBy[cause]++
		l.mu.Unlock()
		// The operator's back-off before the next replica. It retries even once the load is
		// stopping: an operator does not drop an emergency call's location.
		select {
		case <-l.giveUp:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errorKind names a failed push's cause without its addresses.
func errorKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "EOF", "deadline exceeded", "broken pipe", "server closed"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	return s
}

// run starts workers, each pushing one message every interval.
func (l *load) run(ctx context.Context, client *http.Client, workers int, interval time.Duration) {
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				l.mu.Lock()
				l.seq++
				n := l.seq
				l.mu.Unlock()
				body := aml.EncodeHTTPS(aml.Message{DeviceNumber: fmt.Sprintf("+3362%07d", n), EmergencyNumber: "112",
					NetworkMCC: "001", NetworkMNC: "01",
					Location: &aml.Location{Latitude: 48.85, Longitude: 2.35, Accuracy: 20, Source: aml.SourceGPS}})
				l.push(ctx, client, body)
			}
		}()
	}
}

// phase is what one step of the test measured.
type phase struct {
	name                                      string
	accepted, failed, retried, sameID         int
	delivered, duplicates, unacknowledged     int
	took                                      time.Duration
	acceptedBefore, failedBefore, retriedPrev int
	sameIDBefore, dupBefore                   int
	start                                     time.Time
}

// TestSeveralReplicasOneTruth runs three `socle serve` replicas on one PostgreSQL (a primary
// with a synchronous streaming replica) and one NATS cluster formed by their embedded
// servers, under a steady AML load spread over them, and shows through three ordeals —
// kill -9 of a replica, a rolling restart of all three, the database's failover to its
// replica — that every message answered 202 reaches its PSAP, and how many pushes failed and
// were covered by a retry.
func TestSeveralReplicasOneTruth(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	pg := startPGPair(t)
	admin, err := pgx.Connect(ctx, pg.primaryURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE socle"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	url := pg.url("socle")
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for _, m := range []database.Migrations{identity.Migrations(), schema.Migrations(), visio.Migrations(), gateway.Migrations(), wallet.Migrations(), collab.Migrations()} {
		if _, err := database.Apply(ctx, pool, m, "test"); err != nil {
			t.Fatal(err)
		}
	}
	shared := t.TempDir() // the PKI (as a Secret mounted in every pod) and the PSAP simulator's
	bed, err := testbed.New(shared, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	bed.Close()

	l := &load{ids: map[string]bool{}, failedBy: map[string]int{}, stop: make(chan struct{}), giveUp: make(chan struct{})}
	psap := startPSAPSim(t, bed)

	// Three replicas, addresses fixed in advance (a StatefulSet's pods have known names): the
	// same route list, each one's own address included, for all.
	pkiFile := func(name string) string { return filepath.Join(bed.PKIDir, name) }
	var routes []string
	reps := make([]*replica, 3)
	for i := range reps {
		r := &replica{name: fmt.Sprintf("replica-%d", i),
			ic: fmt.Sprintf("127.0.0.1:%d", freePort(t)), ops: fmt.Sprintf("127.0.0.1:%d", freePort(t)), cl: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
		routes = append(routes, "nats-route://"+r.cl)
		reps[i] = r
	}
	for _, r := range reps {
		dataDir := t.TempDir()
		r.env = []string{"SOCLE_DATA_DIR=" + dataDir, "SOCLE_DATABASE_URL=" + url, "SOCLE_MIGRATE=never",
			"SOCLE_SERVICES=emergency",
			"SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=" + r.ic, "SOCLE_OPS_ADDR=" + r.ops,
			"SOCLE_TLS_CERT=" + pkiFile("server.crt"), "SOCLE_TLS_KEY=" + pkiFile("server.key"),
			"SOCLE_CLIENT_CA=" + pkiFile("ca.crt"),
			"SOCLE_CLIENT_CERT=" + pkiFile("socle-client.crt"), "SOCLE_CLIENT_KEY=" + pkiFile("socle-client.key"),
			"SOCLE_NATS_CLUSTER_ADDR=" + r.cl, "SOCLE_NATS_ROUTES=" + strings.Join(routes, ","),
			"SOCLE_SHUTDOWN_DRAIN=1s",
			"SOCLE_EMERGENCY_DELIVERY_TIMEOUT=2s", "SOCLE_EMERGENCY_DELIVERY_LEASE=3s", "SOCLE_LOG_LEVEL=warn"}
		r.logs, _ = os.Create(filepath.Join(dataDir, "socle.log"))
		defer r.logs.Close()
		r.start(t)
	}
	defer func() {
		for _, r := range reps {
			r.cmd.Process.Signal(syscall.SIGTERM)
			<-r.exited
		}
		if t.Failed() || os.Getenv("SOCLE_TEST_REPLICA_LOGS") != "" {
			for _, r := range reps {
				b, _ := os.ReadFile(r.logs.Name())
				t.Logf("%s's log (last 3000 bytes):\n%s", r.name, tail(b, 3000))
			}
		}
	}()
	l.replicas = reps

	// The balancer's health checks.
	probe, err := bed.Client("", 3)
	if err != nil {
		t.Fatal(err)
	}
	probe.Timeout = 2 * time.Second
	probing := make(chan struct{})
	var probes sync.WaitGroup
	for _, r := range reps {
		probes.Add(1)
		go func() {
			defer probes.Done()
			for {
				ok, why := readyz(probe, r.ops)
				r.mu.Lock()
				r.ready, r.readyProbeErr = ok, why
				r.mu.Unlock()
				select {
				case <-probing:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	defer func() { close(probing); probes.Wait() }()
	allReady := func() bool { return reps[0].isReady() && reps[1].isReady() && reps[2].isReady() }
	waitUntil(t, 90*time.Second, "three replicas ready", allReady)
	waitPeers := func(what string) {
		waitUntil(t, 30*time.Second, what, func() bool {
			for _, r := range reps {
				if metricOf(probe, r.ops, "socle_bus_peers") != 2 {
					return false
				}
			}
			return true
		})
	}
	waitPeers("the replicas' NATS servers routed to each other")
	t.Logf("three replicas ready, NATS cluster formed, after %s", time.Since(began).Round(100*time.Millisecond))

	client, err := bed.Client("demo-operator", 12)
	if err != nil {
		t.Fatal(err)
	}
	// Four operators' connections, a push every 40 ms each: ~100 AML/s at most.
	l.run(ctx, client, 4, 40*time.Millisecond)
	stopped := false
	defer func() {
		if !stopped {
			close(l.stop)
			close(l.giveUp)
			l.wg.Wait()
		}
	}()
	acceptedNow := func() int { a, _, _, _ := l.counts(); return a }
	more := func(n int, what string) {
		t.Helper()
		from := acceptedNow()
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d more messages accepted %s", n, what), func() bool { return acceptedNow() >= from+n })
	}

	var phases []*phase
	begin := func(name string) *phase {
		l.mu.Lock()
		defer l.mu.Unlock()
		p := &phase{name: name, start: time.Now(), acceptedBefore: len(l.accepted), failedBefore: l.failed,
			retriedPrev: l.retried, sameIDBefore: l.sameID, dupBefore: psap.duplicates()}
		phases = append(phases, p)
		return p
	}
	// end waits until every message accepted so far reached a PSAP, and takes the figures.
	end := func(p *phase) {
		t.Helper()
		l.mu.Lock()
		upTo := len(l.accepted)
		l.mu.Unlock()
		waitUntil(t, 60*time.Second, p.name+": every accepted message delivered", func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, id := range l.accepted[:upTo] {
				if psap.times(id) == 0 {
					return false
				}
			}
			return true
		})
		l.mu.Lock()
		defer l.mu.Unlock()
		p.accepted = upTo - p.acceptedBefore
		for _, id := range l.accepted[p.acceptedBefore:upTo] {
			if psap.times(id) > 0 {
				p.delivered++
			}
		}
		p.failed, p.retried, p.sameID = l.failed-p.failedBefore, l.retried-p.retriedPrev, l.sameID-p.sameIDBefore
		p.duplicates = psap.duplicates() - p.dupBefore
		p.took = time.Since(p.start)
		if lost := p.accepted - p.delivered; lost != 0 {
			t.Errorf("%s: %d accepted messages lost", p.name, lost)
		}
		t.Logf("%s: %d accepted, %d delivered, 0 lost, %d duplicates at the PSAPs (same Message-Id), %d pushes failed → %d messages retried and accepted (%d of them already stored: same id), in %s",
			p.name, p.accepted, p.delivered, p.duplicates, p.failed, p.retried, p.sameID, p.took.Round(100*time.Millisecond))
	}

	// (a) kill -9 of one replica under load, then its restart.
	pa := begin("kill -9 of a replica")
	more(150, "on three replicas")
	reps[0].cmd.Process.Signal(syscall.SIGKILL)
	<-reps[0].exited
	more(150, "on two replicas")
	reps[0].start(t)
	waitUntil(t, 90*time.Second, "the killed replica ready again", allReady)
	waitPeers("the restarted replica back in the NATS cluster")
	more(100, "on three replicas again")
	end(pa)

	// (b) a rolling restart: each replica in turn leaves gracefully (SIGTERM: /readyz 503,
	// connections drained), comes back, and is ready before the next one goes.
	pb := begin("rolling restart")
	for _, r := range reps {
		r.cmd.Process.Signal(syscall.SIGTERM)
		// It leaves the balancer's rotation by saying so, while still serving.
		waitUntil(t, 10*time.Second, r.name+"'s /readyz saying it is shutting down", func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return !r.ready && strings.Contains(r.readyProbeErr, "shutting down")
		})
		<-r.exited
		if code := r.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM", r.name, code)
		}
		more(50, "while "+r.name+" is down")
		r.start(t)
		waitUntil(t, 90*time.Second, r.name+" ready again", allReady)
	}
	waitPeers("the NATS cluster whole again")
	more(100, "after the rolling restart")
	end(pb)

	// (c) the primary database dies (kill -9 of every PostgreSQL process) and its
	// synchronous replica is promoted; socle finds the new primary by its URL's host list.
	pc := begin("PostgreSQL failover")
	more(150, "before the failover")
	_, failedBefore, _, _ := l.counts()
	// The replicas' LISTEN connections (directory, ported numbers...) must find the new
	// primary too, or their caches would stop following the tables.
	listeners := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = 'socle' AND application_name = 'socle' AND query LIKE 'LISTEN %'`).Scan(&n); err != nil {
			return -1
		}
		return n
	}
	listening := listeners()
	if listening < len(reps) {
		t.Fatalf("%d LISTEN connections on the primary for %d replicas", listening, len(reps))
	}
	pg.killPrimary(t)
	// The operators see it (503 "not stored") before the replica is promoted.
	waitUntil(t, 30*time.Second, "pushes refused while the database is down", func() bool {
		_, f, _, _ := l.counts()
		return f >= failedBefore+4
	})
	pg.promote(t)
	t.Logf("PostgreSQL: primary killed, replica promoted %s later", time.Since(pg.primaryKilledAt).Round(10*time.Millisecond))
	more(300, "on the promoted replica")
	waitUntil(t, 30*time.Second, fmt.Sprintf("the %d LISTEN connections back on the promoted replica", listening),
		func() bool { return listeners() == listening })
	close(l.stop)
	// The pushes under way finish: each is retried until a replica accepts it.
	finished := make(chan struct{})
	go func() { l.wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		close(l.giveUp)
		<-finished
		stopped = true
		t.Fatal("after 60s: pushes still failing once the load stopped")
	}
	stopped = true
	end(pc)

	// The database converges: every delivery recorded (a killed node's unrecorded ones are
	// sent again once their lease lapses, same Message-Id, and recorded).
	pool2, err := database.Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	waitUntil(t, 60*time.Second, "every delivery recorded", func() bool { return intaketest.Count(t, pool2).Undelivered == 0 })

	// Every replica's memory of recent calls, which answers PSAPs' location queries, holds
	// every caller: its own and those the others announced on the NATS cluster (or that it
	// loaded from PostgreSQL when it started or a peer came back).
	l.mu.Lock()
	callers := len(l.ids)
	l.mu.Unlock()
	waitUntil(t, 30*time.Second, fmt.Sprintf("the %d callers in every replica's memory of recent calls", callers), func() bool {
		for _, r := range reps {
			if metricOf(probe, r.ops, "socle_emergency_pull_recent_numbers") != callers {
				return false
			}
		}
		return true
	})

	l.mu.Lock()
	unack := 0
	for _, id := range psap.ids() {
		if !l.ids[id] {
			unack++
		}
	}
	total, dups := len(l.accepted), psap.duplicates()
	causes := fmt.Sprint(l.failedBy)
	l.mu.Unlock()
	t.Logf("in all: %d accepted, all delivered; %d duplicates at the PSAPs; %d delivered that no operator had a 202 for; failures by cause: %s; test took %s",
		total, dups, unack, causes, time.Since(began).Round(100*time.Millisecond))
	if unack != 0 {
		t.Errorf("%d messages delivered without a 202: an operator's retry should have found each by its dedupe key", unack)
	}
}

// readyz probes a replica as a balancer would.
func readyz(c *http.Client, ops string) (bool, string) {
	resp, err := c.Get("https://" + ops + "/readyz")
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusOK, string(b)
}

// metricOf reads a gauge without labels from a replica's /metrics (-1 if unreadable).
func metricOf(c *http.Client, ops, name string) int {
	resp, err := c.Get("https://" + ops + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	var n float64
	fmt.Sscan(string(m[1]), &n)
	return int(n)
}
