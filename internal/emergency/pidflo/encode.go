package pidflo

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Encode writes d as a PIDF-LO document, with its XML declaration, every namespace
// declared on the presence element, and a stable order of elements: the same document
// always gives the same bytes. Errors wrap ErrInvalid.
//
// Values are normalised first (see Polygon, Location.Confidence, Civic): Decode(Encode(d))
// gives d back once normalised. Placement follows RFC 5491 §3: each Location in its own
// dm:device, or tuple when d has no DeviceID (Rule #2, Rule #8); the shape before the civic
// address of a compound location (Rule #7); the confidence in location-info after them
// (RFC 7459 §4.1).
func Encode(d Document) ([]byte, error) {
	n, err := normalize(d)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	b := encode(n)
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a receiver reads", ErrInvalid, len(b), MaxSize)
	}
	return b, nil
}

// encode writes a normalised document.
func encode(d Document) []byte {
	w := &writer{}
	w.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.WriteString(`<presence xmlns="` + NSPIDF + `" xmlns:dm="` + NSDM + `" xmlns:gp="` + NSGP +
		`" xmlns:gbp="` + NSGBP + `" xmlns:gml="` + NSGML + `" xmlns:gs="` + NSGS + `" xmlns:ca="` + NSCA +
		`" xmlns:con="` + NSCON + `" entity="` + attr(d.Entity) + `">` + "\n")
	for i, l := range d.Locations {
		id := "target"
		if i > 0 {
			id += "-" + strconv.Itoa(i+1)
		}
		if d.DeviceID != "" {
			// RFC 4479 §5.1.2: in a device, the extensions (geopriv) come first, then the
			// deviceID the schema requires, then the timestamp.
			w.line(1, `<dm:device id="`+id+`">`)
			geopriv(w, 2, d, l)
			w.line(2, "<dm:deviceID>"+text(d.DeviceID)+"</dm:deviceID>")
			if !d.Timestamp.IsZero() {
				w.line(2, "<dm:timestamp>"+stamp(d.Timestamp)+"</dm:timestamp>")
			}
			w.line(1, "</dm:device>")
			continue
		}
		// RFC 3863 tuple: status (holding the geopriv, RFC 4119 §2.2), then timestamp.
		w.line(1, `<tuple id="`+id+`">`)
		w.line(2, "<status>")
		geopriv(w, 3, d, l)
		w.line(2, "</status>")
		if !d.Timestamp.IsZero() {
			w.line(2, "<timestamp>"+stamp(d.Timestamp)+"</timestamp>")
		}
		w.line(1, "</tuple>")
	}
	w.WriteString("</presence>\n")
	return w.Bytes()
}

// geopriv writes the geopriv element of RFC 4119 §2.2: location-info, usage-rules, method,
// provided-by, in the order of its schema.
func geopriv(w *writer, depth int, d Document, l Location) {
	w.line(depth, "<gp:geopriv>")
	w.line(depth+1, "<gp:location-info>")
	if l.Shape != nil {
		w.line(depth+2, shape(l.Shape))
	}
	if l.Civic != nil {
		w.line(depth+2, civic(l.Civic))
	}
	if l.Confidence != 0 {
		value := strconv.Itoa(l.Confidence)
		if l.Confidence == ConfidenceUnknown {
			value = "unknown"
		}
		pdf := l.PDF
		if pdf == PDFNormal {
			pdf = "normal"
		}
		w.line(depth+2, `<con:confidence pdf="`+string(pdf)+`">`+value+"</con:confidence>")
	}
	w.line(depth+1, "</gp:location-info>")
	// RFC 4119 §2.2.2: retransmission-allowed is written even when false, its default, so
	// that the refusal is explicit; retention-expiry only when set.
	w.line(depth+1, "<gp:usage-rules>")
	w.line(depth+2, "<gbp:retransmission-allowed>"+strconv.FormatBool(d.RetransmissionAllowed)+"</gbp:retransmission-allowed>")
	if !d.RetentionExpiry.IsZero() {
		w.line(depth+2, "<gbp:retention-expiry>"+stamp(d.RetentionExpiry)+"</gbp:retention-expiry>")
	}
	w.line(depth+1, "</gp:usage-rules>")
	if l.Method != "" {
		w.line(depth+1, "<gp:method>"+text(l.Method)+"</gp:method>")
	}
	if l.ProvidedBy != "" {
		// geopriv10's provided-by is element-only: any elements of other namespaces, no text
		// of its own (RFC 4119 §2.2.4; the schema's provInfoType is a sequence of
		// xs:any namespace="##other"). The name goes in an element of socle's namespace, which
		// a reader processes laxly and whose text Decode reads back.
		w.line(depth+1, `<gp:provided-by><sp:provider xmlns:sp="`+NSProvider+`">`+text(l.ProvidedBy)+"</sp:provider></gp:provided-by>")
	}
	w.line(depth, "</gp:geopriv>")
}

