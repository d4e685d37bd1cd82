package geo

import (
	"math"
	"sort"
)

// Index answers "which commune contains this point" without allocating, in up to three steps:
//
//  1. A uniform grid, finer than the communes (about 64 cells each), knows for every cell no
//     border crosses which commune it lies in, or that it lies in none: most points are
//     answered by one memory access.
//  2. For a cell a border crosses, the grid gives the few communes whose bounding box meets it.
//  3. Each commune's edges are sorted into horizontal slabs; the even-odd test only looks at
//     the edges of the point's slab, which are all the edges an eastward ray from the point
//     can cross at that latitude. A 300-vertex commune costs a handful of edge tests.
//
// Holes and islands need nothing special: the even-odd rule over every ring of every polygon
// of a commune handles both. A point on a border shared by two communes belongs to exactly
// one (the half-open crossing rule); if several still claim it, the lowest code wins, since
// candidates are kept in code order.
type Index struct {
	communes []Commune
	byCode   map[string]int

	// Flattened vertices of every ring, ring after ring.
	xs, ys []float64
	// Per commune: its slabs.
	slabs []slabs
	// Edge ids (index of the edge's first vertex in xs/ys), slab after slab.
	edges []int32

	// Grid of candidates.
	minLon, minLat float64
	cellW, cellH   float64
	cols, rows     int
	cellStart      []int32 // len cols*rows+1, offsets into cands
	cands          []int32 // commune indices
	// answer per cell: a commune index, noCommune, or border (look at the candidates).
	answer []int32
}

const (
	noCommune = -1
	border    = -2
)

type slabs struct {
	bbox    BBox
	minLat  float64
	inv     float64 // slabs per degree of latitude
	n       int32
	offsets []int32 // len n+1, offsets into Index.edges
}

// NewIndex builds the index. It keeps cs.
func NewIndex(cs []Commune) *Index {
	ix := &Index{byCode: make(map[string]int, len(cs))}
	ix.communes = append([]Commune(nil), cs...)
	sort.Slice(ix.communes, func(i, j int) bool { return ix.communes[i].Code < ix.communes[j].Code })
	for i := range ix.communes {
		if math.IsInf(ix.communes[i].BBox.MinLon, 0) || ix.communes[i].BBox == (BBox{}) {
			ix.communes[i].ComputeBBox()
		}
		ix.byCode[ix.communes[i].Code] = i
	}
	ix.slabs = make([]slabs, len(ix.communes))
	for i := range ix.communes {
		ix.addCommune(i)
	}
	ix.buildGrid()
	// The flattened rings are all the index needs: drop the second copy of every boundary.
	for i := range ix.communes {
		ix.communes[i].Geometry = nil
	}
	return ix
}

func (ix *Index) addCommune(i int) {
	c := &ix.communes[i]
	var edgeIDs []int32
	for _, poly := range c.Geometry {
		for _, ring := range poly {
			base := int32(len(ix.xs))
			for _, p := range ring {
				ix.xs = append(ix.xs, p.Lon)
				ix.ys = append(ix.ys, p.Lat)
			}
			for k := 0; k+1 < len(ring); k++ {
				if ring[k].Lat != ring[k+1].Lat { // horizontal edges never cross an eastward ray
					edgeIDs = append(edgeIDs, base+int32(k))
				}
			}
		}
	}
	s := slabs{bbox: c.BBox, minLat: c.BBox.MinLat}
	// About four edges per slab: finer slabs shorten the test on near-horizontal borders but
	// multiply the entries of steep edges, which span many slabs (measured: one slab per edge
	// gave 7.6 entries per edge, 213 MB for 35,000 communes, for 15 % speed).
	s.n = int32(max(1, len(edgeIDs)/4))
	height := c.BBox.MaxLat - c.BBox.MinLat
	if height <= 0 {
		s.n = 1
		s.inv = 0
	} else {
		s.inv = float64(s.n) / height
	}
	counts := make([]int32, s.n+1)
	span := func(e int32) (int32, int32) {
		y1, y2 := ix.ys[e], ix.ys[e+1]
		return s.slab(math.Min(y1, y2)), s.slab(math.Max(y1, y2))
	}
	for _, e := range edgeIDs {
		a, b := span(e)
		for k := a; k <= b; k++ {
			counts[k+1]++
		}
	}
	s.offsets = make([]int32, s.n+1)
	base := int32(len(ix.edges))
	for k := int32(0); k < s.n; k++ {
		s.offsets[k+1] = s.offsets[k] + counts[k+1]
	}
	ix.edges = append(ix.edges, make([]int32, s.offsets[s.n])...)
	fill := append([]int32(nil), s.offsets[:s.n]...)
	for _, e := range edgeIDs {
		a, b := span(e)
		for k := a; k <= b; k++ {
			ix.edges[base+fill[k]] = e
			fill[k]++
		}
	}
	for k := range s.offsets {
		s.offsets[k] += base
	}
	ix.slabs[i] = s
}

