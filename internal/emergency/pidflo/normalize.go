package pidflo

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// normalize checks d and returns it as Encode writes it and Decode returns it. Encode and
// Decode both go through it, which is what makes Decode(Encode(d)) == d for every document
// normalize returns, and lets Encode write every document Decode returns. It is idempotent.
//
// Numbers keep the precision the document can carry without noise: degrees to 7 decimals
// (about a centimetre), metres to the millimetre. Uncertainty is rounded outwards (radii
// and axes up, an arc band's inner radius down), as RFC 7459 §5 wants of any rounding.
func normalize(d Document) (Document, error) {
	out := Document{RetransmissionAllowed: d.RetransmissionAllowed}
	out.Entity = strings.TrimSpace(d.Entity)
	if out.Entity == "" {
		return Document{}, errors.New("no entity (RFC 3863 requires the presence entity)")
	}
	if err := checkURI(out.Entity); err != nil {
		return Document{}, fmt.Errorf("entity %q: %v", out.Entity, err)
	}
	out.DeviceID = strings.TrimSpace(d.DeviceID)
	if out.DeviceID != "" {
		if err := checkURI(out.DeviceID); err != nil {
			return Document{}, fmt.Errorf("device ID %q: %v", out.DeviceID, err)
		}
	}
	var err error
	if out.Timestamp, err = normTime(d.Timestamp); err != nil {
		return Document{}, fmt.Errorf("timestamp: %v", err)
	}
	if out.RetentionExpiry, err = normTime(d.RetentionExpiry); err != nil {
		return Document{}, fmt.Errorf("retention-expiry: %v", err)
	}
	if len(d.Locations) == 0 {
		return Document{}, errors.New("no location")
	}
	out.Locations = make([]Location, len(d.Locations))
	for i, l := range d.Locations {
		if out.Locations[i], err = normLocation(l); err != nil {
			return Document{}, fmt.Errorf("location %d: %v", i+1, err)
		}
	}
	return out, nil
}

// normTime puts t in UTC; RFC 3339 (which dm:timestamp and retention-expiry use) has
// four-digit years.
func normTime(t time.Time) (time.Time, error) {
	if t.IsZero() {
		return time.Time{}, nil
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("year %d is outside 0000-9999", y)
	}
	return t, nil
}

// checkURI is a light check of xs:anyURI for entity and deviceID: a scheme (RFC 3986 §3.1)
// and no white space or control character.
func checkURI(s string) error {
	colon := strings.IndexByte(s, ':')
	if colon < 1 {
		return errors.New("not a URI: no scheme")
	}
	for i := 0; i < colon; i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return errors.New("not a URI: bad scheme")
		}
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == utf8.RuneError {
			return errors.New("not a URI: white space or control character")
		}
	}
	return checkText(s)
}

// checkText refuses what XML 1.0 cannot carry (§2.2 Char): control characters, invalid
// UTF-8, U+FFFE and U+FFFF.
func checkText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return errors.New("invalid UTF-8")
			}
		}
		if r < ' ' && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
			return fmt.Errorf("character %U cannot be written in XML", r)
		}
	}
	return nil
}

// collapse is the xs:token white space rule: trim, and one space between words.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func normLocation(l Location) (Location, error) {
	out := Location{Method: strings.TrimSpace(l.Method), ProvidedBy: collapse(l.ProvidedBy)}
	if err := checkText(out.Method); err != nil {
		return Location{}, fmt.Errorf("method: %v", err)
	}
	if err := checkText(out.ProvidedBy); err != nil {
		return Location{}, fmt.Errorf("provided-by: %v", err)
	}
	if l.Civic != nil {
		c, err := normCivic(*l.Civic)
		if err != nil {
			return Location{}, fmt.Errorf("civic address: %v", err)
		}
		if c != (Civic{Lang: c.Lang}) {
			out.Civic = &c
		}
	}
	if l.Shape != nil {
		s, err := normShape(l.Shape)
		if err != nil {
			return Location{}, err
		}
		out.Shape = s
	}
	if out.Shape == nil && out.Civic == nil {
		return Location{}, errors.New("no shape and no civic address")
	}
	switch {
	case l.Confidence == ConfidenceUnknown || l.Confidence >= 0 && l.Confidence < 100:
		out.Confidence = l.Confidence
	case l.Confidence == 100:
		// RFC 7459 §7: the value is below 100; §5: confidence is rounded down.
		out.Confidence = 99
	default:
		return Location{}, fmt.Errorf("confidence %d is not a percentage", l.Confidence)
	}
	switch l.PDF {
	case PDFNormal, PDFRectangular, PDFUnknown:
		out.PDF = l.PDF
	default:
		return Location{}, fmt.Errorf("PDF %q is none of normal, rectangular, unknown (RFC 7459 §4.1)", l.PDF)
	}
	if _, ok := out.Shape.(Point); ok {
		// RFC 7459 §4.1: a point has no uncertainty; the confidence MUST be omitted.
		out.Confidence = 0
	}
	switch out.Confidence {
	case 0:
		out.PDF = PDFNormal
	case ConfidenceUnknown:
		// Nothing is claimed: a normal distribution would be a claim.
		if out.PDF == PDFNormal {
			out.PDF = PDFUnknown
		}
	}
	return out, nil
}

