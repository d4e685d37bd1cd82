// Package pidflo writes and reads PIDF-LO documents (RFC 4119), the location format
// emergency centres receive (Content-Type application/pidf+xml):
//
//   - the eight geodetic shapes of the GML profile RFC 5491 §5 makes mandatory to implement:
//     Point, Polygon, Circle, Ellipse, ArcBand (two-dimensional) and Sphere, Ellipsoid,
//     Prism (three-dimensional), in the CRSs and units of RFC 5491 §5;
//   - civic addresses (RFC 5139);
//   - confidence (RFC 7459 §4), method (RFC 4119 §2.2.3), provided-by (§2.2.4) and the basic
//     usage rules (RFC 4119 §2.2.2);
//   - the placement rules of RFC 5491 §3: one geopriv per dm:device (RFC 4479) or tuple
//     (Rule #2), dm:device first when the device is known (Rule #8).
//
// Encode and Decode share one set of checks and one normalisation, so a document Decode
// accepts always encodes, and decodes back to itself.
package pidflo

import (
	"errors"
	"time"
)

// Namespaces of the documents (RFC 3863, 4479, 4119, 5139, 5491, 7459).
const (
	NSPIDF = "urn:ietf:params:xml:ns:pidf"
	NSDM   = "urn:ietf:params:xml:ns:pidf:data-model"
	NSGP   = "urn:ietf:params:xml:ns:pidf:geopriv10"
	NSGBP  = "urn:ietf:params:xml:ns:pidf:geopriv10:basicPolicy"
	NSGML  = "http://www.opengis.net/gml"
	NSGS   = "http://www.opengis.net/pidflo/1.0"
	NSCA   = "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
	NSCON  = "urn:ietf:params:xml:ns:geopriv:conf"
	nsXML  = "http://www.w3.org/XML/1998/namespace"

	// NSProvider is socle's namespace for the one element it writes inside provided-by.
	NSProvider = "urn:socle:xml:ns:pidf:provided-by"
)

// Coordinate reference systems and units of measure, by the URNs RFC 5491 §5 requires.
const (
	CRS2D     = "urn:ogc:def:crs:EPSG::4326" // WGS 84 latitude, longitude
	CRS3D     = "urn:ogc:def:crs:EPSG::4979" // WGS 84 latitude, longitude, altitude
	UOMMetre  = "urn:ogc:def:uom:EPSG::9001"
	UOMDegree = "urn:ogc:def:uom:EPSG::9102"
	UOMRadian = "urn:ogc:def:uom:EPSG::9101" // read, converted to degrees
)

// Limits.
const (
	// MaxSize is the largest document Decode reads, and Encode writes, in bytes.
	MaxSize = 64 << 10
	// MaxDepth is the deepest element nesting Decode reads (a Prism, the deepest shape,
	// sits at depth 11).
	MaxDepth = 32
	// MaxPolygonPoints is the most distinct vertices a Polygon or a Prism's base may have.
	// RFC 5491 §5.1 recommends 15 for real-time use; this bound keeps the self-crossing
	// check cheap while reading what other implementations send.
	MaxPolygonPoints = 64
	// MaxDistance is the largest distance, in metres, a radius, axis or height keeps:
	// larger ones are cut to it. It is half the Earth's circumference, so a circle of this
	// radius already covers the whole Earth. Altitudes must lie within ±MaxDistance.
	MaxDistance = 2e7
)

// Errors a caller can recognise with errors.Is.
var (
	// ErrUnsafeXML: a document over MaxSize bytes, nested deeper than MaxDepth, or carrying
	// a DOCTYPE or any other declaration (external entities, entity expansion).
	ErrUnsafeXML = errors.New("pidflo: unsafe XML")
	// ErrNotPIDFLO: a document that is not well-formed XML, or not a PIDF-LO document
	// socle can use.
	ErrNotPIDFLO = errors.New("pidflo: not a usable PIDF-LO document")
	// ErrUnsupported comes wrapped with ErrNotPIDFLO when the document is PIDF-LO but uses
	// something this package does not read: another CRS or unit, a shape outside RFC 5491.
	ErrUnsupported = errors.New("unsupported")
	// ErrInvalid: Encode was given a document it cannot write (no entity, no location, a
	// latitude out of range, a self-crossing polygon...).
	ErrInvalid = errors.New("pidflo: invalid document")
)

// Shape is a geodetic shape of RFC 5491 §5.
type Shape interface {
	// Center is the point RFC 7459 §5.1 reduces the shape to: the centre of circles,
	// ellipses, spheres and ellipsoids, the centroid of polygons, prisms and arc bands.
	Center() (lat, lon float64)
	isShape()
}

// Point is a position (RFC 5491 §5.2.1), in the 3D CRS when it has an altitude. A point
// has no uncertainty: it never carries a confidence (RFC 7459 §4.1).
type Point struct {
	Lat, Lon float64
	Alt      *float64 // metres above the WGS 84 ellipsoid; nil: a 2D point
}

// Circle is a position and a radius in metres (RFC 5491 §5.2.3), two-dimensional.
type Circle struct{ Lat, Lon, Radius float64 }

// Ellipse is a position, semi-axes in metres and the orientation of the semi-major axis in
// degrees clockwise from true north (RFC 5491 §5.2.4), two-dimensional.
type Ellipse struct{ Lat, Lon, SemiMajor, SemiMinor, Orientation float64 }

// ArcBand is the area between two radii around a position, from a start angle over an
// opening angle, in degrees clockwise from north (RFC 5491 §5.2.5), two-dimensional: what
// a timing advance around a cell site gives.
type ArcBand struct {
	Lat, Lon                 float64
	InnerRadius, OuterRadius float64 // metres
	StartAngle, OpeningAngle float64 // degrees
}

