// Package pidflo writes and reads PIDF-LO documents (RFC 4119), the location format
// emergency centres receive: geodetic shapes of the GML profile of RFC 5491 (Point, Circle,
// Ellipse, Polygon), civic addresses (RFC 5139) and confidence (RFC 7459).
package pidflo

import (
	"time"
)

// Namespaces of the documents.
const (
	NSPIDF  = "urn:ietf:params:xml:ns:pidf"
	NSDM    = "urn:ietf:params:xml:ns:pidf:data-model"
	NSGP    = "urn:ietf:params:xml:ns:pidf:geopriv10"
	NSGBP   = "urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
	NSGML   = "http://www.opengis.net/gml"
	NSGS    = "http://www.opengis.net/pidflo/1.0"
	NSCA    = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
	NSCON   = "urn:ietf:params:xml:ns:geopriv:conf"
	srs2D   = "urn:ogc:def:crs:EPSG::4326"
	srs3D   = "urn:ogc:def:crs:EPSG::4979"
	metre   = "urn:ogc:def:uom:EPSG::9001"
	degrees = "urn:ogc:def:uom:EPSG::9102"
)

// Shape is a geodetic shape.
type Shape interface{ isShape() }

// Point is a position, optionally with altitude (then in the 3D CRS, RFC 5491 §5.2.1).
type Point struct {
	Lat, Lon float64
	Alt      *float64
}

// Circle is a position and a radius in metres (RFC 5491 §5.2.3).
type Circle struct{ Lat, Lon, Radius float64 }

// Ellipse is a position, semi-axes in metres and the orientation of the major axis in
// degrees from north (RFC 5491 §5.2.4).
type Ellipse struct{ Lat, Lon, SemiMajor, SemiMinor, Orientation float64 }

// Polygon is a closed ring of lat, lon positions (RFC 5491 §5.2.2).
type Polygon struct{ Points [][2]float64 }

func (Point) isShape()   {}
func (Circle) isShape()  {}
func (Ellipse) isShape() {}
func (Polygon) isShape() {}

// Civic is a civic address (RFC 5139 §4): the elements a French or Belgian address uses.
type Civic struct {
	Country string // ISO 3166 alpha-2
	A1      string // region
	A2      string // département / province
	A3      string // city
	A4      string // city division
	A6      string // street
	RD      string // road
	STS     string // street suffix
	HNO     string // house number
	HNS     string // house number suffix
	LMK     string // landmark
	LOC     string // additional location
	FLR     string // floor
	NAM     string // name
	PC      string // postal code
}

// Location is one location-info: a shape or a civic address, and how it was found.
type Location struct {
	Shape      Shape
	Civic      *Civic
	Confidence int    // percent, 0 = not given (RFC 7459)
	Method     string // RFC 4119 §2.2.3 method token: GPS, A-GPS, Cell, 802.11, Manual...
	ProvidedBy string
}

// Document is a PIDF-LO document about one target.
type Document struct {
	Entity                string // presence entity, e.g. tel:+33612345678
	DeviceID              string // e.g. urn:gsma:imei:35-693803-564380-9; optional
	Timestamp             time.Time
	RetentionExpiry       time.Time
	RetransmissionAllowed bool
	Locations             []Location
}
