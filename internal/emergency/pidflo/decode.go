package pidflo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"socle/internal/platform/xmlsafe"
)

// Decode reads a PIDF-LO document. It matches elements by namespace, never by prefix, and
// reads locations from dm:device and dm:person elements (RFC 4479) and from tuple/status
// (RFC 3863, the form of RFC 4119's and RFC 5491's examples). Locations come in the order
// RFC 5491 §3 Rule #8 gives: devices first, then tuples, persons last.
//
// Before decoding, it refuses with ErrUnsafeXML a document over MaxSize bytes, nested
// deeper than MaxDepth, or carrying a DOCTYPE or any other declaration: entities (XXE,
// billion laughs) never reach the decoder. Other refusals wrap ErrNotPIDFLO, and also
// ErrUnsupported for content outside what this package reads.
//
// The document returned is normalised as Encode would write it: Encode always accepts it,
// and Decode(Encode(d)) gives it back.
func Decode(b []byte) (Document, error) {
	if err := screen(b); err != nil {
		return Document{}, err
	}
	var p xPresence
	if err := newDecoder(b).Decode(&p); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	return p.document()
}

// newDecoder reads UTF-8, and ISO-8859-1 or US-ASCII when the XML declaration says so
// (RFC 4479 §9 recommends UTF-8, which Encode writes).
func newDecoder(b []byte) *xml.Decoder {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(strings.TrimSpace(label)) {
		case "iso-8859-1", "iso_8859-1", "latin1", "l1", "us-ascii", "ascii":
			in, err := io.ReadAll(r)
			if err != nil {
				return nil, err
			}
			out := make([]byte, 0, len(in)+len(in)/4)
			for _, c := range in {
				out = utf8.AppendRune(out, rune(c))
			}
			return bytes.NewReader(out), nil
		}
		return nil, fmt.Errorf("encoding %q is not supported", label)
	}
	return dec
}

// DecodeElement reads a presence element met while decoding a larger document (a HELD
// locationResponse): namespaces declared on its ancestors apply. The caller screens the
// whole document first (size, depth, declarations), as Decode does.
func DecodeElement(dec *xml.Decoder, start xml.StartElement) (Document, error) {
	var p xPresence
	if err := dec.DecodeElement(&p, &start); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	return p.document()
}

// screen refuses hostile documents before anything is decoded, with xmlsafe's byte-level
// pass: over MaxSize bytes, nested deeper than MaxDepth, or with a declaration (<!...>:
// DOCTYPE, ENTITY...), which a location document never needs. It also refuses what is not
// one root element: Go's decoder alone would read the first element and ignore what follows.
func screen(b []byte) error {
	err := xmlsafe.Check(b, MaxSize, MaxDepth)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, xmlsafe.ErrUnsafe):
		return fmt.Errorf("%w: %v", ErrUnsafeXML, err)
	default:
		return fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
}

// notPIDFLO and unsupported build the refusals of decoding.
func notPIDFLO(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrNotPIDFLO, fmt.Sprintf(format, a...))
}

type unsupportedError struct{ msg string }

func (e unsupportedError) Error() string { return e.msg }

func unsupported(format string, a ...any) error { return unsupportedError{fmt.Sprintf(format, a...)} }

// wrap makes an error of the conversion an ErrNotPIDFLO, and an ErrUnsupported as well
// when it is one.
func wrap(context string, err error) error {
	var u unsupportedError
	if errors.As(err, &u) {
		return fmt.Errorf("%w: %w: %s: %s", ErrNotPIDFLO, ErrUnsupported, context, u.msg)
	}
	return fmt.Errorf("%w: %s: %v", ErrNotPIDFLO, context, err)
}

// The XML structure. Tags carry namespaces, so any prefix matches.

type xPresence struct {
	XMLName xml.Name
	Entity  string       `xml:"entity,attr"`
	Devices []xContainer `xml:"urn:ietf:params:xml:ns:pidf:data-model device"`
	Tuples  []xTuple     `xml:"urn:ietf:params:xml:ns:pidf tuple"`
	Persons []xContainer `xml:"urn:ietf:params:xml:ns:pidf:data-model person"`
}

