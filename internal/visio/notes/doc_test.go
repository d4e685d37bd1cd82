package notes

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// simClient is a browser client as static/notes.js implements it: synchronized, awaiting
// the acknowledgement of one op, or awaiting it with more buffered; messages from the
// server applied in revision order whatever order they arrive in.
type simClient struct {
	peer        *Peer
	joined      bool
	text        string
	rev         int
	outstanding Op // nil when synchronized
	buffer      Op // nil unless awaiting with a buffer
	held        map[int]message
	outbox      []message // to the server, at most one op in flight
	inbox       []message // from the server, delivered in any order
}

// message is an edit or an acknowledgement (no op), with the revision after it.
type message struct {
	rev int
	op  Op
}

func (c *simClient) edit(t *testing.T, op Op) {
	c.text = mustApply(t, c.text, op)
	switch {
	case c.outstanding == nil:
		c.outstanding = op
		c.outbox = append(c.outbox, message{c.rev, op})
	case c.buffer == nil:
		c.buffer = op
	default:
		var err error
		if c.buffer, err = Compose(c.buffer, op); err != nil {
			t.Fatal(err)
		}
	}
}

func (c *simClient) receive(t *testing.T, m message) {
	if m.rev <= c.rev {
		return // already in the snapshot
	}
	c.held[m.rev] = m
	for {
		m, ok := c.held[c.rev+1]
		if !ok {
			return
		}
		delete(c.held, m.rev)
		c.rev = m.rev
		if m.op == nil { // our op is in
			c.outstanding, c.buffer = c.buffer, nil
			if c.outstanding != nil {
				c.outbox = append(c.outbox, message{c.rev, c.outstanding})
			}
			continue
		}
		op := m.op
		var err error
		if c.outstanding != nil {
			if c.outstanding, op, err = Transform(c.outstanding, op); err != nil {
				t.Fatal(err)
			}
		}
		if c.buffer != nil {
			if c.buffer, op, err = Transform(c.buffer, op); err != nil {
				t.Fatal(err)
			}
		}
		c.text = mustApply(t, c.text, op)
	}
}

func TestClientsEditingAtOnceConverge(t *testing.T) {
	for seed := range uint64(20) {
		rnd := rand.New(rand.NewPCG(seed, 42))
		doc := NewDoc()
		var clients []*simClient
		join := func() *simClient {
			// Subscribed first, the snapshot taken some steps later: what arrives in
			// between is already in it.
			c := &simClient{held: map[int]message{}}
			clients = append(clients, c)
			return c
		}
		for range 3 {
			join()
		}
		submits, concurrent := 0, 0
		for step := range 3000 {
			if step%500 == 250 {
				join()
			}
			c := clients[rnd.IntN(len(clients))]
			switch k := rnd.IntN(10); {
			case c.peer != nil && c.peer.left:
			case !c.joined:
				if rnd.IntN(5) == 0 {
					c.peer, c.text, c.rev = doc.Join()
					c.joined = true
				}
			case k < 3:
				c.edit(t, randomEdit(rnd, utf8.RuneCountInString(c.text)))
			case k < 6 && len(c.outbox) > 0:
				m := c.outbox[0]
				c.outbox = c.outbox[1:]
				applied, rev, err := c.peer.Submit(m.rev, m.op)
				if err != nil {
					t.Fatalf("seed %d step %d: Submit(%d, %v): %v", seed, step, m.rev, m.op, err)
				}
				submits++
				if rev > m.rev+1 {
					concurrent++
				}
				for _, o := range clients {
					if o == c {
						o.inbox = append(o.inbox, message{rev: rev})
					} else if o.peer == nil || !o.peer.left {
						o.inbox = append(o.inbox, message{rev, applied})
					}
				}
			case len(c.inbox) > 0:
				// Delivery is late and out of order.
				j := rnd.IntN(len(c.inbox))
				m := c.inbox[j]
				c.inbox = slices.Delete(c.inbox, j, j+1)
				c.receive(t, m)
			}
			if step == 2000 && c.joined && c.outstanding == nil {
				c.peer.Leave()
			}
		}
		// Let the network drain.
		for busy := true; busy; {
			busy = false
			for _, c := range clients {
				if !c.joined {
					c.peer, c.text, c.rev = doc.Join()
					c.joined = true
				}
				if c.peer.left {
					continue
				}
				for len(c.outbox) > 0 || len(c.inbox) > 0 {
					busy = true
					if len(c.outbox) > 0 {
						m := c.outbox[0]
						c.outbox = c.outbox[1:]
						applied, rev, err := c.peer.Submit(m.rev, m.op)
						if err != nil {
							t.Fatalf("seed %d draining: %v", seed, err)
						}
						submits++
						for _, o := range clients {
							if o == c {
								o.inbox = append(o.inbox, message{rev: rev})
							} else if !o.joined || !o.peer.left {
								o.inbox = append(o.inbox, message{rev, applied})
							}
						}
					}
					for _, m := range c.inbox {
						c.receive(t, m)
					}
					c.inbox = nil
				}
			}
		}
		text, rev := doc.Snapshot()
		if rev != submits {
			t.Fatalf("seed %d: revision %d after %d ops", seed, rev, submits)
		}
		for k, c := range clients {
			if c.peer.left {
				continue
			}
			if c.text != text || c.rev != rev || c.outstanding != nil || len(c.held) > 0 {
				t.Fatalf("seed %d: client %d has %q at %d (pending %v), the server %q at %d", seed, k, c.text, c.rev, c.outstanding, text, rev)
			}
		}
		// History goes back to the oldest revision a peer may still send, no further.
		oldest := rev
		for p := range doc.peers {
			oldest = min(oldest, p.rev)
		}
		if doc.first != oldest || len(doc.history) != rev-oldest {
			t.Fatalf("seed %d: history from %d (%d ops), the oldest peer is at %d of %d", seed, doc.first, len(doc.history), oldest, rev)
		}
		if concurrent < submits/3 {
			t.Fatalf("seed %d: only %d of %d ops were concurrent with others", seed, concurrent, submits)
		}
		t.Logf("seed %d: %d ops, %d transformed, %d code points, history %d", seed, rev, concurrent, utf8.RuneCountInString(text), len(doc.history))
	}
}

