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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/aml"
	"socle/internal/emergency/pdaau"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database"
)

// TestARestoreToAMomentServesItsTNAAUAndDeliversWhatWasPending runs the real binaries on a
// private cluster archiving its WAL: `socle serve` with SOCLE_BACKUP_DIR, a TNAAU version
// published, `socle backup base`, then AML accepted while the PSAP is unreachable (so they
// wait in the outbox), the moment T noted, then damage after T — another TNAAU version, more
// AML, and the whole outbox deleted. `socle backup restore --time T` into a new data
// directory, and `socle serve` on it with `socle sim psap` up: it serves the TNAAU version of
// T, delivers every AML pending at T (ids checked at the PSAP) and knows none accepted after.
func TestARestoreToAMomentServesItsTNAAUAndDeliversWhatWasPending(t *testing.T) {
	began := time.Now()
	ctx := context.Background()
	// As root the private cluster runs as the socle system user, which runs this binary as
	// its archive_command and must reach the directories.
	os.Chmod(filepath.Dir(binary), 0o755)
	root, err := os.MkdirTemp("", "socle-backup-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	os.Chmod(root, 0o711)
	dataDir, backupDir, restored := filepath.Join(root, "data"), filepath.Join(root, "backup"), filepath.Join(root, "restored")
	bed, err := testbed.New(dataDir, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	bed.Close() // the PSAPs stay unreachable until the restored socle runs
	os.Chmod(dataDir, 0o711)

	env := []string{"SOCLE_DATA_DIR=" + dataDir, "SOCLE_BACKUP_DIR=" + backupDir, "SOCLE_SERVICES=emergency",
		"SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=127.0.0.1:0", "SOCLE_OPS_ADDR=127.0.0.1:0",
		"SOCLE_EMERGENCY_DELIVERY_TIMEOUT=2s", "SOCLE_EMERGENCY_DELIVERY_LEASE=3s", "SOCLE_LOG_LEVEL=warn"}
	logs, _ := os.Create(filepath.Join(root, "socle.log"))
	defer logs.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("socle's log:\n%s", b)
		}
	}()
	proc := serve(t, env, logs)
	stopped := false
	defer func() {
		if !stopped {
			proc.Process.Signal(syscall.SIGTERM)
			proc.Wait()
		}
	}()
	ic := "https://" + listening(t, dataDir)["interconnect"]
	pool := privatePool(t, dataDir)
	if err := bed.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	operator, err := bed.Client("demo-operator", 4)
	if err != nil {
		t.Fatal(err)
	}
	publishTNAAU(t, pool, "0100000015")
	var atT int64
	waitUntil(t, 30*time.Second, "the published TNAAU version served", func() bool {
		atT = tnaauVersion(t, operator, ic)
		return atT > 0 && routedTo(t, operator, ic) == "0100000015"
	})

	run(t, env, "backup", "base")

	// Accepted while the PSAP is down: they wait in the outbox.
	calls := 0
	push := func(n int) []string {
		var ids []string
		for i := 0; i < n; i++ {
			calls++
			body := aml.EncodeHTTPS(aml.Message{DeviceNumber: fmt.Sprintf("+33612%06d", calls), EmergencyNumber: "112",
				NetworkMCC: "001", NetworkMNC: "01",
				Location: &aml.Location{Latitude: 48.85, Longitude: 2.35, Accuracy: 20, Source: aml.SourceGPS}})
			status, b, err := testbed.Push(ctx, operator, ic, "application/x-www-form-urlencoded", body, nil)
			if err != nil || status != http.StatusAccepted {
				t.Fatalf("push: %d %s %v", status, b, err)
			}
			var a struct{ ID string }
			json.Unmarshal(b, &a)
			ids = append(ids, a.ID)
		}
		return ids
	}
	pending := push(20)
	var undelivered int
	pool.QueryRow(ctx, `SELECT count(*) FROM emergency.deliveries WHERE state = 'pending'`).Scan(&undelivered)
	if undelivered != len(pending) {
		t.Fatalf("%d deliveries pending, want the %d accepted", undelivered, len(pending))
	}
	at := time.Now().UTC()

	// Damage after T: another version, more messages, the outbox deleted.
	publishTNAAU(t, pool, "0100000018")
	var damaged int64
	waitUntil(t, 30*time.Second, "the second TNAAU version served", func() bool {
		damaged = tnaauVersion(t, operator, ic)
		return damaged > atT
	})
	after := push(5)
	if _, err := pool.Exec(ctx, `DELETE FROM emergency.deliveries`); err != nil {
		t.Fatal(err)
	}
	// Archive the segment under way now rather than at archive_timeout, and wait for it.
	var segment string
	if err := pool.QueryRow(ctx, `SELECT pg_walfile_name(pg_switch_wal())`).Scan(&segment); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "segment "+segment+" archived", func() bool {
		_, err := os.Stat(filepath.Join(database.WALDir(backupDir), segment))
		return err == nil
	})
	pool.Close()
	proc.Process.Signal(syscall.SIGTERM)
	proc.Wait()
	stopped = true

	// The archive command as PostgreSQL runs it: another content under an archived name is
	// refused, and the archived segment stays as it was.
	archived := filepath.Join(database.WALDir(backupDir), segment)
	before, _ := os.ReadFile(archived)
	forged := filepath.Join(root, "forged")
	os.WriteFile(forged, make([]byte, len(before)), 0o600)
	if out, err := runErr(nil, "backup", "archive-wal", "--dir", database.WALDir(backupDir), forged, segment); err == nil ||
		!strings.Contains(out, "refusing to overwrite") {
		t.Fatalf("archive-wal over an archived segment: %v %s", err, out)
	}
	if now, _ := os.ReadFile(archived); string(now) != string(before) {
		t.Fatal("archive-wal changed an archived segment")
	}

	list := run(t, env, "backup", "list")
	// The newest segment archived is the one switched above, or the next: a clean stop
	// archives the segment under way too (PostgreSQL rotates it at shutdown when archiving).
	last := regexp.MustCompile(`to ([0-9A-F]{24}), the last archived`).FindStringSubmatch(list)
	if !strings.Contains(list, "restorable from") || last == nil || last[1] < segment {
		t.Fatalf("socle backup list, after %s was archived:\n%s", segment, list)
	}

	// Bad input changes nothing: a target that is not empty, a moment before the backup.
	nonEmpty := filepath.Join(root, "occupied")
	os.MkdirAll(filepath.Join(nonEmpty, "something"), 0o755)
	for _, c := range []struct{ args, want, dir string }{
		{"--to " + nonEmpty + " --latest", "is not empty", nonEmpty},
		{"--to " + restored + " --time " + began.Add(-time.Hour).UTC().Format(time.RFC3339), "before the oldest base backup", restored},
		{"--to " + restored + " --latest --backup 19990101T000000Z", "no such base backup", restored},
	} {
		out, err := runErr(env, append([]string{"backup", "restore"}, strings.Fields(c.args)...)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Fatalf("restore %s: %v %s", c.args, err, out)
		}
		entries, _ := os.ReadDir(c.dir)
		if c.dir == restored && entries != nil || c.dir == nonEmpty && len(entries) != 1 {
			t.Fatalf("restore %s changed %s: %v", c.args, c.dir, entries)
		}
	}

	restoreBegan := time.Now()
	run(t, env, "backup", "restore", "--to", restored, "--time", at.Format(time.RFC3339Nano))
	restoreTook := time.Since(restoreBegan)
	// The PKI is files, not database: copied as the backup instructions say.
	copyDir(t, filepath.Join(dataDir, "pki"), filepath.Join(restored, "pki"))

	psap := startPSAPSim(t, bed)
	renv := []string{"SOCLE_DATA_DIR=" + restored, "SOCLE_SERVICES=emergency",
		"SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=127.0.0.1:0", "SOCLE_OPS_ADDR=127.0.0.1:0", "SOCLE_LOG_LEVEL=warn"}
	again := serve(t, renv, logs)
	defer func() { again.Process.Signal(syscall.SIGTERM); again.Wait() }()
	ric := "https://" + listening(t, restored)["interconnect"]

	if v, r := tnaauVersion(t, operator, ric), routedTo(t, operator, ric); v != atT || r != "0100000015" {
		t.Fatalf("the restored socle serves TNAAU version %d routing Paris' 17 to %s; at T it was %d to 0100000015", v, r, atT)
	}
	waitUntil(t, 60*time.Second, "every AML pending at T delivered", func() bool {
		for _, id := range pending {
			if psap.times(id) == 0 {
				return false
			}
		}
		return true
	})
	rpool := privatePool(t, restored)
	defer rpool.Close()
	var known, left int
	rpool.QueryRow(ctx, `SELECT count(*) FROM emergency.aml_messages WHERE id = ANY($1::uuid[])`, after).Scan(&known)
	rpool.QueryRow(ctx, `SELECT count(*) FROM emergency.deliveries WHERE state <> 'delivered'`).Scan(&left)
	if known != 0 || left != 0 {
		t.Fatalf("restored to T: %d of the messages accepted after T are known, %d deliveries not done", known, left)
	}
	status := run(t, renv, "migrate", "--status")
	if !strings.Contains(status, " 0 pending") || regexp.MustCompile(`[1-9][0-9]* pending`).MatchString(status) {
		t.Fatalf("socle migrate --status on the restored data:\n%s", status)
	}
	dups := 0
	for _, id := range pending {
		dups += psap.times(id) - 1
	}
	t.Logf("TNAAU version %d at T served after the restore (%d published after T); %d AML pending at T all delivered (%d sent twice), %d accepted after T unknown; restore took %s, the whole test %s",
		atT, damaged, len(pending), dups, len(after), restoreTook.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// privatePool connects to the socle database of the private cluster under dataDir.
func privatePool(t *testing.T, dataDir string) *pgxpool.Pool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		User, Password string
		Port           int
	}
	json.Unmarshal(b, &st)
	pool, err := database.Open(context.Background(),
		fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/socle?sslmode=disable", st.User, st.Password, st.Port), 2)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// publishTNAAU routes Paris' 17 (police) to routing through the PDAAU workflow: a draft, a
// second person's approval, publication now. It becomes the next TNAAU version.
func publishTNAAU(t *testing.T, pool *pgxpool.Pool, routing string) {
	t.Helper()
	ctx := context.Background()
	s := pdaau.NewStore(pool)
	cur, err := s.Current(ctx, "75")
	if err != nil || cur == nil {
		t.Fatal("no version in effect for 75", err)
	}
	rows, _ := s.Rows(ctx, cur.ID)
	for i := range rows {
		if rows[i].INSEE == "75056" && rows[i].Number == "17" {
			rows[i].RoutingNumber = routing
		}
	}
	id, ps, err := s.CreateDraft(ctx, "75", rows, "editeur@prefecture", "test")
	if err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
	if _, err := s.Approve(ctx, id, "cced@interieur"); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.Publish(ctx, id, "cced@interieur", time.Time{}); err != nil || len(ps) > 0 {
		t.Fatal(ps, err)
	}
}

// tnaauVersion is the TNAAU version socle serves the operator.
func tnaauVersion(t *testing.T, c *http.Client, ic string) int64 {
	t.Helper()
	resp, err := c.Get(ic + "/emergency/v1/tnaau?departement=75")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	v, _ := strconv.ParseInt(resp.Header.Get("Socle-TNAAU-Version"), 10, 64)
	return v
}

// routedTo is where the TNAAU socle serves sends Paris' 17.
func routedTo(t *testing.T, c *http.Client, ic string) string {
	t.Helper()
	resp, err := c.Get(ic + "/emergency/v1/tnaau?departement=75")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table pdaau.Table
	json.NewDecoder(resp.Body).Decode(&table)
	for _, r := range table.Rows {
		if r.INSEE == "75056" && r.Number == "17" {
			return r.RoutingNumber
		}
	}
	return ""
}

// run runs the socle binary with env and returns its output, failing t if it fails.
func run(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := runErr(env, args...)
	if err != nil {
		t.Fatalf("socle %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(env []string, args ...string) (string, error) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}
