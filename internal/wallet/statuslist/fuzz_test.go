package statuslist

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// sameStatuses fails unless a and b hold the same entries.
func sameStatuses(t *testing.T, a, b *List) {
	t.Helper()
	if a.Bits() != b.Bits() || a.Len() != b.Len() || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("re-encoding changed the list: %d bits %d entries, then %d bits %d entries",
			a.Bits(), a.Len(), b.Bits(), b.Len())
	}
}

// lst is outside input: decoding never panics and never exceeds its bound,
// and what it accepts re-encodes to the same statuses.
func FuzzDecodeList(f *testing.F) {
	for _, bits := range []int{1, 2, 4, 8} {
		l, _ := NewList(bits, 40)
		l.Set(3, 1)
		lst, _ := l.Encode()
		f.Add(uint8(bits), lst)
	}
	f.Add(uint8(1), "eNpz6wcAAR0A1g")
	f.Add(uint8(1), "")
	f.Fuzz(func(t *testing.T, bits uint8, lst string) {
		const limit = 1 << 16
		l, err := DecodeList(int(bits), lst, limit)
		if err != nil {
			return
		}
		if len(l.Bytes()) > limit {
			t.Fatalf("%d bytes past the %d limit", len(l.Bytes()), limit)
		}
		enc, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeList(int(bits), enc, limit)
		if err != nil {
			t.Fatal(err)
		}
		sameStatuses(t, l, again)
	})
}

var fuzzNow = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// A Status List Token is outside input: parsing never panics, and a token it
// accepts, signed again, parses to the same statuses. Mutations rarely keep
// a valid signature, so FuzzTokenClaims below fuzzes the claims behind it.
func FuzzParseToken(f *testing.F) {
	key := newKey(f)
	for _, bits := range []int{1, 2, 4, 8} {
		l, _ := NewList(bits, 16)
		l.Set(1, 1)
		b, err := sampleToken(fuzzNow, l).Sign(Signer{Key: key, KeyID: "k"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("eyJhbGciOiJub25lIn0.e30."))
	opts := VerifyOptions{URI: listURI, Keys: StaticKey(jwa.ES256(), &key.PublicKey), Now: func() time.Time { return fuzzNow }, MaxListBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseToken(context.Background(), data, opts)
		if err != nil {
			return
		}
		resigned, err := tok.Sign(Signer{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseToken(context.Background(), resigned, opts)
		if err != nil {
			t.Fatal(err)
		}
		sameStatuses(t, tok.List, again.List)
	})
}

// The claims of a verified token: whatever parseClaims accepts survives a
// round trip through Sign and ParseToken with the same statuses.
func FuzzTokenClaims(f *testing.F) {
	key := newKey(f)
	lst, _ := listOf(f, 2, Valid, Invalid, Suspended).Encode()
	f.Add([]byte(`{"sub":"` + listURI + `","iat":1796378400,"exp":1796464800,"ttl":300,"status_list":{"bits":2,"lst":"` + lst + `"}}`))
	f.Add([]byte(`{"sub":"` + listURI + `","iat":1.5e9,"ttl":0.5,"status_list":{"bits":1,"lst":"eNpz6wcAAR0A1g","aggregation_uri":"x"}}`))
	f.Add([]byte(`{"sub":1}`))
	opts := VerifyOptions{URI: listURI, Keys: StaticKey(jwa.ES256(), &key.PublicKey), Now: func() time.Time { return fuzzNow }, MaxListBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok, err := parseClaims(payload, opts, fuzzNow)
		if err != nil {
			return
		}
		if tok.TTL > 0 && tok.TTL < time.Second {
			tok.TTL = time.Second // Sign writes whole seconds
		}
		if tok.Expiry.Nanosecond() != 0 { // ... and must not move exp earlier
			tok.Expiry = tok.Expiry.Truncate(time.Second).Add(time.Second)
		}
		resigned, err := tok.Sign(Signer{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseToken(context.Background(), resigned, opts)
		if err != nil {
			t.Fatalf("re-signed token refused: %v", err)
		}
		sameStatuses(t, tok.List, again.List)
	})
}