// xContainer is a dm:device or a dm:person: geopriv elements directly inside (RFC 5491 §3
// Figure 1).
type xContainer struct {
	Geopriv   []xGeopriv `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 geopriv"`
	DeviceID  string     `xml:"urn:ietf:params:xml:ns:pidf:data-model deviceID"`
	Timestamp string     `xml:"urn:ietf:params:xml:ns:pidf:data-model timestamp"`
}

type xTuple struct {
	Status struct {
		Geopriv []xGeopriv `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 geopriv"`
	} `xml:"urn:ietf:params:xml:ns:pidf status"`
	DeviceID  string `xml:"urn:ietf:params:xml:ns:pidf:data-model deviceID"`
	Timestamp string `xml:"urn:ietf:params:xml:ns:pidf timestamp"`
}

type xGeopriv struct {
	Info       []xLocationInfo `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 location-info"`
	Method     string          `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 method"`
	ProvidedBy xText           `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 provided-by"`
	Usage      struct {
		Retransmission  *string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy retransmission-allowed"`
		RetentionExpiry string  `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy retention-expiry"`
	} `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 usage-rules"`
}

// xText is the text of an element and of the elements inside it: provided-by holds elements
// of other namespaces (RFC 4119 §2.2.4), whose text is what a person reads.
type xText string

func (t *xText) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var b strings.Builder
	for depth := 0; ; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch x := tok.(type) {
		case xml.CharData:
			b.Write(x)
		case xml.StartElement:
			depth++
			b.WriteByte(' ')
		case xml.EndElement:
			if depth == 0 {
				*t = xText(b.String())
				return nil
			}
			depth--
			b.WriteByte(' ')
		}
	}
}

// xLocationInfo keeps the location chunks of a location-info in document order.
type xLocationInfo struct {
	chunks     []chunk
	confidence []xConfidence
	unknown    []xml.Name // elements of no chunk this package reads
}

type chunk interface{ location() (Shape, *Civic, error) }

var chunkTypes = map[xml.Name]func() chunk{
	{Space: NSGML, Local: "Point"}:       func() chunk { return new(xPoint) },
	{Space: NSGML, Local: "Polygon"}:     func() chunk { return new(xPolygon) },
	{Space: NSGS, Local: "Circle"}:       func() chunk { return new(xCircle) },
	{Space: NSGS, Local: "Ellipse"}:      func() chunk { return new(xEllipse) },
	{Space: NSGS, Local: "ArcBand"}:      func() chunk { return new(xArcBand) },
	{Space: NSGS, Local: "Sphere"}:       func() chunk { return new(xSphere) },
	{Space: NSGS, Local: "Ellipsoid"}:    func() chunk { return new(xEllipsoid) },
	{Space: NSGS, Local: "Prism"}:        func() chunk { return new(xPrism) },
	{Space: NSCA, Local: "civicAddress"}: func() chunk { return new(xCivic) },
}

func (li *xLocationInfo) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name == (xml.Name{Space: NSCON, Local: "confidence"}) {
				var c xConfidence
				if err := d.DecodeElement(&c, &t); err != nil {
					return err
				}
				li.confidence = append(li.confidence, c)
				continue
			}
			if mk := chunkTypes[t.Name]; mk != nil {
				c := mk()
				if err := d.DecodeElement(c, &t); err != nil {
					return err
				}
				li.chunks = append(li.chunks, c)
				continue
			}
			li.unknown = append(li.unknown, t.Name)
			if err := d.Skip(); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

type xConfidence struct {
	Value string `xml:",chardata"`
	PDF   string `xml:"pdf,attr"`
}

type xMeasure struct {
	Value string `xml:",chardata"`
	UOM   string `xml:"uom,attr"`
}

type xPoint struct {
	SRS string   `xml:"srsName,attr"`
	Pos []string `xml:"http://www.opengis.net/gml pos"`
}

type xCircle struct {
	SRS    string     `xml:"srsName,attr"`
	Pos    []string   `xml:"http://www.opengis.net/gml pos"`
	Radius []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 radius"`
}

