package geo

import (
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

var (
	franceOnce sync.Once
	france     []Commune
	franceIx   *Index
)

// metropole is 35,000 synthetic communes of about 200 vertices each.
func metropole() ([]Commune, *Index) {
	franceOnce.Do(func() {
		france = Synthetic(35000, 200, 1)
		franceIx = NewIndex(france)
	})
	return france, franceIx
}

func points(n int) [][2]float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{41.3 + rng.Float64()*9.8, -5 + rng.Float64()*14.5}
	}
	return out
}

func BenchmarkLocate(b *testing.B) {
	_, ix := metropole()
	pts := points(1 << 16)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pts[i&(len(pts)-1)]
		ix.Locate(p[0], p[1])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resolves/s")
}

// BenchmarkLocateNaive is the baseline: a bounding-box scan of every commune with the plain
// even-odd test.
func BenchmarkLocateNaive(b *testing.B) {
	cs, _ := metropole()
	pts := points(1 << 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pts[i&(len(pts)-1)]
		for k := range cs {
			if cs[k].ContainsNaive(p[1], p[0]) {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resolves/s")
}

// BenchmarkNewIndex builds the index of metropole's communes, and reports its size.
func BenchmarkNewIndex(b *testing.B) {
	cs, _ := metropole()
	var ix *Index
	for b.Loop() {
		ix = NewIndex(cs)
	}
	size := len(ix.blocks)*4 + len(ix.cells)*int(unsafe.Sizeof(cell{}))
	for _, rec := range ix.records {
		size += len(rec) * 8
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}
