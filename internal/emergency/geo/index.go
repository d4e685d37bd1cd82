package geo

import (
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Index answers "which commune contains this point" without allocating, in one or two steps:
//
//  1. A uniform grid, finer than the communes (about 64 cells each), has for each cell one
//     32-byte entry that says for each of its 8×8 subcells which commune all the subcell's
//     points lie in (one of two named in the entry), or that they lie in none, or that a
//     border comes near. One access to memory (after a small table of the grid's blocks,
//     which stays in cache) answers most points: 85 % of random points over synthetic France.
//  2. A cell with a subcell a border comes near has a record of its own, one contiguous run of
//     memory, listing the few communes that may contain one of its points and, for each,
//     just what the even-odd test needs there: the pieces of the commune's boundary that come
//     near the cell, copied inline; whether the boundary further east, which an eastward ray
//     from the cell crosses at every latitude of the cell, is crossed an odd number of times;
//     and the latitudes at which that changes within the cell's row, where a piece of
//     boundary further east ends. A border costs a handful of edge tests, whatever the size
//     of its communes.
//
// The answer is exactly that of Commune.ContainsNaive, to the last bit: the pieces of boundary
// near a cell are tested with the same arithmetic, and the edges a record leaves out (or a
// subcell's answer ignores) are those far enough (more than margin) east or west of the cell
// that their test has one outcome for every point of the cell, whatever the rounding. Holes
// and islands need nothing special: the even-odd rule over every ring of every polygon of a
// commune handles both. A point on a border shared by two communes belongs to exactly one
// (the half-open crossing rule); if several still claim it, the lowest code wins, since
// candidates are kept in code order.
type Index struct {
	communes []Commune
	codes    []string // the communes' codes, apart: a small array stays in cache
	byCode   map[string]int

	// The grid's lines are x(i) = minLon + i/invW and y(j) = minLat + j/invH, i and j counted
	// in subcells: cell (c, r) is subcells sub·c to sub·c+sub-1 by sub·r to sub·r+sub-1. The
	// grid spans slightly more than every commune's bounding box.
	minLon, minLat float64
	invW, invH     float64 // subcells per degree
	width, height  float64 // in subcells
	cols, rows     int     // in cells
	bcols          int     // in blocks
	// Per block of the grid, row after row: its first cell in cells, or -1 if no commune's
	// bounding box comes near it. France and its overseas départements cost no cells for
	// the sea between them.
	blocks  []int32
	cells   []cell      // block after block, row after row within each
	records [][]float64 // per row of cells
}

// block is the number of cells across and down a block.
const block = 16

// sub is the number of subcells across and down a cell: 64, a bit each in a uint64.
const sub = 8

const _ = uint(sub*sub-64) + uint(64-sub*sub) // sub*sub must be 64

// cell says where the points of each of its subcells belong, two bits for subcell (sx, sy)
// at bit 2(sub·sy+sx): codeA, to commune a; codeB, to commune b; codeNone, to none; codeScan,
// test them with the cell's record, at offset rec in the records of its row.
type cell struct {
	codes [2]uint64
	rec   int32
	a, b  int32
	_     int32
}

const (
	codeScan = iota
	codeA
	codeB
	codeNone
)

const noCommune = -1

// everywhere returns the cell all of whose points are in commune k (or in none).
func everywhere(k int32) cell {
	if k == noCommune {
		return cell{codes: [2]uint64{^uint64(0), ^uint64(0)}, a: noCommune, b: noCommune}
	}
	return cell{codes: [2]uint64{0x5555555555555555, 0x5555555555555555}, a: k, b: noCommune}
}

// margin, in degrees, is how far apart a cell and an edge must be for the edge's crossing
// test to have the same outcome for every point of the cell. It dwarfs the rounding of the
// grid arithmetic and of the crossing test (a few units in the last place of 180°, about
// 1e-13) and is tiny next to any commune (1e-9° is 0.1 mm).
const margin = 1e-9

// A cell's record is a list of candidates in code order, each:
//
//	word 0: commune index (low 32 bits) and flags (high 32 bits)
//	word 1: number of toggles (low 32 bits) and of the words after this one (high 32 bits)
//	if boxFlag: the commune's bounding box, 4 words (minimum and maximum longitude, then
//	latitude)
//	toggles: latitudes; each one at or below the point's flips the parity
//	chains: each a number of points n, then n points (longitude, latitude): n-1 edges of a
//	ring, in the ring's order
//
// then a last word: a commune index (or noCommune) with endFlag, the answer when no candidate
// contains the point. Integers are stored as the bits of a float64.
const (
	parityFlag = 1 << iota // the parity of the crossings east of the cell: inside if no test flips it
	boxFlag                // the cell reaches out of the commune's bounding box: check it
	endFlag
)

// NewIndex builds the index. It keeps cs.
func NewIndex(cs []Commune) *Index {
	ix := &Index{byCode: make(map[string]int, len(cs))}
	ix.communes = append([]Commune(nil), cs...)
	sort.Slice(ix.communes, func(i, j int) bool { return ix.communes[i].Code < ix.communes[j].Code })
	ix.codes = make([]string, len(ix.communes))
	for i := range ix.communes {
		if math.IsInf(ix.communes[i].BBox.MinLon, 0) || ix.communes[i].BBox == (BBox{}) {
			ix.communes[i].ComputeBBox()
		}
		ix.byCode[ix.communes[i].Code] = i
		ix.codes[i] = ix.communes[i].Code
	}
	ix.layGrid()
	newBoundaries(ix).build()
	// The records hold all the boundary the index needs: drop the second copy.
	for i := range ix.communes {
		ix.communes[i].Geometry = nil
	}
	return ix
}

// cellsPerCommune sets the grid's fineness: finer cells leave fewer points to records and
// fewer edges in each, for more memory.
const cellsPerCommune = 64

// layGrid chooses the grid: square cells in degrees, about cellsPerCommune per commune
// over the area the communes cover, bounded at 4 M cells (128 MB), and its blocks.
func (ix *Index) layGrid() {
	all := BBox{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	n := 0
	for _, c := range ix.communes {
		if !(c.BBox.MinLon <= c.BBox.MaxLon && c.BBox.MinLat <= c.BBox.MaxLat) {
			continue // no geometry: it contains no point
		}
		n++
		all.MinLon, all.MaxLon = math.Min(all.MinLon, c.BBox.MinLon), math.Max(all.MaxLon, c.BBox.MaxLon)
		all.MinLat, all.MaxLat = math.Min(all.MinLat, c.BBox.MinLat), math.Max(all.MaxLat, c.BBox.MaxLat)
	}
	if n == 0 {
		return // empty: every point is outside
	}
	// A border of a few margins, so that a point off the grid is off every bounding box.
	pad := 4 * margin
	all = BBox{all.MinLon - pad, all.MinLat - pad, all.MaxLon + pad, all.MaxLat + pad}
	w, h := all.MaxLon-all.MinLon, all.MaxLat-all.MinLat
	ix.minLon, ix.minLat = all.MinLon, all.MinLat
	// The area the communes cover, to a 256th of the whole each way.
	const coarse = 256
	var covered [coarse * coarse]bool
	for _, c := range ix.communes {
		if c.BBox.MinLon <= c.BBox.MaxLon && c.BBox.MinLat <= c.BBox.MaxLat {
			at := func(v, origin, size float64) int { return min(coarse-1, int((v-origin)/size*coarse)) }
			for r := at(c.BBox.MinLat, all.MinLat, h); r <= at(c.BBox.MaxLat, all.MinLat, h); r++ {
				for k := at(c.BBox.MinLon, all.MinLon, w); k <= at(c.BBox.MaxLon, all.MinLon, w); k++ {
					covered[r*coarse+k] = true
				}
			}
		}
	}
	area := 0.0
	for _, in := range covered {
		if in {
			area += w * h / (coarse * coarse)
		}
	}
	size := math.Sqrt(area / math.Min(float64(cellsPerCommune*n), 4<<20))
	// At most 1 M blocks (4 MB), and, should the communes' boxes leave less room between
	// them than the coarse cover says, at most 4 M cells.
	size = math.Max(size, math.Sqrt(w*h/(1<<20))/block)
	for {
		ix.cols, ix.rows = max(1, int(math.Ceil(w/size))), max(1, int(math.Ceil(h/size)))
		ix.width, ix.height = float64(sub*ix.cols), float64(sub*ix.rows)
		ix.invW, ix.invH = ix.width/w, ix.height/h
		ix.bcols = (ix.cols + block - 1) / block
		ix.blocks = make([]int32, ix.bcols*((ix.rows+block-1)/block))
		for _, c := range ix.communes {
			r0, r1 := ix.rowsNear(c.BBox.MinLat, c.BBox.MaxLat)
			c0, c1 := ix.colsNear(c.BBox.MinLon, c.BBox.MaxLon)
			for r := r0 / block; r <= r1/block && c0 <= c1; r++ {
				for k := c0 / block; k <= c1/block; k++ {
					ix.blocks[r*ix.bcols+k] = 1
				}
			}
		}
		cells := 0
		for i, used := range ix.blocks {
			ix.blocks[i] = -1
			if used != 0 {
				ix.blocks[i] = int32(cells)
				cells += block * block
			}
		}
		if cells <= 4<<20 {
			ix.cells = make([]cell, cells)
			return
		}
		size *= 1.25
	}
}

// cellAt returns cell (c, r), which must be in a block some commune reaches.
func (ix *Index) cellAt(r, c int) *cell {
	return &ix.cells[int(ix.blocks[r/block*ix.bcols+c/block])+r%block*block+c%block]
}

// Locate returns the INSEE code of the commune containing the point.
func (ix *Index) Locate(lat, lon float64) (string, bool) {
	i := ix.locate(lat, lon)
	if i < 0 {
		return "", false
	}
	return ix.codes[i], true
}

func (ix *Index) locate(lat, lon float64) int {
	x := (lon - ix.minLon) * ix.invW
	y := (lat - ix.minLat) * ix.invH
	if !(x >= 0 && y >= 0 && x < ix.width && y < ix.height) { // off the grid, NaN, or empty
		return noCommune
	}
	i, j := uint(int(x)), uint(int(y))
	c, r := i/sub, j/sub
	at := ix.blocks[r/block*uint(ix.bcols)+c/block]
	if at < 0 {
		return noCommune
	}
	cl := &ix.cells[uint(at)+r%block*block+c%block]
	// Branch-free but for the scan: the cell is most often far away in memory, and a wrong
	// guess would wait for it.
	s := sub*(j%sub) + i%sub
	code := cl.codes[s/32%2] >> (2 * (s % 32)) & 3
	k, kb := cl.a, cl.b
	if code == codeB {
		k = kb
	}
	if code == codeNone {
		k = noCommune
	}
	if code != codeScan {
		return int(k)
	}
	return scan(ix.records[r], int(cl.rec), lon, lat)
}

// scan reads a border cell's record (see endFlag).
func scan(rec []float64, o int, lon, lat float64) int {
	for {
		h := math.Float64bits(rec[o])
		k, flags := int(int32(uint32(h))), uint32(h>>32)
		if flags&endFlag != 0 {
			return k
		}
		n := math.Float64bits(rec[o+1])
		o += 2
		end := o + int(n>>32)
		in := flags&parityFlag != 0
		if flags&boxFlag != 0 {
			if !(lon >= rec[o] && lon <= rec[o+1] && lat >= rec[o+2] && lat <= rec[o+3]) {
				o = end
				continue
			}
			o += 4
		}
		toggles := rec[o : o+int(uint32(n))]
		for _, v := range toggles {
			if lat >= v {
				in = !in
			}
		}
		o += len(toggles)
		for o < end {
			pts := rec[o+1 : o+1+2*int(math.Float64bits(rec[o]))]
			o += 1 + len(pts)
			x1, y1 := pts[0], pts[1]
			above := y1 > lat
			for i := 2; i+1 < len(pts); i += 2 {
				x2, y2 := pts[i], pts[i+1]
				// crosses, with the comparison of y1 carried over from the previous edge.
				if a := y2 > lat; a != above {
					if lon < (x2-x1)*(lat-y1)/(y2-y1)+x1 {
						in = !in
					}
					above = a
				}
				x1, y1 = x2, y2
			}
		}
		if in {
			return k
		}
	}
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

// boundaries is the communes' edges, sorted for building the grid row by row.
type boundaries struct {
	ix *Index
	// Every ring's vertices, ring after ring; edge e goes from pts[e] to pts[e+1].
	pts []Point
	// Per commune: its rows and columns (those whose cells, widened by margin, meet its
	// bounding box; empty if it has no geometry), and its edges near each of its rows.
	r0, r1, c0, c1 []int
	// Per commune: whether its bounding box leaves out some of its latitudes. Out of the
	// box in latitude no edge straddles a point's latitude and the test says outside, so
	// the box needs checking in longitude only (where the crossing test may round either
	// way within an ulp of an edge's end) unless it is narrower than the geometry.
	narrow    []bool
	bandStart [][]int32 // per commune, per row from r0: offsets into bands
	bands     []int32
	// Per row: the communes whose rows include it, in code order.
	rowStart []int32
	rowComms []int32
}

// builder builds rows of the grid, one at a time; several can work at once.
type builder struct {
	*boundaries
	inside []int32 // per column: the first commune containing the whole cell, or noCommune
	first  []int32 // per column: its first candidate in cands, or -1
	last   []int32 // per column: its last candidate
	cands  []candidate
	data   []float64 // the candidates' words after word 1
	edges  []int32   // the candidates' edges near their cell
	rec    []float64 // the row's records
	mids   []int32
	togs   []float64
	spans  [][2]float64
}

// candidate is a commune that may contain some point of a cell, and what its test there needs.
type candidate struct {
	commune    int32
	flags      uint32
	toggles    int32
	start, end int32 // its words in data: box, toggles, chains
	e0, e1     int32 // its edges near the cell, in edges
	next       int32 // the cell's next candidate in cands, or -1
}

func newBoundaries(ix *Index) *boundaries {
	b := &boundaries{ix: ix}
	n := len(ix.communes)
	b.r0, b.r1, b.c0, b.c1 = make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	b.bandStart = make([][]int32, n)
	b.narrow = make([]bool, n)
	if ix.cells == nil {
		return b
	}
	rowCount := make([]int32, ix.rows+1)
	for k := range ix.communes {
		c := &ix.communes[k]
		base := int32(len(b.pts))
		bb := c.BBox
		for _, poly := range c.Geometry {
			for _, ring := range poly {
				b.pts = append(b.pts, ring...)
				for _, p := range ring {
					b.narrow[k] = b.narrow[k] || !(p.Lat >= bb.MinLat && p.Lat <= bb.MaxLat)
				}
			}
		}
		b.r0[k], b.r1[k] = ix.rowsNear(bb.MinLat, bb.MaxLat)
		b.c0[k], b.c1[k] = ix.colsNear(bb.MinLon, bb.MaxLon)
		if b.r0[k] > b.r1[k] || b.c0[k] > b.c1[k] {
			b.r0[k], b.r1[k] = 0, -1
			continue
		}
		for r := b.r0[k]; r <= b.r1[k]; r++ {
			rowCount[r+1]++
		}
		// Bucket the commune's edges by the rows they come near.
		rows := b.r1[k] - b.r0[k] + 1
		count := make([]int32, rows+1)
		each := func(fn func(e int32, r int)) {
			e := base
			for _, poly := range c.Geometry {
				for _, ring := range poly {
					for i := 0; i+1 < len(ring); i++ {
						lo, hi := ix.rowsNear(min(ring[i].Lat, ring[i+1].Lat), max(ring[i].Lat, ring[i+1].Lat))
						for r := max(lo, b.r0[k]); r <= min(hi, b.r1[k]); r++ {
							fn(e+int32(i), r-b.r0[k])
						}
					}
					e += int32(len(ring))
				}
			}
		}
		each(func(_ int32, r int) { count[r+1]++ })
		start := make([]int32, rows+1)
		at := int32(len(b.bands))
		for r := 0; r <= rows; r++ {
			at += count[r]
			start[r] = at
		}
		fill := append([]int32(nil), start...)
		b.bands = append(b.bands, make([]int32, at-int32(len(b.bands)))...)
		each(func(e int32, r int) { b.bands[fill[r]] = e; fill[r]++ })
		b.bandStart[k] = start
	}
	b.rowStart = make([]int32, ix.rows+1)
	for r := 1; r <= ix.rows; r++ {
		b.rowStart[r] = b.rowStart[r-1] + rowCount[r]
	}
	b.rowComms = make([]int32, b.rowStart[ix.rows])
	fill := append([]int32(nil), b.rowStart...)
	for k := range ix.communes {
		for r := b.r0[k]; r <= b.r1[k]; r++ {
			b.rowComms[fill[r]] = int32(k)
			fill[r]++
		}
	}
	return b
}

// x and y are the grid's lines, as the builder sees them; a point that locate puts in
// subcell (i, j) is within a rounding error of x(i) ≤ lon ≤ x(i+1), y(j) ≤ lat ≤ y(j+1).
func (ix *Index) x(i int) float64 { return ix.minLon + float64(i)/ix.invW }
func (ix *Index) y(j int) float64 { return ix.minLat + float64(j)/ix.invH }

// rowsNear returns the rows of cells whose band, widened by margin, meets [lo, hi].
func (ix *Index) rowsNear(lo, hi float64) (int, int) {
	return near(lo, hi, ix.rows, ix.minLat, ix.invH/sub, func(r int) float64 { return ix.y(sub * r) })
}

// colsNear returns the columns of cells whose band, widened by margin, meets [lo, hi].
func (ix *Index) colsNear(lo, hi float64) (int, int) {
	return near(lo, hi, ix.cols, ix.minLon, ix.invW/sub, func(c int) float64 { return ix.x(sub * c) })
}

// near returns the bands, among n, that meet [lo, hi] once widened by margin: band a lies
// between line(a) and line(a+1), about origin + a/inv.
func near(lo, hi float64, n int, origin, inv float64, line func(int) float64) (int, int) {
	if !(lo <= hi) {
		return 0, -1
	}
	a := int(math.Max(-1, math.Min(float64(n), math.Floor((lo-origin)*inv))))
	for a > 0 && line(a)+margin >= lo { // band a-1 reaches lo
		a--
	}
	for a < n && line(a+1)+margin < lo {
		a++
	}
	b := int(math.Max(-1, math.Min(float64(n), math.Floor((hi-origin)*inv))))
	for b < n-1 && line(b+1)-margin <= hi {
		b++
	}
	for b >= 0 && line(b)-margin > hi {
		b--
	}
	return max(a, 0), min(b, n-1)
}

// build builds the rows of the grid, on every core.
func (bs *boundaries) build() {
	ix := bs.ix
	if ix.cells == nil {
		return
	}
	ix.records = make([][]float64, ix.rows)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			b := &builder{boundaries: bs, inside: make([]int32, ix.cols), first: make([]int32, ix.cols), last: make([]int32, ix.cols)}
			for r := int(next.Add(1) - 1); r < ix.rows; r = int(next.Add(1) - 1) {
				b.row(r)
			}
		})
	}
	wg.Wait()
}