type xEllipse struct {
	SRS         string     `xml:"srsName,attr"`
	Pos         []string   `xml:"http://www.opengis.net/gml pos"`
	SemiMajor   []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 semiMajorAxis"`
	SemiMinor   []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 semiMinorAxis"`
	Orientation []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 orientation"`
}

type xArcBand struct {
	SRS          string     `xml:"srsName,attr"`
	Pos          []string   `xml:"http://www.opengis.net/gml pos"`
	InnerRadius  []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 innerRadius"`
	OuterRadius  []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 outerRadius"`
	StartAngle   []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 startAngle"`
	OpeningAngle []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 openingAngle"`
}

type xSphere struct {
	SRS    string     `xml:"srsName,attr"`
	Pos    []string   `xml:"http://www.opengis.net/gml pos"`
	Radius []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 radius"`
}

type xEllipsoid struct {
	SRS         string     `xml:"srsName,attr"`
	Pos         []string   `xml:"http://www.opengis.net/gml pos"`
	SemiMajor   []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 semiMajorAxis"`
	SemiMinor   []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 semiMinorAxis"`
	Vertical    []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 verticalAxis"`
	Orientation []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 orientation"`
}

type xPolygon struct {
	SRS      string `xml:"srsName,attr"`
	Exterior []struct {
		Ring []struct {
			PosList []string `xml:"http://www.opengis.net/gml posList"`
			Pos     []string `xml:"http://www.opengis.net/gml pos"`
		} `xml:"http://www.opengis.net/gml LinearRing"`
	} `xml:"http://www.opengis.net/gml exterior"`
	Interior []struct{} `xml:"http://www.opengis.net/gml interior"`
}

type xPrism struct {
	SRS  string `xml:"srsName,attr"`
	Base []struct {
		Polygon []xPolygon `xml:"http://www.opengis.net/gml Polygon"`
	} `xml:"http://www.opengis.net/pidflo/1.0 base"`
	Height []xMeasure `xml:"http://www.opengis.net/pidflo/1.0 height"`
}

// xCivic keeps the first occurrence of each RFC 5139 element; other namespaces (civic
// extensions such as RFC 6848) are skipped.
type xCivic struct {
	lang   string
	fields map[string]string
}

func (c *xCivic) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	for _, a := range start.Attr {
		if a.Name == (xml.Name{Space: nsXML, Local: "lang"}) {
			c.lang = a.Value
		}
	}
	c.fields = map[string]string{}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if _, seen := c.fields[t.Name.Local]; t.Name.Space != NSCA || seen {
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			var v string
			if err := d.DecodeElement(&v, &t); err != nil {
				return err
			}
			c.fields[t.Name.Local] = v
		case xml.EndElement:
			return nil
		}
	}
}

