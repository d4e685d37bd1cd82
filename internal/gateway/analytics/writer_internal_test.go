package analytics

import (
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func benchRecord() Record {
	return Record{
		Time: time.Now(), RequestID: "01J9Z3", Replica: "r1", Consumer: "c", API: "a", Operation: "getThing",
		Method: "GET", Status: 200, UpstreamStatus: 200, Latency: 3 * time.Millisecond,
		Upstream: 2 * time.Millisecond, BytesIn: 10, BytesOut: 100, ClientIP: netip.MustParseAddr("192.0.2.7"),
	}
}

// BenchmarkRecord is the caller's cost of one Record, from as many goroutines as there are
// processors: while the queue has room (emptied, timer stopped, before it fills: on a
// machine whose every core records without pause, the background goroutine would not get
// its turn and the drops would be measured instead), and when it is full.
func BenchmarkRecord(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b.Run("queued", func(b *testing.B) {
		w := NewWriter(nil, quiet, WriterOptions{})
		r := benchRecord()
		procs := runtime.GOMAXPROCS(0)
		chunk := cap(w.queue) / procs
		b.ReportAllocs()
		b.ResetTimer()
		for left := b.N; left > 0; left -= chunk * procs {
			var wg sync.WaitGroup
			for range procs {
				wg.Go(func() {
					for range min(chunk, (left+procs-1)/procs) {
						w.Record(r)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			for len(w.queue) > 0 {
				<-w.queue
			}
			b.StartTimer()
		}
		if w.Dropped() != 0 {
			b.Fatalf("dropped %d", w.Dropped())
		}
	})
	b.Run("full", func(b *testing.B) {
		w := NewWriter(nil, quiet, WriterOptions{Buffer: 1})
		r := benchRecord()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				w.Record(r)
			}
		})
	})
}

func TestRecordAndObserveDoNotAllocate(t *testing.T) {
	w := NewWriter(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), WriterOptions{Buffer: 2000})
	r := benchRecord()
	if n := testing.AllocsPerRun(1000, func() { w.Record(r) }); n != 0 {
		t.Errorf("Record: %v allocations", n)
	}
	m := NewMetrics(prometheus.NewRegistry())
	m.Observe(r) // binds the children of the API
	if n := testing.AllocsPerRun(1000, func() { m.Observe(r) }); n != 0 {
		t.Errorf("Observe: %v allocations", n)
	}
}

func TestPendingDropsTheOldestWhenFull(t *testing.T) {
	w := NewWriter(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), WriterOptions{Buffer: 100, BatchSize: 10})
	for i := range 150 {
		w.add(Record{Status: i})
	}
	if len(w.pending) > 100 || int(w.Dropped())+len(w.pending) != 150 {
		t.Fatalf("%d pending, %d dropped: want at most 100 kept, the rest counted", len(w.pending), w.Dropped())
	}
	for i, r := range w.pending {
		if r.Status != int(w.Dropped())+i {
			t.Fatalf("pending[%d] is record %d: the oldest were not the ones dropped", i, r.Status)
		}
	}
}
