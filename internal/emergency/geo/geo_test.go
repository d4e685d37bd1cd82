package geo

import (
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"
)

func demo(t testing.TB) *Index {
	f, err := os.Open("../demo/communes.geojson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs, err := ParseCommunes(f)
	if err != nil {
		t.Fatal(err)
	}
	return NewIndex(cs)
}

func TestLandmarksFallInTheirCommune(t *testing.T) {
	ix := demo(t)
	for _, c := range []struct {
		place    string
		lat, lon float64
		want     string
	}{
		{"Tour Eiffel", 48.8584, 2.2945, "75056"},
		{"Notre-Dame", 48.8530, 2.3499, "75056"},
		{"Stade de France", 48.9245, 2.3602, "93066"},
		{"Mairie de Montreuil", 48.8620, 2.4420, "93048"},
		{"Boulogne-Billancourt", 48.8350, 2.2400, "92012"},
		{"Place Bellecour", 45.7578, 4.8320, "69123"},
		{"Gratte-Ciel, Villeurbanne", 45.7680, 4.8800, "69266"},
		{"Vieux-Port", 43.2951, 5.3740, "13055"},
		{"Citadelle d'Ajaccio", 41.9190, 8.7386, "2A004"},
		{"at sea off Marseille", 43.20, 5.30, ""},
		{"London", 51.5072, -0.1276, ""},
	} {
		got, ok := ix.Locate(c.lat, c.lon)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s (%v, %v): got %q, want %q", c.place, c.lat, c.lon, got, c.want)
		}
	}
}

const square = `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"01001","nom":"Trouée"},
 "geometry":{"type":"MultiPolygon","coordinates":[
  [[[0,0],[10,0],[10,10],[0,10],[0,0]], [[4,4],[6,4],[6,6],[4,6],[4,4]]],
  [[[20,0],[22,0],[22,2],[20,2],[20,0]]]]}}]}`

func TestHolesAreOutsideAndIslandsInside(t *testing.T) {
	cs, err := ParseCommunes(strings.NewReader(square))
	if err != nil {
		t.Fatal(err)
	}
	ix := NewIndex(cs)
	for _, c := range []struct {
		lon, lat float64
		in       bool
	}{{1, 1, true}, {5, 5, false}, {21, 1, true}, {15, 1, false}, {9.99, 9.99, true}} {
		if _, ok := ix.Locate(c.lat, c.lon); ok != c.in {
			t.Errorf("(%v, %v): inside=%v, want %v", c.lon, c.lat, ok, c.in)
		}
	}
}

func TestAPointOnASharedBorderBelongsToExactlyOneCommune(t *testing.T) {
	cs := Synthetic(100, 40, 7)
	ix := NewIndex(cs)
	// Every vertex of every commune lies on a border.
	for _, c := range cs {
		for _, p := range c.Geometry[0][0] {
			n := 0
			for i := range cs {
				if cs[i].ContainsNaive(p.Lon, p.Lat) {
					n++
				}
			}
			if n > 1 {
				t.Fatalf("vertex %v of %s is in %d communes", p, c.Code, n)
			}
			got, _ := ix.Locate(p.Lat, p.Lon)
			for i := range cs {
				if cs[i].ContainsNaive(p.Lon, p.Lat) && cs[i].Code != got {
					t.Fatalf("vertex %v: index says %q, naive says %s", p, got, cs[i].Code)
				}
			}
		}
	}
}

func TestTheIndexAgreesWithTheNaiveTestEverywhere(t *testing.T) {
	cs := Synthetic(2000, 120, 42)
	ix := NewIndex(cs)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100_000; i++ {
		lon, lat := -6+rng.Float64()*17, 40.5+rng.Float64()*11.5
		want := ""
		for k := range cs {
			if cs[k].ContainsNaive(lon, lat) {
				want = cs[k].Code
				break
			}
		}
		if got, _ := ix.Locate(lat, lon); got != want {
			t.Fatalf("(%v, %v): index %q, naive %q", lon, lat, got, want)
		}
	}
}