// shape writes a geodetic shape of the GML profile of RFC 5491 §5: the CRS on the outermost
// element only, positions latitude first, distances in metres, angles in degrees.
func shape(s Shape) string {
	switch s := s.(type) {
	case Point:
		if s.Alt != nil {
			return `<gml:Point srsName="` + CRS3D + `"><gml:pos>` + pos(s.Lat, s.Lon) + " " + num(*s.Alt) + "</gml:pos></gml:Point>"
		}
		return `<gml:Point srsName="` + CRS2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + "</gml:pos></gml:Point>"
	case Circle:
		return `<gs:Circle srsName="` + CRS2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + "</gml:pos>" +
			measure("gs:radius", UOMMetre, s.Radius) + "</gs:Circle>"
	case Ellipse:
		return `<gs:Ellipse srsName="` + CRS2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + "</gml:pos>" +
			measure("gs:semiMajorAxis", UOMMetre, s.SemiMajor) + measure("gs:semiMinorAxis", UOMMetre, s.SemiMinor) +
			measure("gs:orientation", UOMDegree, s.Orientation) + "</gs:Ellipse>"
	case ArcBand:
		return `<gs:ArcBand srsName="` + CRS2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + "</gml:pos>" +
			measure("gs:innerRadius", UOMMetre, s.InnerRadius) + measure("gs:outerRadius", UOMMetre, s.OuterRadius) +
			measure("gs:startAngle", UOMDegree, s.StartAngle) + measure("gs:openingAngle", UOMDegree, s.OpeningAngle) +
			"</gs:ArcBand>"
	case Polygon:
		if s.Alt != nil {
			return `<gml:Polygon srsName="` + CRS3D + `">` + linearRing(s.Points, s.Alt) + "</gml:Polygon>"
		}
		return `<gml:Polygon srsName="` + CRS2D + `">` + linearRing(s.Points, nil) + "</gml:Polygon>"
	case Sphere:
		return `<gs:Sphere srsName="` + CRS3D + `"><gml:pos>` + pos(s.Lat, s.Lon) + " " + num(s.Alt) + "</gml:pos>" +
			measure("gs:radius", UOMMetre, s.Radius) + "</gs:Sphere>"
	case Ellipsoid:
		return `<gs:Ellipsoid srsName="` + CRS3D + `"><gml:pos>` + pos(s.Lat, s.Lon) + " " + num(s.Alt) + "</gml:pos>" +
			measure("gs:semiMajorAxis", UOMMetre, s.SemiMajor) + measure("gs:semiMinorAxis", UOMMetre, s.SemiMinor) +
			measure("gs:verticalAxis", UOMMetre, s.Vertical) + measure("gs:orientation", UOMDegree, s.Orientation) +
			"</gs:Ellipsoid>"
	case Prism:
		// RFC 5491 §5: the CRS is not respecified on the base polygon.
		return `<gs:Prism srsName="` + CRS3D + `"><gs:base><gml:Polygon>` + linearRing(s.Points, &s.Alt) +
			"</gml:Polygon></gs:base>" + measure("gs:height", UOMMetre, s.Height) + "</gs:Prism>"
	}
	panic(fmt.Sprintf("pidflo: shape %T was not normalised", s))
}

// linearRing writes the exterior ring of a polygon in the compact posList form RFC 5491
// §5.2.2 permits; with an altitude, every position carries it (§5.1: all the same).
func linearRing(points [][2]float64, alt *float64) string {
	parts := make([]string, len(points))
	for i, p := range points {
		parts[i] = pos(p[0], p[1])
		if alt != nil {
			parts[i] += " " + num(*alt)
		}
	}
	return "<gml:exterior><gml:LinearRing><gml:posList>" + strings.Join(parts, " ") +
		"</gml:posList></gml:LinearRing></gml:exterior>"
}

func measure(element, uom string, v float64) string {
	return "<" + element + ` uom="` + uom + `">` + num(v) + "</" + element + ">"
}

// civic writes a civicAddress of RFC 5139, its elements in the order of the schema.
func civic(c *Civic) string {
	var b strings.Builder
	b.WriteString("<ca:civicAddress")
	if c.Lang != "" {
		b.WriteString(` xml:lang="` + attr(c.Lang) + `"`)
	}
	b.WriteString(">")
	for _, f := range civicFields(c) {
		if *f.v != "" {
			b.WriteString("<ca:" + f.name + ">" + text(*f.v) + "</ca:" + f.name + ">")
		}
	}
	b.WriteString("</ca:civicAddress>")
	return b.String()
}

// pos is "lat lon": EPSG 4326 and 4979 put latitude first (RFC 5491 §5.2.1).
func pos(lat, lon float64) string { return num(lat) + " " + num(lon) }

// num writes an xs:double (RFC 5491 §5) in plain decimal notation: the shortest form that
// reads back to the same value, which for normalised values has at most 7 decimals.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// stamp writes an RFC 3339 date-time in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
		"\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)

// text escapes character data: only what XML requires, and carriage returns, which a
// parser would otherwise turn into line feeds.
func text(s string) string { return textEscaper.Replace(s) }

// attr escapes an attribute value, white space included (attribute values are normalised).
func attr(s string) string { return attrEscaper.Replace(s) }

type writer struct{ bytes.Buffer }

func (w *writer) line(depth int, s string) {
	for i := 0; i < depth; i++ {
		w.WriteByte(' ')
	}
	w.WriteString(s)
	w.WriteByte('\n')
}
