package statuslist

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Status is the value of one entry of a status list (§7).
type Status uint8

// Status Types registered by the draft (§7.1). The value 0x03 and the range
// 0x0C–0x0F are reserved for application-specific use; other values are
// reserved for future registration but can still be carried in an 8-bit list.
const (
	Valid     Status = 0x00
	Invalid   Status = 0x01
	Suspended Status = 0x02

	ApplicationSpecific Status = 0x03
)

// IsApplicationSpecific reports whether s is one of the values §7.1 reserves
// for applications: 0x03 and 0x0C to 0x0F.
func (s Status) IsApplicationSpecific() bool {
	return s == 0x03 || (s >= 0x0C && s <= 0x0F)
}

func (s Status) String() string {
	switch s {
	case Valid:
		return "VALID"
	case Invalid:
		return "INVALID"
	case Suspended:
		return "SUSPENDED"
	}
	if s.IsApplicationSpecific() {
		return fmt.Sprintf("APPLICATION_SPECIFIC(0x%02X)", uint8(s))
	}
	return fmt.Sprintf("0x%02X", uint8(s))
}

// DefaultMaxListBytes bounds the decompressed size of a list decoded by
// [DecodeList] when the caller gives no bound: 4 MiB, that is 32 Mi entries
// of one bit.
const DefaultMaxListBytes = 4 << 20

// Errors returned by this package; match them with errors.Is.
var (
	ErrBits            = errors.New("statuslist: bits must be 1, 2, 4 or 8")
	ErrIndexOutOfRange = errors.New("statuslist: index out of range")
	ErrStatusTooWide   = errors.New("statuslist: status does not fit in bits")
	ErrTooLarge        = errors.New("statuslist: decompressed list exceeds the limit")
	ErrEncoding        = errors.New("statuslist: malformed lst")
)

// List is a status list (§4.1): a byte array in which entry i occupies
// `bits` bits, entries packed from the least significant bit of byte 0
// upwards. A List is not safe for concurrent use; [Publisher] guards its own.
type List struct {
	bits int
	data []byte
}

func validBits(bits int) bool {
	return bits == 1 || bits == 2 || bits == 4 || bits == 8
}

// NewList returns a list of at least size entries of the given bit width, all
// VALID (0x00, the default §13.3 recommends). The byte array is rounded up to
// whole bytes (§13.4), so Len may exceed size.
func NewList(bits, size int) (*List, error) {
	if !validBits(bits) {
		return nil, ErrBits
	}
	if size <= 0 {
		return nil, fmt.Errorf("statuslist: size must be positive, got %d", size)
	}
	perByte := 8 / bits
	return &List{bits: bits, data: make([]byte, (size+perByte-1)/perByte)}, nil
}

// Bits returns the number of bits per entry.
func (l *List) Bits() int { return l.bits }

// Len returns the number of entries: every bit of the byte array counts,
// since the encoding carries no separate length (§4.1 step 2).
func (l *List) Len() int { return len(l.data) * 8 / l.bits }

// Bytes returns a copy of the uncompressed byte array.
func (l *List) Bytes() []byte { return bytes.Clone(l.data) }

// Clone returns an independent copy of l.
func (l *List) Clone() *List { return &List{bits: l.bits, data: bytes.Clone(l.data)} }

// position returns the byte holding entry i and the shift of its lowest bit
// (§4.1 step 3; §11.1 warns against getting this wrong).
func (l *List) position(i int) (int, uint) {
	perByte := 8 / l.bits
	return i / perByte, uint((i % perByte) * l.bits)
}

func (l *List) mask() byte { return byte(1<<l.bits - 1) }

// Get returns the status of entry i.
func (l *List) Get(i int) (Status, error) {
	if i < 0 || i >= l.Len() {
		return 0, fmt.Errorf("%w: %d not in [0, %d)", ErrIndexOutOfRange, i, l.Len())
	}
	b, shift := l.position(i)
	return Status(l.data[b] >> shift & l.mask()), nil
}

// Set sets the status of entry i; s must fit in the list's bits.
func (l *List) Set(i int, s Status) error {
	if i < 0 || i >= l.Len() {
		return fmt.Errorf("%w: %d not in [0, %d)", ErrIndexOutOfRange, i, l.Len())
	}
	if byte(s) > l.mask() {
		return fmt.Errorf("%w: %s in %d bits", ErrStatusTooWide, s, l.bits)
	}
	b, shift := l.position(i)
	l.data[b] = l.data[b]&^(l.mask()<<shift) | byte(s)<<shift
	return nil
}

// Encode returns the `lst` value (§4.2): the byte array compressed with
// DEFLATE in the ZLIB format at the highest level (§4.1 step 4), then
// base64url-encoded without padding.
func (l *List) Encode() (string, error) {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return "", fmt.Errorf("statuslist: compress: %w", err)
	}
	if _, err := w.Write(l.data); err != nil {
		return "", fmt.Errorf("statuslist: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("statuslist: compress: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// DecodeList decodes an `lst` value of the given bits. It refuses a list
// whose decompressed size exceeds maxBytes (DefaultMaxListBytes when
// maxBytes <= 0) without decompressing further, an empty list, a bad
// checksum and bytes after the ZLIB stream.
func DecodeList(bits int, lst string, maxBytes int) (*List, error) {
	if !validBits(bits) {
		return nil, ErrBits
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxListBytes
	}
	compressed, err := base64.RawURLEncoding.Strict().DecodeString(lst)
	if err != nil {
		return nil, fmt.Errorf("%w: base64url: %v", ErrEncoding, err)
	}
	// bytes.Reader is an io.ByteReader, so the decompressor reads no further
	// than the end of the ZLIB stream and leftovers can be detected.
	src := bytes.NewReader(compressed)
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrEncoding, err)
	}
	defer zr.Close()
	data, err := io.ReadAll(io.LimitReader(zr, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrEncoding, err)
	}
	if len(data) > maxBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, maxBytes)
	}
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the ZLIB stream", ErrEncoding, src.Len())
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrEncoding)
	}
	return &List{bits: bits, data: data}, nil
}