// row builds the cells of row r.
func (b *builder) row(r int) {
	ix := b.ix
	for c := range b.inside {
		b.inside[c], b.first[c] = noCommune, -1
	}
	b.cands, b.data, b.edges, b.rec = b.cands[:0], b.data[:0], b.edges[:0], b.rec[:0]
	y0, y1 := ix.y(sub*r)-margin, ix.y(sub*r+sub)+margin
	for _, k32 := range b.rowComms[b.rowStart[r]:b.rowStart[r+1]] {
		k := int(k32)
		bb := ix.communes[k].BBox
		start := b.bandStart[k]
		band := b.bands[start[r-b.r0[k]]:start[r-b.r0[k]+1]]
		b.spans = b.spans[:0]
		for _, e := range band {
			lo, hi := span(b.pts[e], b.pts[e+1], y0, y1)
			b.spans = append(b.spans, [2]float64{lo, hi})
		}
		for c := b.c0[k]; c <= b.c1[k]; c++ {
			if b.inside[c] != noCommune {
				continue // a commune of lower code has every point of the cell
			}
			x0, x1 := ix.x(sub*c)-margin, ix.x(sub*c+sub)+margin
			b.mids, b.togs = b.mids[:0], b.togs[:0]
			parity := b.split(band, x0, x1, y0, y1)
			box := !(x0 >= bb.MinLon && x1 <= bb.MaxLon) || b.narrow[k] && !(y0 >= bb.MinLat && y1 <= bb.MaxLat)
			if len(b.mids) == 0 && len(b.togs) == 0 {
				if !parity {
					continue // no point of the cell is inside
				}
				if !box {
					b.inside[c] = int32(k) // every point of the cell is inside
					continue
				}
			}
			b.add(c, k, parity, box)
		}
	}
	for k, at := range ix.blocks[r/block*ix.bcols : (r/block+1)*ix.bcols] {
		for c := k * block; c < min(ix.cols, k*block+block) && at >= 0; c++ {
			b.emit(r, c)
		}
	}
	if len(b.rec) > 0 {
		ix.records[r] = append([]float64(nil), b.rec...)
	}
}

