package collab

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The iCalendar objects are written by hand: neither arran4/golang-ical nor emersion/go-ical
// is served by the module proxy socle builds from, and the little of RFC 5545 a meeting
// invitation needs — a VEVENT, line folding (§3.1), text escaping (§3.3.11) — is short. The
// tests parse the output back with Python's icalendar (Debian's python3-icalendar).

// icalWriter writes content lines, folded and CRLF-terminated.
type icalWriter struct{ b strings.Builder }

// line writes "name:value" folded at 75 octets (RFC 5545 §3.1: "Lines of text SHOULD NOT
// be longer than 75 octets, excluding the line break"), never inside a UTF-8 sequence; a
// continuation line starts with one space, which counts in its 75.
func (w *icalWriter) line(name, value string) {
	s := name + ":" + value
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74
	}
	w.b.WriteString(s)
	w.b.WriteString("\r\n")
}

// icalText escapes a TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma, newline.
func icalText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// icalParam quotes a parameter value (RFC 5545 §3.2: a value with ":", ";" or "," is
// quoted; DQUOTE itself cannot appear, nor controls).
func icalParam(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return `"` + s + `"`
}

const icalUTC = "20060102T150405Z"

type icalPerson struct{ Name, Email string }

// icalEvent is a VEVENT of a poll's slot.
type icalEvent struct {
	UID         string
	Sequence    int
	Stamp       time.Time
	Slot        slot
	Summary     string
	Description string
	Location    string
	URL         string
	Status      string // CONFIRMED, TENTATIVE
	Organizer   *icalPerson
	Attendees   []icalPerson
}

// icalendar writes a VCALENDAR of events with method (REQUEST for an invitation, RFC 5546
// §3.2.2; PUBLISH for an export). Times are UTC ("FORM #2", RFC 5545 §3.3.5), which needs no
// VTIMEZONE and which every client shows in its own zone; a plain day is a DATE, its DTEND
// the next day (§3.6.1: DTEND is exclusive).
func icalendar(method string, events ...icalEvent) []byte {
	var w icalWriter
	w.line("BEGIN", "VCALENDAR")
	w.line("VERSION", "2.0")
	w.line("PRODID", "-//socle//collab polls//FR")
	w.line("CALSCALE", "GREGORIAN")
	if method != "" {
		w.line("METHOD", method)
	}
	for _, e := range events {
		w.line("BEGIN", "VEVENT")
		w.line("UID", e.UID)
		w.line("DTSTAMP", e.Stamp.UTC().Format(icalUTC))
		w.line("SEQUENCE", fmt.Sprint(e.Sequence))
		if e.Slot.Day != "" {
			d, _ := time.Parse(time.DateOnly, e.Slot.Day)
			w.line("DTSTART;VALUE=DATE", d.Format("20060102"))
			w.line("DTEND;VALUE=DATE", d.AddDate(0, 0, 1).Format("20060102"))
		} else {
			w.line("DTSTART", e.Slot.Start.UTC().Format(icalUTC))
			w.line("DTEND", e.Slot.End.UTC().Format(icalUTC))
		}
		w.line("SUMMARY", icalText(e.Summary))
		if e.Description != "" {
			w.line("DESCRIPTION", icalText(e.Description))
		}
		if e.Location != "" {
			w.line("LOCATION", icalText(e.Location))
		}
		if e.URL != "" {
			w.line("URL", e.URL) // a URI value, not TEXT: no escaping (§3.3.13)
		}
		if e.Status != "" {
			w.line("STATUS", e.Status)
		}
		if o := e.Organizer; o != nil {
			w.line("ORGANIZER;CN="+icalParam(o.Name), "mailto:"+o.Email)
		}
		for _, a := range e.Attendees {
			params := "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
			if a.Name != "" {
				params += ";CN=" + icalParam(a.Name)
			}
			w.line(params, "mailto:"+a.Email)
		}
		w.line("END", "VEVENT")
	}
	w.line("END", "VCALENDAR")
	return []byte(w.b.String())
}
