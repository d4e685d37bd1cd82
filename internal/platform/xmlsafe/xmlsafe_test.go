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