// Polygon is a ring of lat, lon vertices (RFC 5491 §5.1, §5.2.2). Encode and Decode give it
// back closed (the last vertex equal to the first) and counter-clockwise, as §5.1 requires;
// it may not cross itself. Alt, when set, puts every vertex at that altitude in the 3D CRS.
type Polygon struct {
	Points [][2]float64
	Alt    *float64
}

// Sphere is a 3D position and a radius in metres (RFC 5491 §5.2.6).
type Sphere struct{ Lat, Lon, Alt, Radius float64 }

// Ellipsoid is a 3D position, semi-major, semi-minor and vertical semi-axes in metres, and
// the orientation of the semi-major axis in degrees from north (RFC 5491 §5.2.7).
type Ellipsoid struct {
	Lat, Lon, Alt                  float64
	SemiMajor, SemiMinor, Vertical float64
	Orientation                    float64
}

// Prism is a polygon base at altitude Alt extruded upwards by Height metres (RFC 5491
// §5.2.8). Its base follows the rules of Polygon.
type Prism struct {
	Points      [][2]float64
	Alt, Height float64
}

func (Point) isShape()     {}
func (Circle) isShape()    {}
func (Ellipse) isShape()   {}
func (ArcBand) isShape()   {}
func (Polygon) isShape()   {}
func (Sphere) isShape()    {}
func (Ellipsoid) isShape() {}
func (Prism) isShape()     {}

// Civic is a civic address (RFC 5139), every element of its schema. Values are
// xs:token: Encode and Decode trim them and collapse inner white space.
type Civic struct {
	Lang    string // xml:lang of the address, e.g. "fr"; optional
	Country string // ISO 3166 alpha-2, upper case
	A1      string // national subdivision (région)
	A2      string // county (département)
	A3      string // city (commune)
	A4      string // city division (arrondissement)
	A5      string // neighbourhood
	A6      string // street
	PRM     string // road pre-modifier
	PRD     string // leading street direction
	RD      string // primary road name
	STS     string // street suffix
	POD     string // trailing street suffix
	POM     string // road post-modifier
	RDSEC   string // road section
	RDBR    string // road branch
	RDSUBBR string // road sub-branch
	HNO     string // house number
	HNS     string // house number suffix (bis, ter)
	LMK     string // landmark
	LOC     string // additional location
	FLR     string // floor
	NAM     string // name of the place
	PC      string // postal code
	BLD     string // building
	UNIT    string // unit
	ROOM    string // room
	SEAT    string // seat
	PLC     string // place type
	PCN     string // postal community name
	POBOX   string // post office box
	ADDCODE string // additional code
}

// PDF is the probability density of a location's uncertainty (RFC 7459 §4.1).
type PDF string

// Values of PDF.
const (
	PDFNormal      PDF = "" // written pdf="normal": many small independent errors (GPS, network fixes)
	PDFRectangular PDF = "rectangular"
	PDFUnknown     PDF = "unknown" // also what an absent pdf attribute means
)

// ConfidenceUnknown is the Confidence that writes the "unknown" value of RFC 7459 §4.1:
// confidence is supported, but not known for this location.
const ConfidenceUnknown = -1

// Location is one location-info element: a shape, a civic address, or both (a compound
// location, RFC 5491 §3 Rules #6 and #7: the shape first, the civic address refining it).
type Location struct {
	Shape Shape
	Civic *Civic
	// Confidence is the percentage of RFC 7459 §4.1, 1 to 99 (100 is written as 99, the
	// schema excluding 100), or ConfidenceUnknown. 0 leaves the element out, which receivers
	// read as 95% (RFC 7459 §4.1, RFC 5491 §5). RFC 7459 §4.2 wants it for every shape but
	// a Point; for a Point it is always left out (§4.1).
	Confidence int
	PDF        PDF // shape of the uncertainty, when Confidence is set
	// Method is how the location was found, a token of the IANA "Method Tokens" registry
	// RFC 4119 created: GPS, A-GPS, Manual, DHCP, Triangulation, Cell, 802.11, Wiremap...
	Method string
	// ProvidedBy names the source of the location, as text. RFC 4119 §2.2.4 makes the
	// element a container for elements of registered namespaces; Decode keeps their text.
	ProvidedBy string
}

// Document is a PIDF-LO document about one target.
type Document struct {
	// Entity is the presence entity, a URI: tel:+33612345678, pres:..., sip:...
	Entity string
	// DeviceID identifies the device (RFC 4479 deviceID, a URI): urn:gsma:imei:... (RFC
	// 7254), imsi:... With one, locations go in dm:device elements, which RFC 5491 §3
	// Rule #8 ranks first; RFC 4479 requires the deviceID there, so without one they go in
	// tuple elements, ranked next.
	DeviceID string
	// Timestamp is when the location was determined (dm:timestamp, or the tuple's
	// timestamp, RFC 3339); zero leaves it out.
	Timestamp time.Time
	// RetentionExpiry is when recipients must forget the location (RFC 4119 §2.2.2
	// retention-expiry); zero leaves it out.
	RetentionExpiry time.Time
	// RetransmissionAllowed lets recipients pass the location on (RFC 4119 §2.2.2); false,
	// the default, forbids it.
	RetransmissionAllowed bool
	// Locations are descriptions of where the target is, in order of preference: each goes
	// in its own dm:device or tuple (RFC 5491 §3 Rule #2), and Decode returns them in the
	// order Rule #8 gives: devices, then tuples, then persons.
	Locations []Location
}
