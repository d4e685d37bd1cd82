package aml

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// knownHTTPS are ELS fields socle reads, or knows and keeps verbatim in Extra without a
// warning (device model, cell id...).
var knownHTTPS = map[string]bool{
	"v": true, "emergency_number": true, "time": true, "device_number": true, "device_imei": true,
	"device_imsi": true, "location_latitude": true, "location_longitude": true, "location_time": true,
	"location_accuracy": true, "location_confidence": true, "location_certainty": true,
	"location_altitude": true, "location_vertical_accuracy": true, "location_source": true,
	"cell_home_mcc": true, "cell_home_mnc": true, "cell_network_mcc": true, "cell_network_mnc": true,
}

var keptHTTPS = map[string]bool{
	"thunderbird_version": true, "source": true, "gt_location_latitude": true, "gt_location_longitude": true,
	"location_floor": true, "location_bearing": true, "location_speed": true, "device_model": true,
	"device_language": true, "device_os": true, "cell_carrier": true, "cell_id": true, "hmac": true,
}

// ParseHTTPS reads the HTTPS form: application/x-www-form-urlencoded fields as the handset's
// Emergency Location Service posts them (ETSI TS 103 625 §7). Times are milliseconds since
// the Unix epoch; accuracy is a radius in metres at the given confidence (percent).
func ParseHTTPS(body []byte) (Message, []Finding) {
	return parseHTTPS(body, time.Now())
}

func parseHTTPS(body []byte, now time.Time) (Message, []Finding) {
	m := Message{Format: FormatHTTPS}
	var f findings
	values, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil {
		f.warn("body", "part of the form is not valid URL encoding: "+strings.TrimPrefix(err.Error(), "invalid URL escape "))
	}
	get := func(k string) string {
		v := values[k]
		if len(v) == 0 {
			return ""
		}
		if len(v) > 1 {
			f.warn(k, "given more than once: the first value is used")
		}
		return strings.TrimSpace(v[0])
	}
	m.Version = get("v")
	if m.Version == "" {
		f.warn("v", "missing: the format version should be given")
	}
	if n := get("emergency_number"); n != "" {
		if shortNumbers[n] {
			m.EmergencyNumber = n
		} else {
			f.warn("emergency_number", "not a known emergency short number: ignored")
		}
	}
	if s := get("time"); s != "" {
		if t, ok := epochMillis(s, "time", &f); ok {
			m.Time = t
		}
	}
	if s := get("device_number"); s != "" {
		if n, ok := normaliseE164(s); ok {
			m.DeviceNumber = n
		} else {
			f.fail("device_number", "not an international number in E.164 form (+33612345678)")
		}
	}
	m.IMEI, m.IMSI = get("device_imei"), get("device_imsi")
	if m.IMEI != "" && !digits(m.IMEI, 14, 16) {
		f.warn("device_imei", "an IMEI has 14 to 16 digits")
	}
	if m.IMSI != "" && !digits(m.IMSI, 6, 15) {
		f.warn("device_imsi", "an IMSI has at most 15 digits")
	}
	m.HomeMCC, m.HomeMNC = network(get("cell_home_mcc"), get("cell_home_mnc"), "cell_home", &f)
	m.NetworkMCC, m.NetworkMNC = network(get("cell_network_mcc"), get("cell_network_mnc"), "cell_network", &f)

	lat, latOK := coordinate(get("location_latitude"), "location_latitude", 90, &f)
	lon, lonOK := coordinate(get("location_longitude"), "location_longitude", 180, &f)
	if latOK && lonOK && noPosition(lat, lon) {
		m.NoLocation = true
		f.warn("location_latitude", "latitude and longitude both 0: read as no location")
		latOK = false
	}
	if latOK && lonOK {
		l := &Location{Latitude: lat, Longitude: lon, Source: source(get("location_source"), "location_source", &f)}
		if s := get("location_accuracy"); s != "" {
			l.Accuracy = metres(s, "location_accuracy", &f)
		}
		conf := get("location_confidence")
		if conf == "" {
			conf = get("location_certainty") // the name in earlier ELS versions
		}
		if conf != "" {
			l.Confidence = fraction(conf, "location_confidence", &f)
		}
		if s := get("location_altitude"); s != "" {
			if a, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(a) && !math.IsInf(a, 0) {
				l.Altitude = &a
			} else {
				f.warn("location_altitude", "not a number of metres")
			}
		}
		if s := get("location_vertical_accuracy"); s != "" {
			if a := metres(s, "location_vertical_accuracy", &f); a > 0 {
				l.VerticalAccuracy = &a
			}
		}
		if s := get("location_time"); s != "" {
			if t, ok := epochMillis(s, "location_time", &f); ok {
				l.Time = t
			}
		}
		m.Location = l
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if knownHTTPS[k] {
			continue
		}
		if k == "" {
			f.warn("body", "a field without a name: ignored")
			continue
		}
		if m.Extra == nil {
			m.Extra = map[string]string{}
		}
		m.Extra[k] = values[k][0]
		if !keptHTTPS[k] {
			f.warn(k, "unknown field: kept, not used")
		}
	}
	f.checkTimes(&m, "location_time", now)
	f.require(&m, "location_latitude", "location_longitude", "device_number")
	return m, f
}

