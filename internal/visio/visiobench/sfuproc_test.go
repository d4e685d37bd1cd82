package visiobench

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	// cmajflt utime stime ...; the command name may hold spaces and parentheses.
	line := "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 0 0\n"
	d, err := parseProcStat(line)
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("%q: %v, %v; want 3.25s", line, d, err)
	}
	for _, bad := range []string{"", "4242 (x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 -5 75",
		"4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 two 75"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// This process's own.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc here")
	}
	if _, err := parseProcStat(string(b)); err != nil {
		t.Errorf("/proc/self/stat: %v", err)
	}
}

// serveSFUEnv makes the test binary serve the SFU, as `socle bench visio -serve-sfu` does.
const serveSFUEnv = "VISIOBENCH_TEST_SERVE_SFU"

func TestMain(m *testing.M) {
	if os.Getenv(serveSFUEnv) != "" {
		if err := ServeSFU(context.Background(), slog.New(slog.DiscardHandler), os.Stdout); err != nil {
			slog.Error("serve sfu", "error", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The SFU in a process of its own, signalling over its WebSocket: every stream flows, and
// the phase's CPU time is that process's.
func TestSFUProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Pion peers for a few seconds")
	}
	t.Setenv(serveSFUEnv, "1")
	topo := &sfuRoom{logger: slog.New(slog.DiscardHandler), command: []string{os.Args[0]}}
	p, err := runPhase(context.Background(), 3, time.Second, topo, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	if p.Published == 0 || p.Received == 0 || p.Expected != 2*p.Published {
		t.Errorf("published %d, expected %d deliveries, received %d", p.Published, p.Expected, p.Received)
	}
	if p.CPU <= 0 {
		t.Errorf("the SFU's process used no CPU time: %s", p.CPU)
	}
	t.Logf("%.0f packets/s, %.0f packets/s per core of the SFU's process, loss %.2f %%, p99 %s",
		p.Rate(), p.PerCore(), p.Loss()*100, p.P99)
}
