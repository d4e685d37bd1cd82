package pidflo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.xml")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(tupleForm))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(d)
		if err != nil {
			return // decodable but not encodable (e.g. no entity): fine
		}
		d2, err := Decode(out)
		if err != nil {
			t.Fatalf("our own output does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", d, d2)
		}
	})
}
