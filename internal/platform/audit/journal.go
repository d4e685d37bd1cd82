// Package audit keeps audit trails that must be written before an answer leaves but must not
// make the answer wait on a database: a Journal appends each record to a local file (one
// write(2), no fsync) and ships the records in batches to their table in the background.
//
// What it guarantees: once Append returns, the record is in the kernel. A crash of socle
// loses none (the next Open ships what was left); a crash of the machine can lose what the
// kernel had not yet written to disk — the same promise as PostgreSQL's
// synchronous_commit = off, without the network round trip. While the database is away,
// records wait on disk and are shipped when it comes back.
//
// Records may be shipped twice (a crash between a batch's commit and the checkpoint): each
// record must carry its own key, and the sink must ignore a key it already has.
package audit

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sink writes a batch of records to their table, in one transaction, ignoring records it
// already holds.
type Sink func(ctx context.Context, records [][]byte) error

// MaxRecord bounds one record: an audit row, not a document.
const MaxRecord = 64 << 10

// Journal is one audit trail's local journal. Append is safe for concurrent use.
type Journal struct {
	dir     string
	sink    Sink
	logger  *slog.Logger
	segSize int64
	linger  time.Duration
	lock    *os.File

	mu      sync.Mutex // serialises appends and guards the fields below
	f       *os.File   // the segment being appended to
	seg     uint64     // its number
	written int64      // bytes of it written completely
	nextSeg uint64
	closed  bool
	frame   []byte

	checkpointed time.Time // when the checkpoint file was last written (by Run only)

	shipMu  sync.Mutex // guards shipped and notifies flushers
	shipped pos
	shipCh  chan struct{} // closed and replaced whenever shipped moves
	wake    chan struct{}
	done    chan struct{} // closed when Run returns
}

// pos is a place in the journal: a segment and a byte offset in it.
type pos struct {
	seg uint64
	off int64
}

func (p pos) before(q pos) bool { return p.seg < q.seg || (p.seg == q.seg && p.off < q.off) }

// Options tune a journal; zero values take the defaults.
type Options struct {
	SegmentSize int64         // a segment is closed past this size (default 8 MiB)
	Linger      time.Duration // how long records gather before a batch is shipped (default 20 ms)
}

// Open opens (or creates) the journal in dir, which only this process may use, and readies
// whatever an earlier run left unshipped; Run ships it.
func Open(dir string, sink Sink, logger *slog.Logger, o Options) (*Journal, error) {
	if o.SegmentSize <= 0 {
		o.SegmentSize = 8 << 20
	}
	if o.Linger <= 0 {
		o.Linger = 20 * time.Millisecond
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: journal directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: journal lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("audit: journal %s is in use by another process: %w", dir, err)
	}
	j := &Journal{dir: dir, sink: sink, logger: logger, segSize: o.SegmentSize, linger: o.Linger, lock: lock,
		shipCh: make(chan struct{}), wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := j.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	return j, nil
}

// recover reads the checkpoint, cuts a torn record off the newest segment (a crash in the
// middle of a write), and opens a fresh segment for this run's appends.
func (j *Journal) recover() error {
	segs, err := j.segments()
	if err != nil {
		return err
	}
	j.shipped = j.readCheckpoint()
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		n, err := validLength(j.segPath(last))
		if err != nil {
			return err
		}
		if err := os.Truncate(j.segPath(last), n); err != nil {
			return fmt.Errorf("audit: cut torn record: %w", err)
		}
		j.nextSeg = last + 1
		if j.shipped.seg < segs[0] {
			j.shipped = pos{seg: segs[0]}
		}
	} else {
		j.nextSeg = max(1, j.shipped.seg+1)
	}
	if !j.shipped.before(pos{seg: j.nextSeg}) {
		// Nothing older waits (or the checkpoint is from a journal since emptied).
		j.shipped = pos{seg: j.nextSeg}
	}
	return j.rotate()
}

