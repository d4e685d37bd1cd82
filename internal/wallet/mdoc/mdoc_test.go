package mdoc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// testIssuer is a key and a self-signed certificate for it.
func testIssuer(t *testing.T) Issuer {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mdoc test issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return Issuer{Key: key, Chain: []*x509.Certificate{cert}}
}

// decoded is an IssuerSigned read back as a verifier reads it.
type decoded struct {
	items   map[string]map[string]any // namespace, element: value
	rawVals map[string]map[string]cbor.RawMessage
	mso     map[string]any
	header  cose.Headers
}

// verify reads an IssuerSigned as a verifier would (ISO/IEC 18013-5 §9.3.1): the COSE_Sign1
// checked with the x5chain's certificate, every element's digest found in the MSO.
func verify(t *testing.T, issued []byte) decoded {
	t.Helper()
	var is struct {
		NameSpaces map[string][]cbor.Tag `cbor:"nameSpaces"`
		IssuerAuth cbor.RawMessage       `cbor:"issuerAuth"`
	}
	if err := cbor.Unmarshal(issued, &is); err != nil {
		t.Fatal(err)
	}
	var msg cose.UntaggedSign1Message
	if err := msg.UnmarshalCBOR(is.IssuerAuth); err != nil {
		t.Fatalf("issuerAuth is not an untagged COSE_Sign1: %v", err)
	}
	der, ok := msg.Headers.Unprotected[cose.HeaderLabelX5Chain].([]byte)
	if !ok {
		t.Fatalf("x5chain: %T", msg.Headers.Unprotected[cose.HeaderLabelX5Chain])
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cose.NewVerifier(cose.AlgorithmES256, cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.Verify(nil, v); err != nil {
		t.Fatalf("the issuer's signature: %v", err)
	}
	var payload cbor.Tag
	if err := cbor.Unmarshal(msg.Payload, &payload); err != nil || payload.Number != 24 {
		t.Fatalf("the payload is not MobileSecurityObjectBytes: %v %d", err, payload.Number)
	}
	var m map[string]any
	if err := cbor.Unmarshal(payload.Content.([]byte), &m); err != nil {
		t.Fatal(err)
	}
	digests := m["valueDigests"].(map[any]any)
	d := decoded{items: map[string]map[string]any{}, rawVals: map[string]map[string]cbor.RawMessage{}, mso: m, header: msg.Headers}
	for ns, items := range is.NameSpaces {
		d.items[ns], d.rawVals[ns] = map[string]any{}, map[string]cbor.RawMessage{}
		for _, tag := range items {
			if tag.Number != 24 {
				t.Fatalf("an item is not IssuerSignedItemBytes: tag %d", tag.Number)
			}
			var item struct {
				DigestID          uint64          `cbor:"digestID"`
				Random            []byte          `cbor:"random"`
				ElementIdentifier string          `cbor:"elementIdentifier"`
				ElementValue      cbor.RawMessage `cbor:"elementValue"`
			}
			if err := cbor.Unmarshal(tag.Content.([]byte), &item); err != nil {
				t.Fatal(err)
			}
			tb, _ := cbor.Marshal(tag)
			sum := sha256.Sum256(tb)
			if want := digests[ns].(map[any]any)[item.DigestID]; !bytes.Equal(want.([]byte), sum[:]) || len(item.Random) < 16 {
				t.Fatalf("%s: its digest is not the MSO's, or its salt is short", item.ElementIdentifier)
			}
			var value any
			cbor.Unmarshal(item.ElementValue, &value)
			d.items[ns][item.ElementIdentifier], d.rawVals[ns][item.ElementIdentifier] = value, item.ElementValue
		}
	}
	return d
}

func TestAnMDLIsSignedAndEveryElementDigested(t *testing.T) {
	is := testIssuer(t)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Date(2026, 12, 4, 10, 0, 0, 500, time.UTC)
	issued, err := is.Issue(Document{DocType: DocTypeMDL, DeviceKey: &holder.PublicKey, Signed: now, ValidUntil: now.AddDate(1, 0, 0),
		Status: &StatusRef{Index: 42, URI: "https://socle.example/wallet/status/1"},
		NameSpaces: map[string]map[string]any{NameSpaceMDL: {
			"family_name": "Lambert", "birth_date": FullDate("1985-03-14"), "age_over_18": true,
			"driving_privileges": []any{map[string]any{"vehicle_category_code": "B", "issue_date": FullDate("2004-06-03"),
				"codes": []any{map[string]any{"code": "01.06"}}}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	d := verify(t, issued)
	el := d.items[NameSpaceMDL]
	if el["family_name"] != "Lambert" || el["age_over_18"] != true || len(el) != 4 {
		t.Fatalf("elements %v", el)
	}
	// full-date keeps its tag 1004 (RFC 8943), as ISO/IEC 18013-5 writes it.
	if raw := d.rawVals[NameSpaceMDL]["birth_date"]; !bytes.HasPrefix(raw, []byte{0xd9, 0x03, 0xec}) {
		t.Fatalf("birth_date is not a full-date: % x", raw)
	}
	if alg, _ := d.header.Protected.Algorithm(); alg != cose.AlgorithmES256 {
		t.Fatalf("alg %v", alg)
	}
	m := d.mso
	vi := m["validityInfo"].(map[any]any)
	signed, _ := vi["signed"].(time.Time)
	if m["docType"] != DocTypeMDL || m["version"] != "1.0" || m["digestAlgorithm"] != "SHA-256" || !signed.Equal(now.Truncate(time.Second)) {
		t.Fatalf("MSO %v", m)
	}
	dk := m["deviceKeyInfo"].(map[any]any)["deviceKey"].(map[any]any)
	x := holder.PublicKey.X.FillBytes(make([]byte, 32))
	if dk[uint64(1)] != uint64(2) || dk[int64(-1)] != uint64(1) || !bytes.Equal(dk[int64(-2)].([]byte), x) {
		t.Fatalf("deviceKey %v", dk)
	}
	st := m["status"].(map[any]any)["status_list"].(map[any]any)
	if st["idx"] != uint64(42) || st["uri"] != "https://socle.example/wallet/status/1" {
		t.Fatalf("status %v", st)
	}
	if enc := Encode(issued); strings.ContainsAny(enc, "+/=") {
		t.Fatalf("not base64url without padding: %s", enc)
	}
}

func TestTwoIssuancesDoNotShareSaltsOrDigests(t *testing.T) {
	is := testIssuer(t)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	doc := Document{DocType: DocTypeMDL, DeviceKey: &holder.PublicKey, Signed: time.Now(), ValidUntil: time.Now().Add(time.Hour),
		NameSpaces: map[string]map[string]any{NameSpaceMDL: {"family_name": "Lambert"}}}
	a, _ := is.Issue(doc)
	b, _ := is.Issue(doc)
	da, db := verify(t, a), verify(t, b)
	if bytes.Equal(a, b) || da.items[NameSpaceMDL]["family_name"] != db.items[NameSpaceMDL]["family_name"] {
		t.Fatal("two issuances of the same document are the same bytes: a verifier could link them")
	}
}

func TestWhatCannotBeSignedIsRefused(t *testing.T) {
	is := testIssuer(t)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	now := time.Now()
	ok := Document{DocType: DocTypeMDL, DeviceKey: &holder.PublicKey, Signed: now, ValidUntil: now.Add(time.Hour),
		NameSpaces: map[string]map[string]any{NameSpaceMDL: {"family_name": "Lambert"}}}
	for _, c := range []struct {
		change func(*Document, *Issuer)
		reason string
	}{
		{func(d *Document, _ *Issuer) { d.DeviceKey = &p384.PublicKey }, "P-256"},
		{func(d *Document, _ *Issuer) { d.DeviceKey = nil }, "P-256"},
		{func(d *Document, _ *Issuer) { d.DocType = "" }, "docType"},
		{func(d *Document, _ *Issuer) { d.ValidUntil = now }, "valid after"},
		{func(_ *Document, i *Issuer) { i.Chain = nil }, "x5chain"},
		{func(d *Document, _ *Issuer) { d.NameSpaces[NameSpaceMDL]["birth_date"] = FullDate("14/03/1985") }, "full-date"},
	} {
		d, i := ok, is
		d.NameSpaces = map[string]map[string]any{NameSpaceMDL: {"family_name": "Lambert"}}
		c.change(&d, &i)
		if _, err := i.Issue(d); err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%v, want an error saying %q", err, c.reason)
		}
	}
}
