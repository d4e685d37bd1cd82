// Package mdoc issues mobile documents as ISO/IEC 18013-5 defines them (the mobile driving
// licence's data model, §8.3.2.1.2.2 and §9.1.2.4): an IssuerSigned structure whose data
// elements, each salted, are digested into a Mobile Security Object that the issuer signs as a
// COSE_Sign1 (RFC 9052) with its certificate chain in x5chain (RFC 9360). OpenID4VCI 1.0
// (Appendix A.2) carries it as the credential of format mso_mdoc, base64url-encoded.
//
// Presentation (DeviceSigned, session transcripts) is the holder's affair, not the issuer's.
package mdoc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// The mobile driving licence's document type and namespace (ISO/IEC 18013-5 §7.1, §7.2.1).
const (
	DocTypeMDL   = "org.iso.18013.5.1.mDL"
	NameSpaceMDL = "org.iso.18013.5.1"
)

// FullDate is a date without time, written full-date: tag 1004 on "YYYY-MM-DD" (RFC 8943), as
// ISO/IEC 18013-5 writes birth_date, issue_date and expiry_date.
type FullDate string

// MarshalCBOR writes the date with its tag.
func (d FullDate) MarshalCBOR() ([]byte, error) {
	if _, err := time.Parse(time.DateOnly, string(d)); err != nil {
		return nil, fmt.Errorf("mdoc: full-date %q: %w", string(d), err)
	}
	return encMode.Marshal(cbor.Tag{Number: 1004, Content: string(d)})
}

// Issuer signs documents with an ECDSA P-256 key (ES256, COSE algorithm -7) whose
// certificate chain it names.
type Issuer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate // leaf first
}

// Document is what is signed: the document type, its elements by namespace, the holder's
// device key, the validity and, optionally, the credential's entry in a status list.
type Document struct {
	DocType    string
	NameSpaces map[string]map[string]any
	DeviceKey  *ecdsa.PublicKey
	Signed     time.Time
	ValidUntil time.Time
	Status     *StatusRef
}

// StatusRef is an entry of a Token Status List (draft-ietf-oauth-status-list §6.3: in an
// mdoc, the MSO's status.status_list, with idx and uri).
type StatusRef struct {
	Index int
	URI   string
}