// split sorts edges, in increasing order, all of which reach latitudes [y0, y1], for the
// points of the box [x0, x1] × [y0, y1]; b.spans has the longitudes of their parts between
// those latitudes. An edge whose part lies west of the box is crossed by no eastward ray from
// it; one whose part lies east of the box is crossed exactly when the point's latitude is in
// [min, max), that is (lat ≥ min) xor (lat ≥ max): two toggles. split returns the parity of
// the toggles below the box, appends those within it to b.togs, and the other edges, that
// come near the box, to b.mids.
func (b *builder) split(edges []int32, x0, x1, y0, y1 float64) (parity bool) {
	// Along a piece of boundary east of the box each vertex ends two edges and its toggles
	// cancel: pending is the toggle of the end of the last such edge, until the next edge
	// says whether it continues the piece.
	pending, pendingEnd := 0.0, int32(-1)
	toggle := func(v float64) {
		if v <= y0 {
			parity = !parity // every point of the box is at or above v
		} else if v <= y1 {
			b.togs = append(b.togs, v)
		}
	}
	for n, e := range edges {
		p, q := b.pts[e], b.pts[e+1]
		lo, hi := b.spans[n][0], b.spans[n][1]
		if hi < x0 {
			continue
		}
		if lo > x1 {
			if e == pendingEnd {
				pendingEnd = -1 // the piece goes on: the two toggles at p cancel
			} else {
				toggle(p.Lat)
			}
			if pendingEnd >= 0 {
				toggle(pending)
			}
			pending, pendingEnd = q.Lat, e+1
			continue
		}
		b.mids = append(b.mids, e)
	}
	if pendingEnd >= 0 {
		toggle(pending)
	}
	if len(b.togs) > 1 {
		b.cancelToggles()
	}
	return parity
}

