// Package geo places a point in its commune. Communes come from GeoJSON (RFC 7946) as
// published in France's "contours administratifs" datasets: Polygon or MultiPolygon features
// with properties code (INSEE) and nom.
package geo

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
)

// Point is a position: longitude then latitude, as in GeoJSON.
type Point struct{ Lon, Lat float64 }

// Ring is a closed line: first point equals last.
type Ring []Point

// MultiPolygon is polygons, each an outer ring followed by its holes.
type MultiPolygon [][]Ring

// BBox is a bounding box.
type BBox struct{ MinLon, MinLat, MaxLon, MaxLat float64 }

// Contains reports whether p is inside or on the box.
func (b BBox) Contains(lon, lat float64) bool {
	return lon >= b.MinLon && lon <= b.MaxLon && lat >= b.MinLat && lat <= b.MaxLat
}

// Commune is a French municipality and its boundary.
type Commune struct {
	Code     string
	Name     string
	Geometry MultiPolygon
	BBox     BBox
}

var inseePattern = regexp.MustCompile(`^([0-9]{2}|2[AB])[0-9]{3}$`)

// ValidINSEE reports whether s has the shape of a commune's INSEE code: 75056, 2A004, 97101.
func ValidINSEE(s string) bool { return inseePattern.MatchString(s) }

// Departement is the département of a commune: two characters, or three overseas
// (97101 → 971).
func Departement(insee string) string {
	if len(insee) >= 3 && (strings.HasPrefix(insee, "97") || strings.HasPrefix(insee, "98")) {
		return insee[:3]
	}
	if len(insee) >= 2 {
		return insee[:2]
	}
	return insee
}

type featureCollection struct {
	Type     string    `json:"type"`
	Features []feature `json:"features"`
}

type feature struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
	Geometry   *geometry      `json:"geometry"`
}

type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// ParseCommunes reads a FeatureCollection of communes. Errors name the feature and the rule.
func ParseCommunes(r io.Reader) ([]Commune, error) {
	return parseAreas(r, communeCodes)
}

// ParseDepartements reads a FeatureCollection of départements (properties code, such as 75,
// 2A or 971, and nom). A département has the same shape as a commune: a code, a name and a
// boundary.
func ParseDepartements(r io.Reader) ([]Commune, error) {
	return parseAreas(r, departementCodes)
}

// areaKind says what a collection holds and which codes are valid.
type areaKind struct {
	plural string
	valid  func(string) bool
	want   string
}

var (
	communeCodes     = areaKind{"communes", ValidINSEE, "an INSEE commune code (such as 75056 or 2A004)"}
	departementCodes = areaKind{"départements", ValidDepartement, "a département code (such as 75, 2A or 971)"}
)

// departementPattern: 01 to 95 but 20 (Corsica is 2A and 2B), 2A, 2B, 971 to 976. 96 to 99
// are no départements (99 is INSEE's code for abroad).
var departementPattern = regexp.MustCompile(`^(0[1-9]|1[0-9]|2[1-9AB]|[3-8][0-9]|9[0-5]|97[1-6])$`)

// ValidDepartement reports whether s is a département code: 01 to 95, 2A, 2B, 971 to 976.
func ValidDepartement(s string) bool { return departementPattern.MatchString(s) }

func parseAreas(r io.Reader, kind areaKind) ([]Commune, error) {
	var fc featureCollection
	dec := json.NewDecoder(r)
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("%s: not a GeoJSON document: %w", kind.plural, err)
	}
	if fc.Type != "FeatureCollection" {
		return nil, fmt.Errorf("%s: type %q, want FeatureCollection", kind.plural, fc.Type)
	}
	seen := map[string]int{}
	out := make([]Commune, 0, len(fc.Features))
	for i, f := range fc.Features {
		c, err := parseFeature(f, kind)
		if err != nil {
			code, _ := f.Properties["code"].(string)
			if code != "" {
				return nil, fmt.Errorf("%s: feature %d (code %q): %w", kind.plural, i, code, err)
			}
			return nil, fmt.Errorf("%s: feature %d: %w", kind.plural, i, err)
		}
		if prev, dup := seen[c.Code]; dup {
			return nil, fmt.Errorf("%s: feature %d (code %q): same code as feature %d", kind.plural, i, c.Code, prev)
		}
		seen[c.Code] = i
		out = append(out, c)
	}
	return out, nil
}

