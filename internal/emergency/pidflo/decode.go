package pidflo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"socle/internal/emergency/xmlsafe"
)

// Limits of what Decode reads.
const (
	MaxSize  = 64 << 10
	MaxDepth = 32
)

// Errors a caller can recognise.
var (
	// ErrUnsafeXML: a DOCTYPE (external entities, entity expansion), too large or too deep.
	ErrUnsafeXML = errors.New("pidflo: unsafe XML")
	// ErrNotPIDFLO: well-formed XML that is not a usable PIDF-LO document.
	ErrNotPIDFLO = errors.New("pidflo: not a PIDF-LO document")
)

// Decode reads a PIDF-LO document, matching elements by namespace, not prefix. It accepts
// locations in dm:device, dm:person or tuple/status (RFC 4119's original form).
func Decode(b []byte) (Document, error) {
	if err := screen(b); err != nil {
		return Document{}, err
	}
	var p xPresence
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&p); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	return p.document()
}

// DecodeElement reads a presence element met while decoding a larger document (a HELD
// locationResponse): namespaces declared on its ancestors apply. The caller screens the
// whole document first.
func DecodeElement(dec *xml.Decoder, start xml.StartElement) (Document, error) {
	var p xPresence
	if err := dec.DecodeElement(&p, &start); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	return p.document()
}

func (p xPresence) document() (Document, error) {
	if p.XMLName.Space != NSPIDF || p.XMLName.Local != "presence" {
		return Document{}, fmt.Errorf("%w: root is {%s}%s, want {%s}presence", ErrNotPIDFLO, p.XMLName.Space, p.XMLName.Local, NSPIDF)
	}
	d := Document{Entity: strings.TrimSpace(p.Entity)}
	var gps []xGeopriv
	var stamps []string
	for _, dv := range append(p.Devices, p.Persons...) {
		gps = append(gps, dv.Geopriv...)
		if d.DeviceID == "" {
			d.DeviceID = strings.TrimSpace(dv.DeviceID)
		}
		stamps = append(stamps, dv.Timestamp)
	}
	for _, t := range p.Tuples {
		gps = append(gps, t.Status.Geopriv...)
		stamps = append(stamps, t.Timestamp)
	}
	for _, s := range stamps {
		if s = strings.TrimSpace(s); s != "" && d.Timestamp.IsZero() {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return Document{}, fmt.Errorf("%w: timestamp %q: %v", ErrNotPIDFLO, s, err)
			}
			d.Timestamp = t.UTC()
		}
	}
	for _, g := range gps {
		ls, err := g.locations()
		if err != nil {
			return Document{}, err
		}
		d.Locations = append(d.Locations, ls...)
		if v := strings.TrimSpace(g.Usage.Retransmission); v != "" {
			d.RetransmissionAllowed = v == "true" || v == "1"
		}
		if v := strings.TrimSpace(g.Usage.RetentionExpiry); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Document{}, fmt.Errorf("%w: retention-expiry %q: %v", ErrNotPIDFLO, v, err)
			}
			d.RetentionExpiry = t.UTC()
		}
	}
	if len(d.Locations) == 0 {
		return Document{}, fmt.Errorf("%w: no location", ErrNotPIDFLO)
	}
	return d, nil
}

// screen refuses hostile documents before decoding (see package xmlsafe).
func screen(b []byte) error {
	err := xmlsafe.Check(b, MaxSize, MaxDepth)
	switch {
	case errors.Is(err, xmlsafe.ErrUnsafe):
		return fmt.Errorf("%w: %v", ErrUnsafeXML, err)
	case err != nil:
		return fmt.Errorf("%w: %v", ErrNotPIDFLO, err)
	}
	return nil
}

type xPresence struct {
	XMLName xml.Name
	Entity  string    `xml:"entity,attr"`
	Devices []xDevice `xml:"urn:ietf:params:xml:ns:pidf:data-model device"`
	Persons []xDevice `xml:"urn:ietf:params:xml:ns:pidf:data-model person"`
	Tuples  []xTuple  `xml:"urn:ietf:params:xml:ns:pidf tuple"`
}

type xDevice struct {
	Geopriv   []xGeopriv `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 geopriv"`
	DeviceID  string     `xml:"urn:ietf:params:xml:ns:pidf:data-model deviceID"`
	Timestamp string     `xml:"urn:ietf:params:xml:ns:pidf:data-model timestamp"`
}

type xTuple struct {
	Status struct {
		Geopriv []xGeopriv `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 geopriv"`
	} `xml:"urn:ietf:params:xml:ns:pidf status"`
	Timestamp string `xml:"urn:ietf:params:xml:ns:pidf timestamp"`
}

type xGeopriv struct {
	Info       []xLocationInfo `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 location-info"`
	Method     string          `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 method"`
	ProvidedBy string          `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 provided-by"`
	Usage      struct {
		Retransmission  string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy retransmission-allowed"`
		RetentionExpiry string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy retention-expiry"`
	} `xml:"urn:ietf:params:xml:ns:pidf:geopriv10 usage-rules"`
}

