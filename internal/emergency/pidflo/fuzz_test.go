package pidflo

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, and whatever it accepts, Encode writes, and Decode reads
// back to the same Document; writing that again gives the same bytes.
func FuzzDecode(f *testing.F) {
	for _, pattern := range []string{"testdata/*.xml", "testdata/foreign/*.xml"} {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(inPresence(`<gml:Point><gml:pos>1 2</gml:pos></gml:Point>`)))
	f.Add([]byte(`<!DOCTYPE p [<!ENTITY a "a">]><presence xmlns="urn:ietf:params:xml:ns:pidf">&a;</presence>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode(b)
		if err != nil {
			return
		}
		out, err := Encode(d)
		if err != nil {
			t.Fatalf("Decode accepted a document Encode refuses: %v\n%#v", err, d)
		}
		d2, err := Decode(out)
		if err != nil {
			t.Fatalf("our own output does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed the document:\n%#v\n%#v\n%s", d, d2, out)
		}
		if out2, err := Encode(d2); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoding again gives other bytes: %v\n%s\n%s", err, out, out2)
		}
	})
}