// civicFields lists the elements of RFC 5139 in the order of its schema, an xs:sequence:
// Encode writes them in this order.
func civicFields(c *Civic) []struct {
	name string
	v    *string
} {
	return []struct {
		name string
		v    *string
	}{
		{"country", &c.Country}, {"A1", &c.A1}, {"A2", &c.A2}, {"A3", &c.A3}, {"A4", &c.A4}, {"A5", &c.A5},
		{"A6", &c.A6}, {"PRM", &c.PRM}, {"PRD", &c.PRD}, {"RD", &c.RD}, {"STS", &c.STS}, {"POD", &c.POD},
		{"POM", &c.POM}, {"RDSEC", &c.RDSEC}, {"RDBR", &c.RDBR}, {"RDSUBBR", &c.RDSUBBR}, {"HNO", &c.HNO},
		{"HNS", &c.HNS}, {"LMK", &c.LMK}, {"LOC", &c.LOC}, {"FLR", &c.FLR}, {"NAM", &c.NAM}, {"PC", &c.PC},
		{"BLD", &c.BLD}, {"UNIT", &c.UNIT}, {"ROOM", &c.ROOM}, {"SEAT", &c.SEAT}, {"PLC", &c.PLC},
		{"PCN", &c.PCN}, {"POBOX", &c.POBOX}, {"ADDCODE", &c.ADDCODE},
	}
}

func normCivic(c Civic) (Civic, error) {
	for _, f := range civicFields(&c) {
		*f.v = collapse(*f.v)
		if err := checkText(*f.v); err != nil {
			return Civic{}, fmt.Errorf("%s: %v", f.name, err)
		}
	}
	// RFC 5139: country is an ISO 3166-1 alpha-2 code, two upper-case letters in its schema.
	if c.Country = strings.ToUpper(c.Country); c.Country != "" {
		if len(c.Country) != 2 || c.Country[0] < 'A' || c.Country[0] > 'Z' || c.Country[1] < 'A' || c.Country[1] > 'Z' {
			return Civic{}, fmt.Errorf("country %q is not an ISO 3166 alpha-2 code", c.Country)
		}
	}
	c.Lang = strings.TrimSpace(c.Lang)
	if c.Lang != "" && !isLanguage(c.Lang) {
		return Civic{}, fmt.Errorf("xml:lang %q is not a language tag", c.Lang)
	}
	return c, nil
}

