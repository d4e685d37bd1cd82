package pidflo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Encode writes d as a PIDF-LO document. The output is deterministic: same document, same
// bytes, which keeps golden files and signatures stable.
//
// The location goes in a dm:device element, as RFC 5491 §3.4 recommends for the location
// of a device; the data model is RFC 4479's.
func Encode(d Document) ([]byte, error) {
	if d.Entity == "" {
		return nil, errors.New("pidflo: entity is required")
	}
	if len(d.Locations) == 0 {
		return nil, errors.New("pidflo: at least one location is required")
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<presence xmlns="` + NSPIDF + `" xmlns:dm="` + NSDM + `" xmlns:gp="` + NSGP +
		`" xmlns:gbp="` + NSGBP + `" xmlns:gml="` + NSGML + `" xmlns:gs="` + NSGS + `" xmlns:ca="` + NSCA +
		`" xmlns:con="` + NSCON + `" entity="` + attr(d.Entity) + `">` + "\n")
	b.WriteString(` <dm:device id="target">` + "\n")
	for i, l := range d.Locations {
		if err := writeGeopriv(&b, d, l); err != nil {
			return nil, fmt.Errorf("pidflo: location %d: %w", i, err)
		}
	}
	if d.DeviceID != "" {
		b.WriteString(`  <dm:deviceID>` + text(d.DeviceID) + `</dm:deviceID>` + "\n")
	}
	if !d.Timestamp.IsZero() {
		b.WriteString(`  <dm:timestamp>` + stamp(d.Timestamp) + `</dm:timestamp>` + "\n")
	}
	b.WriteString(" </dm:device>\n</presence>\n")
	return b.Bytes(), nil
}

func writeGeopriv(b *bytes.Buffer, d Document, l Location) error {
	b.WriteString("  <gp:geopriv>\n   <gp:location-info>\n")
	switch {
	case l.Shape != nil && l.Civic != nil:
		// RFC 5491 §3.2: one location-info holds one location; give two Locations.
		return errors.New("a location is a shape or a civic address, not both")
	case l.Shape != nil:
		if err := writeShape(b, l.Shape); err != nil {
			return err
		}
	case l.Civic != nil:
		writeCivic(b, l.Civic)
	default:
		return errors.New("no shape and no civic address")
	}
	if l.Confidence > 0 {
		if l.Confidence > 100 {
			return fmt.Errorf("confidence %d%% is above 100", l.Confidence)
		}
		// RFC 7459 §4: the confidence element sits beside the shape in location-info.
		b.WriteString(`    <con:confidence pdf="normal">` + strconv.Itoa(l.Confidence) + "</con:confidence>\n")
	}
	b.WriteString("   </gp:location-info>\n   <gp:usage-rules>\n")
	// RFC 4119 §2.2.2: retransmission-allowed defaults to false, retention-expiry to 24 h.
	b.WriteString("    <gbp:retransmission-allowed>" + strconv.FormatBool(d.RetransmissionAllowed) + "</gbp:retransmission-allowed>\n")
	if !d.RetentionExpiry.IsZero() {
		b.WriteString("    <gbp:retention-expiry>" + stamp(d.RetentionExpiry) + "</gbp:retention-expiry>\n")
	}
	b.WriteString("   </gp:usage-rules>\n")
	if l.Method != "" {
		b.WriteString("   <gp:method>" + text(l.Method) + "</gp:method>\n")
	}
	if l.ProvidedBy != "" {
		b.WriteString("   <gp:provided-by>" + text(l.ProvidedBy) + "</gp:provided-by>\n")
	}
	b.WriteString("  </gp:geopriv>\n")
	return nil
}

func writeShape(b *bytes.Buffer, s Shape) error {
	switch s := s.(type) {
	case Point:
		if err := checkPos(s.Lat, s.Lon); err != nil {
			return err
		}
		if s.Alt != nil {
			b.WriteString(`    <gml:Point srsName="` + srs3D + `"><gml:pos>` + pos(s.Lat, s.Lon) + " " + num(*s.Alt) + "</gml:pos></gml:Point>\n")
		} else {
			b.WriteString(`    <gml:Point srsName="` + srs2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + "</gml:pos></gml:Point>\n")
		}
	case Circle:
		if err := checkPos(s.Lat, s.Lon); err != nil {
			return err
		}
		if !(s.Radius >= 0) || math.IsInf(s.Radius, 0) {
			return fmt.Errorf("circle radius %v is not a distance", s.Radius)
		}
		b.WriteString(`    <gs:Circle srsName="` + srs2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + `</gml:pos><gs:radius uom="` +
			metre + `">` + num(s.Radius) + "</gs:radius></gs:Circle>\n")
	case Ellipse:
		if err := checkPos(s.Lat, s.Lon); err != nil {
			return err
		}
		if !(s.SemiMajor >= 0 && s.SemiMinor >= 0) {
			return errors.New("ellipse axes must be distances")
		}
		b.WriteString(`    <gs:Ellipse srsName="` + srs2D + `"><gml:pos>` + pos(s.Lat, s.Lon) + `</gml:pos>` +
			`<gs:semiMajorAxis uom="` + metre + `">` + num(s.SemiMajor) + `</gs:semiMajorAxis>` +
			`<gs:semiMinorAxis uom="` + metre + `">` + num(s.SemiMinor) + `</gs:semiMinorAxis>` +
			`<gs:orientation uom="` + degrees + `">` + num(s.Orientation) + "</gs:orientation></gs:Ellipse>\n")
	case Polygon:
		// RFC 5491 §5.2.2: at least four positions, the last equal to the first.
		if len(s.Points) < 4 || s.Points[0] != s.Points[len(s.Points)-1] {
			return errors.New("a polygon needs at least 4 positions, the last equal to the first")
		}
		parts := make([]string, len(s.Points))
		for i, p := range s.Points {
			if err := checkPos(p[0], p[1]); err != nil {
				return err
			}
			parts[i] = pos(p[0], p[1])
		}
		b.WriteString(`    <gml:Polygon srsName="` + srs2D + `"><gml:exterior><gml:LinearRing><gml:posList>` +
			strings.Join(parts, " ") + "</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>\n")
	default:
		return fmt.Errorf("unknown shape %T", s)
	}
	return nil
}

func writeCivic(b *bytes.Buffer, c *Civic) {
	b.WriteString("    <ca:civicAddress>")
	for _, f := range civicFields(c) {
		if *f.v != "" {
			b.WriteString("<ca:" + f.name + ">" + text(*f.v) + "</ca:" + f.name + ">")
		}
	}
	b.WriteString("</ca:civicAddress>\n")
}

type civicField struct {
	name string
	v    *string
}

// civicFields lists the RFC 5139 elements in the schema's order.
func civicFields(c *Civic) []civicField {
	return []civicField{{"country", &c.Country}, {"A1", &c.A1}, {"A2", &c.A2}, {"A3", &c.A3}, {"A4", &c.A4},
		{"A6", &c.A6}, {"RD", &c.RD}, {"STS", &c.STS}, {"HNO", &c.HNO}, {"HNS", &c.HNS}, {"LMK", &c.LMK},
		{"LOC", &c.LOC}, {"FLR", &c.FLR}, {"NAM", &c.NAM}, {"PC", &c.PC}}
}

func checkPos(lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("position (%v, %v) is not a latitude, longitude pair", lat, lon)
	}
	return nil
}

// pos is "lat lon": RFC 5491 §4 uses EPSG 4326's axis order, latitude first.
func pos(lat, lon float64) string { return num(lat) + " " + num(lon) }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func text(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func attr(s string) string { return text(s) }