// span returns the longitudes of the part of edge p-q between latitudes y0 and y1, which it
// must reach, to within a rounding error (about 1e-15 of the longitudes, far below margin).
func span(p, q Point, y0, y1 float64) (lo, hi float64) {
	if p.Lat == q.Lat {
		return min(p.Lon, q.Lon), max(p.Lon, q.Lon)
	}
	t0, t1 := (y0-p.Lat)/(q.Lat-p.Lat), (y1-p.Lat)/(q.Lat-p.Lat)
	if t0 > t1 {
		t0, t1 = t1, t0
	}
	xa, xb := p.Lon, q.Lon
	if t0 > 0 {
		xa = p.Lon + t0*(q.Lon-p.Lon)
	}
	if t1 < 1 {
		xb = p.Lon + t1*(q.Lon-p.Lon)
	}
	return min(xa, xb), max(xa, xb)
}

// cancelToggles drops pairs of toggles at the same latitude: where a ring closes, or at two
// vertices of the same latitude.
func (b *builder) cancelToggles() {
	slices.Sort(b.togs)
	n := 0
	for i := 0; i < len(b.togs); i++ {
		if i+1 < len(b.togs) && b.togs[i+1] == b.togs[i] {
			i++
			continue
		}
		b.togs[n] = b.togs[i]
		n++
	}
	b.togs = b.togs[:n]
}