// isLanguage checks the xs:language pattern: [a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*.
func isLanguage(s string) bool {
	for i, part := range strings.Split(s, "-") {
		if len(part) < 1 || len(part) > 8 {
			return false
		}
		for _, c := range []byte(part) {
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// Quantisation: degrees to 7 decimals, metres to the millimetre. Each function is
// idempotent, and strconv's shortest formatting of its result parses back to it exactly.

func qDeg(v float64) float64 { return noNegZero(math.Round(v*1e7) / 1e7) }

func qMetre(v float64) float64 { return noNegZero(math.Round(v*1e3) / 1e3) }

// qUp and qDown round to the millimetre away from and towards zero; the 1e-3 slack keeps a
// value already on a millimetre where it is despite the binary error of v*1e3.
func qUp(v float64) float64 { return noNegZero(math.Ceil(v*1e3-1e-3) / 1e3) }

func qDown(v float64) float64 { return noNegZero(math.Floor(v*1e3+1e-3) / 1e3) }

func noNegZero(v float64) float64 {
	if v == 0 {
		return 0
	}
	return v
}

func latLon(lat, lon float64) (float64, float64, error) {
	lat, lon = qDeg(lat), qDeg(lon)
	if !(lat >= -90 && lat <= 90) {
		return 0, 0, fmt.Errorf("latitude %v is not within ±90°", lat)
	}
	if !(lon >= -180 && lon <= 180) {
		return 0, 0, fmt.Errorf("longitude %v is not within ±180°", lon)
	}
	return lat, lon, nil
}

func altitude(v float64) (float64, error) {
	v = qMetre(v)
	if !(math.Abs(v) <= MaxDistance) {
		return 0, fmt.Errorf("altitude %v m is not within ±%v m", v, MaxDistance)
	}
	return v, nil
}

// distance checks a length in metres, cuts it to MaxDistance and rounds it with round.
func distance(v float64, what string, round func(float64) float64) (float64, error) {
	if !(v >= 0) || math.IsInf(v, 1) {
		return 0, fmt.Errorf("%s %v is not a length in metres", what, v)
	}
	return round(math.Min(v, MaxDistance)), nil
}

// angle brings an angle in degrees into [0, period).
func angle(v, period float64, what string) (float64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s %v is not an angle", what, v)
	}
	v = math.Mod(v, period)
	if v < 0 {
		v += period
	}
	if v = qDeg(v); v >= period {
		v = 0
	}
	return v, nil
}

func normShape(s Shape) (Shape, error) {
	var err error
	switch s := s.(type) {
	case Point:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		if s.Alt != nil {
			a, err := altitude(*s.Alt)
			if err != nil {
				return nil, err
			}
			s.Alt = &a
		}
		return s, nil
	case Circle:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		if s.Radius, err = distance(s.Radius, "circle radius", qUp); err != nil {
			return nil, err
		}
		return s, nil
	case Ellipse:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		s.SemiMajor, s.SemiMinor, s.Orientation, err = axes(s.SemiMajor, s.SemiMinor, s.Orientation)
		if err != nil {
			return nil, err
		}
		return s, nil
	case ArcBand:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		if s.InnerRadius, err = distance(s.InnerRadius, "inner radius", qDown); err != nil {
			return nil, err
		}
		if s.OuterRadius, err = distance(s.OuterRadius, "outer radius", qUp); err != nil {
			return nil, err
		}
		if s.InnerRadius > s.OuterRadius {
			return nil, fmt.Errorf("arc band inner radius %v m is beyond its outer radius %v m", s.InnerRadius, s.OuterRadius)
		}
		if s.StartAngle, err = angle(s.StartAngle, 360, "start angle"); err != nil {
			return nil, err
		}
		if s.OpeningAngle = qDeg(s.OpeningAngle); !(s.OpeningAngle > 0 && s.OpeningAngle <= 360) {
			return nil, fmt.Errorf("opening angle %v° is not within (0°, 360°]", s.OpeningAngle)
		}
		return s, nil
	case Polygon:
		if s.Points, err = ring(s.Points); err != nil {
			return nil, err
		}
		if s.Alt != nil {
			a, err := altitude(*s.Alt)
			if err != nil {
				return nil, err
			}
			s.Alt = &a
		}
		return s, nil
	case Sphere:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		if s.Alt, err = altitude(s.Alt); err != nil {
			return nil, err
		}
		if s.Radius, err = distance(s.Radius, "sphere radius", qUp); err != nil {
			return nil, err
		}
		return s, nil
	case Ellipsoid:
		if s.Lat, s.Lon, err = latLon(s.Lat, s.Lon); err != nil {
			return nil, err
		}
		if s.Alt, err = altitude(s.Alt); err != nil {
			return nil, err
		}
		s.SemiMajor, s.SemiMinor, s.Orientation, err = axes(s.SemiMajor, s.SemiMinor, s.Orientation)
		if err != nil {
			return nil, err
		}
		if s.Vertical, err = distance(s.Vertical, "vertical axis", qUp); err != nil {
			return nil, err
		}
		return s, nil
	case Prism:
		if s.Points, err = ring(s.Points); err != nil {
			return nil, err
		}
		if s.Alt, err = altitude(s.Alt); err != nil {
			return nil, err
		}
		// RFC 5491 §5.2.8: the height of a prism MUST be positive.
		if s.Height, err = distance(s.Height, "prism height", qUp); err != nil || s.Height == 0 {
			return nil, fmt.Errorf("prism height %v m is not positive", s.Height)
		}
		return s, nil
	case nil:
		return nil, errors.New("no shape")
	}
	return nil, fmt.Errorf("unknown shape %T", s)
}

// axes normalises the horizontal axes of an ellipse or ellipsoid: the semi-major axis is
// the longer one (swapping turns the orientation by 90°), and since an ellipse is
// symmetrical the orientation is brought into [0°, 180°).
func axes(major, minor, orientation float64) (float64, float64, float64, error) {
	var err error
	if major, err = distance(major, "semi-major axis", qUp); err != nil {
		return 0, 0, 0, err
	}
	if minor, err = distance(minor, "semi-minor axis", qUp); err != nil {
		return 0, 0, 0, err
	}
	if minor > major {
		major, minor = minor, major
		orientation += 90
	}
	if orientation, err = angle(orientation, 180, "orientation"); err != nil {
		return 0, 0, 0, err
	}
	return major, minor, orientation, nil
}

// ring normalises the vertices of a polygon (RFC 5491 §5.1, §5.2.2): quantised, without
// repeated consecutive vertices, closed (the last vertex repeats the first), at most
// MaxPolygonPoints distinct vertices, counter-clockwise ("upward normal pointing up"), and
// with no edge crossing or touching another. The geometry is computed in a plane tangent
// at the polygon, which is what RFC 5491 §5.1 assumes with straight edges of at most 130 km.
func ring(points [][2]float64) ([][2]float64, error) {
	if len(points) > 2*MaxPolygonPoints+2 {
		return nil, fmt.Errorf("polygon has %d vertices, more than %d", len(points), MaxPolygonPoints)
	}
	pts := make([][2]float64, 0, len(points)+1)
	for _, p := range points {
		lat, lon, err := latLon(p[0], p[1])
		if err != nil {
			return nil, fmt.Errorf("polygon vertex: %v", err)
		}
		q := [2]float64{lat, lon}
		if len(pts) == 0 || pts[len(pts)-1] != q {
			pts = append(pts, q)
		}
	}
	if len(pts) > 0 && pts[0] != pts[len(pts)-1] {
		pts = append(pts, pts[0])
	}
	n := len(pts) - 1
	if n < 3 {
		return nil, errors.New("polygon has fewer than 3 distinct vertices")
	}
	if n > MaxPolygonPoints {
		return nil, fmt.Errorf("polygon has %d vertices, more than %d", n, MaxPolygonPoints)
	}
	xy := plane(pts)
	var area, minX, maxX, minY, maxY float64
	minX, maxX, minY, maxY = xy[0][0], xy[0][0], xy[0][1], xy[0][1]
	for i := 0; i < n; i++ {
		area += xy[i][0]*xy[i+1][1] - xy[i+1][0]*xy[i][1]
		minX, maxX = math.Min(minX, xy[i][0]), math.Max(maxX, xy[i][0])
		minY, maxY = math.Min(minY, xy[i][1]), math.Max(maxY, xy[i][1])
	}
	if math.Abs(area) <= 1e-12*(maxX-minX)*(maxY-minY) {
		return nil, errors.New("polygon has no area")
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if edgesMeet(xy, n, i, j) {
				return nil, fmt.Errorf("polygon edges %d and %d cross or touch (RFC 5491 §5.1)", i+1, j+1)
			}
		}
	}
	if area < 0 {
		for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
			pts[i], pts[j] = pts[j], pts[i]
		}
	}
	return pts, nil
}

