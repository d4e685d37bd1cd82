package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// table is a sink that keeps records by value, as a table with a unique key would.
type table struct {
	mu       sync.Mutex
	rows     []string
	seen     map[string]bool
	fail     error
	failures int // attempts refused with fail
}

func (t *table) sink(_ context.Context, recs [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fail != nil {
		t.failures++
		return t.fail
	}
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	for _, r := range recs {
		if !t.seen[string(r)] {
			t.seen[string(r)] = true
			t.rows = append(t.rows, string(r))
		}
	}
	return nil
}

func (t *table) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.rows)
}

func (t *table) failed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failures
}

func (t *table) setFail(err error) {
	t.mu.Lock()
	t.fail = err
	t.mu.Unlock()
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func start(t *testing.T, dir string, tb *table, o Options) (*Journal, func()) {
	t.Helper()
	j, err := Open(dir, tb.sink, quiet, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { j.Run(ctx); close(done) }()
	return j, func() { cancel(); <-done; j.Close() }
}

func flush(t *testing.T, j *Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func records(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("record-%05d", i))
	}
	return out
}

func TestRecordsAreShippedInTheOrderTheyWereAppended(t *testing.T) {
	var tb table
	// Small segments: the records cross many of them.
	j, stop := start(t, t.TempDir(), &tb, Options{SegmentSize: 256})
	defer stop()
	want := records(0, 1000)
	for _, r := range want {
		if err := j.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, j)
	if got := tb.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("shipped %d records, want %d in order", len(got), len(want))
	}
	if n := j.Unshipped(); n != 0 {
		t.Errorf("unshipped after flush: %d bytes", n)
	}
}

func TestShippedSegmentsAreRemoved(t *testing.T) {
	var tb table
	dir := t.TempDir()
	j, stop := start(t, dir, &tb, Options{SegmentSize: 256})
	defer stop()
	for _, r := range records(0, 500) {
		j.Append([]byte(r))
	}
	flush(t, j)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	if len(segs) > 2 {
		t.Errorf("%d segments left after everything was shipped, want the current one (and at most the one before)", len(segs))
	}
}

func TestWhatWasNotShippedBeforeAStopIsShippedAtTheNextStart(t *testing.T) {
	dir := t.TempDir()
	var down table
	down.setFail(errors.New("database unreachable"))
	j, stop := start(t, dir, &down, Options{SegmentSize: 512})
	for _, r := range records(0, 300) {
		if err := j.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	stop() // as a crash would: nothing was shipped

	var up table
	j, stop = start(t, dir, &up, Options{SegmentSize: 512})
	defer stop()
	for _, r := range records(300, 310) {
		j.Append([]byte(r))
	}
	flush(t, j)
	if got := up.snapshot(); !slices.Equal(got, records(0, 310)) {
		t.Fatalf("after restart shipped %d records, want 310 in order", len(got))
	}
}

func TestASinkComingBackGetsTheRecordsThatWaited(t *testing.T) {
	var tb table
	tb.setFail(errors.New("database unreachable"))
	j, stop := start(t, t.TempDir(), &tb, Options{})
	defer stop()
	for _, r := range records(0, 50) {
		j.Append([]byte(r))
	}
	for tb.failed() == 0 { // at least one attempt, refused
		runtime.Gosched()
	}
	if n := j.Unshipped(); n == 0 {
		t.Fatal("records reported shipped while the sink was down")
	}
	tb.setFail(nil)
	flush(t, j)
	if got := tb.snapshot(); !slices.Equal(got, records(0, 50)) {
		t.Fatalf("shipped %d records once the sink was back, want 50", len(got))
	}
}

func TestATornRecordAtTheEndIsCutOffAndTheRestKept(t *testing.T) {
	dir := t.TempDir()
	var down table
	down.setFail(errors.New("database unreachable"))
	j, stop := start(t, dir, &down, Options{})
	for _, r := range records(0, 20) {
		j.Append([]byte(r))
	}
	stop()
	// A crash in the middle of a write: half a frame at the end of the segment.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.journal"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{40, 0, 0, 0, 1, 2, 3, 4, 'h', 'a', 'l', 'f'})
	f.Close()

	var up table
	j, stop = start(t, dir, &up, Options{})
	defer stop()
	flush(t, j)
	if got := up.snapshot(); !slices.Equal(got, records(0, 20)) {
		t.Fatalf("shipped %v, want the 20 whole records", got)
	}
}

func TestRecordsShippedTwiceAreHarmlessForAKeyedSink(t *testing.T) {
	dir := t.TempDir()
	var tb table
	j, stop := start(t, dir, &tb, Options{})
	for _, r := range records(0, 10) {
		j.Append([]byte(r))
	}
	flush(t, j)
	stop()
	// The checkpoint was lost (a machine crash before it reached the disk).
	os.Remove(filepath.Join(dir, "checkpoint"))
	j, stop = start(t, dir, &tb, Options{})
	defer stop()
	j.Append([]byte("record-00010"))
	flush(t, j)
	if got := tb.snapshot(); !slices.Equal(got, records(0, 11)) {
		t.Fatalf("rows %v", got)
	}
}

func TestAJournalBelongsToOneProcess(t *testing.T) {
	dir := t.TempDir()
	var tb table
	_, stop := start(t, dir, &tb, Options{})
	defer stop()
	if _, err := Open(dir, tb.sink, quiet, Options{}); err == nil {
		t.Fatal("a second Open of the same journal succeeded")
	}
}

func TestEmptyAndOversizeRecordsAreRefused(t *testing.T) {
	var tb table
	j, stop := start(t, t.TempDir(), &tb, Options{})
	defer stop()
	if err := j.Append(nil); err == nil {
		t.Error("empty record accepted")
	}
	if err := j.Append(make([]byte, MaxRecord+1)); err == nil {
		t.Error("oversize record accepted")
	}
}

func TestConcurrentAppendsAreAllShipped(t *testing.T) {
	var tb table
	j, stop := start(t, t.TempDir(), &tb, Options{SegmentSize: 4096})
	defer stop()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range records(g*1000, g*1000+500) {
				j.Append([]byte(r))
			}
		}()
	}
	wg.Wait()
	flush(t, j)
	got := tb.snapshot()
	slices.Sort(got)
	var want []string
	for g := 0; g < 8; g++ {
		want = append(want, records(g*1000, g*1000+500)...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("shipped %d distinct records, want %d", len(got), len(want))
	}
}

func BenchmarkAppend(b *testing.B) {
	var tb table
	j, err := Open(b.TempDir(), tb.sink, quiet, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	rec := []byte(`{"key":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","psap":"samu-75","device":"+33612345678","outcome":"located"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineWrite is the floor Append stands on: the same bytes written to a file
// with one write(2) each, without framing, checksum or lock.
func BenchmarkBaselineWrite(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := []byte(`{"key":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","psap":"samu-75","device":"+33612345678","outcome":"located"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}
