package geo

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The boundaries socle imports come from outside (official datasets, `socle import`, `socle
// apply`): whatever they hold, a parse is refused, or every area it returns is one the
// resolver can use. The properties below are that promise; the round trip checks that
// nothing was read other than what the document says.

func FuzzParseCommunes(f *testing.F) {
	demo, _ := os.ReadFile("../demo/communes.geojson")
	f.Add(demo)
	f.Add([]byte(square))
	f.Add([]byte(`{"type":"FeatureCollection","features":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseCommunes(bytes.NewReader(b))
		if err != nil {
			refusedClearly(t, err, "communes: ")
			return
		}
		usableAreas(t, cs, ValidINSEE)
		sameOnceMore(t, b, cs, ParseCommunes)
		ix := NewIndex(cs)
		for _, c := range cs {
			ix.Locate(c.BBox.MinLat, c.BBox.MinLon)
			ix.Locate((c.BBox.MinLat+c.BBox.MaxLat)/2, (c.BBox.MinLon+c.BBox.MaxLon)/2)
		}
	})
}

// departementsDoc is the shape of the official "départements" dataset: a Polygon and a
// MultiPolygon with a hole, the codes of metropolitan France, Corsica and overseas.
const departementsDoc = `{"type":"FeatureCollection","features":[
{"type":"Feature","properties":{"code":"75","nom":"Paris"},"geometry":{"type":"Polygon","coordinates":[[[2.22,48.81],[2.47,48.81],[2.47,48.91],[2.22,48.91],[2.22,48.81]]]}},
{"type":"Feature","properties":{"code":"2A","nom":"Corse-du-Sud"},"geometry":{"type":"MultiPolygon","coordinates":[
  [[[8.5,41.3],[9.4,41.3],[9.4,42.4],[8.5,42.4],[8.5,41.3]],[[8.7,41.9],[8.8,41.9],[8.8,42.0],[8.7,41.9]]],
  [[[9.1,41.3],[9.2,41.3],[9.2,41.4],[9.1,41.3]]]]}},
{"type":"Feature","properties":{"code":"971","nom":"Guadeloupe"},"geometry":{"type":"Polygon","coordinates":[[[-61.8,15.8],[-61.0,15.8],[-61.0,16.5],[-61.8,15.8]]]}}]}`

func FuzzParseDepartements(f *testing.F) {
	f.Add([]byte(departementsDoc))
	f.Add([]byte(strings.ReplaceAll(departementsDoc, `"971"`, `"977"`)))        // no such département
	f.Add([]byte(strings.ReplaceAll(departementsDoc, `[2.22,48.81]]]`, `]]`)))  // ring left open
	f.Add([]byte(strings.ReplaceAll(departementsDoc, `9.4,42.4`, `9.4,142.4`))) // latitude out of range
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"75","nom":"Paris"},"geometry":{"type":"Polygon","coordinates":[[[1e400,0],[0,0],[0,1],[1e400,0]]]}}]}`))
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"75","nom":"Paris"},"geometry":{"type":"Polygon","coordinates":[[[0,0,5],[1,0],[1,1],[0,0]]]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseDepartements(bytes.NewReader(b))
		if err != nil {
			refusedClearly(t, err, "départements: ")
			return
		}
		usableAreas(t, ds, ValidDepartement)
		sameOnceMore(t, b, ds, ParseDepartements)
	})
}

// refusedClearly: a refusal says what was being read.
func refusedClearly(t *testing.T, err error, prefix string) {
	t.Helper()
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("refusal %q does not start with %q", err, prefix)
	}
}

// usableAreas checks what every accepted area promises: a valid and unique code, a name,
// at least one polygon of closed rings of four positions or more (RFC 7946 §3.1.6), every
// position a finite longitude and latitude in range, and a bounding box that is exactly the
// positions' (the index trusts it to skip areas).
func usableAreas(t *testing.T, as []Commune, valid func(string) bool) {
	t.Helper()
	seen := map[string]bool{}
	for _, a := range as {
		if !valid(a.Code) {
			t.Fatalf("accepted code %q is not valid", a.Code)
		}
		if seen[a.Code] {
			t.Fatalf("code %q accepted twice", a.Code)
		}
		seen[a.Code] = true
		if strings.TrimSpace(a.Name) == "" {
			t.Fatalf("%s: accepted without a name", a.Code)
		}
		if len(a.Geometry) == 0 {
			t.Fatalf("%s: accepted without a polygon", a.Code)
		}
		for pi, poly := range a.Geometry {
			if len(poly) == 0 {
				t.Fatalf("%s: polygon %d has no ring", a.Code, pi)
			}
			for ri, ring := range poly {
				if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
					t.Fatalf("%s: polygon %d ring %d is not a closed ring of 4 positions or more: %v", a.Code, pi, ri, ring)
				}
				for _, p := range ring {
					if !finite(p.Lon) || !finite(p.Lat) || p.Lon < -180 || p.Lon > 180 || p.Lat < -90 || p.Lat > 90 {
						t.Fatalf("%s: position %v out of range", a.Code, p)
					}
					if !a.BBox.Contains(p.Lon, p.Lat) {
						t.Fatalf("%s: position %v outside its bounding box %v", a.Code, p, a.BBox)
					}
				}
			}
		}
		computed := a
		computed.ComputeBBox()
		if computed.BBox != a.BBox {
			t.Fatalf("%s: bounding box %v, its positions' is %v", a.Code, a.BBox, computed.BBox)
		}
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// sameOnceMore: parsing is deterministic, and what was accepted, written back as GeoJSON,
// reads back as the same areas.
func sameOnceMore(t *testing.T, b []byte, as []Commune, parse func(io.Reader) ([]Commune, error)) {
	t.Helper()
	again, err := parse(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(again, as) {
		t.Fatalf("a second parse of the same bytes differs: %v", err)
	}
	back, err := parse(bytes.NewReader(encodeAreas(t, as)))
	if err != nil {
		t.Fatalf("accepted areas, written back, are refused: %v", err)
	}
	if !reflect.DeepEqual(back, as) && !(len(back) == 0 && len(as) == 0) {
		t.Fatalf("accepted areas, written back, read as others:\n%+v\n%+v", as, back)
	}
}

// encodeAreas writes areas as a FeatureCollection of MultiPolygons.
func encodeAreas(t *testing.T, as []Commune) []byte {
	t.Helper()
	type geom struct {
		Type        string          `json:"type"`
		Coordinates [][][][]float64 `json:"coordinates"`
	}
	type feat struct {
		Type       string            `json:"type"`
		Properties map[string]string `json:"properties"`
		Geometry   geom              `json:"geometry"`
	}
	fc := struct {
		Type     string `json:"type"`
		Features []feat `json:"features"`
	}{Type: "FeatureCollection", Features: []feat{}}
	for _, a := range as {
		var polys [][][][]float64
		for _, poly := range a.Geometry {
			var rings [][][]float64
			for _, ring := range poly {
				var pts [][]float64
				for _, p := range ring {
					pts = append(pts, []float64{p.Lon, p.Lat})
				}
				rings = append(rings, pts)
			}
			polys = append(polys, rings)
		}
		fc.Features = append(fc.Features, feat{"Feature", map[string]string{"code": a.Code, "nom": a.Name}, geom{"MultiPolygon", polys}})
	}
	out, err := json.Marshal(fc)
	if err != nil {
		t.Fatalf("accepted areas cannot be written back: %v", err)
	}
	return out
}