// randomEdit is what a person does at a keyboard: type, erase, select and type over, paste;
// or, on a short text, a random edit anywhere.
func randomEdit(rnd *rand.Rand, n int) Op {
	if n < 30 {
		return randomOp(rnd, n)
	}
	at := rnd.IntN(n + 1)
	del := 0
	if rnd.IntN(2) == 0 {
		del = rnd.IntN(min(n-at, 8) + 1)
	}
	return Op{}.retain(at).delete(del).insert(randomText(rnd, rnd.IntN(5))).retain(n - at - del)
}

func TestALateJoinerGetsTheCurrentText(t *testing.T) {
	doc := NewDoc()
	a, _, rev := doc.Join()
	if _, rev, _ = a.Submit(rev, Op{i("Ordre du jour\n")}); rev != 1 {
		t.Fatal(rev)
	}
	// b and c type at once on revision 1; c's op reaches the server second.
	b, _, _ := doc.Join()
	c, _, _ := doc.Join()
	if _, _, err := b.Submit(1, Op{r(14), i("1. budget\n")}); err != nil {
		t.Fatal(err)
	}
	if applied, rev, err := c.Submit(1, Op{i("Réunion — "), r(14)}); err != nil || rev != 3 || applied.String() != `["Réunion — ",24]` {
		t.Fatalf("%v %d %v", applied, rev, err)
	}
	_, text, rev := doc.Join()
	if text != "Réunion — Ordre du jour\n1. budget\n" || rev != 3 {
		t.Fatalf("the latecomer gets %q at %d", text, rev)
	}
}

