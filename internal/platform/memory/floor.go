// Package memory tunes the Go garbage collector for a server whose live heap may be small.
//
// With the default GOGC=100 the collector runs whenever the heap has doubled, and no later
// than at 4 MiB: a node holding little data but answering many requests collects many times
// a second, and every collection takes CPU from requests in flight — on two cores, it shows
// in the tail latency. A floor keeps the heap target at no less than a given size: while the
// live heap is small the collector runs rarely, and once the live heap passes half the floor
// the collector behaves exactly as with GOGC=100. Memory is bounded by max(floor, 2 × live).
package memory

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor keeps the heap target at no less than floor bytes until ctx ends, adjusting GOGC every
// few seconds to the live heap. It does nothing if GOGC is set in the environment: whoever
// set it decided.
func Floor(ctx context.Context, floor uint64, logger *slog.Logger) {
	if _, set := os.LookupEnv("GOGC"); set || floor == 0 {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	apply := func() {
		metrics.Read(sample)
		live := uint64(0)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		debug.SetGCPercent(Percent(live, floor))
	}
	apply()
	logger.Debug("memory: heap floor", "bytes", floor)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			debug.SetGCPercent(100)
			return
		case <-t.C:
			apply()
		}
	}
}

// Percent is the GOGC that puts the heap target (live × (1 + GOGC/100)) at floor, and never
// below 100; a live heap not yet measured counts as 4 MiB.
func Percent(live, floor uint64) int {
	live = max(live, 4<<20)
	if floor <= 2*live {
		return 100
	}
	return int(min(100*(floor-live)/live, 1_000_000))
}