// add appends a candidate for column c of the row being built, from b.mids and b.togs.
func (b *builder) add(c, k int, parity, box bool) {
	cd := candidate{commune: int32(k), toggles: int32(len(b.togs)), start: int32(len(b.data)), next: -1}
	if parity {
		cd.flags |= parityFlag
	}
	if box {
		cd.flags |= boxFlag
		bb := b.ix.communes[k].BBox
		b.data = append(b.data, bb.MinLon, bb.MaxLon, bb.MinLat, bb.MaxLat)
	}
	b.data = append(b.data, b.togs...)
	for i := 0; i < len(b.mids); {
		j := i + 1
		for j < len(b.mids) && b.mids[j] == b.mids[j-1]+1 {
			j++
		}
		// Edges mids[i] to mids[j-1] follow each other along a ring.
		b.data = append(b.data, math.Float64frombits(uint64(j-i+1)))
		for _, p := range b.pts[b.mids[i] : b.mids[j-1]+2] {
			b.data = append(b.data, p.Lon, p.Lat)
		}
		i = j
	}
	cd.end = int32(len(b.data))
	cd.e0 = int32(len(b.edges))
	b.edges = append(b.edges, b.mids...)
	cd.e1 = int32(len(b.edges))
	id := int32(len(b.cands))
	b.cands = append(b.cands, cd)
	if b.first[c] < 0 {
		b.first[c] = id
	} else {
		b.cands[b.last[c]].next = id
	}
	b.last[c] = id
}

