package intake_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/emergency/aml"
	"socle/internal/emergency/intake"
	"socle/internal/emergency/schema"
	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// store is a running message store on a fresh database whose outbox rows are due at once.
func store(t *testing.T) (*intake.Store, *pgxpool.Pool) {
	t.Helper()
	pool := dbtest.New(t, schema.Migrations())
	s := intake.NewStore(pool, time.Hour, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, pool
}

func insert(t *testing.T, s *intake.Store, key, status string, loc *aml.Location) string {
	t.Helper()
	res, err := s.Insert(context.Background(), intake.Record{OperatorID: "op-a", DedupeKey: []byte(key), Status: status,
		ContentType: "text/plain", Raw: []byte(key), EmergencyNumber: "112",
		Message: aml.Message{Format: aml.FormatSMSv2, DeviceNumber: "+33612345678", Location: loc}})
	if err != nil || !res.Fresh {
		t.Fatalf("insert %s: %+v %v", key, res, err)
	}
	return res.ID
}

func report(t *testing.T, pool *pgxpool.Pool, id string) intake.Report {
	t.Helper()
	r, ok, err := intake.MessageStatus(context.Background(), pool, "op-a", id)
	if err != nil || !ok {
		t.Fatalf("status of %s: %v %v", id, ok, err)
	}
	return r
}

func TestAnOutboxRowIsClaimedRetriedAndDeliveredThroughTheStore(t *testing.T) {
	s, pool := store(t)
	ctx := context.Background()
	id := insert(t, s, "a", intake.StatusAccepted, &aml.Location{Latitude: 48.8584, Longitude: 2.2945, Accuracy: 18.5})
	unusable := insert(t, s, "b", intake.StatusUnusable, nil)

	due, err := intake.ClaimDue(ctx, pool, 10, time.Hour)
	if err != nil || len(due) != 1 {
		t.Fatalf("claim: %+v %v, want the accepted message", due, err)
	}
	if d := due[0]; d.ID != id || d.Attempt != 1 || d.Device != "+33612345678" || d.Number != "112" ||
		d.Lat != 48.8584 || d.Accuracy == nil || *d.Accuracy != 18.5 || d.Confidence != nil {
		t.Fatalf("claimed %+v", d)
	}
	if again, err := intake.ClaimDue(ctx, pool, 10, time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("claimed a leased row again: %+v %v", again, err)
	}

	// A refusal is recorded and the row is due again after the back-off (none here).
	if err := intake.Reschedule(ctx, pool, intake.Failed{MessageID: id, Reason: "PSAP answered 503", HTTPStatus: 503,
		PSAP: "bspp", RoutingNumber: "0100000018", Counted: true}, 0); err != nil {
		t.Fatal(err)
	}
	if d := report(t, pool, id).Delivery; d == nil || d.State != "pending" || d.Attempts != 1 ||
		d.PSAP == nil || *d.PSAP != "bspp" || d.LastError == nil || *d.LastError != "PSAP answered 503" {
		t.Fatalf("after the refusal: %+v", d)
	}
	due, err = intake.ClaimDue(ctx, pool, 10, time.Hour)
	if err != nil || len(due) != 1 || due[0].Attempt != 2 {
		t.Fatalf("second claim: %+v %v", due, err)
	}
	at := time.Now()
	if err := intake.MarkDelivered(ctx, pool, []intake.Delivered{{MessageID: id, At: at, HTTPStatus: 202, PSAP: "bspp",
		RoutingNumber: "0100000018", Route: "pdaau", Counted: true}}); err != nil {
		t.Fatal(err)
	}
	r := report(t, pool, id)
	if d := r.Delivery; r.Status != intake.StatusAccepted || d == nil || d.State != "delivered" || d.Attempts != 2 ||
		d.Route == nil || *d.Route != "pdaau" || d.LastError != nil || d.DeliveredAt == nil || !d.DeliveredAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("after delivery: %+v %+v", r, d)
	}

	if r := report(t, pool, unusable); r.Status != intake.StatusUnusable || r.Delivery != nil {
		t.Fatalf("an unusable message: %+v", r)
	}
	if _, ok, err := intake.MessageStatus(ctx, pool, "op-b", id); ok || err != nil {
		t.Fatalf("another operator sees the message: %v %v", ok, err)
	}
}

