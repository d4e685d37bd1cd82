package geo

import (
	"bytes"
	"os"
	"testing"
)

func FuzzParseCommunes(f *testing.F) {
	demo, _ := os.ReadFile("../demo/communes.geojson")
	f.Add(demo)
	f.Add([]byte(square))
	f.Add([]byte(`{"type":"FeatureCollection","features":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ParseCommunes(bytes.NewReader(b))
		if err != nil {
			return
		}
		ix := NewIndex(cs)
		for _, c := range cs {
			ix.Locate(c.BBox.MinLat, c.BBox.MinLon)
			ix.Locate((c.BBox.MinLat+c.BBox.MaxLat)/2, (c.BBox.MinLon+c.BBox.MaxLon)/2)
		}
	})
}
