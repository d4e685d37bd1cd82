package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// RewriteAddresses returns doc, the WSDL d was parsed from, with the location of every
// soap:address and soap12:address of a wsdl:port replaced by base, the gateway's public URL
// of the API. It works on the text: the rest of the document is served byte for byte as its
// owner wrote it. base is an absolute http or https URL.
func (d *Description) RewriteAddresses(doc []byte, base string) ([]byte, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("soap: the address %q is not an absolute http or https URL", base)
	}
	if err := WSDLLimits.Check(doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWSDL, err)
	}
	spans, err := addressSpans(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWSDL, err)
	}
	var value bytes.Buffer
	xml.EscapeText(&value, []byte(base)) // escapes & < > " ' and the white space an attribute would normalise
	out := make([]byte, 0, len(doc)+len(spans)*len(base))
	last := 0
	for _, s := range spans {
		out = append(out, doc[last:s[0]]...)
		out = append(out, value.Bytes()...)
		last = s[1]
	}
	return append(out, doc[last:]...), nil
}

// addressSpans returns the byte ranges of the location values (between the quotes) of the
// soap:address and soap12:address elements that are children of a wsdl:port.
func addressSpans(doc []byte) ([][2]int, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var spans [][2]int
	var stack []xml.Name
	for {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if err == io.EOF {
			return spans, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inPort := len(stack) > 0 && stack[len(stack)-1] == xml.Name{Space: NSWSDL, Local: "port"}
			stack = append(stack, tok.Name)
			if !inPort || tok.Name.Local != "address" || (tok.Name.Space != NSSOAPBind && tok.Name.Space != NSSOAP12) {
				continue
			}
			end := int(dec.InputOffset())
			s, e, ok := attrValue(doc[start:end], "location")
			if !ok {
				return nil, errors.New("a SOAP address without a location")
			}
			spans = append(spans, [2]int{start + s, start + e})
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.Directive:
			return nil, errors.New("a declaration (DOCTYPE, ENTITY) is refused")
		}
	}
}

// attrValue finds the unprefixed attribute name in the start tag tag (XML 1.0 §3.1) and
// returns the range of its value, quotes excluded.
func attrValue(tag []byte, name string) (int, int, bool) {
	i := 1
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++
	}
	for i < len(tag) {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		s := i
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '=' && tag[i] != '/' && tag[i] != '>' {
			i++
		}
		if s == i {
			return 0, 0, false
		}
		attr := string(tag[s:i])
		for i < len(tag) && (isSpace(tag[i]) || tag[i] == '=') {
			i++
		}
		if i == len(tag) {
			return 0, 0, false
		}
		q := tag[i]
		e := bytes.IndexByte(tag[i+1:], q)
		if e < 0 || (q != '"' && q != '\'') {
			return 0, 0, false
		}
		if attr == name {
			return i + 1, i + 1 + e, true
		}
		i += e + 2
	}
	return 0, 0, false
}

// isSpace is XML 1.0 §2.3's S.
func isSpace(c byte) bool { return strings.IndexByte(" \t\r\n", c) >= 0 }
