package held

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"socle/internal/emergency/pidflo"
)

func seeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.xml")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(foreignRequest))
	f.Add([]byte(foreignResponse))
	f.Add([]byte(referenceResponse))
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

// FuzzParseResponse: an operator's answer is refused, or it is an error that socle, which
// passes operators' errors on to PSAPs, writes back as the same error, or it is a location
// that writes back (Encode checks every position's range) as the same location and the same
// location URIs.
func FuzzParseResponse(f *testing.F) {
	seeds(f)
	f.Add(EncodeError(&Error{Code: LocationUnknown, Message: "no fix for this number"}))
	f.Add([]byte(`<error xmlns="urn:ietf:params:xml:ns:geopriv:held" code="a&quot;b&lt;"><message>x</message></error>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		var herr *Error
		if errors.As(err, &herr) {
			_, err := ParseResponse(EncodeError(herr))
			var back *Error
			if !errors.As(err, &back) || *back != *herr {
				t.Fatalf("error %+v written back reads as %v", herr, err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, ErrNotHELD) && !errors.Is(err, pidflo.ErrNotPIDFLO) && !errors.Is(err, pidflo.ErrUnsafeXML) {
				t.Fatalf("refusal of an unknown kind: %v", err)
			}
			return
		}
		out, err := Encode(r)
		if err != nil {
			t.Fatalf("accepted a location that does not encode: %v\n%#v", err, r.Location)
		}
		back, err := ParseResponse(out)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip: %+v %v, want %+v", back, err, r)
		}
	})
}
