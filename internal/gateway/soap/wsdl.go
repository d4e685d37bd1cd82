package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"socle/internal/platform/xmlsafe"
)

// Namespaces of the documents the package reads and writes.
const (
	NSWSDL        = "http://schemas.xmlsoap.org/wsdl/"
	NSWSDL2       = "http://www.w3.org/ns/wsdl"
	NSSOAPBind    = "http://schemas.xmlsoap.org/wsdl/soap/"   // WSDL 1.1 §3: SOAP 1.1 binding
	NSSOAP12      = "http://schemas.xmlsoap.org/wsdl/soap12/" // SOAP 1.2 binding
	NSXS          = "http://www.w3.org/2001/XMLSchema"
	NSEnv11       = "http://schemas.xmlsoap.org/soap/envelope/" // SOAP 1.1 §4
	NSEnv12       = "http://www.w3.org/2003/05/soap-envelope"   // SOAP 1.2 part 1 §5
	HTTPTransport = "http://schemas.xmlsoap.org/soap/http"      // WSDL 1.1 §3.3
)

// Version is a SOAP version: V11 or V12.
type Version string

// The two SOAP versions.
const (
	V11 Version = "1.1"
	V12 Version = "1.2"
)

// WSDLLimits screen a WSDL before it is decoded: generous for a description, tight for an
// attack (entity expansion, deep nesting, huge names).
var WSDLLimits = xmlsafe.Limits{MaxSize: 4 << 20, MaxDepth: 64, MaxElements: 200_000,
	MaxAttributes: 64, MaxNameLength: 256, MaxTextLength: 1 << 20, MaxAttrValueLength: 8192}

// QName is a qualified name, its prefix resolved to a namespace.
type QName = xml.Name

// Unbounded is MaxOccurs for maxOccurs="unbounded".
const Unbounded = -1

// Description is what a WSDL 1.1 document says, for a portal and for routing.
type Description struct {
	TargetNamespace string
	Documentation   string
	Services        []Service
	Bindings        []Binding
	Operations      []Operation // one per operation of each port type, in document order
	Elements        []Element   // the schemas' top-level elements
	Types           []Type      // the schemas' named complex types
}

// Service is a wsdl:service and its SOAP ports.
type Service struct {
	Name          string
	Documentation string
	Ports         []Port
}

// Port is a wsdl:port with a soap:address or a soap12:address.
type Port struct {
	Name     string
	Binding  string // the name of the binding in Description.Bindings
	Version  Version
	Location string // the upstream's address
}

// Binding is a wsdl:binding with a soap:binding or a soap12:binding.
type Binding struct {
	Name      string
	PortType  string
	Version   Version
	Style     string // "document" (WSDL 1.1 §3.3's default) or "rpc"
	Transport string
}

// Operation is an operation of a port type, with what its bindings say of it.
type Operation struct {
	Name          string
	Documentation string
	PortType      string
	Input         *Message // nil for a notification
	Output        *Message // nil for a one-way operation
	Faults        []Message
	Bindings      []OperationBinding
}

// OperationBinding is what one binding says of an operation.
type OperationBinding struct {
	Binding   string
	Version   Version
	Action    string // soapAction; "" when the binding sets none
	Style     string // the operation's style, or else its binding's
	Use       string // the input soap:body's use: "literal" or "encoded"
	Namespace string // the input soap:body's namespace, that of an rpc request's wrapper
}

// Message is a wsdl:message; Name is the fault's name for a fault.
type Message struct {
	Name          string
	Documentation string
	Parts         []Part
}

// Part is a message part, defined by a schema element or by a type.
type Part struct {
	Name    string
	Element QName
	Type    QName
}

// Element is an xs:element: a top-level one, or a field of one.
type Element struct {
	Name          QName
	Type          QName // zero when the type is anonymous
	Documentation string
	MinOccurs     int
	MaxOccurs     int // Unbounded, or a count
	Fields        []Element
}

// Type is a named xs:complexType.
type Type struct {
	Name          QName
	Documentation string
	Fields        []Element
}

// ErrWSDL marks a WSDL the package cannot read; the message says what is wrong.
var ErrWSDL = errors.New("unusable WSDL")

