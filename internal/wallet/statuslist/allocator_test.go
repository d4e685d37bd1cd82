package statuslist

import (
	"errors"
	"testing"
)

func TestAllocatorHandsOutEveryIndexOnce(t *testing.T) {
	const size = 1000 // not a multiple of 64: the last word is partial
	a, err := NewAllocator(size, []int{0, 63, 64, 999})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{0: true, 63: true, 64: true, 999: true}
	for range size - 4 {
		i, err := a.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if i < 0 || i >= size || seen[i] {
			t.Fatalf("index %d: out of range or handed out twice", i)
		}
		seen[i] = true
	}
	if _, err := a.Allocate(); !errors.Is(err, ErrFull) {
		t.Fatalf("full list: %v", err)
	}
	if a.Free() != 0 {
		t.Fatalf("Free = %d", a.Free())
	}
}

// §12.4 and §12.5.1 recommend non-sequential, random indices: two
// allocators, like two restarts, do not hand out the same sequence, and
// neither counts up.
func TestAllocatorIsUnpredictable(t *testing.T) {
	draw := func() []int {
		a, err := NewAllocator(1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int, 16)
		for k := range out {
			out[k], _ = a.Allocate()
		}
		return out
	}
	x, y := draw(), draw()
	same, ascending := 0, 0
	for k := range x {
		if x[k] == y[k] {
			same++
		}
		if k > 0 && x[k] == x[k-1]+1 {
			ascending++
		}
	}
	if same > 1 || ascending > 1 {
		t.Fatalf("predictable allocation: %v and %v", x, y)
	}
}

func TestAllocatorRefusals(t *testing.T) {
	if _, err := NewAllocator(0, nil); err == nil {
		t.Error("size 0")
	}
	if _, err := NewAllocator(8, []int{8}); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("used index beyond size: %v", err)
	}
	if _, err := NewAllocator(8, []int{3, 3}); err == nil {
		t.Error("an index listed twice as used")
	}
}
