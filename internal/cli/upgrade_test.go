package cli_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"socle/internal/cli"
	"socle/internal/emergency/intake/intaketest"
	"socle/internal/emergency/schema"
	"socle/internal/emergency/testbed"
	"socle/internal/platform/database"
	"socle/internal/platform/database/dbtest"
)

// release is a tagged release of socle: its tag and the commit it names.
type release struct{ tag, commit string }

// previousReleaseFile names the release before this one, for clones without tags.
const previousReleaseFile = "deploy/previous-release"

// previousRelease finds the release before the code under test: the newest tag reachable
// from HEAD that does not name HEAD itself (on a release commit, the one before it), or, in a
// clone without tags, the one deploy/previous-release names. A shallow clone may lack its
// commit: the test is then skipped, saying so; any other absence is a failure, since the
// rollback could not be shown.
func previousRelease(t *testing.T, root string) release {
	t.Helper()
	head := strings.TrimSpace(gitOut(t, root, "rev-parse", "HEAD"))
	b, err := os.ReadFile(filepath.Join(root, previousReleaseFile))
	if err != nil {
		t.Fatalf("the previous release: %v", err)
	}
	var file release
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			if len(f) != 2 || len(f[1]) != 40 {
				t.Fatalf("%s: %q: want \"<tag> <full commit hash>\"", previousReleaseFile, line)
			}
			file = release{f[0], f[1]}
		}
	}
	if file.tag == "" {
		t.Fatalf("%s names no release", previousReleaseFile)
	}
	prev := file
	for _, tag := range strings.Fields(gitOut(t, root, "tag", "--merged", "HEAD", "--sort=-creatordate")) {
		commit := strings.TrimSpace(gitOut(t, root, "rev-parse", tag+"^{commit}"))
		if commit != head {
			prev = release{tag, commit}
			break
		}
	}
	if prev != file {
		t.Logf("the tags say the previous release is %s (%s), %s says %s: update it", prev.tag, prev.commit, previousReleaseFile, file.tag)
	}
	if err := exec.Command("git", "-C", root, "cat-file", "-e", prev.commit+"^{commit}").Run(); err != nil {
		if strings.TrimSpace(gitOut(t, root, "rev-parse", "--is-shallow-repository")) == "true" {
			t.Skipf("shallow clone: the commit %s of the previous release %s is not in it (git fetch --unshallow to run this test)", prev.commit, prev.tag)
		}
		t.Fatalf("the commit %s of the previous release %s is not in the repository", prev.commit, prev.tag)
	}
	return prev
}

func gitOut(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", root}, args...)...)
	var errs bytes.Buffer
	cmd.Stderr = &errs
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, errs.String())
	}
	return string(out)
}

// buildRelease extracts the release's tree (git archive: no worktree is left behind) and
// builds its socle, labelled with its tag as `make build` would: the tag is what the database
// records of the release that migrated it.
func buildRelease(t *testing.T, root string, r release) string {
	t.Helper()
	dir := t.TempDir()
	src, tarball := filepath.Join(dir, "src"), filepath.Join(dir, "src.tar")
	gitOut(t, root, "archive", "--format=tar", "-o", tarball, r.commit)
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-x", "-f", tarball, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("extract %s: %v: %s", r.tag, err, out)
	}
	bin := filepath.Join(dir, "socle-"+r.tag)
	began := time.Now()
	// -trimpath: the build cache's keys do not depend on the temporary directory, so that a
	// second run reuses what the first compiled; the module cache is the current one's.
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X socle/internal/cli.version="+r.tag, "-o", bin, "./cmd/socle")
	build.Dir = src
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", r.tag, err, out)
	}
	t.Logf("built %s (%s) in %s", r.tag, r.commit[:12], time.Since(began).Round(time.Millisecond))
	return bin
}

// socleRun runs a short socle command (not serve) and returns its exit code and output.
func socleRun(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	return 0, ""
}

