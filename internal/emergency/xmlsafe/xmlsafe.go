// Package xmlsafe screens XML from outside before it is decoded: documents over a size,
// nested deeper than a bound, or declaring a DOCTYPE or entities (external entities, entity
// expansion) are refused. Go's decoder expands no external entity, but a document that
// declares entities in an emergency exchange is an attack or a mistake: refuse it early.
package xmlsafe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// ErrUnsafe marks a refused document.
var ErrUnsafe = errors.New("unsafe XML")

// ErrMalformed marks a document that is not well-formed XML.
var ErrMalformed = errors.New("malformed XML")

// Check walks the tokens of b once.
func Check(b []byte, maxSize, maxDepth int) error {
	if len(b) > maxSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrUnsafe, maxSize)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) || bytes.Contains(t, []byte("ENTITY")) {
				return fmt.Errorf("%w: DOCTYPE and entity declarations are refused", ErrUnsafe)
			}
		case xml.StartElement:
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: nested deeper than %d elements", ErrUnsafe, maxDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}