func TestTheFastPathCountsItsAttemptWhenRecordingIt(t *testing.T) {
	s, pool := store(t)
	ctx := context.Background()
	delivered := insert(t, s, "a", intake.StatusAccepted, &aml.Location{Latitude: 45.76, Longitude: 4.83})
	failed := insert(t, s, "b", intake.StatusAccepted, &aml.Location{Latitude: 45.76, Longitude: 4.83})
	expired := insert(t, s, "c", intake.StatusAccepted, &aml.Location{Latitude: 45.76, Longitude: 4.83})
	if err := intake.MarkDelivered(ctx, pool, []intake.Delivered{{MessageID: delivered, At: time.Now(), HTTPStatus: 200,
		PSAP: "samu-69", Route: "pdaau"}}); err != nil {
		t.Fatal(err)
	}
	if err := intake.Reschedule(ctx, pool, intake.Failed{MessageID: failed, Reason: "no route"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := intake.Expire(ctx, pool, expired); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]intake.DeliveryReport{
		delivered: {State: "delivered", Attempts: 1},
		failed:    {State: "pending", Attempts: 1},
		expired:   {State: "expired"},
	} {
		if d := report(t, pool, id).Delivery; d == nil || d.State != want.State || d.Attempts != want.Attempts {
			t.Errorf("%s: %+v, want %s after %d attempts", id, d, want.State, want.Attempts)
		}
	}
	if d := report(t, pool, failed).Delivery; d.PSAP != nil {
		t.Errorf("no route recorded as PSAP %q", *d.PSAP)
	}
	// Nothing is due: one row waits for its back-off, the others are over.
	if due, err := intake.ClaimDue(ctx, pool, 10, time.Hour); err != nil || len(due) != 0 {
		t.Fatalf("claimed %+v %v", due, err)
	}
}

func TestRecentFixesAreTheAcceptedMessagesWithTheirPSAP(t *testing.T) {
	s, pool := store(t)
	ctx := context.Background()
	routed := insert(t, s, "a", intake.StatusAccepted, &aml.Location{Latitude: 48.8584, Longitude: 2.2945})
	waiting := insert(t, s, "b", intake.StatusAccepted, &aml.Location{Latitude: 43.2951, Longitude: 5.3740})
	insert(t, s, "c", intake.StatusUnusable, nil)
	insert(t, s, "d", intake.StatusNoLocation, nil)
	if err := intake.MarkDelivered(ctx, pool, []intake.Delivered{{MessageID: routed, At: time.Now(), HTTPStatus: 200,
		PSAP: "bspp", Route: "pdaau"}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]intake.Recent{}
	if err := intake.RecentFixes(ctx, pool, time.Hour, func(r intake.Recent) { got[r.ID] = r }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d fixes, want the 2 accepted messages: %+v", len(got), got)
	}
	if r := got[routed]; !r.Located || r.Lat != 48.8584 || r.Lon != 2.2945 || r.PSAP == nil || *r.PSAP != "bspp" {
		t.Errorf("routed: %+v", r)
	}
	if r := got[waiting]; !r.Located || r.Lat != 43.2951 || r.PSAP != nil || r.Device != "+33612345678" {
		t.Errorf("waiting: %+v", r)
	}

	if n, err := intake.Purge(ctx, pool, 0); err != nil || n != 3 {
		t.Fatalf("purge: %d %v, want the 3 messages not pending", n, err)
	}
	got = map[string]intake.Recent{}
	if err := intake.RecentFixes(ctx, pool, time.Hour, func(r intake.Recent) { got[r.ID] = r }); err != nil || len(got) != 1 {
		t.Fatalf("after the purge: %+v %v, want only the message still pending", got, err)
	}
}
