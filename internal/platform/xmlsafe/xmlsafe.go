// Package xmlsafe screens XML from outside before it is decoded: documents over a size,
// nested deeper than a bound, or declaring a DOCTYPE or entities (external entities, entity
// expansion) are refused. Go's decoder expands no external entity, but a document that
// declares entities in a message exchange is an attack or a mistake: refuse it early.
//
// The screen reads the markup's bytes, not its tokens: it costs a small fraction of a
// decoding, which then does the rest of the well-formedness checks (names, tag matching,
// character references) on a document known to be small, shallow and declaration-free.
// Limits adds the other bounds of an API gateway's "XML threat protection": number of
// elements, attributes per element, length of names, of texts and of attribute values.
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
	return Limits{MaxSize: maxSize, MaxDepth: maxDepth}.Check(b)
}

// Limits are the bounds of an "XML threat protection" screen, as API gateways call it. A zero
// field sets no bound, except MaxSize and MaxDepth, which are always enforced: a zero there
// refuses every document.
type Limits struct {
	MaxSize            int // bytes of the whole document
	MaxDepth           int // elements open at once
	MaxElements        int // elements in the document
	MaxAttributes      int // attributes of one element, namespace declarations included
	MaxNameLength      int // bytes of an element or attribute name, prefix included
	MaxTextLength      int // bytes of one run of character data, or of one CDATA section
	MaxAttrValueLength int // bytes of one attribute value, as written
}

// Check refuses b as the package's Check does, and also when it passes one of l's other
// bounds. Text is measured as written, between two markups: a character reference counts
// its bytes, not the one character it stands for.
func (l Limits) Check(b []byte) error {
	if len(b) > l.MaxSize {
		return fmt.Errorf("%w: larger than %d bytes", ErrUnsafe, l.MaxSize)
	}
	tags := l.MaxAttributes > 0 || l.MaxNameLength > 0 || l.MaxAttrValueLength > 0
	depth, roots, elements := 0, 0, 0
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			lt = len(b) - i
		}
		if depth == 0 && len(bytes.TrimSpace(b[i:i+lt])) > 0 {
			return fmt.Errorf("%w: text outside the root element", ErrMalformed)
		}
		if l.MaxTextLength > 0 && lt > l.MaxTextLength {
			return fmt.Errorf("%w: a text longer than %d bytes", ErrUnsafe, l.MaxTextLength)
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
			if l.MaxTextLength > 0 && end-len("<![CDATA[]]>") > l.MaxTextLength {
				return fmt.Errorf("%w: a CDATA section longer than %d bytes", ErrUnsafe, l.MaxTextLength)
			}
		case bytes.HasPrefix(rest, []byte("<!")):
			return fmt.Errorf("%w: DOCTYPE, ENTITY and other declarations are refused", ErrUnsafe)
		case bytes.HasPrefix(rest, []byte("</")):
			if depth--; depth < 0 {
				return fmt.Errorf("%w: an end tag closes no element", ErrMalformed)
			}
			end = skipPast(rest, ">")
		default:
			if tags {
				var err error
				if end, err = l.startTag(rest); err != nil {
					return err
				}
			} else {
				end = tagEnd(rest)
			}
			if end < 0 {
				break
			}
			if elements++; l.MaxElements > 0 && elements > l.MaxElements {
				return fmt.Errorf("%w: more than %d elements", ErrUnsafe, l.MaxElements)
			}
			if depth == 0 {
				if roots++; roots > 1 {
					return fmt.Errorf("%w: more than one root element", ErrMalformed)
				}
			}
			if rest[end-2] != '/' { // not an empty-element tag
				if depth++; depth > l.MaxDepth {
					return fmt.Errorf("%w: nested deeper than %d elements", ErrUnsafe, l.MaxDepth)
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

// startTag is tagEnd that also measures the tag against l: its name, its number of
// attributes, their names and values (XML 1.0 §3.1: Name (S Attribute)* S? '/'? '>', with
// Attribute ::= Name Eq AttValue). -1 if the tag does not end; an error if it passes a bound
// or is not a tag at all.
func (l Limits) startTag(b []byte) (int, error) {
	i := 1
	name := func() (int, int) {
		start := i
		for i < len(b) && !isSpace(b[i]) && b[i] != '=' && b[i] != '/' && b[i] != '>' && b[i] != '<' {
			i++
		}
		return start, i
	}
	spaces := func() {
		for i < len(b) && isSpace(b[i]) {
			i++
		}
	}
	s, e := name()
	if s == e {
		return -1, fmt.Errorf("%w: a '<' opens no tag", ErrMalformed)
	}
	if l.MaxNameLength > 0 && e-s > l.MaxNameLength {
		return -1, fmt.Errorf("%w: an element name longer than %d bytes", ErrUnsafe, l.MaxNameLength)
	}
	attrs := 0
	for {
		spaces()
		switch {
		case i == len(b) || b[i] == '<':
			return -1, nil
		case b[i] == '>':
			return i + 1, nil
		case b[i] == '/':
			if i+1 < len(b) && b[i+1] == '>' {
				return i + 2, nil
			}
			if i+1 == len(b) {
				return -1, nil
			}
			return -1, fmt.Errorf("%w: a '/' inside a start tag", ErrMalformed)
		}
		s, e := name()
		if s == e {
			return -1, fmt.Errorf("%w: an attribute without a name", ErrMalformed)
		}
		if l.MaxNameLength > 0 && e-s > l.MaxNameLength {
			return -1, fmt.Errorf("%w: an attribute name longer than %d bytes", ErrUnsafe, l.MaxNameLength)
		}
		if attrs++; l.MaxAttributes > 0 && attrs > l.MaxAttributes {
			return -1, fmt.Errorf("%w: an element with more than %d attributes", ErrUnsafe, l.MaxAttributes)
		}
		spaces()
		if i == len(b) {
			return -1, nil
		}
		if b[i] != '=' {
			return -1, fmt.Errorf("%w: an attribute without a value", ErrMalformed)
		}
		i++
		spaces()
		if i == len(b) {
			return -1, nil
		}
		if q := b[i]; q != '"' && q != '\'' {
			return -1, fmt.Errorf("%w: an attribute value without quotes", ErrMalformed)
		}
		v := bytes.IndexByte(b[i+1:], b[i])
		if v < 0 {
			return -1, nil
		}
		if l.MaxAttrValueLength > 0 && v > l.MaxAttrValueLength {
			return -1, fmt.Errorf("%w: an attribute value longer than %d bytes", ErrUnsafe, l.MaxAttrValueLength)
		}
		i += v + 2
	}
}

// isSpace is XML 1.0 §2.3's S.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

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