func TestBadGeoJSONIsRefusedNamingTheFeature(t *testing.T) {
	feature := func(props, geom string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"75056","nom":"Paris"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
			{"type":"Feature","properties":` + props + `,"geometry":` + geom + `}]}`
	}
	ok := `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`
	for _, c := range []struct{ doc, want string }{
		{`[]`, "not a GeoJSON document"},
		{`{"type":"Feature"}`, "want FeatureCollection"},
		{feature(`{"nom":"X"}`, ok), "feature 1: properties.code missing"},
		{feature(`{"code":"7505","nom":"X"}`, ok), `feature 1 (code "7505"): properties.code "7505" is not an INSEE`},
		{feature(`{"code":"75101"}`, ok), "properties.nom missing"},
		{feature(`{"code":"75056","nom":"Bis"}`, ok), "same code as feature 0"},
		{feature(`{"code":"75101","nom":"X"}`, `{"type":"LineString","coordinates":[[0,0],[1,1]]}`), `geometry type "LineString" not supported`},
		{feature(`{"code":"75101","nom":"X"}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}`), "has 3 positions, need at least 4"},
		{feature(`{"code":"75101","nom":"X"}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}`), "is not closed"},
		{feature(`{"code":"75101","nom":"X"}`, `{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,91],[0,0]]]}`), "is not a longitude, latitude pair"},
		{feature(`{"code":"75101","nom":"X"}`, `null`), "geometry missing"},
	} {
		_, err := ParseCommunes(strings.NewReader(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}

func TestDepartementOfACommune(t *testing.T) {
	for in, want := range map[string]string{"75056": "75", "2A004": "2A", "97101": "971", "98735": "987"} {
		if got := Departement(in); got != want {
			t.Errorf("Departement(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDepartementCodes(t *testing.T) {
	for code, ok := range map[string]bool{"01": true, "75": true, "2A": true, "2B": true, "971": true, "976": true,
		"95": true, "00": false, "20": false, "96": false, "99": false, "977": false, "2C": false, "750": false} {
		if ValidDepartement(code) != ok {
			t.Errorf("ValidDepartement(%q) = %v", code, !ok)
		}
	}
	doc := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"75056","nom":"Paris"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}`
	if _, err := ParseDepartements(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), `départements: feature 0 (code "75056"): properties.code "75056" is not a département code`) {
		t.Errorf("commune code as département: %v", err)
	}
}