// document turns the XML structure into a Document.
func (p *xPresence) document() (Document, error) {
	if p.XMLName != (xml.Name{Space: NSPIDF, Local: "presence"}) {
		return Document{}, notPIDFLO("root is {%s}%s, want {%s}presence", p.XMLName.Space, p.XMLName.Local, NSPIDF)
	}
	type container struct {
		kind                string
		geopriv             []xGeopriv
		deviceID, timestamp string
	}
	// RFC 5491 §3 Rule #8: devices first, then tuples; persons only as a last resort.
	var cs []container
	for _, c := range p.Devices {
		cs = append(cs, container{"dm:device", c.Geopriv, c.DeviceID, c.Timestamp})
	}
	for _, t := range p.Tuples {
		cs = append(cs, container{"tuple", t.Status.Geopriv, t.DeviceID, t.Timestamp})
	}
	for _, c := range p.Persons {
		cs = append(cs, container{"dm:person", c.Geopriv, "", c.Timestamp})
	}
	d := Document{Entity: p.Entity}
	allowed, rules := true, 0
	var unknown []xml.Name
	for i, c := range cs {
		found := false
		for j, g := range c.geopriv {
			locs, unk, err := g.locations()
			if err != nil {
				return Document{}, wrap(fmt.Sprintf("%s %d, geopriv %d", c.kind, i+1, j+1), err)
			}
			unknown = append(unknown, unk...)
			if len(locs) == 0 {
				continue
			}
			found = true
			d.Locations = append(d.Locations, locs...)
			// One Document carries one set of usage rules: the most restrictive of those of
			// its locations (RFC 4119 §2.2.2: retransmission is forbidden by default).
			rules++
			if r := g.Usage.Retransmission; r == nil || !parseBool(*r) {
				allowed = false
			}
			if s := strings.TrimSpace(g.Usage.RetentionExpiry); s != "" {
				t, err := parseTime(s)
				if err != nil {
					return Document{}, notPIDFLO("retention-expiry %q: %v", s, err)
				}
				if d.RetentionExpiry.IsZero() || t.Before(d.RetentionExpiry) {
					d.RetentionExpiry = t
				}
			}
		}
		if !found {
			continue
		}
		if d.DeviceID == "" {
			d.DeviceID = c.deviceID
		}
		if s := strings.TrimSpace(c.timestamp); s != "" && d.Timestamp.IsZero() {
			t, err := parseTime(s)
			if err != nil {
				return Document{}, notPIDFLO("timestamp %q: %v", s, err)
			}
			d.Timestamp = t
		}
	}
	if len(d.Locations) == 0 {
		if len(unknown) > 0 {
			return Document{}, fmt.Errorf("%w: %w: no location this package reads; location-info holds {%s}%s",
				ErrNotPIDFLO, ErrUnsupported, unknown[0].Space, unknown[0].Local)
		}
		return Document{}, notPIDFLO("no location")
	}
	d.RetransmissionAllowed = rules > 0 && allowed
	n, err := normalize(d)
	if err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	if size := len(encode(n)); size > MaxSize {
		return Document{}, notPIDFLO("written back, the document would take %d bytes, more than %d", size, MaxSize)
	}
	return n, nil
}

// locations reads the location-info elements of a geopriv. A location-info holding one
// shape, one civic address or one of each gives one Location (a compound location, RFC
// 5491 §3 Rules #6, #7); one holding more chunks (which Rule #4 advises against) gives one
// Location per chunk, in document order. Each shares the confidence, method and
// provided-by of its location-info.
func (g *xGeopriv) locations() ([]Location, []xml.Name, error) {
	var out []Location
	var unknown []xml.Name
	for _, info := range g.Info {
		conf, pdf, err := confidence(info.confidence)
		if err != nil {
			return nil, nil, err
		}
		base := Location{Confidence: conf, PDF: pdf, Method: g.Method, ProvidedBy: string(g.ProvidedBy)}
		var shapes, civics int
		parts := make([]Location, 0, len(info.chunks))
		for _, c := range info.chunks {
			s, cv, err := c.location()
			if err != nil {
				return nil, nil, err
			}
			l := base
			l.Shape, l.Civic = s, cv
			if s != nil {
				shapes++
			} else {
				civics++
			}
			parts = append(parts, l)
		}
		switch {
		case len(parts) == 0:
			unknown = append(unknown, info.unknown...)
		case shapes == 1 && civics == 1:
			l := base
			for _, p := range parts {
				if p.Shape != nil {
					l.Shape = p.Shape
				} else {
					l.Civic = p.Civic
				}
			}
			out = append(out, l)
		default:
			out = append(out, parts...)
		}
	}
	return out, unknown, nil
}

// confidence reads con:confidence (RFC 7459 §4.1, schema §7): a percentage strictly between
// 0 and 100, or "unknown"; pdf normal, rectangular or unknown, the default. Fractions are
// rounded down (RFC 7459 §5), to 1% at the least.
func confidence(cs []xConfidence) (int, PDF, error) {
	if len(cs) == 0 {
		return 0, PDFNormal, nil
	}
	pdf := PDFUnknown
	switch strings.TrimSpace(cs[0].PDF) {
	case "normal":
		pdf = PDFNormal
	case "rectangular":
		pdf = PDFRectangular
	}
	v := strings.TrimSpace(cs[0].Value)
	if v == "unknown" {
		return ConfidenceUnknown, pdf, nil
	}
	f, err := parseDouble(v)
	if err != nil || !(f > 0 && f <= 100) {
		return 0, "", fmt.Errorf("confidence %q is not a percentage (RFC 7459 §7)", v)
	}
	return min(max(int(math.Floor(f)), 1), 99), pdf, nil
}

