package aml

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseSMS reads an SMS AML message: version 1 (ETSI TS 103 625 §6:
// `A"ML=1;lt=..;lg=..;rd=..;top=..;lc=..;pm=..;si=..;ei=..;mcc=..;mnc=..;ml=..`) or the
// compact version 2 (`A"ML=2;en=..;et=..;lo=lat,lon,radius;lt=..;lc=..;lz=alt,vacc;ls=..;
// ei=..;nc=..;hc=..`). The caller's number is not in the text (it is the SMS's originating
// address): the operator gives it as deviceNumber.
func ParseSMS(body []byte, deviceNumber string) (Message, []Finding) {
	return parseSMS(body, deviceNumber, time.Now())
}

func parseSMS(body []byte, deviceNumber string, now time.Time) (Message, []Finding) {
	var f findings
	text := strings.TrimRight(string(body), "\r\n")
	m := Message{Format: FormatUnknown}
	const header = `A"ML=`
	if !strings.HasPrefix(text, header) {
		f.fail("body", `not an AML SMS: it must start with A"ML=`)
		return m, f
	}
	fields := strings.Split(text[len(header):], ";")
	m.Version = strings.TrimSpace(fields[0])
	switch m.Version {
	case "1":
		m.Format = FormatSMSv1
	case "2":
		m.Format = FormatSMSv2
	default:
		f.fail("A\"ML", "unknown version "+strconv.Quote(m.Version)+": want 1 or 2")
		return m, f
	}
	values := map[string]string{}
	var order []string
	for _, kv := range fields[1:] {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			f.warn("body", "segment "+strconv.Quote(kv)+" is not key=value: ignored")
			continue
		}
		if _, dup := values[k]; dup {
			f.warn(k, "given more than once: the first value is used")
			continue
		}
		values[k] = strings.TrimSpace(v)
		order = append(order, k)
	}

	if deviceNumber == "" {
		f.fail("Device-Number", "missing: the operator must give the caller's number (the SMS's originating address) in this header")
	} else if n, ok := normaliseE164(deviceNumber); ok {
		m.DeviceNumber = n
	} else {
		f.fail("Device-Number", "not an international number in E.164 form (+33612345678)")
	}

	var known map[string]bool
	if m.Format == FormatSMSv1 {
		known = smsV1(values, &m, &f)
	} else {
		known = smsV2(values, &m, &f)
	}
	if s, ok := values["ml"]; ok {
		// ml is the length of the whole message, in characters, from A"ML to the end,
		// the ml field included (ETSI TS 103 625 §6). A mismatch means the text was cut or
		// altered on its way: worth knowing, not worth refusing.
		n := utf8.RuneCountInString(text)
		if ml, err := strconv.Atoi(s); err != nil {
			f.warn("ml", "not a number")
		} else if ml != n {
			f.warn("ml", "says "+s+" characters but the message has "+strconv.Itoa(n)+": it may have been truncated or altered")
		}
	} else if m.Format == FormatSMSv1 {
		f.warn("ml", "missing: the message length cannot be checked")
	}
	for _, k := range order {
		if known[k] || k == "ml" {
			continue
		}
		if m.Extra == nil {
			m.Extra = map[string]string{}
		}
		m.Extra[k] = values[k]
		if !(m.Format == FormatSMSv2 && k == "lg") {
			f.warn(k, "unknown field: kept, not used")
		}
	}
	f.checkTimes(&m, map[Format]string{FormatSMSv1: "top", FormatSMSv2: "lt"}[m.Format], now)
	if m.Format == FormatSMSv1 {
		f.require(&m, "lt", "lg", "Device-Number")
	} else {
		f.require(&m, "lo", "lo", "Device-Number")
	}
	return m, f
}

