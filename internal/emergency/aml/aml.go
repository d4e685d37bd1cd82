// Package aml reads Advanced Mobile Location messages as handsets send them and operators
// relay them: the HTTPS form (ETSI TS 103 625 §7 / Android Emergency Location Service),
// SMS version 1 (ETSI TS 103 625 §6, `A"ML=1;...`) and the compact SMS version 2
// (`A"ML=2;...`).
//
// Tolerant reader, exact judge: parsing never fails outright. It returns what it understood
// and a finding for everything it did not like, each naming the field and the reason; a
// finding of severity error makes the message unusable (no location, no caller number).
package aml

import (
	"mime"
	"strings"
	"time"
	"unicode/utf8"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	Warning Severity = "warning"
	Error   Severity = "error"
)

// Finding is one thing wrong with a message.
type Finding struct {
	Field    string   `json:"field"`
	Reason   string   `json:"reason"`
	Severity Severity `json:"severity"`
}

// Format of a message.
type Format string

// Formats.
const (
	FormatHTTPS   Format = "https"
	FormatSMSv1   Format = "sms-v1"
	FormatSMSv2   Format = "sms-v2"
	FormatUnknown Format = "unknown"
)

// Source is how the handset found its position, normalised across formats.
type Source string

// Sources.
const (
	SourceGPS     Source = "gps"
	SourceWiFi    Source = "wifi"
	SourceCell    Source = "cell"
	SourceFused   Source = "fused"
	SourceUnknown Source = "unknown"
)

// Location is the handset's position.
type Location struct {
	Latitude         float64   `json:"latitude"`             // WGS 84 degrees
	Longitude        float64   `json:"longitude"`            // WGS 84 degrees
	Accuracy         float64   `json:"accuracy,omitempty"`   // horizontal radius, metres
	Confidence       int       `json:"confidence,omitempty"` // percent
	Altitude         *float64  `json:"altitude,omitempty"`   // metres
	VerticalAccuracy *float64  `json:"vertical_accuracy,omitempty"`
	Time             time.Time `json:"time,omitzero"` // time of positioning, UTC
	Source           Source    `json:"source"`
}

// Message is an AML message as understood.
type Message struct {
	Format          Format    `json:"format"`
	Version         string    `json:"version"`
	EmergencyNumber string    `json:"emergency_number,omitempty"` // short number dialled
	DeviceNumber    string    `json:"device_number,omitempty"`    // E.164 with '+'
	IMEI            string    `json:"imei,omitempty"`
	IMSI            string    `json:"imsi,omitempty"`
	Time            time.Time `json:"time,omitzero"` // of the call or message, UTC
	Location        *Location `json:"location,omitempty"`
	// NoLocation: the handset said it had no position (SMS pm=N or ls=N, the zero
	// coordinates the formats use for it). The call happened and is recorded; there is no
	// place to route by or to serve, and none is invented.
	NoLocation bool              `json:"no_location,omitempty"`
	HomeMCC    string            `json:"home_mcc,omitempty"`
	HomeMNC    string            `json:"home_mnc,omitempty"`
	NetworkMCC string            `json:"network_mcc,omitempty"`
	NetworkMNC string            `json:"network_mnc,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"` // fields not understood, verbatim
}

// MaxSize is the largest message judged usable: an AML message is a few hundred bytes.
const MaxSize = 8 << 10

// NoFix reports whether a message is a well-formed "no location" message: the handset
// called, said where it was not able to say, and the caller's number is known.
func NoFix(m Message, findings []Finding) bool {
	if !m.NoLocation || m.Location != nil || m.DeviceNumber == "" {
		return false
	}
	for _, f := range findings {
		if f.Severity == Error {
			return false
		}
	}
	return true
}

// noPosition reports whether a position is the formats' way of saying "none": both
// coordinates zero (ETSI TS 103 625 §6's example of a message without location gives
// lt=+00.00000 and lg=+000.00000 with pm=N). 0,0 lies in the Gulf of Guinea, where no French
// network serves a handset.
func noPosition(lat, lon float64) bool { return lat == 0 && lon == 0 }

// Usable reports whether a message can be routed: it has a location and a caller number and
// no finding of severity error.
func Usable(m Message, findings []Finding) bool {
	if m.Location == nil || m.DeviceNumber == "" {
		return false
	}
	for _, f := range findings {
		if f.Severity == Error {
			return false
		}
	}
	return true
}

// Parse reads body according to its media type. deviceNumber is the caller's number as the
// operator gives it in the Device-Number header, used by the SMS formats, which do not carry
// it (the SMS's originating address does).
func Parse(contentType string, body []byte, deviceNumber string) (Message, []Finding) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	if len(body) > MaxSize {
		return Message{Format: FormatUnknown}, []Finding{{Field: "body", Severity: Error,
			Reason: "larger than 8 KiB: not an AML message"}}
	}
	if !utf8.Valid(body) {
		return Message{Format: FormatUnknown}, []Finding{{Field: "body", Severity: Error, Reason: "not valid UTF-8 text"}}
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		return ParseHTTPS(body)
	case "text/plain":
		return ParseSMS(body, deviceNumber)
	}
	return Message{Format: FormatUnknown}, []Finding{{Field: "Content-Type", Severity: Error,
		Reason: "want application/x-www-form-urlencoded (HTTPS AML) or text/plain (SMS AML)"}}
}

// findings collects findings.
type findings []Finding

func (f *findings) warn(field, reason string) {
	*f = append(*f, Finding{Field: field, Reason: reason, Severity: Warning})
}

func (f *findings) fail(field, reason string) {
	*f = append(*f, Finding{Field: field, Reason: reason, Severity: Error})
}

// require adds the errors that make a message unusable. A message that says it has no
// location lacks none.
func (f *findings) require(m *Message, latField, lonField, numberField string) {
	if m.Location == nil && !m.NoLocation {
		has := false
		for _, x := range *f {
			if x.Field == latField || x.Field == lonField {
				has = true
			}
		}
		if !has {
			f.fail(latField, "missing: a location is required")
			f.fail(lonField, "missing: a location is required")
		}
	}
	if m.DeviceNumber == "" {
		has := false
		for _, x := range *f {
			if x.Field == numberField {
				has = true
			}
		}
		if !has {
			f.fail(numberField, "missing: the caller's number is required")
		}
	}
}

// checkTimes warns about positioning times that make no sense against the message time.
func (f *findings) checkTimes(m *Message, field string, now time.Time) {
	if m.Location == nil || m.Location.Time.IsZero() {
		return
	}
	t := m.Location.Time
	if t.After(now.Add(5 * time.Minute)) {
		f.warn(field, "in the future")
	}
	ref := m.Time
	if ref.IsZero() {
		ref = now
	}
	if ref.Sub(t) > time.Hour {
		f.warn(field, "more than an hour older than the message: the caller may have moved")
	}
}

// normaliseE164 turns a caller number into E.164 with a leading '+' (ITU-T E.164: at most
// 15 digits). "00" international prefixes are accepted; national numbers are not guessed.
func normaliseE164(s string) (string, bool) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	case strings.HasPrefix(s, "00"):
		s = s[2:]
	default:
		return "", false
	}
	if len(s) < 6 || len(s) > 15 || s[0] == '0' {
		return "", false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return "+" + s, true
}

func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// shortNumbers are the short numbers a message may say were dialled.
var shortNumbers = map[string]bool{"15": true, "17": true, "18": true, "112": true, "114": true, "115": true,
	"119": true, "191": true, "196": true, "197": true, "116000": true, "116117": true, "911": true, "999": true}
