package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	// The PSAPs are served by `socle sim psap`, a process of its own, in place of the bed's
	// in-process simulator; what it prints is what the PSAPs received.
	bed.Close()
	var mu sync.Mutex
	received := map[string]bool{}
	sim := exec.Command(binary, "sim", "psap", "--addr", bed.SimAddr, "--pki", bed.PKIDir)
	simOut, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() }()
	go func() {
		lines := bufio.NewScanner(simOut)
		for lines.Scan() {
			if m := messageID.FindStringSubmatch(lines.Text()); m != nil {
				mu.Lock()
				received[m[1]] = true
				mu.Unlock()
			}
		}
	}()

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

	client, err := bed.Client("demo-operator", 8)
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	var seq, refused int // refused: pushes that found socle down
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				seq++
				n := seq
				mu.Unlock()
				body := aml.EncodeHTTPS(aml.Message{DeviceNumber: fmt.Sprintf("+3361%07d", n), EmergencyNumber: "112",
					NetworkMCC: "001", NetworkMNC: "01",
					Location: &aml.Location{Latitude: 48.85, Longitude: 2.35, Accuracy: 20, Source: aml.SourceGPS}})
				status, b, err := testbed.Push(ctx, client, "https://"+ic, "application/x-www-form-urlencoded", body, nil)
				if err != nil || status != http.StatusAccepted {
					mu.Lock()
					refused++
					mu.Unlock()
					time.Sleep(20 * time.Millisecond) // socle is down: the operator retries later
					continue
				}
				var a struct{ ID string }
				json.Unmarshal(b, &a)
				mu.Lock()
				accepted = append(accepted, a.ID)
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	waitUntil(t, 60*time.Second, "300 messages accepted", func() bool { return count() >= 300 })
	proc.Process.Signal(syscall.SIGKILL)
	proc.Wait()
	atKill := count()
	// socle stays down until the operators have seen it down and are retrying.
	mu.Lock()
	refusedAtKill := refused
	mu.Unlock()
	waitUntil(t, 30*time.Second, "operators' pushes refused while socle is down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return refused >= refusedAtKill+8
	})
	proc = serve(t, env, logs)
	defer func() { proc.Process.Signal(syscall.SIGTERM); proc.Wait() }()
	waitUntil(t, 60*time.Second, "more messages accepted after the restart", func() bool { return count() >= atKill+300 })
	close(stop)
	wg.Wait()

	waitUntil(t, 60*time.Second, "every accepted message delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range accepted {
			if !received[id] {
				return false
			}
		}
		return true
	})
	// Rows the killed process delivered but had not yet recorded are sent again once their
	// lease lapses (same Message-Id) and then recorded: the database converges.
	waitUntil(t, 30*time.Second, "every delivery recorded", func() bool {
		return intaketest.Count(t, pool).Undelivered == 0
	})
	t.Logf("%d accepted (%d before the kill), all delivered", len(accepted), atKill)
}

// messageID finds the id in a line of `socle sim psap`: "... PSAP bspp reçu <id@socle> de tel:...".
var messageID = regexp.MustCompile(`reçu <([0-9a-f-]{36})@socle>`)

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