type xLocationInfo struct {
	Points     []xPos     `xml:"http://www.opengis.net/gml Point"`
	Circles    []xCircle  `xml:"http://www.opengis.net/pidflo/1.0 Circle"`
	Ellipses   []xEllipse `xml:"http://www.opengis.net/pidflo/1.0 Ellipse"`
	Polygons   []xPolygon `xml:"http://www.opengis.net/gml Polygon"`
	Civics     []xCivic   `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr civicAddress"`
	Confidence string     `xml:"urn:ietf:params:xml:ns:geopriv:conf confidence"`
}

type xPos struct {
	Pos string `xml:"http://www.opengis.net/gml pos"`
}

type xCircle struct {
	Pos    string `xml:"http://www.opengis.net/gml pos"`
	Radius string `xml:"http://www.opengis.net/pidflo/1.0 radius"`
}

type xEllipse struct {
	Pos         string `xml:"http://www.opengis.net/gml pos"`
	SemiMajor   string `xml:"http://www.opengis.net/pidflo/1.0 semiMajorAxis"`
	SemiMinor   string `xml:"http://www.opengis.net/pidflo/1.0 semiMinorAxis"`
	Orientation string `xml:"http://www.opengis.net/pidflo/1.0 orientation"`
}

type xPolygon struct {
	Ring struct {
		PosList string   `xml:"http://www.opengis.net/gml posList"`
		Pos     []string `xml:"http://www.opengis.net/gml pos"`
	} `xml:"http://www.opengis.net/gml exterior>LinearRing"`
}

type xCivic struct {
	Country string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr country"`
	A1      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A1"`
	A2      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A2"`
	A3      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A3"`
	A4      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A4"`
	A6      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr A6"`
	RD      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr RD"`
	STS     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr STS"`
	HNO     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr HNO"`
	HNS     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr HNS"`
	LMK     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr LMK"`
	LOC     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr LOC"`
	FLR     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr FLR"`
	NAM     string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr NAM"`
	PC      string `xml:"urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr PC"`
}

func (g xGeopriv) locations() ([]Location, error) {
	var out []Location
	for _, info := range g.Info {
		base := Location{Method: strings.TrimSpace(g.Method), ProvidedBy: strings.TrimSpace(g.ProvidedBy)}
		if c := strings.TrimSpace(info.Confidence); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 0 || n > 100 {
				return nil, fmt.Errorf("%w: confidence %q is not a percentage", ErrNotPIDFLO, c)
			}
			base.Confidence = n
		}
		add := func(s Shape) { l := base; l.Shape = s; out = append(out, l) }
		for _, p := range info.Points {
			f, err := position(p.Pos, 3)
			if err != nil {
				return nil, err
			}
			pt := Point{Lat: f[0], Lon: f[1]}
			if len(f) == 3 {
				pt.Alt = &f[2]
			}
			add(pt)
		}
		for _, c := range info.Circles {
			f, err := position(c.Pos, 2)
			if err != nil {
				return nil, err
			}
			r, err := floats(c.Radius, 1, 1, "gs:radius")
			if err != nil {
				return nil, err
			}
			add(Circle{Lat: f[0], Lon: f[1], Radius: r[0]})
		}
		for _, e := range info.Ellipses {
			f, err := position(e.Pos, 2)
			if err != nil {
				return nil, err
			}
			v, err := floats(e.SemiMajor+" "+e.SemiMinor+" "+e.Orientation, 3, 3, "gs:Ellipse axes")
			if err != nil {
				return nil, err
			}
			add(Ellipse{Lat: f[0], Lon: f[1], SemiMajor: v[0], SemiMinor: v[1], Orientation: v[2]})
		}
		for _, p := range info.Polygons {
			list := p.Ring.PosList
			if list == "" {
				list = strings.Join(p.Ring.Pos, " ")
			}
			f, err := floats(list, 8, 1<<14, "gml:posList")
			if err != nil {
				return nil, err
			}
			if len(f)%2 != 0 {
				return nil, fmt.Errorf("%w: gml:posList has an odd count of numbers", ErrNotPIDFLO)
			}
			pg := Polygon{}
			for i := 0; i < len(f); i += 2 {
				pg.Points = append(pg.Points, [2]float64{f[i], f[i+1]})
			}
			add(pg)
		}
		for _, c := range info.Civics {
			cv := Civic(c)
			for _, fld := range civicFields(&cv) {
				*fld.v = strings.TrimSpace(*fld.v)
			}
			l := base
			l.Civic = &cv
			out = append(out, l)
		}
	}
	return out, nil
}

// floats reads between min and max space-separated numbers.
func floats(s string, min, max int, what string) ([]float64, error) {
	fields := strings.Fields(s)
	if len(fields) < min || len(fields) > max {
		return nil, fmt.Errorf("%w: %s has %d numbers, want %d to %d", ErrNotPIDFLO, what, len(fields), min, max)
	}
	out := make([]float64, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v != v {
			return nil, fmt.Errorf("%w: %s: %q is not a number", ErrNotPIDFLO, what, f)
		}
		out[i] = v
	}
	return out, nil
}

// position reads a gml:pos: latitude, longitude and, if maxN is 3, an altitude.
func position(s string, maxN int) ([]float64, error) {
	f, err := floats(s, 2, maxN, "gml:pos")
	if err != nil {
		return nil, err
	}
	if err := checkPos(f[0], f[1]); err != nil {
		return nil, fmt.Errorf("%w: gml:pos: %v", ErrNotPIDFLO, err)
	}
	return f, nil
}
