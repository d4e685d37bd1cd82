package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"socle/internal/cli"
	"socle/internal/collab"
	"socle/internal/emergency/aml"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/gateway"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/visio"
	"socle/internal/wallet"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "socle-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "socle")
	if out, err := exec.Command("go", "build", "-o", binary, "socle/cmd/socle").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build socle: %v\n%s", err, out)
		os.Exit(1)
	}
	code := dbtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// listening waits for socle, started with port 0 in its addresses, to say where it listens.
func listening(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	var bound map[string]string
	waitUntil(t, 60*time.Second, "socle bound its listeners", func() bool {
		b, err := os.ReadFile(filepath.Join(dataDir, cli.ListenersFile))
		return err == nil && json.Unmarshal(b, &bound) == nil
	})
	return bound
}

// serve starts `socle serve` as its own process.
func serve(t *testing.T, env []string, logs *os.File) *exec.Cmd {
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestNothingAcceptedIsLostWhenSocleIsKilledMidLoad runs the real binaries — `socle serve`
// and `socle sim psap` — pushes from eight operator connections, kills socle with SIGKILL
// mid-load, restarts it, and checks that every message that got a 202 reached its PSAP.
func TestNothingAcceptedIsLostWhenSocleIsKilledMidLoad(t *testing.T) {
	ctx := context.Background()
	url := dbtest.NewURL(t, identity.Migrations(), schema.Migrations(), visio.Migrations(), gateway.Migrations(), wallet.Migrations(), collab.Migrations())
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	dataDir := t.TempDir()
	bed, err := testbed.New(dataDir, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	psap := startPSAPSim(t, bed)

	env := []string{"SOCLE_DATA_DIR=" + dataDir, "SOCLE_DATABASE_URL=" + url, "SOCLE_MIGRATE=never",
		"SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=127.0.0.1:0", "SOCLE_OPS_ADDR=127.0.0.1:0",
		"SOCLE_EMERGENCY_DELIVERY_TIMEOUT=2s", "SOCLE_EMERGENCY_DELIVERY_LEASE=3s", "SOCLE_LOG_LEVEL=warn"}
	logs, _ := os.Create(filepath.Join(dataDir, "socle.log"))
	defer logs.Close()
	proc := serve(t, env, logs)
	// The operators push to the interconnect address the system picked; socle comes back on
	// the same one after the crash, as it would on its configured port.
	ic := listening(t, dataDir)["interconnect"]
	env = append(env, "SOCLE_INTERCONNECT_ADDR="+ic)

	ops := startOperators(t, bed, 8, "+3361", func() string { return ic })
	count := func() int { n, _ := ops.counts(); return n }
	waitUntil(t, 60*time.Second, "300 messages accepted", func() bool { return count() >= 300 })
	proc.Process.Signal(syscall.SIGKILL)
	proc.Wait()
	atKill := count()
	// socle stays down until the operators have seen it down and are retrying.
	_, refusedAtKill := ops.counts()
	waitUntil(t, 30*time.Second, "operators' pushes refused while socle is down", func() bool {
		_, refused := ops.counts()
		return refused >= refusedAtKill+8
	})
	proc = serve(t, env, logs)
	defer func() { proc.Process.Signal(syscall.SIGTERM); proc.Wait() }()
	waitUntil(t, 60*time.Second, "more messages accepted after the restart", func() bool { return count() >= atKill+300 })
	accepted := ops.halt()

	waitUntil(t, 60*time.Second, "every accepted message delivered", func() bool { return psap.delivered(accepted) })
	// Rows the killed process delivered but had not yet recorded are sent again once their
	// lease lapses (same Message-Id) and then recorded: the database converges.
	waitUntil(t, 30*time.Second, "every delivery recorded", func() bool {
		return intaketest.Count(t, pool).Undelivered == 0
	})
	t.Logf("%d accepted (%d before the kill), all delivered", len(accepted), atKill)
}

// operators push AML to socle's interconnect from several connections of the demo operator
// until halted, as operators do: a push that finds socle down or switching is tried again a
// little later, and only a 202 counts as accepted.
type operators struct {
	mu       sync.Mutex
	seq      int
	accepted []string // ids answered with a 202
	refused  int      // pushes that found socle down
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startOperators pushes to the interconnect at addr() (read at each push: it is set once
// socle listens) from n connections; device numbers start with prefix.
func startOperators(t *testing.T, bed *testbed.Bed, n int, prefix string, addr func() string) *operators {
	t.Helper()
	client, err := bed.Client("demo-operator", n)
	if err != nil {
		t.Fatal(err)
	}
	o := &operators{stop: make(chan struct{})}
	for range n {
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			for {
				select {
				case <-o.stop:
					return
				default:
				}
				o.mu.Lock()
				o.seq++
				seq := o.seq
				o.mu.Unlock()
				body := aml.EncodeHTTPS(aml.Message{DeviceNumber: fmt.Sprintf("%s%07d", prefix, seq), EmergencyNumber: "112",
					NetworkMCC: "001", NetworkMNC: "01",
					Location: &aml.Location{Latitude: 48.85, Longitude: 2.35, Accuracy: 20, Source: aml.SourceGPS}})
				status, b, err := testbed.Push(context.Background(), client, "https://"+addr(), "application/x-www-form-urlencoded", body, nil)
				if err != nil || status != http.StatusAccepted {
					o.mu.Lock()
					o.refused++
					o.mu.Unlock()
					time.Sleep(20 * time.Millisecond) // the operator's pause before it retries, not a test's wait
					continue
				}
				var a struct{ ID string }
				json.Unmarshal(b, &a)
				o.mu.Lock()
				o.accepted = append(o.accepted, a.ID)
				o.mu.Unlock()
			}
		}()
	}
	return o
}

// counts are how many pushes were accepted and refused so far.
func (o *operators) counts() (accepted, refused int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.accepted), o.refused
}

// halt stops the pushes and returns the ids accepted.
func (o *operators) halt() []string {
	close(o.stop)
	o.wg.Wait()
	return o.accepted
}

// delivered is whether the PSAPs received every one of ids.
func (p *psapSim) delivered(ids []string) bool {
	for _, id := range ids {
		if p.times(id) == 0 {
			return false
		}
	}
	return true
}

// messageID finds the id in a line of `socle sim psap`: "... PSAP bspp reçu <id@socle> de tel:...".
var messageID = regexp.MustCompile(`reçu <([0-9a-f-]{36})@socle>`)

// psapSim is `socle sim psap` serving the bed's PSAPs, a process of its own in place of the
// bed's in-process simulator (closed first), for the test's length: what it prints is what
// the PSAPs received.
type psapSim struct {
	mu       sync.Mutex
	received map[string]int // message id → times received
}

func startPSAPSim(t *testing.T, bed *testbed.Bed) *psapSim {
	t.Helper()
	bed.Close()
	sim := exec.Command(binary, "sim", "psap", "--addr", bed.SimAddr, "--pki", bed.PKIDir)
	out, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() })
	p := &psapSim{received: map[string]int{}}
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if m := messageID.FindStringSubmatch(lines.Text()); m != nil {
				p.mu.Lock()
				p.received[m[1]]++
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// times is how many times the PSAPs received the message.
func (p *psapSim) times(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received[id]
}

// duplicates counts deliveries beyond the first of each id.
func (p *psapSim) duplicates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.received {
		n += c - 1
	}
	return n
}

// ids are the messages received at least once.
func (p *psapSim) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Keys(p.received))
}

func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: not %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