func parseFeature(f feature, kind areaKind) (Commune, error) {
	var c Commune
	if f.Type != "Feature" {
		return c, fmt.Errorf("type %q, want Feature", f.Type)
	}
	code, ok := f.Properties["code"].(string)
	if !ok || code == "" {
		return c, fmt.Errorf("properties.code missing (%s, a string)", kind.want)
	}
	if !kind.valid(code) {
		return c, fmt.Errorf("properties.code %q is not %s", code, kind.want)
	}
	name, ok := f.Properties["nom"].(string)
	if !ok || strings.TrimSpace(name) == "" {
		return c, fmt.Errorf("properties.nom missing (the name)")
	}
	c.Code, c.Name = code, name
	if f.Geometry == nil {
		return c, fmt.Errorf("geometry missing")
	}
	var polys [][][][]float64
	switch f.Geometry.Type {
	case "Polygon":
		var p [][][]float64
		if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
			return c, fmt.Errorf("geometry.coordinates: not a Polygon's: %v", err)
		}
		polys = [][][][]float64{p}
	case "MultiPolygon":
		if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			return c, fmt.Errorf("geometry.coordinates: not a MultiPolygon's: %v", err)
		}
	default:
		return c, fmt.Errorf("geometry type %q not supported (want Polygon or MultiPolygon)", f.Geometry.Type)
	}
	if len(polys) == 0 {
		return c, fmt.Errorf("geometry has no polygon")
	}
	c.BBox = BBox{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for pi, poly := range polys {
		if len(poly) == 0 {
			return c, fmt.Errorf("polygon %d has no ring", pi)
		}
		rings := make([]Ring, len(poly))
		for ri, ring := range poly {
			// RFC 7946 §3.1.6: a linear ring has four or more positions, first equals last.
			if len(ring) < 4 {
				return c, fmt.Errorf("polygon %d ring %d has %d positions, need at least 4 (RFC 7946 §3.1.6)", pi, ri, len(ring))
			}
			rg := make(Ring, len(ring))
			for k, pos := range ring {
				if len(pos) < 2 {
					return c, fmt.Errorf("polygon %d ring %d position %d has %d numbers, need longitude and latitude", pi, ri, k, len(pos))
				}
				lon, lat := pos[0], pos[1]
				if !(lon >= -180 && lon <= 180) || !(lat >= -90 && lat <= 90) {
					return c, fmt.Errorf("polygon %d ring %d position %d (%v, %v) is not a longitude, latitude pair", pi, ri, k, lon, lat)
				}
				rg[k] = Point{lon, lat}
				c.BBox.MinLon, c.BBox.MaxLon = math.Min(c.BBox.MinLon, lon), math.Max(c.BBox.MaxLon, lon)
				c.BBox.MinLat, c.BBox.MaxLat = math.Min(c.BBox.MinLat, lat), math.Max(c.BBox.MaxLat, lat)
			}
			if rg[0] != rg[len(rg)-1] {
				return c, fmt.Errorf("polygon %d ring %d is not closed: its first and last positions differ (RFC 7946 §3.1.6)", pi, ri)
			}
			rings[ri] = rg
		}
		c.Geometry = append(c.Geometry, rings)
	}
	return c, nil
}

// ComputeBBox fills c.BBox from its geometry.
func (c *Commune) ComputeBBox() {
	c.BBox = BBox{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, poly := range c.Geometry {
		for _, ring := range poly {
			for _, p := range ring {
				c.BBox.MinLon, c.BBox.MaxLon = math.Min(c.BBox.MinLon, p.Lon), math.Max(c.BBox.MaxLon, p.Lon)
				c.BBox.MinLat, c.BBox.MaxLat = math.Min(c.BBox.MinLat, p.Lat), math.Max(c.BBox.MaxLat, p.Lat)
			}
		}
	}
}

// ContainsNaive is the plain even-odd test over every edge of c: the reference the index is
// checked against.
func (c *Commune) ContainsNaive(lon, lat float64) bool {
	if !c.BBox.Contains(lon, lat) {
		return false
	}
	inside := false
	for _, poly := range c.Geometry {
		for _, ring := range poly {
			for i := 0; i+1 < len(ring); i++ {
				if crosses(ring[i].Lon, ring[i].Lat, ring[i+1].Lon, ring[i+1].Lat, lon, lat) {
					inside = !inside
				}
			}
		}
	}
	return inside
}

// crosses reports whether the edge (x1,y1)-(x2,y2) crosses the ray going east from (px,py).
// The half-open rule (y1 > py) != (y2 > py) counts a vertex on the ray once, and a point on
// an edge shared by two communes falls in exactly one of them.
func crosses(x1, y1, x2, y2, px, py float64) bool {
	return (y1 > py) != (y2 > py) && px < (x2-x1)*(py-y1)/(y2-y1)+x1
}