var encMode = func() cbor.EncMode {
	// Core deterministic encoding (RFC 8949 §4.2.1): the digests are over bytes, so the same
	// item is always the same bytes; tdate and full-date keep their tags.
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// issuerSignedItem is one data element, salted (§9.1.2.4: random of at least 16 bytes, so
// that a digest does not give away a value that could be guessed).
type issuerSignedItem struct {
	DigestID          uint64 `cbor:"digestID"`
	Random            []byte `cbor:"random"`
	ElementIdentifier string `cbor:"elementIdentifier"`
	ElementValue      any    `cbor:"elementValue"`
}

type deviceKeyInfo struct {
	DeviceKey cbor.RawMessage `cbor:"deviceKey"`
}

type validityInfo struct {
	Signed     cbor.Tag `cbor:"signed"`
	ValidFrom  cbor.Tag `cbor:"validFrom"`
	ValidUntil cbor.Tag `cbor:"validUntil"`
}

type statusList struct {
	Idx int    `cbor:"idx"`
	URI string `cbor:"uri"`
}

type mso struct {
	Version         string                       `cbor:"version"`
	DigestAlgorithm string                       `cbor:"digestAlgorithm"`
	ValueDigests    map[string]map[uint64][]byte `cbor:"valueDigests"`
	DeviceKeyInfo   deviceKeyInfo                `cbor:"deviceKeyInfo"`
	DocType         string                       `cbor:"docType"`
	ValidityInfo    validityInfo                 `cbor:"validityInfo"`
	Status          map[string]statusList        `cbor:"status,omitempty"`
}

type issuerSigned struct {
	NameSpaces map[string][]cbor.Tag `cbor:"nameSpaces"`
	IssuerAuth cbor.RawMessage       `cbor:"issuerAuth"`
}

// tdate is a date and time, tag 0 on RFC 3339 without fractions of a second (§7.1: "fractional
// seconds shall not be used").
func tdate(t time.Time) cbor.Tag {
	return cbor.Tag{Number: 0, Content: t.UTC().Truncate(time.Second).Format(time.RFC3339)}
}

// Issue signs d and returns its IssuerSigned structure, CBOR-encoded.
func (is Issuer) Issue(d Document) ([]byte, error) {
	if d.DocType == "" || len(d.NameSpaces) == 0 {
		return nil, errors.New("mdoc: a document needs a docType and elements")
	}
	if d.DeviceKey == nil || d.DeviceKey.Curve != elliptic.P256() {
		return nil, errors.New("mdoc: the device key must be an ECDSA P-256 key")
	}
	if len(is.Chain) == 0 {
		return nil, errors.New("mdoc: the issuer's certificate chain is required (x5chain)")
	}
	if !d.ValidUntil.After(d.Signed) {
		return nil, errors.New("mdoc: the document must be valid after it is signed")
	}
	out := issuerSigned{NameSpaces: map[string][]cbor.Tag{}}
	digests := map[string]map[uint64][]byte{}
	// Digest ids are drawn, not counted, so that they say nothing of the elements' order or
	// number (§9.1.2.5 leaves their choice to the issuer); unique within a namespace.
	used := map[uint64]bool{}
	for _, ns := range sortedKeys(d.NameSpaces) {
		digests[ns] = map[uint64][]byte{}
		for _, id := range sortedKeys(d.NameSpaces[ns]) {
			item := issuerSignedItem{DigestID: newDigestID(used), Random: random(16), ElementIdentifier: id, ElementValue: d.NameSpaces[ns][id]}
			b, err := encMode.Marshal(item)
			if err != nil {
				return nil, fmt.Errorf("mdoc: element %s: %w", id, err)
			}
			// IssuerSignedItemBytes = #6.24(bstr .cbor IssuerSignedItem); the digest is of
			// those bytes, tag included (§9.1.2.5).
			tagged := cbor.Tag{Number: 24, Content: b}
			tb, err := encMode.Marshal(tagged)
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(tb)
			digests[ns][item.DigestID] = sum[:]
			out.NameSpaces[ns] = append(out.NameSpaces[ns], tagged)
		}
	}
	deviceKey, err := coseKey(d.DeviceKey)
	if err != nil {
		return nil, err
	}
	m := mso{Version: "1.0", DigestAlgorithm: "SHA-256", ValueDigests: digests, DeviceKeyInfo: deviceKeyInfo{DeviceKey: deviceKey},
		DocType: d.DocType, ValidityInfo: validityInfo{Signed: tdate(d.Signed), ValidFrom: tdate(d.Signed), ValidUntil: tdate(d.ValidUntil)}}
	if d.Status != nil {
		m.Status = map[string]statusList{"status_list": {Idx: d.Status.Index, URI: d.Status.URI}}
	}
	mb, err := encMode.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("mdoc: MSO: %w", err)
	}
	// The COSE_Sign1's payload is MobileSecurityObjectBytes = #6.24(bstr .cbor MSO) (§9.1.2.4).
	payload, err := encMode.Marshal(cbor.Tag{Number: 24, Content: mb})
	if err != nil {
		return nil, err
	}
	auth, err := is.sign(payload)
	if err != nil {
		return nil, err
	}
	out.IssuerAuth = auth
	return encMode.Marshal(out)
}

// sign makes the issuerAuth: an untagged COSE_Sign1 (ISO/IEC 18013-5 §9.1.2.4), alg ES256 in
// the protected header, the certificate chain in the unprotected x5chain (label 33, RFC 9360
// §2: one certificate as a bstr, more as an array).
func (is Issuer) sign(payload []byte) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmES256, is.Key)
	if err != nil {
		return nil, fmt.Errorf("mdoc: %w", err)
	}
	var chain any = is.Chain[0].Raw
	if len(is.Chain) > 1 {
		ders := make([][]byte, len(is.Chain))
		for i, c := range is.Chain {
			ders[i] = c.Raw
		}
		chain = ders
	}
	msg := cose.UntaggedSign1Message{
		Headers: cose.Headers{
			Protected:   cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256},
			Unprotected: cose.UnprotectedHeader{cose.HeaderLabelX5Chain: chain},
		},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return nil, fmt.Errorf("mdoc: sign: %w", err)
	}
	return msg.MarshalCBOR()
}

// coseKey is a P-256 public key as a COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1): kty EC2, crv
// P-256, x, y.
func coseKey(k *ecdsa.PublicKey) (cbor.RawMessage, error) {
	raw, err := k.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, fmt.Errorf("mdoc: device key: %w", err)
	}
	return encMode.Marshal(map[int]any{1: 2, -1: 1, -2: raw[1:33], -3: raw[33:65]})
}

// Encode is an IssuerSigned structure as OpenID4VCI 1.0 sends an mso_mdoc credential
// (Appendix A.2.4): base64url, without padding.
func Encode(issuerSigned []byte) string { return base64.RawURLEncoding.EncodeToString(issuerSigned) }

func newDigestID(used map[uint64]bool) uint64 {
	for {
		b := random(4)
		id := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if !used[id] {
			used[id] = true
			return id
		}
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
