package xmlsafe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSafeDocumentsPass(t *testing.T) {
	for _, doc := range []string{
		`<a/>`,
		`<?xml version="1.0"?>` + "\n<!-- c --><a x='>' y=\"<!x\"><b/><![CDATA[<!DOCTYPE>]]><c>t</c></a>\n<?pi x?>\n",
		strings.Repeat("<a>", 4) + strings.Repeat("</a>", 4),
	} {
		if err := Check([]byte(doc), 1000, 4); err != nil {
			t.Errorf("%q: %v", doc, err)
		}
	}
}

func TestHostileOrBrokenDocumentsAreRefused(t *testing.T) {
	for doc, want := range map[string]error{
		`<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`: ErrUnsafe,
		`<a><!ENTITY x "y"></a>`:                             ErrUnsafe,
		strings.Repeat("<a>", 5) + strings.Repeat("</a>", 5): ErrUnsafe,
		strings.Repeat(" ", 1001):                            ErrUnsafe,
		`<a/><b/>`:                                           ErrMalformed,
		`x<a/>`:                                              ErrMalformed,
		`<a>`:                                                ErrMalformed,
		`</a>`:                                               ErrMalformed,
		`<a x="1>`:                                           ErrMalformed,
		``:                                                   ErrMalformed,
		`<!-- open`:                                          ErrMalformed,
	} {
		if err := Check([]byte(doc), 1000, 4); !errors.Is(err, want) {
			t.Errorf("%.40q: %v, want %v", doc, err, want)
		}
	}
}

// FuzzCheck: whatever Check lets through, Go's own tokenizer finds no declaration in and no
// element deeper than the bound.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`<a x='>'><b/><!-- x --><![CDATA[y]]></a>`))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Check(b, 4096, 4) != nil {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		depth := 0
		for {
			tok, err := dec.RawToken()
			if err == io.EOF || err != nil {
				return
			}
			switch tok.(type) {
			case xml.Directive:
				t.Fatalf("a declaration passed: %q", b)
			case xml.StartElement:
				if depth++; depth > 4 {
					t.Fatalf("nested deeper than 4 passed: %q", b)
				}
			case xml.EndElement:
				depth--
			}
		}
	})
}

// gatewayish are limits a gateway might set, small enough to show each one refuse.
var gatewayish = Limits{MaxSize: 1000, MaxDepth: 4, MaxElements: 5, MaxAttributes: 2,
	MaxNameLength: 8, MaxTextLength: 10, MaxAttrValueLength: 6}

func TestLimitsLetThroughADocumentWithinEachBound(t *testing.T) {
	doc := `<?xml version="1.0"?><env a="123456" b='x>y'><b/><c>0123456789</c>` +
		`<![CDATA[0123456789]]><d  x = "1"/></env>`
	if err := gatewayish.Check([]byte(doc)); err != nil {
		t.Fatal(err)
	}
}

func TestEachLimitRefusesWhatPassesIt(t *testing.T) {
	for name, doc := range map[string]string{
		"size":            `<a>` + strings.Repeat(" ", 1000) + `</a>`,
		"depth":           strings.Repeat("<a>", 5) + strings.Repeat("</a>", 5),
		"elements":        `<a>` + strings.Repeat("<b/>", 5) + `</a>`,
		"attributes":      `<a x="1" y="2" z="3"/>`,
		"namespace decls": `<a xmlns="u" xmlns:p="v" xmlns:q="w"/>`,
		"element name":    `<abcdefghi/>`,
		"attribute name":  `<a abcdefghi="1"/>`,
		"text":            `<a>01234567890</a>`,
		"CDATA":           `<a><![CDATA[01234567890]]></a>`,
		"attribute value": `<a x="1234567"/>`,
		"DOCTYPE":         `<!DOCTYPE a><a/>`,
		"ENTITY":          `<a><!ENTITY x "y"></a>`,
	} {
		if err := gatewayish.Check([]byte(doc)); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%s: %v, want %v", name, err, ErrUnsafe)
		}
	}
}

func TestLimitsRefuseBrokenStartTags(t *testing.T) {
	for _, doc := range []string{`<a x/>`, `<a x=1/>`, `<a x="1"`, `<a / >`, `< a/>`, `<a ="1"/>`} {
		if err := gatewayish.Check([]byte(doc)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want %v", doc, err, ErrMalformed)
		}
	}
}

// FuzzLimits: whatever Limits.Check lets through, Go's tokenizer finds within every bound.
func FuzzLimits(f *testing.F) {
	f.Add([]byte(`<a x='>' y="1"><b/><!-- x --><![CDATA[y]]>text</a>`))
	f.Add([]byte(`<a xmlns:p="u"><p:b p:c="1"/></a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if gatewayish.Check(b) != nil {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(b))
		depth, elements := 0, 0
		for {
			tok, err := dec.RawToken()
			if err != nil {
				return
			}
			switch tok := tok.(type) {
			case xml.Directive:
				t.Fatalf("a declaration passed: %q", b)
			case xml.StartElement:
				depth++
				elements++
				if depth > 4 || elements > 5 || len(tok.Attr) > 2 || qlen(tok.Name) > 8 {
					t.Fatalf("an element passed a bound: %q", b)
				}
				for _, a := range tok.Attr {
					// A value's bytes as written bound its decoded length from above.
					if qlen(a.Name) > 8 || len(a.Value) > 6 {
						t.Fatalf("an attribute passed a bound: %q", b)
					}
				}
			case xml.EndElement:
				depth--
			case xml.CharData:
				if len(tok) > 10 && depth > 0 {
					// Two runs may be merged by the tokenizer only across a CDATA section,
					// which is its own token here: a longer one passed a bound.
					t.Fatalf("a text passed a bound: %q", b)
				}
			}
		}
	})
}

func qlen(n xml.Name) int {
	if n.Space == "" {
		return len(n.Local)
	}
	return len(n.Space) + 1 + len(n.Local)
}

// soapish is a 200-operation SOAP request body of about 60 kB.
func soapish() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:Batch xmlns:m="urn:example:batch">`)
	for range 200 {
		b.WriteString(`<m:Item id="42" kind="demande"><m:Name>Dupont &amp; fils</m:Name><m:Town insee="75056">Paris</m:Town><m:Note><![CDATA[a < b]]></m:Note></m:Item>`)
	}
	b.WriteString(`</m:Batch></soap:Body></soap:Envelope>`)
	return []byte(b.String())
}

// BenchmarkScreen against BenchmarkDecode: the screen must cost a small part of a decoding.
func BenchmarkScreen(b *testing.B) {
	doc := soapish()
	l := Limits{MaxSize: 1 << 20, MaxDepth: 32, MaxElements: 10000, MaxAttributes: 16,
		MaxNameLength: 64, MaxTextLength: 4096, MaxAttrValueLength: 1024}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := l.Check(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	doc := soapish()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		dec := xml.NewDecoder(bytes.NewReader(doc))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
