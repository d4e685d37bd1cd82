package held

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func seeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.xml")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(foreignRequest))
	f.Add([]byte(foreignResponse))
}

// FuzzParseRequest: never a panic; every refusal is a HELD error with a code; an accepted
// request encodes and parses back to itself.
func FuzzParseRequest(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, herr := ParseRequest(b)
		if herr != nil {
			if herr.Code == "" {
				t.Fatal("error without a code")
			}
			return
		}
		out, err := EncodeRequest(r)
		if err != nil {
			t.Fatalf("accepted request does not encode: %v", err)
		}
		back, herr := ParseRequest(out)
		if herr != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip: %+v %v, want %+v", back, herr, r)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseResponse(b)
	})
}