func (x *xPoint) location() (Shape, *Civic, error) {
	f, dim, err := position(x.Pos, x.SRS, 2, 3, "gml:Point")
	if err != nil {
		return nil, nil, err
	}
	p := Point{Lat: f[0], Lon: f[1]}
	if dim == 3 {
		p.Alt = &f[2]
	}
	return p, nil, nil
}

func (x *xCircle) location() (Shape, *Civic, error) {
	// RFC 5491 §5.2.3: a circle is in the 2D CRS; a 3D one is a Sphere.
	f, _, err := position(x.Pos, x.SRS, 2, 2, "gs:Circle")
	if err != nil {
		return nil, nil, err
	}
	r, err := length(x.Radius, "gs:Circle radius")
	if err != nil {
		return nil, nil, err
	}
	return Circle{Lat: f[0], Lon: f[1], Radius: r}, nil, nil
}

func (x *xEllipse) location() (Shape, *Civic, error) {
	// RFC 5491 §5.2.4: the ellipse MUST use the 2D CRS.
	f, _, err := position(x.Pos, x.SRS, 2, 2, "gs:Ellipse")
	if err != nil {
		return nil, nil, err
	}
	e := Ellipse{Lat: f[0], Lon: f[1]}
	if e.SemiMajor, err = length(x.SemiMajor, "gs:Ellipse semiMajorAxis"); err != nil {
		return nil, nil, err
	}
	if e.SemiMinor, err = length(x.SemiMinor, "gs:Ellipse semiMinorAxis"); err != nil {
		return nil, nil, err
	}
	if e.Orientation, err = degrees(x.Orientation, "gs:Ellipse orientation"); err != nil {
		return nil, nil, err
	}
	return e, nil, nil
}

func (x *xArcBand) location() (Shape, *Civic, error) {
	f, _, err := position(x.Pos, x.SRS, 2, 2, "gs:ArcBand")
	if err != nil {
		return nil, nil, err
	}
	a := ArcBand{Lat: f[0], Lon: f[1]}
	if a.InnerRadius, err = length(x.InnerRadius, "gs:ArcBand innerRadius"); err != nil {
		return nil, nil, err
	}
	if a.OuterRadius, err = length(x.OuterRadius, "gs:ArcBand outerRadius"); err != nil {
		return nil, nil, err
	}
	if a.StartAngle, err = degrees(x.StartAngle, "gs:ArcBand startAngle"); err != nil {
		return nil, nil, err
	}
	if a.OpeningAngle, err = degrees(x.OpeningAngle, "gs:ArcBand openingAngle"); err != nil {
		return nil, nil, err
	}
	return a, nil, nil
}

func (x *xSphere) location() (Shape, *Civic, error) {
	// RFC 5491 §5.2.6: the sphere has to use the 3D CRS.
	f, _, err := position(x.Pos, x.SRS, 3, 3, "gs:Sphere")
	if err != nil {
		return nil, nil, err
	}
	r, err := length(x.Radius, "gs:Sphere radius")
	if err != nil {
		return nil, nil, err
	}
	return Sphere{Lat: f[0], Lon: f[1], Alt: f[2], Radius: r}, nil, nil
}

func (x *xEllipsoid) location() (Shape, *Civic, error) {
	f, _, err := position(x.Pos, x.SRS, 3, 3, "gs:Ellipsoid")
	if err != nil {
		return nil, nil, err
	}
	e := Ellipsoid{Lat: f[0], Lon: f[1], Alt: f[2]}
	if e.SemiMajor, err = length(x.SemiMajor, "gs:Ellipsoid semiMajorAxis"); err != nil {
		return nil, nil, err
	}
	if e.SemiMinor, err = length(x.SemiMinor, "gs:Ellipsoid semiMinorAxis"); err != nil {
		return nil, nil, err
	}
	if e.Vertical, err = length(x.Vertical, "gs:Ellipsoid verticalAxis"); err != nil {
		return nil, nil, err
	}
	if e.Orientation, err = degrees(x.Orientation, "gs:Ellipsoid orientation"); err != nil {
		return nil, nil, err
	}
	return e, nil, nil
}