// Append writes rec to the journal. When it returns nil, the record will be shipped even if
// socle stops now.
func (j *Journal) Append(rec []byte) error {
	if len(rec) == 0 || len(rec) > MaxRecord {
		return fmt.Errorf("audit: record of %d bytes (want 1 to %d)", len(rec), MaxRecord)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errors.New("audit: journal closed")
	}
	// Frame: length, CRC-32C of the payload, payload — in one write, so a crash leaves at
	// most one torn record at the end, which recover cuts off.
	j.frame = binary.LittleEndian.AppendUint32(j.frame[:0], uint32(len(rec)))
	j.frame = binary.LittleEndian.AppendUint32(j.frame, crc32.Checksum(rec, castagnoli))
	j.frame = append(j.frame, rec...)
	n, err := j.f.Write(j.frame)
	if err != nil {
		// A short write leaves a torn record: start a new segment after what is whole.
		j.f.Truncate(j.written)
		return fmt.Errorf("audit: journal write: %w", err)
	}
	j.written += int64(n)
	if j.written >= j.segSize {
		if err := j.rotate(); err != nil {
			j.logger.Error("audit: journal rotation failed; appending to the full segment", "error", err)
		}
	}
	select {
	case j.wake <- struct{}{}:
	default:
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// rotate starts a new segment; the caller holds mu (or is Open).
func (j *Journal) rotate() error {
	f, err := os.OpenFile(j.segPath(j.nextSeg), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: new segment: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.seg, j.written = f, j.nextSeg, 0
	j.nextSeg++
	return nil
}

// end is the position up to which records are completely written.
func (j *Journal) end() pos {
	j.mu.Lock()
	defer j.mu.Unlock()
	return pos{j.seg, j.written}
}

// Run ships records until ctx ends, then ships what is left (giving up after 10 s if the
// sink stays down: those records wait on disk for the next run).
func (j *Journal) Run(ctx context.Context) {
	defer close(j.done)
	backoff := 100 * time.Millisecond
	for {
		err := j.shipAll(ctx)
		if ctx.Err() != nil {
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := j.shipAll(final); err != nil {
				j.logger.Warn("audit: records left unshipped in the journal until the next start", "dir", j.dir, "error", err)
			}
			cancel()
			j.writeCheckpoint(j.shippedPos())
			return
		}
		wait := time.Duration(0)
		if err != nil {
			j.logger.Warn("audit: shipping failed, records wait in the journal", "dir", j.dir, "retry_in", backoff.String(), "error", err)
			wait, backoff = backoff, min(backoff*2, 5*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-j.wake:
			// Let records gather: one statement for many of them costs the database far
			// less than one each, and nobody waits on shipping.
			select {
			case <-ctx.Done():
			case <-time.After(j.linger):
			}
		}
	}
}

// shipAll ships everything written so far, batch by batch.
func (j *Journal) shipAll(ctx context.Context) error {
	for {
		end := j.end()
		from := j.shippedPos()
		if !from.before(end) {
			return nil
		}
		recs, next, err := j.read(from, end, 512)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			if err := j.sink(ctx, recs); err != nil {
				return fmt.Errorf("audit: ship %d records: %w", len(recs), err)
			}
		}
		j.advance(from, next)
	}
}

// read returns up to limit records from `from`, never past end, and where they stop. A
// segment before end's is complete: reaching its end moves on to the next one.
func (j *Journal) read(from, end pos, limit int) ([][]byte, pos, error) {
	f, err := os.Open(j.segPath(from.seg))
	if errors.Is(err, os.ErrNotExist) && from.seg < end.seg {
		return nil, pos{seg: from.seg + 1}, nil
	}
	if err != nil {
		return nil, from, fmt.Errorf("audit: open segment: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from.off, io.SeekStart); err != nil {
		return nil, from, fmt.Errorf("audit: seek segment: %w", err)
	}
	stop := int64(-1) // read to the end of a complete segment
	if from.seg == end.seg {
		stop = end.off
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var recs [][]byte
	at := from
	for len(recs) < limit && (stop < 0 || at.off < stop) {
		rec, n, err := readFrame(r)
		if err == io.EOF && stop < 0 {
			return recs, pos{seg: from.seg + 1}, nil
		}
		if err != nil {
			return nil, from, fmt.Errorf("audit: segment %d at %d: %w", at.seg, at.off, err)
		}
		recs = append(recs, rec)
		at.off += n
	}
	return recs, at, nil
}

// readFrame reads one record; io.EOF only at a clean end.
func readFrame(r *bufio.Reader) ([]byte, int64, error) {
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, 0, errors.New("torn record header")
		}
		return nil, 0, err
	}
	n := binary.LittleEndian.Uint32(head[:4])
	if n == 0 || n > MaxRecord {
		return nil, 0, fmt.Errorf("record length %d out of range", n)
	}
	rec := make([]byte, n)
	if _, err := io.ReadFull(r, rec); err != nil {
		return nil, 0, errors.New("torn record")
	}
	if crc32.Checksum(rec, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
		return nil, 0, errors.New("record checksum mismatch")
	}
	return rec, 8 + int64(n), nil
}

// validLength is how many bytes at the start of a segment are whole records.
func validLength(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("audit: open segment: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var n int64
	for {
		_, size, err := readFrame(r)
		if err != nil {
			return n, nil
		}
		n += size
	}
}

// advance records that everything before `to` is shipped: the checkpoint file, then the
// segments left behind. The checkpoint is rewritten at most once a second, and whenever a
// segment is left behind: a checkpoint that lags, or is lost in a machine crash, only ships
// some records again, which their keys make harmless.
func (j *Journal) advance(from, to pos) {
	if from.seg < to.seg || time.Since(j.checkpointed) >= time.Second {
		j.writeCheckpoint(to)
	}
	for s := from.seg; s < to.seg; s++ {
		os.Remove(j.segPath(s))
	}
	j.shipMu.Lock()
	j.shipped = to
	close(j.shipCh)
	j.shipCh = make(chan struct{})
	j.shipMu.Unlock()
}

func (j *Journal) writeCheckpoint(p pos) {
	cp := filepath.Join(j.dir, "checkpoint")
	tmp := cp + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d %d\n", p.seg, p.off)), 0o600); err == nil {
		os.Rename(tmp, cp)
	}
	j.checkpointed = time.Now()
}

func (j *Journal) shippedPos() pos {
	j.shipMu.Lock()
	defer j.shipMu.Unlock()
	return j.shipped
}

func (j *Journal) readCheckpoint() pos {
	b, err := os.ReadFile(filepath.Join(j.dir, "checkpoint"))
	if err != nil {
		return pos{}
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return pos{}
	}
	seg, err1 := strconv.ParseUint(f[0], 10, 64)
	off, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || off < 0 {
		return pos{}
	}
	return pos{seg, off}
}

// Flush waits until every record appended before the call has been shipped.
func (j *Journal) Flush(ctx context.Context) error {
	target := j.end()
	select {
	case j.wake <- struct{}{}:
	default:
	}
	for {
		j.shipMu.Lock()
		shipped, ch := j.shipped, j.shipCh
		j.shipMu.Unlock()
		if !shipped.before(target) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("audit: flush: %w", ctx.Err())
		case <-ch:
		case <-j.done:
			return errors.New("audit: flush: the journal is no longer shipping")
		}
	}
}

// Unshipped is how many bytes of records wait to be shipped (an estimate across segments).
func (j *Journal) Unshipped() int64 {
	end, from := j.end(), j.shippedPos()
	if !from.before(end) {
		return 0
	}
	if from.seg == end.seg {
		return end.off - from.off
	}
	return int64(end.seg-from.seg)*j.segSize - from.off + end.off
}

// Close stops appends and releases the journal; call it after Run has returned.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	err := j.f.Close()
	j.lock.Close()
	return err
}

func (j *Journal) segPath(seg uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%020d.journal", seg))
}

// segments lists the segment numbers present, oldest first.
func (j *Journal) segments() ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(j.dir, "*.journal"))
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, n := range names {
		if s, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".journal"), 10, 64); err == nil {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}