// plane projects lat, lon vertices on a plane: y is the latitude, x the longitude east of
// the first vertex (across the antimeridian if need be) shrunk by the cosine of the mean
// latitude, so that both axes have about the same scale.
func plane(pts [][2]float64) [][2]float64 {
	var mean float64
	for _, p := range pts {
		mean += p[0]
	}
	mean /= float64(len(pts))
	scale := math.Max(math.Cos(mean*math.Pi/180), 1e-3)
	out := make([][2]float64, len(pts))
	for i, p := range pts {
		dl := p[1] - pts[0][1]
		if dl > 180 {
			dl -= 360
		} else if dl < -180 {
			dl += 360
		}
		out[i] = [2]float64{dl * scale, p[0]}
	}
	return out
}

// orient is the sign of the turn a→b→c: 1 counter-clockwise, -1 clockwise, 0 collinear
// (within a relative tolerance for the binary error of the coordinates).
func orient(a, b, c [2]float64) int {
	ux, uy, vx, vy := b[0]-a[0], b[1]-a[1], c[0]-a[0], c[1]-a[1]
	cross := ux*vy - uy*vx
	if math.Abs(cross) <= 1e-12*math.Hypot(ux, uy)*math.Hypot(vx, vy) {
		return 0
	}
	if cross > 0 {
		return 1
	}
	return -1
}