// TestTheCurrentSchemaServesThePreviousReleaseBothWays is the rollback of an upgrade, with the
// real binaries of both releases: the previous release migrates an empty database, the
// current one migrates it further (schema N), a release after it adds an expand step where
// AML flows, and while an operator pushes AML without pause socle is stopped and started as
// the previous release, the current one, the previous one again (a rollback) and the current
// one: every message that got a 202 reaches its PSAP. Then the later release's contract step
// stops both from starting, and both the refusal and `socle migrate --status` say which step
// and which release.
func TestTheCurrentSchemaServesThePreviousReleaseBothWays(t *testing.T) {
	began := time.Now()
	root := strings.TrimSpace(gitOut(t, ".", "rev-parse", "--show-toplevel"))
	prev := previousRelease(t, root)
	old := buildRelease(t, root, prev)
	built := time.Now()
	if _, out := socleRun(t, old, nil, "version"); !strings.Contains(out, "socle "+prev.tag+" ") {
		t.Fatalf("the previous release says it is %q, want %s", out, prev.tag)
	}

	ctx := context.Background()
	url := dbtest.NewURL(t) // empty: each release migrates it as in production
	dataDir := t.TempDir()
	env := []string{"SOCLE_DATA_DIR=" + dataDir, "SOCLE_DATABASE_URL=" + url}
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// How far the current schema is ahead of the previous release: the steps the current
	// release applies on top of what the previous one did.
	versions := func() map[string]int {
		rows, err := pool.Query(ctx, `SELECT schema_name, max(version) FROM public.socle_migrations GROUP BY schema_name`)
		if err != nil {
			t.Fatal(err)
		}
		v := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			v[name] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return v
	}
	var was map[string]int
	for _, bin := range []string{old, binary} {
		if code, out := socleRun(t, bin, env, "migrate"); code != 0 {
			t.Fatalf("%s migrate: exit %d\n%s", filepath.Base(bin), code, out)
		}
		if was == nil {
			was = versions()
		}
	}
	ahead := 0
	now := versions()
	names := slices.Sorted(maps.Keys(now))
	for _, name := range names {
		t.Logf("schema %-10s %2d steps, %d ahead of %s", name, now[name], now[name]-was[name], prev.tag)
		ahead += now[name] - was[name]
	}
	if ahead == 0 {
		t.Logf("the current schema is the one of %s: the current release added no step", prev.tag)
	}
	code, status := socleRun(t, binary, env, "migrate", "--status")
	t.Logf("socle migrate --status (current):\n%s", status)
	if code != 0 || !strings.Contains(status, "rollback to "+prev.tag+": possible, it runs on this schema\n") {
		t.Fatalf("migrate --status: exit %d, want a rollback to %s said possible", code, prev.tag)
	}

	// A release after this one expands the schema where AML flows: both releases under test
	// then run on a schema newer than they know, as the previous release does after a rollback
	// even when the current one added no step. Its contract step comes at the end.
	current := schema.Migrations()
	next := database.Migrations{Schema: current.Schema, Steps: append(current.Steps[:len(current.Steps):len(current.Steps)],
		database.Migration{Version: len(current.Steps) + 1, Name: "next_relay", SQL: `
ALTER TABLE emergency.aml_messages ADD COLUMN next_relay text, ADD COLUMN next_flag boolean NOT NULL DEFAULT false;
ALTER TABLE emergency.deliveries ADD COLUMN next_route text;
CREATE INDEX aml_messages_next_flag ON emergency.aml_messages (next_flag)`})}
	const nextRelease = "v99.0.0-rollback-test"
	if n, err := database.Apply(ctx, pool, next, nextRelease); err != nil || n != 1 {
		t.Fatalf("the next release's expand step: %d applied, %v", n, err)
	}
	code, status = socleRun(t, binary, env, "migrate", "--status")
	t.Logf("socle migrate --status (current) after the next release's expand step:\n%s", status)
	if code != 0 || !strings.Contains(status, "rollback to "+prev.tag+": possible, it runs on this schema\n") ||
		!strings.Contains(status, fmt.Sprintf("step %d next_relay: expand, applied by %s", len(current.Steps)+1, nextRelease)) {
		t.Fatalf("migrate --status: exit %d, want the expand step listed and a rollback to %s still possible", code, prev.tag)
	}

	bed, err := testbed.New(dataDir, testbed.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := bed.Apply(ctx, pool); err != nil {
		t.Fatal(err)
	}
	psap := startPSAPSim(t, bed)

	env = append(env, "SOCLE_MIGRATE=never", "SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=127.0.0.1:0",
		"SOCLE_OPS_ADDR=127.0.0.1:0", "SOCLE_EMERGENCY_DELIVERY_TIMEOUT=2s", "SOCLE_EMERGENCY_DELIVERY_LEASE=3s",
		"SOCLE_LOG_LEVEL=warn")
	var (
		ic  string // the interconnect address, kept across the switches as a Service's would be
		ops *operators
	)
	count := func() int { n, _ := ops.counts(); return n }
	// start runs `socle serve` and waits until it listens, failing at once, with its log, if it
	// exits instead (a release that refuses the schema).
	start := func(bin, name string) (*exec.Cmd, <-chan error, string) {
		os.Remove(filepath.Join(dataDir, cli.ListenersFile)) // the previous process's
		logFile := filepath.Join(dataDir, name+".log")
		logs, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		defer logs.Close()
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(), env...)
		if ic != "" {
			cmd.Env = append(cmd.Env, "SOCLE_INTERCONNECT_ADDR="+ic)
		}
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		waitUntil(t, 60*time.Second, name+" listening", func() bool {
			select {
			case err := <-exited:
				b, _ := os.ReadFile(logFile)
				t.Fatalf("%s exited (%v) instead of serving:\n%s", name, err, b)
			default:
			}
			_, err := os.Stat(filepath.Join(dataDir, cli.ListenersFile))
			return err == nil
		})
		return cmd, exited, logFile
	}
	type phase struct {
		bin, name string
		accepted  int // by this process
	}
	phases := []*phase{{old, prev.tag, 0}, {binary, "current", 0}, {old, prev.tag + " (rollback)", 0}, {binary, "current", 0}}
	const perPhase = 100
	for i, ph := range phases {
		proc, exited, logFile := start(ph.bin, fmt.Sprintf("%d-%s", i, strings.Fields(ph.name)[0]))
		bound := listening(t, dataDir)
		if ic == "" {
			ic = bound["interconnect"]
			ops = startOperators(t, bed, 4, "+3362", func() string { return ic })
		} else if bound["interconnect"] != ic {
			t.Fatalf("%s listens on %s, want %s", ph.name, bound["interconnect"], ic)
		}
		before := count()
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d messages accepted by %s", perPhase, ph.name), func() bool { return count() >= before+perPhase })
		// A graceful stop, as a rolling upgrade or a rollback makes: the next process takes
		// over what this one accepted and had not delivered yet.
		proc.Process.Signal(syscall.SIGTERM)
		err := <-exited
		ph.accepted = count() - before
		logs, _ := os.ReadFile(logFile)
		if err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", ph.name, err, logs)
		}
		if !strings.Contains(string(logs), "a newer release expanded this schema") {
			t.Errorf("%s ran on a schema a newer release expanded without saying so:\n%s", ph.name, logs)
		}
	}
	accepted := ops.halt()
	_, refused := ops.counts()

	// Whatever the last process accepted and had not delivered is delivered by a last one.
	proc, exited, _ := start(binary, "4-drain")
	drained := false
	defer func() {
		if !drained {
			proc.Process.Signal(syscall.SIGTERM)
			<-exited
		}
	}()
	waitUntil(t, 60*time.Second, "every accepted message delivered", func() bool { return psap.delivered(accepted) })
	waitUntil(t, 30*time.Second, "every delivery recorded", func() bool {
		return intaketest.Count(t, pool).Undelivered == 0
	})
	proc.Process.Signal(syscall.SIGTERM)
	<-exited
	drained = true
	lost, duplicates := 0, 0
	for _, id := range accepted {
		if psap.times(id) == 0 {
			lost++
		}
		duplicates += max(psap.times(id)-1, 0)
	}
	var split []string
	counted := 0
	for _, ph := range phases {
		split = append(split, fmt.Sprintf("%s %d", ph.name, ph.accepted))
		counted += ph.accepted
	}
	// A 202 read by the operator after its process stopped falls between two phases.
	split = append(split, fmt.Sprintf("%d answered at a switch", len(accepted)-counted))
	t.Logf("AML across %s → current → %s → current: %d accepted (%s), %d delivered, %d lost, %d duplicates at the PSAP, %d pushes refused while switching (retried)",
		prev.tag, prev.tag, len(accepted), strings.Join(split, ", "), len(accepted)-lost, lost, duplicates, refused)
	if lost != 0 {
		t.Fatalf("%d accepted messages lost", lost)
	}

	// The next release contracts the schema: the step that drops what its expand step made
	// unused. From then on the previous release, and this one, must refuse to start, and say
	// why, rather than write what is no longer there.
	next.Steps = append(next.Steps, database.Migration{Version: len(current.Steps) + 2, Name: "next_drop_relay", Contract: true,
		SQL: "-- socle:contract\nALTER TABLE emergency.aml_messages DROP COLUMN next_relay"})
	if n, err := database.Apply(ctx, pool, next, nextRelease); err != nil || n != 1 {
		t.Fatalf("the next release's contract step: %d applied, %v", n, err)
	}
	want := fmt.Sprintf("step %d (next_drop_relay), applied by %s", len(current.Steps)+2, nextRelease)
	serveEnv := append(env, "SOCLE_INTERCONNECT_ADDR="+ic)
	for _, bin := range []string{old, binary} {
		code, out := socleRun(t, bin, serveEnv, "serve")
		if code == 0 || !strings.Contains(out, want) || !strings.Contains(out, database.ErrNewerSchema.Error()) {
			t.Fatalf("%s serve on a contracted schema: exit %d, want a refusal naming %q:\n%s", filepath.Base(bin), code, want, out)
		}
		t.Logf("%s refuses: %s", filepath.Base(bin), lastLine(out))
	}
	code, status = socleRun(t, binary, env, "migrate", "--status")
	t.Logf("socle migrate --status (current) after the contract step:\n%s", status)
	refusal := fmt.Sprintf("rollback to %s: refused, it predates contract steps (emergency step %d)", prev.tag, len(current.Steps)+2)
	if code != 0 || !strings.Contains(status, refusal) || !strings.Contains(status, "rollback to "+nextRelease+": possible") {
		t.Fatalf("migrate --status after a contract step: exit %d, want %q", code, refusal)
	}
	t.Logf("test time: %s beyond the build of %s, %s in all", time.Since(built).Round(time.Millisecond), prev.tag, time.Since(began).Round(time.Millisecond))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