func (x *xPolygon) location() (Shape, *Civic, error) {
	dim, err := crs(x.SRS)
	if err != nil {
		return nil, nil, err
	}
	pts, alt, err := x.ring(dim, "gml:Polygon")
	if err != nil {
		return nil, nil, err
	}
	return Polygon{Points: pts, Alt: alt}, nil, nil
}

func (x *xPrism) location() (Shape, *Civic, error) {
	dim, err := crs(x.SRS)
	if err != nil {
		return nil, nil, err
	}
	if dim == 2 {
		return nil, nil, errors.New("gs:Prism: RFC 5491 §5.2.8 wants the 3D CRS")
	}
	if len(x.Base) != 1 || len(x.Base[0].Polygon) != 1 {
		return nil, nil, errors.New("gs:Prism: want one gs:base holding one gml:Polygon")
	}
	base := x.Base[0].Polygon[0]
	// RFC 5491 §5: the CRS MUST NOT be respecified on sub-elements; tolerated if the same.
	if inner, err := crs(base.SRS); err != nil || inner == 2 {
		return nil, nil, fmt.Errorf("gs:Prism: base polygon in CRS %q", base.SRS)
	}
	pts, alt, err := base.ring(3, "gs:Prism base")
	if err != nil {
		return nil, nil, err
	}
	h, err := length(x.Height, "gs:Prism height")
	if err != nil {
		return nil, nil, err
	}
	return Prism{Points: pts, Alt: *alt, Height: h}, nil, nil
}

// ring reads the exterior ring of a polygon, from a posList or from pos elements (RFC 5491
// §5.2.2 permits both). dim 0 (no srsName) takes the dimension from the numbers: pairs,
// or triples when their count is a multiple of 3 and not of 2. In 3D, every vertex has to
// be at the same altitude (RFC 5491 §5.1).
func (x *xPolygon) ring(dim int, what string) ([][2]float64, *float64, error) {
	if len(x.Interior) > 0 {
		return nil, nil, unsupported("%s with holes (gml:interior)", what)
	}
	if len(x.Exterior) != 1 || len(x.Exterior[0].Ring) != 1 {
		return nil, nil, fmt.Errorf("%s: want one gml:exterior holding one gml:LinearRing", what)
	}
	r := x.Exterior[0].Ring[0]
	var list string
	switch {
	case len(r.PosList) == 1 && len(r.Pos) == 0:
		list = r.PosList[0]
	case len(r.PosList) == 0 && len(r.Pos) > 0:
		list = strings.Join(r.Pos, " ")
	default:
		return nil, nil, fmt.Errorf("%s: want one gml:posList or gml:pos elements", what)
	}
	fields := strings.Fields(list)
	if len(fields) > 3*(2*MaxPolygonPoints+2) {
		return nil, nil, fmt.Errorf("%s: more than %d vertices", what, MaxPolygonPoints)
	}
	if dim == 0 {
		dim = 2
		if len(fields)%3 == 0 && len(fields)%2 != 0 {
			dim = 3
		}
	}
	if len(fields) == 0 || len(fields)%dim != 0 {
		return nil, nil, fmt.Errorf("%s: %d numbers do not make %dD positions", what, len(fields), dim)
	}
	pts := make([][2]float64, 0, len(fields)/dim)
	var alt *float64
	for i := 0; i < len(fields); i += dim {
		var v [3]float64
		for k := 0; k < dim; k++ {
			f, err := parseDouble(fields[i+k])
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %v", what, err)
			}
			v[k] = f
		}
		pts = append(pts, [2]float64{v[0], v[1]})
		if dim == 3 {
			if alt == nil {
				alt = &v[2]
			} else if *alt != v[2] {
				return nil, nil, fmt.Errorf("%s: vertices at different altitudes (RFC 5491 §5.1)", what)
			}
		}
	}
	return pts, alt, nil
}

