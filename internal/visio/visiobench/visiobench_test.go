package visiobench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The figures are not checked, only that a run goes end to end, publishing and receiving on
// both paths: tiny rooms, one second each.
func TestRunTinyRooms(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Pion peers for a few seconds")
	}
	o := Options{Sizes: []int{2, 3}, For: time.Second, MaxLoss: 1} // never stop on loss
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = t.Output()
	}
	r, err := Run(context.Background(), o, slog.New(slog.DiscardHandler), progress)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sizes) != 2 || r.Stopped != "" {
		t.Fatalf("ran %d sizes (%s), want 2", len(r.Sizes), r.Stopped)
	}
	for _, s := range r.Sizes {
		for _, p := range []Phase{s.Direct, s.SFU} {
			n := int64(p.Participants)
			if p.Published == 0 || p.Expected != p.Published*(n-1) || p.Received == 0 {
				t.Errorf("%d participants: published %d, expected %d deliveries, received %d",
					n, p.Published, p.Expected, p.Received)
			}
		}
	}
	var out bytes.Buffer
	r.Print(&out, o)
	if !strings.Contains(out.String(), "summary:") {
		t.Errorf("no summary in\n%s", out.String())
	}
	t.Log(out.String())
}