func TestSubmitRefusesWhatItCannotApply(t *testing.T) {
	doc := NewDoc()
	doc.Submit(0, Op{i("abc")})
	for _, c := range []struct {
		name string
		rev  int
		op   Op
		want error
	}{
		{"from the future", 2, Op{r(3)}, ErrRevision},
		{"a negative revision", -1, Op{r(3)}, ErrRevision},
		{"too short for the text at its revision", 1, Op{r(2)}, ErrLength},
		{"too long for the text at its revision", 0, Op{r(3)}, ErrLength},
		{"invalid", 1, Op{{Retain: 1, Delete: 2}}, ErrInvalid},
		{"too large", 1, Op{r(3), i(strings.Repeat("x", MaxOpSize))}, ErrTooLarge},
	} {
		if _, _, err := doc.Submit(c.rev, c.op); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if text, rev := doc.Snapshot(); text != "abc" || rev != 1 {
		t.Fatalf("refused ops changed the text: %q %d", text, rev)
	}
}

func TestTheTextStopsAtMaxTextSize(t *testing.T) {
	doc := NewDoc()
	chunk := strings.Repeat("é", MaxOpSize/2-2) // 65532 bytes, 32766 code points
	var err error
	for n := 0; err == nil; n++ {
		text, rev := doc.Snapshot()
		_, _, err = doc.Submit(rev, Op{}.retain(utf8.RuneCountInString(text)).insert(chunk))
		if err == nil && len(text)+len(chunk) > MaxTextSize {
			t.Fatalf("the text grew to %d bytes", len(text)+len(chunk))
		}
		if n > MaxTextSize/len(chunk)+1 {
			t.Fatal("never refused")
		}
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
	text, rev := doc.Snapshot()
	if _, _, err := doc.Submit(rev, Op{d(1), r(utf8.RuneCountInString(text) - 1)}); err != nil {
		t.Fatalf("a full text can still be cut: %v", err)
	}
}

func TestHistoryIsKeptForTheSlowestPeerOnly(t *testing.T) {
	doc := NewDoc()
	doc.maxOps = 5
	fast, _, _ := doc.Join()
	slow, _, _ := doc.Join()
	for rev := range 4 {
		if _, _, err := fast.Submit(rev, Op{}.retain(rev).insert("x")); err != nil {
			t.Fatal(err)
		}
	}
	if doc.first != 0 || len(doc.history) != 4 {
		t.Fatalf("slow still needs revision 0: history from %d, %d ops", doc.first, len(doc.history))
	}
	// slow typed on revision 0; its op is transformed past fast's four.
	if applied, rev, err := slow.Submit(0, Op{i("y")}); err != nil || rev != 5 || applied.String() != `["y",4]` {
		t.Fatalf("%v %d %v", applied, rev, err)
	}
	if doc.first != 4 || len(doc.history) != 1 {
		t.Fatalf("fast may still send on revision 4: history from %d, %d ops", doc.first, len(doc.history))
	}
	fast.Leave()
	if doc.first != 5 || len(doc.history) != 0 {
		t.Fatalf("slow is at 5 and alone: history from %d, %d ops", doc.first, len(doc.history))
	}
	if _, _, err := fast.Submit(5, Op{r(5)}); !errors.Is(err, ErrLeft) {
		t.Fatalf("after leaving: %v", err)
	}
	// A peer that stays behind longer than the limit must reload.
	for rev := 5; rev < 11; rev++ {
		if _, _, err := doc.Submit(rev, Op{r(rev), i("z")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := slow.Submit(5, Op{r(5), i("!")}); !errors.Is(err, ErrStale) {
		t.Fatalf("6 ops behind with 5 kept: %v", err)
	}
	text, rev := slow.Snapshot()
	if _, _, err := slow.Submit(rev, Op{r(utf8.RuneCountInString(text)), i("!")}); err != nil {
		t.Fatalf("after reloading: %v", err)
	}
	if len(doc.history) != 0 {
		t.Fatalf("history of %d ops with the only peer up to date", len(doc.history))
	}
}

func TestHistoryIsBoundedInSize(t *testing.T) {
	doc := NewDoc()
	doc.maxSize = 10
	for rev := range 3 {
		if _, _, err := doc.Submit(rev, Op{}.retain(3*rev).insert("xyz")); err != nil { // sizes 4, 5, 5
			t.Fatal(err)
		}
	}
	if doc.first != 1 || len(doc.history) != 2 || doc.histSize != 10 {
		t.Fatalf("history from %d, %d ops, %d bytes", doc.first, len(doc.history), doc.histSize)
	}
	if _, _, err := doc.Submit(0, Op{i("a")}); !errors.Is(err, ErrStale) {
		t.Fatalf("on a dropped revision: %v", err)
	}
	if applied, _, err := doc.Submit(1, Op{r(3), i("a")}); err != nil || applied.String() != `[3,"a",6]` {
		t.Fatalf("on a kept revision: %v %v", applied, err)
	}
}

func TestDestroyWipesTheNotes(t *testing.T) {
	doc := NewDoc()
	p, _, _ := doc.Join()
	doc.Submit(0, Op{i("secret")})
	doc.Destroy()
	if text, _ := doc.Snapshot(); text != "" {
		t.Fatalf("after Destroy: %q", text)
	}
	if len(doc.history) != 0 || len(doc.peers) != 0 {
		t.Fatalf("history %v, peers %d", doc.history, len(doc.peers))
	}
	for name, submit := range map[string]func() error{
		"Doc":  func() error { _, _, err := doc.Submit(1, Op{}); return err },
		"Peer": func() error { _, _, err := p.Submit(1, Op{}); return err },
	} {
		if err := submit(); !errors.Is(err, ErrDestroyed) {
			t.Errorf("%s.Submit after Destroy: %v", name, err)
		}
	}
	if _, text, _ := doc.Join(); text != "" {
		t.Fatalf("joining after Destroy: %q", text)
	}
	p.Snapshot()
	p.Leave()
}

func TestSubmitIsSafeForConcurrentUse(t *testing.T) {
	doc := NewDoc()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		inserted []rune
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(g), 7))
			p, _, _ := doc.Join()
			defer p.Leave()
			for range 200 {
				text, rev := p.Snapshot()
				s := randomText(rnd, 1+rnd.IntN(3))
				at := rnd.IntN(utf8.RuneCountInString(text) + 1)
				if _, _, err := p.Submit(rev, Op{}.retain(at).insert(s).retain(utf8.RuneCountInString(text)-at)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inserted = append(inserted, []rune(s)...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	text, rev := doc.Snapshot()
	got := []rune(text)
	slices.Sort(got)
	slices.Sort(inserted)
	if rev != 8*200 || !slices.Equal(got, inserted) {
		t.Fatalf("revision %d, %d code points, %d inserted", rev, len(got), len(inserted))
	}
}
