package porting_test

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"socle/internal/emergency/porting"
)

// A national-scale set: five million ported mobile numbers (33 6… and 33 7…) spread over four
// operators, and queries for numbers held (hit) and not held (miss) — most numbers a PSAP
// asks about were never ported, so misses are the common case.
const benchNumbers = 5_000_000

var bench = sync.OnceValue(func() (d struct {
	numbers      []uint64
	operators    []string // of each number
	hits, misses []string // queries, E.164 digits
}) {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := []string{"op-a", "op-b", "op-c", "op-d"}
	// Increasing by 1 to 79 (40 on average) spreads the numbers over 33 6… and 33 7…,
	// unique and in order.
	held := map[uint64]bool{}
	n := uint64(33600000000)
	for range benchNumbers {
		n += 1 + rng.Uint64N(79)
		d.numbers = append(d.numbers, n)
		d.operators = append(d.operators, ops[rng.IntN(len(ops))])
		held[n] = true
	}
	for len(d.hits) < 1<<16 {
		d.hits = append(d.hits, strconv.FormatUint(d.numbers[rng.IntN(len(d.numbers))], 10))
	}
	for len(d.misses) < 1<<16 {
		if m := d.numbers[0] + rng.Uint64N(d.numbers[len(d.numbers)-1]-d.numbers[0]); !held[m] {
			d.misses = append(d.misses, strconv.FormatUint(m, 10))
		}
	}
	return d
})

// heapBytes returns the bytes build leaves on the heap, with what it built.
func heapBytes[T any](build func() T) (T, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return v, float64(after.HeapAlloc) - float64(before.HeapAlloc)
}

func BenchmarkIndexLookup(b *testing.B) {
	d := bench()
	x, size := heapBytes(func() *porting.Index {
		sets := map[string][]uint64{}
		for i, n := range d.numbers {
			sets[d.operators[i]] = append(sets[d.operators[i]], n)
		}
		for op, s := range sets {
			sets[op] = append([]uint64(nil), s...) // at its size, as Load allocates it
		}
		return porting.FromSets(sets)
	})
	if x.Len() != benchNumbers {
		b.Fatalf("Len = %d", x.Len())
	}
	for _, c := range []struct {
		name    string
		queries []string
		found   bool
	}{{"hit", d.hits, true}, {"miss", d.misses, false}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := x.Lookup(c.queries[i&(1<<16-1)]); ok != c.found {
					b.Fatal("wrong answer")
				}
				i++
			}
			b.ReportMetric(size/benchNumbers, "B/number")
		})
	}
	runtime.KeepAlive(x)
}

// BenchmarkMapLookup is the baseline: a map from number to operator, the obvious structure.
func BenchmarkMapLookup(b *testing.B) {
	d := bench()
	m, size := heapBytes(func() map[uint64]string {
		m := make(map[uint64]string, len(d.numbers))
		for i, n := range d.numbers {
			m[n] = d.operators[i]
		}
		return m
	})
	for _, c := range []struct {
		name    string
		queries []string
		found   bool
	}{{"hit", d.hits, true}, {"miss", d.misses, false}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				n, err := strconv.ParseUint(c.queries[i&(1<<16-1)], 10, 64)
				if _, ok := m[n]; err != nil || ok != c.found {
					b.Fatal("wrong answer")
				}
				i++
			}
			b.ReportMetric(size/benchNumbers, "B/number")
		})
	}
	runtime.KeepAlive(m)
}