func smsV1(v map[string]string, m *Message, f *findings) map[string]bool {
	lat, latOK := coordinate(v["lt"], "lt", 90, f)
	lon, lonOK := coordinate(v["lg"], "lg", 180, f)
	// pm=N: "no location" (ETSI TS 103 625 §6, positioning method). The coordinates that come
	// with it are zeros, not a place; zeros without pm=N mean the same.
	if strings.EqualFold(v["pm"], "N") || (latOK && lonOK && noPosition(lat, lon)) {
		m.NoLocation = true
		if !strings.EqualFold(v["pm"], "N") {
			f.warn("lt", "latitude and longitude both 0 without pm=N: read as no location")
		}
		latOK = false
	}
	if latOK && lonOK {
		l := &Location{Latitude: lat, Longitude: lon, Source: source(v["pm"], "pm", f)}
		if s := v["rd"]; s != "" {
			l.Accuracy = metres(s, "rd", f)
		}
		if s := v["lc"]; s != "" {
			l.Confidence = percent(s, "lc", f)
		}
		if s := v["top"]; s != "" {
			t, err := time.Parse("20060102150405", s)
			if err != nil {
				f.warn("top", "not a UTC time YYYYMMDDhhmmss")
			} else {
				l.Time = t.UTC()
			}
		}
		m.Location = l
	}
	m.IMSI, m.IMEI = v["si"], v["ei"]
	if m.IMEI != "" && !digits(m.IMEI, 14, 16) {
		f.warn("ei", "an IMEI has 14 to 16 digits")
	}
	if m.IMSI != "" && !digits(m.IMSI, 6, 15) {
		f.warn("si", "an IMSI has at most 15 digits")
	}
	m.NetworkMCC, m.NetworkMNC = network(v["mcc"], v["mnc"], "", f)
	return map[string]bool{"lt": true, "lg": true, "rd": true, "top": true, "lc": true, "pm": true,
		"si": true, "ei": true, "mcc": true, "mnc": true}
}

func smsV2(v map[string]string, m *Message, f *findings) map[string]bool {
	if s := v["en"]; s != "" {
		if shortNumbers[s] {
			m.EmergencyNumber = s
		} else {
			f.warn("en", "not a known emergency short number: ignored")
		}
	}
	if s := v["et"]; s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			m.Time = time.Unix(n, 0).UTC()
		} else {
			f.warn("et", "not a time in seconds since 1970-01-01")
		}
	}
	if s, ok := v["lo"]; ok {
		parts := strings.Split(s, ",")
		if len(parts) < 2 {
			f.fail("lo", "want latitude,longitude[,radius]")
		} else {
			lat, latOK := coordinate(parts[0], "lo", 90, f)
			lon, lonOK := coordinate(parts[1], "lo", 180, f)
			// ls=N, the positioning source "none", is version 1's pm=N: no location, whatever
			// coordinates come with it. Zero coordinates mean the same.
			switch {
			case strings.EqualFold(v["ls"], "N"):
				m.NoLocation = true
				latOK = false
			case latOK && lonOK && noPosition(lat, lon):
				m.NoLocation = true
				f.warn("lo", "latitude and longitude both 0: read as no location")
				latOK = false
			}
			if latOK && lonOK {
				l := &Location{Latitude: lat, Longitude: lon, Source: source(v["ls"], "ls", f)}
				if len(parts) > 2 {
					l.Accuracy = metres(parts[2], "lo", f)
				}
				if s := v["lc"]; s != "" {
					l.Confidence = percent(s, "lc", f)
				}
				// lt is the time of the fix in seconds after the start of the call, et
				// (AML SMS version 2), not a date; -9999 is the format's "unknown". Without et
				// there is nothing to count from, and the fix has no time.
				if s := v["lt"]; s != "" && s != "-9999" {
					n, err := strconv.ParseInt(s, 10, 64)
					switch {
					case err != nil || n < -86400 || n > 86400:
						f.warn("lt", "not a number of seconds since the start of the call (et), within a day: ignored")
					case m.Time.IsZero():
						f.warn("lt", "seconds since the start of the call, but et is missing: the fix has no time")
					default:
						l.Time = m.Time.Add(time.Duration(n) * time.Second)
					}
				}
				if s := v["lz"]; s != "" {
					alt, vacc, _ := strings.Cut(s, ",")
					// NaN and infinities parse as floats, and are no altitude.
					if a, err := strconv.ParseFloat(alt, 64); err == nil && a != -9999 && !math.IsNaN(a) && !math.IsInf(a, 0) {
						l.Altitude = &a
					}
					if a, err := strconv.ParseFloat(vacc, 64); err == nil && a > 0 && !math.IsInf(a, 0) {
						l.VerticalAccuracy = &a
					}
				}
				m.Location = l
			}
		}
	}
	m.IMSI, m.IMEI = v["si"], v["ei"]
	if m.IMEI != "" && !digits(m.IMEI, 14, 16) {
		f.warn("ei", "an IMEI has 14 to 16 digits")
	}
	split := func(field string) (string, string) {
		s := v[field]
		if s == "" {
			return "", ""
		}
		if !digits(s, 5, 6) {
			f.warn(field, "want MCC and MNC run together, 5 or 6 digits: ignored")
			return "", ""
		}
		return s[:3], s[3:]
	}
	m.NetworkMCC, m.NetworkMNC = split("nc")
	m.HomeMCC, m.HomeMNC = split("hc")
	return map[string]bool{"en": true, "et": true, "lo": true, "lt": true, "lc": true, "lz": true, "ls": true,
		"si": true, "ei": true, "nc": true, "hc": true}
}
