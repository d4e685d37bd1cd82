package delivery

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"socle/internal/emergency/aml"
	"socle/internal/emergency/intake"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestAStoppingWorkerHandsBackWhatItHadQueued: messages accepted by a node, leased to it for
// an hour and still queued for its worker when it stops, are due at once for the other nodes
// — not an hour later.
func TestAStoppingWorkerHandsBackWhatItHadQueued(t *testing.T) {
	pool := dbtest.New(t, schema.Migrations())
	ctx, cancel := context.WithCancel(context.Background())
	store := intake.NewStore(pool, 2*time.Hour, time.Hour)
	done := make(chan struct{})
	go func() { defer close(done); store.Run(ctx) }()
	defer func() { cancel(); <-done }()
	w := New(Config{Lease: time.Hour}, pool, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	var ids []string
	for _, key := range []string{"a", "b", "c"} {
		res, err := store.Insert(ctx, intake.Record{OperatorID: "op-a", DedupeKey: []byte(key), Status: intake.StatusAccepted,
			ContentType: "text/plain", Raw: []byte(key), EmergencyNumber: "112",
			Message: aml.Message{Format: aml.FormatSMSv2, DeviceNumber: "+33612345678", Location: &aml.Location{Latitude: 48.85, Longitude: 2.35}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
		if key != "c" { // c was taken by a delivery: not queued, not handed back
			w.Submit(Job{ID: res.ID})
		}
	}
	if due, err := intake.ClaimDue(ctx, pool, 10, time.Minute); err != nil || len(due) != 0 {
		t.Fatalf("before: %d rows due, %v: want none, each leased to the node that accepted it", len(due), err)
	}
	w.handBack(ctx)
	due, err := intake.ClaimDue(ctx, pool, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, d := range due {
		got[d.ID] = true
	}
	if len(due) != 2 || !got[ids[0]] || !got[ids[1]] {
		t.Fatalf("after: %d rows due (%v): want the two queued ones", len(due), got)
	}
	if len(w.local) != 0 {
		t.Fatalf("%d jobs left in the queue", len(w.local))
	}
}
