package notes

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrLeft is returned to a Peer that submits after leaving.
var ErrLeft = errors.New("notes: the participant has left the notes")

// How much history a Doc keeps at most, whatever its peers still need: a peer that falls
// further behind gets ErrStale and reloads.
const (
	historyOps  = 1000    // operations
	historySize = 4 << 20 // bytes, as MaxOpSize measures them
)

// A Doc is the server's copy of a meeting's notes: the text, its revision (the number of
// operations applied so far) and the operations a client may still have to be transformed
// against. It is safe for concurrent use.
type Doc struct {
	mu        sync.Mutex
	text      string
	length    int // of text, in code points
	rev       int
	first     int     // the oldest revision an op may be based on
	history   []entry // history[i] took the text from revision first+i to first+i+1
	histSize  int
	peers     map[*Peer]struct{}
	destroyed bool

	maxOps, maxSize int // historyOps, historySize; smaller in tests
}

type entry struct {
	op      Op
	baseLen int
	size    int
}

// NewDoc returns empty notes at revision 0.
func NewDoc() *Doc {
	return &Doc{peers: map[*Peer]struct{}{}, maxOps: historyOps, maxSize: historySize}
}

// Snapshot returns the current text and its revision, for a client to start from.
func (d *Doc) Snapshot() (text string, rev int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.text, d.rev
}

// Submit applies op, made by a client on the text at revision clientRev, after transforming
// it against every operation applied since. It returns the op as applied, to send to the
// other clients, and the new revision, to acknowledge to the sender; both go out in
// revision order (the browser client puts them back in order if they do not).
//
// An op based on a revision whose history is gone is refused with ErrStale, one from the
// future with ErrRevision, one that does not fit the text at its revision with ErrLength;
// ErrTooLarge refuses ops over MaxOpSize and texts over MaxTextSize. After any refusal
// the client must reload the notes from a Snapshot.
//
// A Doc keeps the last 1000 operations (4 MiB at most) for clients that submit this way;
// when clients submit through Peers it keeps only what the slowest of them still needs.
func (d *Doc) Submit(clientRev int, op Op) (applied Op, rev int, err error) {
	return d.submit(nil, clientRev, op)
}

func (d *Doc) submit(p *Peer, clientRev int, op Op) (Op, int, error) {
	if err := op.check(); err != nil {
		return nil, 0, err
	}
	if n := op.size(); n > MaxOpSize {
		return nil, 0, fmt.Errorf("%w: the operation has %d bytes, at most %d are accepted", ErrTooLarge, n, MaxOpSize)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.destroyed:
		return nil, 0, ErrDestroyed
	case p != nil && p.left:
		return nil, 0, ErrLeft
	case clientRev < 0 || clientRev > d.rev:
		return nil, 0, fmt.Errorf("%w: %d, the notes are at revision %d", ErrRevision, clientRev, d.rev)
	case clientRev < d.first:
		return nil, 0, fmt.Errorf("%w: revision %d, the oldest still known is %d", ErrStale, clientRev, d.first)
	}
	if n, want := op.BaseLen(), d.lengthAt(clientRev); n != want {
		return nil, 0, fmt.Errorf("%w: it spans %d code points, the text had %d at revision %d", ErrLength, n, want, clientRev)
	}
	for _, e := range d.history[clientRev-d.first:] {
		var err error
		if op, _, err = Transform(op, e.op); err != nil {
			return nil, 0, err // cannot happen: the lengths were checked
		}
	}
	text, err := op.Apply(d.text)
	if err != nil {
		return nil, 0, err // cannot happen either
	}
	if len(text) > MaxTextSize && len(text) > len(d.text) {
		return nil, 0, fmt.Errorf("%w: the notes would have %d bytes, at most %d are kept", ErrTooLarge, len(text), MaxTextSize)
	}
	e := entry{op: op, baseLen: d.length, size: op.size()}
	d.history = append(d.history, e)
	d.histSize += e.size
	d.text, d.length = text, op.TargetLen()
	d.rev++
	if p != nil {
		// The sender's next op comes after this one's acknowledgement, so it is based on
		// this revision or a later one.
		p.rev = d.rev
	}
	d.trim()
	return slices.Clone(op), d.rev, nil
}

// lengthAt is the length of the text at revision rev, first <= rev <= d.rev.
func (d *Doc) lengthAt(rev int) int {
	if rev == d.rev {
		return d.length
	}
	return d.history[rev-d.first].baseLen
}

// trim drops the history no client may still need, and beyond the limits.
func (d *Doc) trim() {
	from := d.rev - d.maxOps
	if len(d.peers) > 0 {
		oldest := d.rev
		for p := range d.peers {
			oldest = min(oldest, p.rev)
		}
		from = max(from, oldest)
	}
	drop := min(max(from-d.first, 0), len(d.history))
	size := d.histSize
	for _, e := range d.history[:drop] {
		size -= e.size
	}
	for ; size > d.maxSize && drop < len(d.history); drop++ {
		size -= d.history[drop].size
	}
	if drop > 0 {
		d.history = slices.Delete(d.history, 0, drop)
		d.first += drop
		d.histSize = size
	}
}

// Destroy ends the notes with the meeting: the text and history are dropped, and every
// later Submit is refused with ErrDestroyed. Snapshot then returns an empty text.
func (d *Doc) Destroy() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.destroyed = true
	d.text, d.length = "", 0
	d.history, d.histSize = nil, 0
	d.first = d.rev
	clear(d.peers)
}

// A Peer is one participant's connection to the notes. Submitting through it tells the Doc
// how far back that client may still send, so that history older than the oldest
// revision any peer may still send is dropped.
type Peer struct {
	d    *Doc
	rev  int // the oldest revision this peer may still send an op on
	left bool
}

// Join registers a participant and returns the text it starts from and its revision.
func (d *Doc) Join() (p *Peer, text string, rev int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p = &Peer{d: d, rev: d.rev}
	if !d.destroyed {
		d.peers[p] = struct{}{}
	}
	return p, d.text, d.rev
}

// Submit is Doc.Submit for this participant.
func (p *Peer) Submit(clientRev int, op Op) (applied Op, rev int, err error) {
	return p.d.submit(p, clientRev, op)
}

// Snapshot returns the current text and revision, for a participant that reloads the
// notes (after ErrStale, say); the peer's older revisions are then forgotten.
func (p *Peer) Snapshot() (text string, rev int) {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if !p.left {
		p.rev = d.rev
		d.trim()
	}
	return d.text, d.rev
}

// Leave unregisters the participant; its history is dropped and later Submits refused.
func (p *Peer) Leave() {
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if p.left {
		return
	}
	p.left = true
	delete(d.peers, p)
	if !d.destroyed {
		d.trim()
	}
}