// ParseWSDL screens b with WSDLLimits, then reads it as a WSDL 1.1 description. It refuses a
// document that is not one, or whose references (a port's binding, a binding's port type,
// an operation's messages) lead nowhere.
func ParseWSDL(b []byte) (*Description, error) {
	if err := WSDLLimits.Check(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWSDL, err)
	}
	root, err := parseTree(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWSDL, err)
	}
	switch {
	case root.name == QName{Space: NSWSDL2, Local: "description"}:
		return nil, fmt.Errorf("%w: WSDL 2.0 is not supported, only WSDL 1.1", ErrWSDL)
	case root.name != QName{Space: NSWSDL, Local: "definitions"}:
		return nil, fmt.Errorf("%w: the root element is {%s}%s, not WSDL 1.1's {%s}definitions",
			ErrWSDL, root.name.Space, root.name.Local, NSWSDL)
	}
	p := &wsdlReader{d: &Description{TargetNamespace: root.attr("targetNamespace")}}
	if err := p.read(root); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWSDL, err)
	}
	return p.d, nil
}

// Element returns the top-level schema element named q.
func (d *Description) Element(q QName) (Element, bool) {
	for _, e := range d.Elements {
		if e.Name == q {
			return e, true
		}
	}
	return Element{}, false
}

// FieldsOf returns e's fields: those of its anonymous type, or else of its named type.
func (d *Description) FieldsOf(e Element) []Element {
	if len(e.Fields) > 0 || e.Type == (QName{}) {
		return e.Fields
	}
	for _, t := range d.Types {
		if t.Name == e.Type {
			return t.Fields
		}
	}
	return nil
}

// Operation returns the operation named name (of the first port type that has one).
func (d *Description) Operation(name string) *Operation {
	for i := range d.Operations {
		if d.Operations[i].Name == name {
			return &d.Operations[i]
		}
	}
	return nil
}

// Binding returns how o's first binding of the given SOAP version binds it, if one does.
func (o *Operation) Binding(version Version) (OperationBinding, bool) {
	for _, b := range o.Bindings {
		if b.Version == version {
			return b, true
		}
	}
	return OperationBinding{}, false
}

// node is an element of the document, with the namespace declarations in scope.
type node struct {
	name     QName
	attrs    []xml.Attr
	scope    map[string]string // prefix to namespace; "" is the default namespace
	children []*node
	text     strings.Builder
}

func (n *node) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *node) has(local string) bool {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// qname resolves the QName-valued attribute local (XML Schema 1.0 part 2 §3.2.18: an
// unprefixed QName is in the default namespace).
func (n *node) qname(local string) (QName, error) {
	v := strings.TrimSpace(n.attr(local))
	if v == "" {
		return QName{}, nil
	}
	prefix, name, ok := strings.Cut(v, ":")
	if !ok {
		prefix, name = "", v
	}
	ns, declared := n.scope[prefix]
	if !declared && prefix != "" {
		return QName{}, fmt.Errorf("<%s %s=%q>: the prefix %q is not declared", n.name.Local, local, v, prefix)
	}
	return QName{Space: ns, Local: name}, nil
}

func (n *node) kids(space, local string) []*node {
	var ks []*node
	for _, k := range n.children {
		if k.name.Space == space && k.name.Local == local {
			ks = append(ks, k)
		}
	}
	return ks
}

func (n *node) kid(space, local string) *node {
	for _, k := range n.children {
		if k.name.Space == space && k.name.Local == local {
			return k
		}
	}
	return nil
}

// documentation is the text of n's wsdl:documentation, or of its xs:annotation's
// xs:documentation, white space collapsed.
func (n *node) documentation() string {
	d := n.kid(NSWSDL, "documentation")
	if d == nil {
		if a := n.kid(NSXS, "annotation"); a != nil {
			d = a.kid(NSXS, "documentation")
		}
	}
	if d == nil {
		return ""
	}
	var b strings.Builder
	d.allText(&b)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (n *node) allText(b *strings.Builder) {
	b.WriteString(n.text.String())
	for _, k := range n.children {
		b.WriteByte(' ')
		k.allText(b)
	}
}

// parseTree decodes b into a tree of elements, keeping the namespace declarations in scope
// at each, which encoding/xml resolves for names but not for QName-valued attributes.
func parseTree(b []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root *node
	var stack []*node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name, attrs: tok.Attr}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				n.scope = parent.scope
				parent.children = append(parent.children, n)
			} else {
				root = n
				n.scope = map[string]string{"xml": "http://www.w3.org/XML/1998/namespace"}
			}
			copied := false
			for _, a := range tok.Attr {
				prefix, isDecl := "", false
				switch {
				case a.Name.Space == "xmlns":
					prefix, isDecl = a.Name.Local, true
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					isDecl = true
				}
				if !isDecl {
					continue
				}
				if !copied {
					m := make(map[string]string, len(n.scope)+1)
					for k, v := range n.scope {
						m[k] = v
					}
					n.scope, copied = m, true
				}
				n.scope[prefix] = a.Value
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tok)
			}
		case xml.Directive:
			return nil, errors.New("a declaration (DOCTYPE, ENTITY) is refused")
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// wsdlReader reads the tree of a wsdl:definitions into a Description.
type wsdlReader struct {
	d        *Description
	messages map[string]*node
	ports    map[string]*node // portTypes
	bindings map[string]*node
}

