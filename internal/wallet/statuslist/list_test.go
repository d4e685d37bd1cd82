package statuslist

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// The draft's §4.1 illustrates the layout with 16 one-bit and 12 two-bit
// entries: entry 0 sits in the least significant bits of byte 0, and each
// following entry in the next bits up. These cases use other values laid out
// by the same rule, one per bit width, with the bytes worked out by hand.
func TestListLayoutFollowsSection4_1(t *testing.T) {
	cases := []struct {
		name     string
		bits     int
		statuses []Status
		want     []byte
	}{{
		// byte 0, bit 7..0: 0 1 0 0 0 1 1 0 (entries 7..0) = 0x46
		// byte 1, bit 7..0: 1 0 0 0 1 1 1 1 (entries 15..8) = 0x8F
		name:     "1 bit, 16 entries",
		bits:     1,
		statuses: []Status{0, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1},
		want:     []byte{0x46, 0x8F},
	}, {
		// byte 0: entries 3..0 = 11 10 01 00 = 0xE4
		// byte 1: entries 7..4 = 01 00 10 10 = 0x4A
		name:     "2 bits, 8 entries with SUSPENDED and the application-specific 0x03",
		bits:     2,
		statuses: []Status{Valid, Invalid, Suspended, 0x03, Suspended, Suspended, Valid, Invalid},
		want:     []byte{0xE4, 0x4A},
	}, {
		// each byte: the higher entry in the high nibble
		name:     "4 bits, 4 entries",
		bits:     4,
		statuses: []Status{0x1, 0xC, 0xF, 0x2},
		want:     []byte{0xC1, 0x2F},
	}, {
		name:     "8 bits, one entry a byte",
		bits:     8,
		statuses: []Status{0x03, 0xFF, 0x00},
		want:     []byte{0x03, 0xFF, 0x00},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := listOf(t, c.bits, c.statuses...)
			if got := l.Bytes(); !bytes.Equal(got, c.want) {
				t.Fatalf("bytes = % X, want % X", got, c.want)
			}
			lst, err := l.Encode()
			if err != nil {
				t.Fatal(err)
			}
			back, err := DecodeList(c.bits, lst, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range c.statuses {
				if got, _ := back.Get(i); got != want {
					t.Errorf("entry %d = %s, want %s", i, got, want)
				}
			}
		})
	}
}

// The 1-bit case above, compressed by another ZLIB implementation (Python's
// zlib.compress at level 9), decodes to the same statuses.
func TestDecodeListAcceptsAnotherZlib(t *testing.T) {
	l, err := DecodeList(1, "eNpz6wcAAR0A1g", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Bytes(); !bytes.Equal(got, []byte{0x46, 0x8F}) {
		t.Fatalf("bytes = % X", got)
	}
	if l.Len() != 16 {
		t.Fatalf("Len = %d, want 16", l.Len())
	}
}

func TestListRoundTripsEveryBitSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []int{1, 2, 4, 8} {
		l, err := NewList(bits, 10_001)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]Status, l.Len())
		for i := range want {
			want[i] = Status(rng.IntN(1 << bits))
			if err := l.Set(i, want[i]); err != nil {
				t.Fatal(err)
			}
		}
		lst, err := l.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(lst, "=+/") {
			t.Fatalf("lst is not unpadded base64url: %q", lst[:20])
		}
		back, err := DecodeList(bits, lst, 0)
		if err != nil {
			t.Fatalf("bits %d: %v", bits, err)
		}
		if back.Len() != l.Len() {
			t.Fatalf("bits %d: Len %d, want %d", bits, back.Len(), l.Len())
		}
		for i, s := range want {
			if got, _ := back.Get(i); got != s {
				t.Fatalf("bits %d: entry %d = %s, want %s", bits, i, got, s)
			}
		}
	}
}

func TestNewListRoundsUpToWholeBytes(t *testing.T) {
	l, err := NewList(2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if l.Len() != 8 || len(l.Bytes()) != 2 {
		t.Fatalf("Len %d, %d bytes; want 8 entries in 2 bytes", l.Len(), len(l.Bytes()))
	}
}

func TestListRefusesWhatDoesNotFit(t *testing.T) {
	l := listOf(t, 1, Valid, Valid)
	if err := l.Set(0, Suspended); !errors.Is(err, ErrStatusTooWide) {
		t.Errorf("SUSPENDED in 1 bit: %v", err)
	}
	if _, err := l.Get(8); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("Get(8) of 8 entries: %v", err)
	}
	if _, err := l.Get(-1); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("Get(-1): %v", err)
	}
	if err := l.Set(8, Invalid); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("Set(8): %v", err)
	}
	if _, err := NewList(3, 8); !errors.Is(err, ErrBits) {
		t.Errorf("bits 3: %v", err)
	}
}

func compress(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDecodeListRefusals(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	// A megabyte of zeros compresses to about a kilobyte: a small zip bomb.
	bomb := b64(compress(t, make([]byte, 1<<20)))
	good := compress(t, []byte{0x01})
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 0xFF
	cases := []struct {
		name string
		bits int
		lst  string
		max  int
		want error
	}{
		{"decompresses beyond the bound", 1, bomb, 64 << 10, ErrTooLarge},
		{"one byte beyond the bound", 8, b64(compress(t, make([]byte, 101))), 100, ErrTooLarge},
		{"padded base64", 1, b64(good) + "=", 0, ErrEncoding},
		{"standard base64 alphabet", 1, strings.NewReplacer("-", "+", "_", "/").Replace(b64(compress(t, []byte{0xfb, 0xff, 0xfe}))) + "+/", 0, ErrEncoding},
		{"raw DEFLATE without the ZLIB header", 1, b64(good[2:]), 0, ErrEncoding},
		{"bad checksum", 1, b64(badSum), 0, ErrEncoding},
		{"bytes after the stream", 1, b64(append(bytes.Clone(good), 0x00)), 0, ErrEncoding},
		{"empty list", 1, b64(compress(t, nil)), 0, ErrEncoding},
		{"bits 16", 16, b64(good), 0, ErrBits},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeList(c.bits, c.lst, c.max); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := DecodeList(8, b64(compress(t, make([]byte, 100))), 100); err != nil {
		t.Fatalf("exactly at the bound: %v", err)
	}
}

func TestStatusNames(t *testing.T) {
	for s, want := range map[Status]string{
		Valid: "VALID", Invalid: "INVALID", Suspended: "SUSPENDED",
		0x03: "APPLICATION_SPECIFIC(0x03)", 0x0D: "APPLICATION_SPECIFIC(0x0D)", 0x04: "0x04",
	} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
	}
}