// emit writes cell (c, r), and its record if it needs one.
func (b *builder) emit(r, c int) {
	ix := b.ix
	cl := ix.cellAt(r, c)
	inside := b.inside[c]
	if b.first[c] < 0 {
		*cl = everywhere(inside)
		return
	}
	answer, scan := b.subcells(r, c, inside)
	// The two communes most subcells lie in.
	var counts [sub * sub]struct {
		k int32
		n int
	}
	distinct := 0
	for s, k := range answer {
		if scan>>s&1 != 0 || k == noCommune {
			continue
		}
		d := 0
		for d < distinct && counts[d].k != k {
			d++
		}
		if d == distinct {
			counts[d].k, distinct = k, distinct+1
		}
		counts[d].n++
	}
	ka, na, kb, nb := int32(noCommune), 0, int32(noCommune), 0
	for _, kn := range counts[:distinct] {
		if kn.n > na {
			ka, na, kb, nb = kn.k, kn.n, ka, na
		} else if kn.n > nb {
			kb, nb = kn.k, kn.n
		}
	}
	*cl = cell{a: ka, b: kb, rec: -1}
	needed := false
	for s, k := range answer {
		code := codeScan
		switch {
		case scan>>s&1 != 0:
		case k == noCommune:
			code = codeNone
		case k == ka:
			code = codeA
		case k == kb:
			code = codeB
		}
		needed = needed || code == codeScan
		cl.codes[s/32] |= uint64(code) << (2 * (s % 32))
	}
	if !needed {
		return
	}
	if len(b.rec) > math.MaxInt32 {
		panic("geo: index too large")
	}
	cl.rec = int32(len(b.rec))
	// Candidates come in code order, and none after a commune that has the whole cell.
	for i := b.first[c]; i >= 0; i = b.cands[i].next {
		cd := &b.cands[i]
		words := cd.end - cd.start
		b.rec = append(b.rec,
			math.Float64frombits(uint64(uint32(cd.commune))|uint64(cd.flags)<<32),
			math.Float64frombits(uint64(uint32(cd.toggles))|uint64(words)<<32))
		b.rec = append(b.rec, b.data[cd.start:cd.end]...)
	}
	b.rec = append(b.rec, math.Float64frombits(uint64(uint32(inside))|endFlag<<32))
}