// local checks that q names a definition of this document (WSDL 1.1 §2.1.1: references are
// QNames in the target namespace) and returns its local name.
func (p *wsdlReader) local(q QName, what, where string) (string, error) {
	if q.Local == "" {
		return "", fmt.Errorf("%s names no %s", where, what)
	}
	if q.Space != p.d.TargetNamespace {
		return "", fmt.Errorf("%s names the %s {%s}%s, outside the target namespace %q", where, what, q.Space, q.Local, p.d.TargetNamespace)
	}
	return q.Local, nil
}

func named(ns []*node, kind string) (map[string]*node, error) {
	m := map[string]*node{}
	for _, n := range ns {
		name := n.attr("name")
		if name == "" {
			return nil, fmt.Errorf("a wsdl:%s without a name", kind)
		}
		if m[name] != nil {
			return nil, fmt.Errorf("two wsdl:%s named %q", kind, name)
		}
		m[name] = n
	}
	return m, nil
}

func (p *wsdlReader) read(root *node) error {
	if imp := root.kid(NSWSDL, "import"); imp != nil {
		return fmt.Errorf("wsdl:import of %q is not followed: give the gateway the description in one document", imp.attr("location"))
	}
	p.d.Documentation = root.documentation()
	var err error
	if p.messages, err = named(root.kids(NSWSDL, "message"), "message"); err != nil {
		return err
	}
	if p.ports, err = named(root.kids(NSWSDL, "portType"), "portType"); err != nil {
		return err
	}
	if p.bindings, err = named(root.kids(NSWSDL, "binding"), "binding"); err != nil {
		return err
	}
	for _, types := range root.kids(NSWSDL, "types") {
		for _, s := range types.kids(NSXS, "schema") {
			if err := p.schema(s); err != nil {
				return err
			}
		}
	}
	for _, pt := range root.kids(NSWSDL, "portType") {
		if err := p.portType(pt); err != nil {
			return err
		}
	}
	for _, b := range root.kids(NSWSDL, "binding") {
		if err := p.binding(b); err != nil {
			return err
		}
	}
	for _, s := range root.kids(NSWSDL, "service") {
		if err := p.service(s); err != nil {
			return err
		}
	}
	return nil
}

func (p *wsdlReader) portType(pt *node) error {
	for _, op := range pt.kids(NSWSDL, "operation") {
		o := Operation{Name: op.attr("name"), Documentation: op.documentation(), PortType: pt.attr("name")}
		where := fmt.Sprintf("operation %q of portType %q", o.Name, o.PortType)
		if o.Name == "" {
			return fmt.Errorf("an operation of portType %q has no name", o.PortType)
		}
		var err error
		if in := op.kid(NSWSDL, "input"); in != nil {
			if o.Input, err = p.message(in, where+" input"); err != nil {
				return err
			}
		}
		if out := op.kid(NSWSDL, "output"); out != nil {
			if o.Output, err = p.message(out, where+" output"); err != nil {
				return err
			}
		}
		if o.Input == nil && o.Output == nil {
			return fmt.Errorf("%s has neither input nor output", where)
		}
		for _, f := range op.kids(NSWSDL, "fault") {
			m, err := p.message(f, where+" fault")
			if err != nil {
				return err
			}
			if m.Name = f.attr("name"); m.Name == "" {
				return fmt.Errorf("a fault of %s has no name", where)
			}
			o.Faults = append(o.Faults, *m)
		}
		p.d.Operations = append(p.d.Operations, o)
	}
	return nil
}

