package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Synthetic makes n communes tiling metropolitan France's bounding box (longitude −5 to 9.5,
// latitude 41.3 to 51.1): a jittered grid whose cells have about verticesPerRing vertices
// each, neighbours sharing their borders exactly, as real communes do. For benchmarks and
// property tests at France's scale without shipping a dataset.
func Synthetic(n, verticesPerRing int, seed int64) []Commune {
	const minLon, maxLon, minLat, maxLat = -5.0, 9.5, 41.3, 51.1
	aspect := (maxLon - minLon) / (maxLat - minLat)
	rows := max(1, int(math.Round(math.Sqrt(float64(n)/aspect))))
	cols := max(1, (n+rows-1)/rows)
	cw, ch := (maxLon-minLon)/float64(cols), (maxLat-minLat)/float64(rows)
	perSide := max(1, verticesPerRing/4)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x50c1e))

	// Corners of the grid, jittered inside; the outline stays straight.
	corner := make([][]Point, rows+1)
	for r := 0; r <= rows; r++ {
		corner[r] = make([]Point, cols+1)
		for c := 0; c <= cols; c++ {
			p := Point{minLon + float64(c)*cw, minLat + float64(r)*ch}
			if r > 0 && r < rows && c > 0 && c < cols {
				p.Lon += (rng.Float64() - 0.5) * 0.5 * cw
				p.Lat += (rng.Float64() - 0.5) * 0.5 * ch
			}
			corner[r][c] = p
		}
	}
	// side returns the intermediate points from a to b, wiggling across the side; outer
	// sides stay straight so the outline is the box.
	side := func(a, b Point, dx, dy float64, wiggle bool) []Point {
		pts := make([]Point, 0, perSide-1)
		for k := 1; k < perSide; k++ {
			t := float64(k) / float64(perSide)
			p := Point{a.Lon + (b.Lon-a.Lon)*t, a.Lat + (b.Lat-a.Lat)*t}
			if wiggle {
				j := (rng.Float64() - 0.5) * 0.2
				p.Lon += j * dx
				p.Lat += j * dy
			}
			pts = append(pts, p)
		}
		return pts
	}
	hside := make([][][]Point, rows+1) // along row r from column c to c+1
	for r := 0; r <= rows; r++ {
		hside[r] = make([][]Point, cols)
		for c := 0; c < cols; c++ {
			hside[r][c] = side(corner[r][c], corner[r][c+1], 0, ch, r > 0 && r < rows)
		}
	}
	vside := make([][][]Point, rows) // along column c from row r to r+1
	for r := 0; r < rows; r++ {
		vside[r] = make([][]Point, cols+1)
		for c := 0; c <= cols; c++ {
			vside[r][c] = side(corner[r][c], corner[r+1][c], cw, 0, c > 0 && c < cols)
		}
	}
	out := make([]Commune, 0, rows*cols)
	for r := 0; r < rows && len(out) < n; r++ {
		for c := 0; c < cols && len(out) < n; c++ {
			ring := Ring{corner[r][c]}
			ring = append(ring, hside[r][c]...)
			ring = append(ring, corner[r][c+1])
			ring = append(ring, vside[r][c+1]...)
			ring = append(ring, corner[r+1][c+1])
			ring = append(ring, reversed(hside[r+1][c])...)
			ring = append(ring, corner[r+1][c])
			ring = append(ring, reversed(vside[r][c])...)
			ring = append(ring, corner[r][c])
			cm := Commune{Code: fmt.Sprintf("%05d", len(out)), Name: fmt.Sprintf("Synthétique %d", len(out)),
				Geometry: MultiPolygon{{ring}}}
			cm.ComputeBBox()
			out = append(out, cm)
		}
	}
	return out
}

func reversed(p []Point) []Point {
	out := make([]Point, len(p))
	for i := range p {
		out[len(p)-1-i] = p[i]
	}
	return out
}