func (x *xCivic) location() (Shape, *Civic, error) {
	c := &Civic{Lang: x.lang}
	for _, f := range civicFields(c) {
		*f.v = x.fields[f.name]
	}
	return nil, c, nil
}

// crs reads an srsName: 2 or 3 dimensions, 0 when absent (RFC 5491 §5 requires it on the
// outermost geometry; its absence is tolerated). Other CRSs are not supported (§5: only
// these two URNs need be).
func crs(srs string) (int, error) {
	switch s := strings.TrimSpace(srs); {
	case s == "":
		return 0, nil
	case strings.EqualFold(s, CRS2D):
		return 2, nil
	case strings.EqualFold(s, CRS3D):
		return 3, nil
	}
	return 0, unsupported("CRS %q: RFC 5491 §5 uses %s and %s", srs, CRS2D, CRS3D)
}

// position reads the one gml:pos of a shape in its CRS, whose dimension must lie between
// lo and hi; without srsName the count of numbers decides.
func position(pos []string, srs string, lo, hi int, what string) ([]float64, int, error) {
	dim, err := crs(srs)
	if err != nil {
		return nil, 0, err
	}
	if len(pos) != 1 {
		return nil, 0, fmt.Errorf("%s: want one gml:pos, found %d", what, len(pos))
	}
	fields := strings.Fields(pos[0])
	if dim == 0 {
		dim = len(fields)
	}
	if dim < lo || dim > hi {
		return nil, 0, fmt.Errorf("%s: a %dD position where RFC 5491 §5 wants %dD", what, dim, lo)
	}
	if len(fields) != dim {
		return nil, 0, fmt.Errorf("%s: gml:pos has %d numbers, its CRS %d", what, len(fields), dim)
	}
	f := make([]float64, dim)
	for i, s := range fields {
		if f[i], err = parseDouble(s); err != nil {
			return nil, 0, fmt.Errorf("%s: %v", what, err)
		}
	}
	return f, dim, nil
}

// length reads a distance: metres (RFC 5491 §5, urn:ogc:def:uom:EPSG::9001), which an
// absent uom is taken to be.
func length(m []xMeasure, what string) (float64, error) {
	if len(m) != 1 {
		return 0, fmt.Errorf("%s: want one, found %d", what, len(m))
	}
	if u := strings.TrimSpace(m[0].UOM); u != "" && !strings.EqualFold(u, UOMMetre) {
		return 0, unsupported("%s in %q: RFC 5491 §5 uses metres (%s)", what, u, UOMMetre)
	}
	v, err := parseDouble(strings.TrimSpace(m[0].Value))
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return v, nil
}

// degrees reads an angle in degrees or radians (RFC 5491 §5: EPSG 9102 or 9101), degrees
// when the uom is absent, and returns degrees.
func degrees(m []xMeasure, what string) (float64, error) {
	if len(m) != 1 {
		return 0, fmt.Errorf("%s: want one, found %d", what, len(m))
	}
	v, err := parseDouble(strings.TrimSpace(m[0].Value))
	if err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	switch u := strings.TrimSpace(m[0].UOM); {
	case u == "" || strings.EqualFold(u, UOMDegree):
		return v, nil
	case strings.EqualFold(u, UOMRadian):
		return v * 180 / math.Pi, nil
	default:
		return 0, unsupported("%s in %q: RFC 5491 §5 uses degrees or radians", what, u)
	}
}

// parseDouble reads the decimal and scientific forms of xs:double (RFC 5491 §5). INF and
// NaN are refused: they locate nothing.
func parseDouble(s string) (float64, error) {
	i, digits := 0, 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	ok := digits > 0
	if ok && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		ok = exp > 0
	}
	if !ok || i != len(s) {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

// parseBool reads an xs:boolean; anything else is false, the default of
// retransmission-allowed.
func parseBool(s string) bool {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true
	}
	return false
}

// parseTime reads an xs:dateTime as RFC 3339 gives it; one without a time zone is taken to
// be in UTC.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse("2006-01-02T15:04:05.999999999", s); err2 != nil {
			return time.Time{}, err
		}
	}
	return t.UTC(), nil
}