// message reads the wsdl:message that ref (an input, output or fault) refers to.
func (p *wsdlReader) message(ref *node, where string) (*Message, error) {
	q, err := ref.qname("message")
	if err != nil {
		return nil, err
	}
	name, err := p.local(q, "message", where)
	if err != nil {
		return nil, err
	}
	n := p.messages[name]
	if n == nil {
		return nil, fmt.Errorf("%s names the message %q, which is not defined", where, name)
	}
	m := &Message{Name: name, Documentation: ref.documentation()}
	if m.Documentation == "" {
		m.Documentation = n.documentation()
	}
	for _, pn := range n.kids(NSWSDL, "part") {
		part := Part{Name: pn.attr("name")}
		if part.Element, err = pn.qname("element"); err != nil {
			return nil, err
		}
		if part.Type, err = pn.qname("type"); err != nil {
			return nil, err
		}
		if part.Name == "" || (part.Element == QName{}) == (part.Type == QName{}) {
			return nil, fmt.Errorf("message %q: a part has a name and either an element or a type (WSDL 1.1 §2.3.1)", name)
		}
		m.Parts = append(m.Parts, part)
	}
	return m, nil
}

func (p *wsdlReader) binding(b *node) error {
	var sb *node
	var v Version
	if sb = b.kid(NSSOAPBind, "binding"); sb != nil {
		v = V11
	} else if sb = b.kid(NSSOAP12, "binding"); sb != nil {
		v = V12
	} else {
		return nil // an HTTP or MIME binding: not SOAP, not the gateway's concern
	}
	ns := map[Version]string{V11: NSSOAPBind, V12: NSSOAP12}[v]
	bd := Binding{Name: b.attr("name"), Version: v, Style: sb.attr("style"), Transport: sb.attr("transport")}
	where := fmt.Sprintf("binding %q", bd.Name)
	if bd.Style == "" {
		bd.Style = "document" // WSDL 1.1 §3.4
	}
	q, err := b.qname("type")
	if err != nil {
		return err
	}
	if bd.PortType, err = p.local(q, "portType", where); err != nil {
		return err
	}
	if p.ports[bd.PortType] == nil {
		return fmt.Errorf("%s names the portType %q, which is not defined", where, bd.PortType)
	}
	for _, op := range b.kids(NSWSDL, "operation") {
		name := op.attr("name")
		var o *Operation
		for i := range p.d.Operations {
			if p.d.Operations[i].PortType == bd.PortType && p.d.Operations[i].Name == name {
				o = &p.d.Operations[i]
			}
		}
		if o == nil {
			return fmt.Errorf("%s binds the operation %q, which portType %q does not have", where, name, bd.PortType)
		}
		ob := OperationBinding{Binding: bd.Name, Version: v, Style: bd.Style}
		if so := op.kid(ns, "operation"); so != nil {
			ob.Action = so.attr("soapAction")
			if s := so.attr("style"); s != "" {
				ob.Style = s
			}
		}
		if in := op.kid(NSWSDL, "input"); in != nil {
			if body := in.kid(ns, "body"); body != nil {
				ob.Use, ob.Namespace = body.attr("use"), body.attr("namespace")
			}
		}
		if o.Documentation == "" {
			o.Documentation = op.documentation()
		}
		o.Bindings = append(o.Bindings, ob)
	}
	p.d.Bindings = append(p.d.Bindings, bd)
	return nil
}

func (p *wsdlReader) service(s *node) error {
	sv := Service{Name: s.attr("name"), Documentation: s.documentation()}
	if sv.Name == "" {
		return errors.New("a wsdl:service without a name")
	}
	for _, pn := range s.kids(NSWSDL, "port") {
		port := Port{Name: pn.attr("name")}
		where := fmt.Sprintf("port %q of service %q", port.Name, sv.Name)
		addr := pn.kid(NSSOAPBind, "address")
		port.Version = V11
		if addr == nil {
			addr, port.Version = pn.kid(NSSOAP12, "address"), V12
		}
		if addr == nil {
			continue // not a SOAP port
		}
		if port.Location = strings.TrimSpace(addr.attr("location")); port.Location == "" {
			return fmt.Errorf("%s has an address without a location", where)
		}
		q, err := pn.qname("binding")
		if err != nil {
			return err
		}
		if port.Binding, err = p.local(q, "binding", where); err != nil {
			return err
		}
		var bd *Binding
		for i := range p.d.Bindings {
			if p.d.Bindings[i].Name == port.Binding {
				bd = &p.d.Bindings[i]
			}
		}
		switch {
		case bd == nil:
			return fmt.Errorf("%s names the binding %q, which is not a SOAP binding of this document", where, port.Binding)
		case bd.Version != port.Version:
			return fmt.Errorf("%s has a SOAP %s address for the SOAP %s binding %q", where, port.Version, bd.Version, bd.Name)
		}
		sv.Ports = append(sv.Ports, port)
	}
	p.d.Services = append(p.d.Services, sv)
	return nil
}