func (s *slabs) slab(lat float64) int32 {
	k := int32((lat - s.minLat) * s.inv)
	if k < 0 {
		return 0
	}
	if k >= s.n {
		return s.n - 1
	}
	return k
}

func (ix *Index) buildGrid() {
	if len(ix.communes) == 0 {
		ix.cols, ix.rows, ix.cellStart = 0, 0, []int32{0}
		return
	}
	all := BBox{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, c := range ix.communes {
		all.MinLon, all.MaxLon = math.Min(all.MinLon, c.BBox.MinLon), math.Max(all.MaxLon, c.BBox.MaxLon)
		all.MinLat, all.MaxLat = math.Min(all.MinLat, c.BBox.MinLat), math.Max(all.MaxLat, c.BBox.MaxLat)
	}
	w, h := all.MaxLon-all.MinLon, all.MaxLat-all.MinLat
	// About 64 cells per commune, square in degrees: fine enough that most cells lie inside
	// one commune, bounded at 4 M cells (16 MB of answers).
	cells := math.Min(float64(64*len(ix.communes)), 4<<20)
	size := math.Sqrt(w * h / cells)
	if size <= 0 || math.IsNaN(size) {
		size = math.Max(w, h) + 1e-9
	}
	ix.cols = max(1, min(8192, int(math.Ceil(w/size))))
	ix.rows = max(1, min(8192, int(math.Ceil(h/size))))
	ix.minLon, ix.minLat = all.MinLon, all.MinLat
	ix.cellW, ix.cellH = math.Max(w, 1e-9)/float64(ix.cols), math.Max(h, 1e-9)/float64(ix.rows)
	counts := make([]int32, ix.cols*ix.rows+1)
	each := func(c *Commune, fn func(cell int)) {
		c0, r0 := ix.cell(c.BBox.MinLon, c.BBox.MinLat)
		c1, r1 := ix.cell(c.BBox.MaxLon, c.BBox.MaxLat)
		for r := r0; r <= r1; r++ {
			for cc := c0; cc <= c1; cc++ {
				fn(r*ix.cols + cc)
			}
		}
	}
	for i := range ix.communes {
		each(&ix.communes[i], func(cell int) { counts[cell+1]++ })
	}
	ix.cellStart = make([]int32, len(counts))
	for k := 1; k < len(counts); k++ {
		ix.cellStart[k] = ix.cellStart[k-1] + counts[k]
	}
	ix.cands = make([]int32, ix.cellStart[len(counts)-1])
	fill := append([]int32(nil), ix.cellStart...)
	for i := range ix.communes {
		each(&ix.communes[i], func(cell int) { ix.cands[fill[cell]] = int32(i); fill[cell]++ })
	}
	ix.buildAnswers()
}

// buildAnswers marks every cell that some edge may cross as a border cell (conservatively:
// every cell of the edge's bounding box), and gives every other cell the commune of its
// centre: no border crosses it, so all its points share that commune.
func (ix *Index) buildAnswers() {
	ix.answer = make([]int32, ix.cols*ix.rows)
	for i := range ix.slabs {
		s := &ix.slabs[i]
		for _, e := range ix.edges[s.offsets[0]:s.offsets[s.n]] {
			c0, r0 := ix.cell(math.Min(ix.xs[e], ix.xs[e+1]), math.Min(ix.ys[e], ix.ys[e+1]))
			c1, r1 := ix.cell(math.Max(ix.xs[e], ix.xs[e+1]), math.Max(ix.ys[e], ix.ys[e+1]))
			for r := r0; r <= r1; r++ {
				for c := c0; c <= c1; c++ {
					ix.answer[r*ix.cols+c] = border
				}
			}
		}
	}
	// Horizontal edges are not in the slabs (they cross no eastward ray) but are borders.
	for i := range ix.communes {
		for _, poly := range ix.communes[i].Geometry {
			for _, ring := range poly {
				for k := 0; k+1 < len(ring); k++ {
					if ring[k].Lat == ring[k+1].Lat {
						c0, r := ix.cell(math.Min(ring[k].Lon, ring[k+1].Lon), ring[k].Lat)
						c1, _ := ix.cell(math.Max(ring[k].Lon, ring[k+1].Lon), ring[k].Lat)
						for c := c0; c <= c1; c++ {
							ix.answer[r*ix.cols+c] = border
						}
					}
				}
			}
		}
	}
	for r := 0; r < ix.rows; r++ {
		for c := 0; c < ix.cols; c++ {
			cell := r*ix.cols + c
			if ix.answer[cell] == border {
				continue
			}
			lon := ix.minLon + (float64(c)+0.5)*ix.cellW
			lat := ix.minLat + (float64(r)+0.5)*ix.cellH
			ix.answer[cell] = int32(ix.scan(cell, lat, lon))
		}
	}
}

// cell returns the grid column and row of a point, clamped to the grid.
func (ix *Index) cell(lon, lat float64) (int, int) {
	c := int((lon - ix.minLon) / ix.cellW)
	r := int((lat - ix.minLat) / ix.cellH)
	return min(max(c, 0), ix.cols-1), min(max(r, 0), ix.rows-1)
}

// Locate returns the INSEE code of the commune containing the point.
func (ix *Index) Locate(lat, lon float64) (string, bool) {
	i := ix.locate(lat, lon)
	if i < 0 {
		return "", false
	}
	return ix.communes[i].Code, true
}

func (ix *Index) locate(lat, lon float64) int {
	if ix.cols == 0 || !(lat == lat && lon == lon) { // empty, or NaN
		return -1
	}
	c := int((lon - ix.minLon) / ix.cellW)
	r := int((lat - ix.minLat) / ix.cellH)
	if lon < ix.minLon || lat < ix.minLat || c >= ix.cols || r >= ix.rows {
		return -1
	}
	cell := r*ix.cols + c
	if a := ix.answer[cell]; a != border {
		return int(a)
	}
	return ix.scan(cell, lat, lon)
}

// scan tests the candidates of a cell.
func (ix *Index) scan(cell int, lat, lon float64) int {
	for _, k := range ix.cands[ix.cellStart[cell]:ix.cellStart[cell+1]] {
		if ix.contains(int(k), lon, lat) {
			return int(k)
		}
	}
	return noCommune
}

func (ix *Index) contains(i int, lon, lat float64) bool {
	s := &ix.slabs[i]
	if !s.bbox.Contains(lon, lat) {
		return false
	}
	k := s.slab(lat)
	inside := false
	xs, ys := ix.xs, ix.ys
	for _, e := range ix.edges[s.offsets[k]:s.offsets[k+1]] {
		if crosses(xs[e], ys[e], xs[e+1], ys[e+1], lon, lat) {
			inside = !inside
		}
	}
	return inside
}

// Len is the number of communes.
func (ix *Index) Len() int { return len(ix.communes) }

// Commune returns a commune's code, name and bounding box (not its boundary).
func (ix *Index) Commune(code string) (Commune, bool) {
	i, ok := ix.byCode[code]
	if !ok {
		return Commune{}, false
	}
	return ix.communes[i], true
}