// subcells returns the commune that has every point of each subcell of cell (c, r), or
// noCommune for none, with a bit set in scan for the subcells whose points may not all have
// the same answer. A subcell no edge of a commune comes near is inside it or outside it
// whole: the parity at its centre is that of all its points.
func (b *builder) subcells(r, c int, inside int32) (answer [sub * sub]int32, scan uint64) {
	ix := b.ix
	// The subcells' lines, and their centres.
	var xs, ys [sub + 1]float64
	var cx, cy [sub]float64
	for t := 0; t <= sub; t++ {
		xs[t], ys[t] = ix.x(sub*c+t), ix.y(sub*r+t)
	}
	for t := 0; t < sub; t++ {
		cx[t], cy[t] = (xs[t]+xs[t+1])/2, (ys[t]+ys[t+1])/2
	}
	w, h := (xs[sub]-xs[0])/sub, (ys[sub]-ys[0])/sub
	// columns returns the subcells of a row that come within two margins of [lo, hi].
	columns := func(lo, hi float64) uint64 {
		a := int(math.Max(0, math.Floor((lo-xs[0]-3*margin)/w)))
		z := int(math.Min(sub-1, math.Floor((hi-xs[0]+3*margin)/w)))
		if a > z {
			return 0
		}
		return (1<<(z-a+1) - 1) << a
	}
	const row = 1<<sub - 1
	undecided := ^uint64(0)
	for n := b.first[c]; n >= 0 && undecided != 0; n = b.cands[n].next {
		cd := &b.cands[n]
		var near, parity uint64 // a bit per subcell
		if cd.flags&parityFlag != 0 {
			parity = ^uint64(0)
		}
		toggles := b.data[cd.start : cd.start+cd.toggles]
		if cd.flags&boxFlag != 0 {
			bb := ix.communes[cd.commune].BBox
			for t := 0; t < sub; t++ {
				if !(xs[t]-margin >= bb.MinLon && xs[t+1]+margin <= bb.MaxLon) {
					near |= 0x0101010101010101 << t // a column
				}
				if b.narrow[cd.commune] && !(ys[t]-margin >= bb.MinLat && ys[t+1]+margin <= bb.MaxLat) {
					near |= row << (sub * t)
				}
			}
			toggles = b.data[cd.start+4 : cd.start+4+cd.toggles]
		}
		for _, v := range toggles {
			for t := 0; t < sub; t++ {
				if cy[t] >= v {
					parity ^= row << (sub * t)
				}
			}
		}
		for _, e := range b.edges[cd.e0:cd.e1] {
			p, q := b.pts[e], b.pts[e+1]
			// The rows it may come near (the test below is exact).
			t0 := int(math.Max(0, math.Floor((min(p.Lat, q.Lat)-ys[0])/h)-1))
			t1 := int(math.Min(sub-1, math.Floor((max(p.Lat, q.Lat)-ys[0])/h)+1))
			for t := t0; t <= t1; t++ {
				y0, y1 := ys[t]-margin, ys[t+1]+margin
				if max(p.Lat, q.Lat) < y0 || min(p.Lat, q.Lat) > y1 {
					continue
				}
				near |= columns(span(p, q, y0, y1)) << (sub * t)
				if (p.Lat > cy[t]) != (q.Lat > cy[t]) {
					// Crossed by the rays from the centres west of it. A centre so close to
					// the edge that rounding matters is in a subcell the edge comes near.
					x := (q.Lon-p.Lon)*(cy[t]-p.Lat)/(q.Lat-p.Lat) + p.Lon
					west := uint64(0)
					for u := 0; u < sub && cx[u] < x; u++ {
						west |= 1 << u
					}
					parity ^= west << (sub * t)
				}
			}
		}
		scan |= undecided & near
		undecided &^= near
		hit := undecided & parity
		undecided &^= hit
		for ; hit != 0; hit &= hit - 1 {
			answer[bits.TrailingZeros64(hit)] = cd.commune
		}
	}
	for ; undecided != 0; undecided &= undecided - 1 {
		answer[bits.TrailingZeros64(undecided)] = inside
	}
	return answer, scan
}