// The points where a fast index goes wrong: on and next to vertices and edges, on and next to
// the lines of its grid, on and next to bounding boxes; and communes that overlap, where the
// lowest code wins.
func TestTheIndexAgreesWithTheNaiveTestOnBordersAndGridLines(t *testing.T) {
	cs := Synthetic(2000, 120, 42)
	for _, c := range Synthetic(60, 40, 9) { // overlapping the first ones, codes in between
		c.Code += "x"
		cs = append(cs, c)
	}
	f, err := os.Open("../demo/communes.geojson")
	if err != nil {
		t.Fatal(err)
	}
	demo, err := ParseCommunes(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Bounding boxes that leave out part of the communes: ContainsNaive trusts them.
	var narrow []Commune
	for _, c := range Synthetic(300, 60, 3) {
		w, h := c.BBox.MaxLon-c.BBox.MinLon, c.BBox.MaxLat-c.BBox.MinLat
		c.BBox = BBox{c.BBox.MinLon + w/5, c.BBox.MinLat + h/4, c.BBox.MaxLon - w/6, c.BBox.MaxLat - h/3}
		narrow = append(narrow, c)
	}
	// Communes far apart, as France and Réunion: the grid keeps no cells for the sea.
	far := Synthetic(400, 40, 4)
	for _, c := range Synthetic(30, 40, 5) {
		for _, ring := range c.Geometry[0] {
			for i := range ring {
				ring[i] = Point{55.2 + (ring[i].Lon+5)/14.5*0.6, -21.4 + (ring[i].Lat-41.3)/9.8*0.5}
			}
		}
		c.Code = "974" + c.Code[3:]
		c.ComputeBBox()
		far = append(far, c)
	}
	for _, set := range [][]Commune{cs, demo, narrow, far} {
		ix := NewIndex(set)
		sorted := append([]Commune(nil), set...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Code < sorted[j].Code })
		naive := func(lon, lat float64) string {
			for k := range sorted {
				if sorted[k].ContainsNaive(lon, lat) {
					return sorted[k].Code
				}
			}
			return ""
		}
		rng := rand.New(rand.NewPCG(5, 6))
		n := 0
		check := func(lon, lat float64) {
			for _, x := range []float64{math.Nextafter(lon, math.Inf(-1)), lon, math.Nextafter(lon, math.Inf(1))} {
				for _, y := range []float64{math.Nextafter(lat, math.Inf(-1)), lat, math.Nextafter(lat, math.Inf(1))} {
					n++
					if got, _ := ix.Locate(y, x); got != naive(x, y) {
						t.Fatalf("(%v, %v): index %q, naive %q", x, y, got, naive(x, y))
					}
				}
			}
		}
		for _, c := range set {
			for _, poly := range c.Geometry {
				for _, ring := range poly {
					for i := 0; i+1 < len(ring); i += 3 {
						p, q := ring[i], ring[i+1]
						check(p.Lon, p.Lat)
						s := rng.Float64()
						check(p.Lon+s*(q.Lon-p.Lon), p.Lat+s*(q.Lat-p.Lat))
					}
				}
			}
			b := c.BBox
			check(b.MinLon, b.MinLat+rng.Float64()*(b.MaxLat-b.MinLat))
			check(b.MaxLon, b.MinLat+rng.Float64()*(b.MaxLat-b.MinLat))
			check(b.MinLon+rng.Float64()*(b.MaxLon-b.MinLon), b.MinLat)
			check(b.MinLon+rng.Float64()*(b.MaxLon-b.MinLon), b.MaxLat)
		}
		all := set[0].BBox
		for _, c := range set {
			all = BBox{min(all.MinLon, c.BBox.MinLon), min(all.MinLat, c.BBox.MinLat), max(all.MaxLon, c.BBox.MaxLon), max(all.MaxLat, c.BBox.MaxLat)}
		}
		for k := 0; k < 20000; k++ {
			check(all.MinLon-1+rng.Float64()*(all.MaxLon-all.MinLon+2), all.MinLat-1+rng.Float64()*(all.MaxLat-all.MinLat+2))
		}
		// The grid's lines, as locate computes them.
		for k := 0; k < 3000; k++ {
			b := set[rng.IntN(len(set))].BBox
			lon, lat := b.MinLon+rng.Float64()*(b.MaxLon-b.MinLon), b.MinLat+rng.Float64()*(b.MaxLat-b.MinLat)
			check(ix.x(int((lon-ix.minLon)*ix.invW)), lat)
			check(lon, ix.y(int((lat-ix.minLat)*ix.invH)))
		}
		t.Logf("%d communes, %d points", len(set), n)
	}
}

func TestEveryValidDepartementHasItsName(t *testing.T) {
	n := 0
	for code, name := range departementNames {
		if !ValidDepartement(code) || name == "" {
			t.Errorf("%q → %q", code, name)
		}
		n++
	}
	if n != 102 { // 96 in metropolitan France (2A, 2B for 20), 5 overseas, and 975, Saint-Pierre-et-Miquelon
		t.Errorf("%d names", n)
	}
	if DepartementName("75") != "Paris" || DepartementName("20") != "" {
		t.Error("lookup")
	}
}
