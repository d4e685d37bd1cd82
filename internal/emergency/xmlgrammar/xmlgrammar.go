// Package xmlgrammar lets tests state the rules of an XML schema in their own words: an
// element tree, element-only content, and the order of a sequence. socle's PIDF-LO and HELD
// tests use it to check every document socle writes against the grammar of the RFCs, whose
// schemas are other people's text and are not in the repository.
package xmlgrammar

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Node is an element: its name, attributes (namespace declarations left out), element
// children and own text.
type Node struct {
	Name     xml.Name
	Attrs    map[xml.Name]string
	Children []*Node
	Text     string
}

// Parse reads a document into its root element.
func Parse(b []byte) (*Node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*Node
	var root *Node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &Node{Name: tok.Name, Attrs: map[xml.Name]string{}}
			for _, a := range tok.Attr {
				if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
					n.Attrs[a.Name] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	return root, nil
}

// Is tells whether n is the element {space}local.
func (n *Node) Is(space, local string) bool { return n.Name.Space == space && n.Name.Local == local }

// Attr is the value of an unqualified attribute.
func (n *Node) Attr(local string) (string, bool) {
	v, ok := n.Attrs[xml.Name{Local: local}]
	return v, ok
}

// ElementOnly checks that n holds no text but whitespace between its children.
func (n *Node) ElementOnly() error {
	if t := strings.TrimSpace(n.Text); t != "" {
		return fmt.Errorf("%s holds text %q: its content is elements only", n.Name.Local, t)
	}
	return nil
}

// InOrder checks that the children of n in namespace space are among names, in that order,
// each at most once (an xs:sequence of optional elements), and returns the others.
func (n *Node) InOrder(space string, names ...string) (others []*Node, err error) {
	last := -1
	for _, c := range n.Children {
		if c.Name.Space != space {
			others = append(others, c)
			continue
		}
		i := slices.Index(names, c.Name.Local)
		if i < 0 {
			return nil, fmt.Errorf("%s: %s is not one of its elements", n.Name.Local, c.Name.Local)
		}
		if i <= last {
			return nil, fmt.Errorf("%s: %s comes after %s, or twice", n.Name.Local, c.Name.Local, names[last])
		}
		last = i
	}
	return others, nil
}

// Own lists the local names of the children of n in namespace space, in order.
func (n *Node) Own(space string) []string {
	var names []string
	for _, c := range n.Children {
		if c.Name.Space == space {
			names = append(names, c.Name.Local)
		}
	}
	return names
}