// within tells whether c, collinear with a and b, lies on the segment ab.
func within(a, b, c [2]float64) bool {
	return math.Min(a[0], b[0]) <= c[0] && c[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= c[1] && c[1] <= math.Max(a[1], b[1])
}

// edgesMeet tells whether edges i and j (i < j) of the closed ring xy of n edges cross or
// touch; adjacent edges may only share their common vertex.
func edgesMeet(xy [][2]float64, n, i, j int) bool {
	a, b, c, d := xy[i], xy[i+1], xy[j], xy[j+1]
	switch {
	case j == i+1: // b == c
		return orient(a, b, d) == 0 && (within(a, b, d) || within(c, d, a))
	case i == 0 && j == n-1: // a == d
		return orient(c, a, b) == 0 && (within(a, b, c) || within(c, d, b))
	}
	o1, o2, o3, o4 := orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return o1 == 0 && within(a, b, c) || o2 == 0 && within(a, b, d) ||
		o3 == 0 && within(c, d, a) || o4 == 0 && within(c, d, b)
}

// Center of a Point is itself.
func (p Point) Center() (lat, lon float64) { return p.Lat, p.Lon }

// Center of a Circle is its centre.
func (c Circle) Center() (lat, lon float64) { return c.Lat, c.Lon }

// Center of an Ellipse is its centre.
func (e Ellipse) Center() (lat, lon float64) { return e.Lat, e.Lon }

// Center of a Sphere is its centre.
func (s Sphere) Center() (lat, lon float64) { return s.Lat, s.Lon }

// Center of an Ellipsoid is its centre.
func (e Ellipsoid) Center() (lat, lon float64) { return e.Lat, e.Lon }

// Center of a Polygon is its centroid (RFC 7459 §5.1.1.2, on a locally flat Earth).
func (p Polygon) Center() (lat, lon float64) { return centroid(p.Points) }

// Center of a Prism is the centroid of its base.
func (p Prism) Center() (lat, lon float64) { return centroid(p.Points) }

// Center of an ArcBand is the centroid of RFC 7459 §5.1.1.1, on the line that bisects the
// arc, at 4·sin(o/2)·(R²+Rr+r²) / (3·o·(R+r)) from the centre point.
func (a ArcBand) Center() (lat, lon float64) {
	o := a.OpeningAngle * math.Pi / 180
	r, R := a.InnerRadius, a.OuterRadius
	if o <= 0 || R+r <= 0 {
		return a.Lat, a.Lon
	}
	d := 4 * math.Sin(o/2) * (R*R + R*r + r*r) / (3 * o * (R + r))
	return destination(a.Lat, a.Lon, a.StartAngle+a.OpeningAngle/2, d)
}

// destination is the point d metres from lat, lon on the bearing (degrees from north), on a
// sphere of the Earth's mean radius.
func destination(lat, lon, bearing, d float64) (float64, float64) {
	const earth = 6371008.8
	φ1, λ1, θ, δ := lat*math.Pi/180, lon*math.Pi/180, bearing*math.Pi/180, d/earth
	φ2 := math.Asin(math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ))
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*math.Sin(φ2))
	lon2 := math.Mod(λ2*180/math.Pi+540, 360) - 180
	return φ2 * 180 / math.Pi, lon2
}

// centroid of a ring of lat, lon vertices, closed or not; the mean of the vertices when
// the ring has no area.
func centroid(points [][2]float64) (lat, lon float64) {
	if len(points) == 0 {
		return 0, 0
	}
	pts := append([][2]float64(nil), points...)
	if len(pts) == 1 {
		return pts[0][0], pts[0][1]
	}
	if pts[0] != pts[len(pts)-1] {
		pts = append(pts, pts[0])
	}
	xy := plane(pts)
	var a, cx, cy, mx, my float64
	for i := 0; i+1 < len(xy); i++ {
		cross := xy[i][0]*xy[i+1][1] - xy[i+1][0]*xy[i][1]
		a += cross
		cx += (xy[i][0] + xy[i+1][0]) * cross
		cy += (xy[i][1] + xy[i+1][1]) * cross
		mx += xy[i][0]
		my += xy[i][1]
	}
	if a == 0 {
		n := float64(len(xy) - 1)
		cx, cy = mx/n, my/n
	} else {
		cx, cy = cx/(3*a), cy/(3*a)
	}
	var mean float64
	for _, p := range pts {
		mean += p[0]
	}
	mean /= float64(len(pts))
	scale := math.Max(math.Cos(mean*math.Pi/180), 1e-3)
	lon = math.Mod(pts[0][1]+cx/scale+540, 360) - 180
	return cy, lon
}