// schema reads an xs:schema's top-level elements and named complex types.
func (p *wsdlReader) schema(s *node) error {
	tns := s.attr("targetNamespace")
	for _, k := range s.children {
		if k.name.Space != NSXS {
			continue
		}
		switch k.name.Local {
		case "element":
			e, err := field(k, tns, true, s.attr("elementFormDefault") == "qualified")
			if err != nil {
				return err
			}
			p.d.Elements = append(p.d.Elements, e)
		case "complexType":
			name := k.attr("name")
			if name == "" {
				return errors.New("a top-level xs:complexType without a name")
			}
			fs, err := fields(k, tns, s.attr("elementFormDefault") == "qualified")
			if err != nil {
				return err
			}
			p.d.Types = append(p.d.Types, Type{Name: QName{Space: tns, Local: name}, Documentation: k.documentation(), Fields: fs})
		}
	}
	return nil
}

// field reads an xs:element: top-level ones are in the schema's target namespace, and so are
// local ones when the schema's elementFormDefault is "qualified" (XML Schema 1.0 part 1
// §3.3.2); a ref is to a top-level element.
func field(e *node, tns string, top, qualified bool) (Element, error) {
	f := Element{Name: QName{Local: e.attr("name")}, Documentation: e.documentation(), MinOccurs: 1, MaxOccurs: 1}
	if top || e.attr("form") == "qualified" || (qualified && e.attr("form") != "unqualified") {
		f.Name.Space = tns
	}
	var err error
	if e.has("ref") {
		if f.Name, err = e.qname("ref"); err != nil {
			return f, err
		}
	}
	if f.Name.Local == "" {
		return f, errors.New("an xs:element with neither name nor ref")
	}
	if f.Type, err = e.qname("type"); err != nil {
		return f, err
	}
	if v := e.attr("minOccurs"); v != "" {
		if f.MinOccurs, err = strconv.Atoi(v); err != nil || f.MinOccurs < 0 {
			return f, fmt.Errorf("xs:element %q: minOccurs %q is not a count", f.Name.Local, v)
		}
	}
	switch v := e.attr("maxOccurs"); v {
	case "":
	case "unbounded":
		f.MaxOccurs = Unbounded
	default:
		if f.MaxOccurs, err = strconv.Atoi(v); err != nil || f.MaxOccurs < 0 {
			return f, fmt.Errorf("xs:element %q: maxOccurs %q is neither a count nor \"unbounded\"", f.Name.Local, v)
		}
	}
	if ct := e.kid(NSXS, "complexType"); ct != nil {
		if f.Fields, err = fields(ct, tns, qualified); err != nil {
			return f, err
		}
	}
	return f, nil
}

// fields reads the xs:elements of a complex type's sequence, all or choice, and of those of
// its complexContent's extension or restriction: one level, no deeper.
func fields(ct *node, tns string, qualified bool) ([]Element, error) {
	groups := []*node{ct}
	if cc := ct.kid(NSXS, "complexContent"); cc != nil {
		groups = append(groups, cc.kids(NSXS, "extension")...)
		groups = append(groups, cc.kids(NSXS, "restriction")...)
	}
	var fs []Element
	for _, g := range groups {
		for _, k := range g.children {
			if k.name.Space != NSXS || (k.name.Local != "sequence" && k.name.Local != "all" && k.name.Local != "choice") {
				continue
			}
			for _, e := range k.kids(NSXS, "element") {
				f, err := field(e, tns, false, qualified)
				if err != nil {
					return nil, err
				}
				f.Fields = nil // one level deep
				fs = append(fs, f)
			}
		}
	}
	return fs, nil
}
