package statuslist

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// ErrFull is returned by [Allocator.Allocate] when every index is taken.
var ErrFull = errors.New("statuslist: no free index left in the list")

// Allocator hands out the indexes of one status list, each at most once and
// in an unpredictable order. Sequential indexes would let Relying Parties
// and outsiders infer issuance order and volume and correlate holders;
// §12.4 (Observability of Outsiders) and §12.5.1 (Cross-party Collusion)
// recommend non-sequential, random indices, and §13.3 asks the Status Issuer
// to prevent double allocation. The wallet service persists what it
// allocates and gives it back to [NewAllocator] on restart.
//
// It keeps one bit per index and draws from a ChaCha8 generator seeded from
// crypto/rand. It is safe for concurrent use.
type Allocator struct {
	mu   sync.Mutex
	used []uint64
	size int
	free int
	rng  *rand.Rand
}

// NewAllocator returns an allocator for indexes [0, size) with the indexes in
// used already taken.
func NewAllocator(size int, used []int) (*Allocator, error) {
	if size <= 0 {
		return nil, fmt.Errorf("statuslist: allocator size must be positive, got %d", size)
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("statuslist: seed: %w", err)
	}
	a := &Allocator{
		used: make([]uint64, (size+63)/64),
		size: size,
		free: size,
		rng:  rand.New(rand.NewChaCha8(seed)),
	}
	for _, i := range used {
		if i < 0 || i >= size {
			return nil, fmt.Errorf("%w: used index %d", ErrIndexOutOfRange, i)
		}
		if a.used[i/64]&(1<<(i%64)) != 0 {
			return nil, fmt.Errorf("statuslist: index %d listed twice as used", i)
		}
		a.used[i/64] |= 1 << (i % 64)
		a.free--
	}
	return a, nil
}

// Free returns how many indexes are left.
func (a *Allocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.free
}

// Allocate returns an index not handed out before, drawn uniformly among the
// free ones.
func (a *Allocator) Allocate() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == 0 {
		return 0, ErrFull
	}
	// Pick the r-th free index: a scan of the bitmap, one word at a time.
	r := a.rng.IntN(a.free)
	for w, word := range a.used {
		freeBits := ^word
		if last := a.size - w*64; last < 64 {
			freeBits &= 1<<last - 1
		}
		n := bits.OnesCount64(freeBits)
		if r >= n {
			r -= n
			continue
		}
		for ; r > 0; r-- {
			freeBits &= freeBits - 1 // drop the lowest free bit
		}
		b := bits.TrailingZeros64(freeBits)
		a.used[w] |= 1 << b
		a.free--
		return w*64 + b, nil
	}
	panic("statuslist: allocator bitmap and free count disagree")
}
