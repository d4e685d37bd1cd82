// Package xmlsafe screens XML from outside before it is decoded: documents over a size,
// nested deeper than a bound, or declaring a DOCTYPE or entities (external entities, entity
// expansion) are refused. Go's decoder expands no external entity, but a document that
// declares entities in a message exchange is an attack or a mistake: refuse it early.
//
// The screen reads the markup's bytes, not its tokens: it costs a small fraction of a
// decoding, which then does the rest of the well-formedness checks (names, tag matching,
// character references) on a document known to be small, shallow and declaration-free.
package xmlsafe

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrUnsafe marks a refused document.
var ErrUnsafe = errors.New("unsafe XML")

// ErrMalformed marks a document that is not well-formed XML.
var ErrMalformed = errors.New("malformed XML")

// Check refuses b if it is larger than maxSize bytes, nests elements deeper than maxDepth,
// holds a declaration (<!DOCTYPE, <!ENTITY, any <! but comments and CDATA sections), or is
// not one root element (XML 1.0 §2.1: "exactly one element", with only comments, processing
// instructions and white space around it).
func Check(b []byte, maxSize, maxDepth int) error {
	if len(b) > maxSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrUnsafe, maxSize)
	}
	depth, roots := 0, 0
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			lt = len(b) - i
		}
		if depth == 0 && len(bytes.TrimSpace(b[i:i+lt])) > 0 {
			return fmt.Errorf("%w: text outside the root element", ErrMalformed)
		}
		i += lt
		if i == len(b) {
			break
		}
		rest := b[i:]
		var end int
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end = skipPast(rest, "?>")
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = skipPast(rest, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if depth == 0 {
				return fmt.Errorf("%w: text outside the root element", ErrMalformed)
			}
			end = skipPast(rest, "]]>")
		case bytes.HasPrefix(rest, []byte("<!")):
			return fmt.Errorf("%w: DOCTYPE, ENTITY and other declarations are refused", ErrUnsafe)
		case bytes.HasPrefix(rest, []byte("</")):
			if depth--; depth < 0 {
				return fmt.Errorf("%w: an end tag closes no element", ErrMalformed)
			}
			end = skipPast(rest, ">")
		default:
			end = tagEnd(rest)
			if end < 0 {
				break
			}
			if depth == 0 {
				if roots++; roots > 1 {
					return fmt.Errorf("%w: more than one root element", ErrMalformed)
				}
			}
			if rest[end-2] != '/' { // not an empty-element tag
				if depth++; depth > maxDepth {
					return fmt.Errorf("%w: nested deeper than %d elements", ErrUnsafe, maxDepth)
				}
			}
		}
		if end < 0 {
			return fmt.Errorf("%w: unterminated markup at byte %d", ErrMalformed, i)
		}
		i += end
	}
	switch {
	case roots == 0:
		return fmt.Errorf("%w: no element", ErrMalformed)
	case depth > 0:
		return fmt.Errorf("%w: %d elements left open", ErrMalformed, depth)
	}
	return nil
}

// skipPast is the length of b up to and including the first sep, -1 if there is none.
func skipPast(b []byte, sep string) int {
	if i := bytes.Index(b, []byte(sep)); i >= 0 {
		return i + len(sep)
	}
	return -1
}

// tagEnd is the length of the start tag at the head of b, up to and including its '>':
// quoted attribute values may hold '>' (XML 1.0 §3.1). -1 if the tag does not end.
func tagEnd(b []byte) int {
	var quote byte
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			return -1
		case c == '>':
			return i + 1
		}
	}
	return -1
}