func epochMillis(s, field string, f *findings) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		f.warn(field, "not a time in milliseconds since 1970-01-01")
		return time.Time{}, false
	}
	if n < 100_000_000_000 { // before 1973 in ms: surely seconds
		f.warn(field, "looks like seconds, not milliseconds: read as seconds")
		return time.Unix(n, 0).UTC(), true
	}
	return time.UnixMilli(n).UTC(), true
}

// coordinate parses a latitude or longitude; out of range or unparseable is an error.
func coordinate(s, field string, limit float64, f *findings) (float64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < -limit || v > limit {
		if limit == 90 {
			f.fail(field, "must be a latitude between -90 and 90 degrees")
		} else {
			f.fail(field, "must be a longitude between -180 and 180 degrees")
		}
		return 0, false
	}
	return v, true
}

func metres(s, field string, f *findings) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1_000_000 {
		f.warn(field, "must be a distance in metres, from 0 to 1000000: ignored")
		return 0
	}
	return v
}

// fraction reads the HTTPS format's confidence: a probability from 0 to 1 (ETSI TS 103 625
// §7, "location_confidence", e.g. 0.68), stored as a percentage. A value above 1 and up to
// 100 is a percentage sent by mistake: read as one, with a warning, since emergency data is
// read tolerantly and no public sample shows it.
func fraction(s, field string, f *findings) int {
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || !(v >= 0 && v <= 100): // NaN too
		f.warn(field, "must be a probability from 0 to 1: ignored")
		return 0
	case v > 1:
		f.warn(field, "above 1: read as a percentage, but the format gives a probability from 0 to 1")
		return int(math.Round(v))
	}
	return int(math.Round(v * 100))
}

func percent(s, field string, f *findings) int {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 100) { // NaN too: int(NaN) is any integer
		f.warn(field, "must be a percentage from 0 to 100: ignored")
		return 0
	}
	return int(math.Round(v))
}

func source(s, field string, f *findings) Source {
	switch strings.ToLower(s) {
	case "gps", "gnss", "g":
		return SourceGPS
	case "wifi", "w":
		return SourceWiFi
	case "cell", "c":
		return SourceCell
	case "fused", "f":
		return SourceFused
	case "", "n", "none", "unknown":
		return SourceUnknown
	}
	f.warn(field, "unknown positioning source: read as unknown")
	return SourceUnknown
}

// network checks an MCC (3 digits) and MNC (2 or 3 digits), as in ITU-T E.212.
func network(mcc, mnc, prefix string, f *findings) (string, string) {
	if mcc == "" && mnc == "" {
		return "", ""
	}
	ok := true
	if !digits(mcc, 3, 3) {
		f.warn(prefix+"_mcc", "an MCC has 3 digits: ignored")
		ok = false
	}
	if !digits(mnc, 2, 3) {
		f.warn(prefix+"_mnc", "an MNC has 2 or 3 digits: ignored")
		ok = false
	}
	if !ok {
		return "", ""
	}
	return mcc, mnc
}
