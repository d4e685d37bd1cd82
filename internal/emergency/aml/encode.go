package aml

import (
	"math"
	"net/url"
	"strconv"
	"strings"
)

// The encoders write valid messages from a Message: for tests, the benchmark, and
// operators' engineers who want a known-good example.

// EncodeHTTPS writes the HTTPS form.
func EncodeHTTPS(m Message) []byte {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("v", or(m.Version, "3"))
	set("emergency_number", m.EmergencyNumber)
	if !m.Time.IsZero() {
		set("time", strconv.FormatInt(m.Time.UnixMilli(), 10))
	}
	set("device_number", m.DeviceNumber)
	set("device_imei", m.IMEI)
	set("device_imsi", m.IMSI)
	set("cell_home_mcc", m.HomeMCC)
	set("cell_home_mnc", m.HomeMNC)
	set("cell_network_mcc", m.NetworkMCC)
	set("cell_network_mnc", m.NetworkMNC)
	if l := m.Location; l != nil {
		set("location_latitude", ftoa(l.Latitude, 6))
		set("location_longitude", ftoa(l.Longitude, 6))
		if l.Accuracy > 0 {
			set("location_accuracy", ftoa(l.Accuracy, 1))
		}
		if l.Confidence > 0 { // a probability from 0 to 1 (ETSI TS 103 625 §7)
			set("location_confidence", ftoa(float64(l.Confidence)/100, 2))
		}
		if l.Altitude != nil {
			set("location_altitude", ftoa(*l.Altitude, 1))
		}
		if l.VerticalAccuracy != nil {
			set("location_vertical_accuracy", ftoa(*l.VerticalAccuracy, 1))
		}
		if !l.Time.IsZero() {
			set("location_time", strconv.FormatInt(l.Time.UnixMilli(), 10))
		}
		if l.Source != "" && l.Source != SourceUnknown {
			set("location_source", string(l.Source))
		}
	}
	for k, s := range m.Extra {
		set(k, s)
	}
	return []byte(v.Encode())
}

// EncodeSMSv1 writes a version 1 SMS with a correct ml.
func EncodeSMSv1(m Message) []byte {
	var b strings.Builder
	b.WriteString(`A"ML=1`)
	add := func(k, s string) {
		if s != "" {
			b.WriteString(";" + k + "=" + s)
		}
	}
	if l := m.Location; l != nil {
		add("lt", signed(l.Latitude, 5, 2))
		add("lg", signed(l.Longitude, 5, 3))
		if l.Accuracy > 0 {
			add("rd", strconv.Itoa(int(l.Accuracy+0.5)))
		}
		if !l.Time.IsZero() {
			add("top", l.Time.UTC().Format("20060102150405"))
		}
		if l.Confidence > 0 {
			add("lc", strconv.Itoa(l.Confidence))
		}
		add("pm", sourceCode(l.Source))
	} else if m.NoLocation {
		// ETSI TS 103 625 §6's own message without location.
		add("lt", "+00.00000")
		add("lg", "+000.00000")
		add("pm", "N")
	}
	add("si", m.IMSI)
	add("ei", m.IMEI)
	add("mcc", m.NetworkMCC)
	add("mnc", m.NetworkMNC)
	return withML(b.String())
}

// EncodeSMSv2 writes a compact version 2 SMS.
func EncodeSMSv2(m Message) []byte {
	var b strings.Builder
	b.WriteString(`A"ML=2`)
	add := func(k, s string) {
		if s != "" {
			b.WriteString(";" + k + "=" + s)
		}
	}
	add("en", m.EmergencyNumber)
	if !m.Time.IsZero() {
		add("et", strconv.FormatInt(m.Time.Unix(), 10))
	}
	if l := m.Location; l != nil {
		add("lo", ftoa(l.Latitude, 5)+","+ftoa(l.Longitude, 5)+","+ftoa(l.Accuracy, 1))
		if !l.Time.IsZero() && !m.Time.IsZero() { // seconds after the call's start, et
			add("lt", strconv.FormatInt(l.Time.Unix()-m.Time.Unix(), 10))
		}
		if l.Confidence > 0 {
			add("lc", strconv.Itoa(l.Confidence))
		}
		if l.Altitude != nil {
			vacc := 0.0
			if l.VerticalAccuracy != nil {
				vacc = *l.VerticalAccuracy
			}
			add("lz", ftoa(*l.Altitude, 1)+","+ftoa(vacc, 1))
		}
		add("ls", sourceCode(l.Source))
	} else if m.NoLocation {
		add("lo", "0.00000,0.00000,0.0")
		add("ls", "N")
	}
	add("si", m.IMSI)
	add("ei", m.IMEI)
	if m.NetworkMCC != "" {
		add("nc", m.NetworkMCC+m.NetworkMNC)
	}
	if m.HomeMCC != "" {
		add("hc", m.HomeMCC+m.HomeMNC)
	}
	return withML(b.String())
}

// withML appends ml with the length of the whole message, itself included: the number of
// digits of ml changes the length, so settle it by trying.
func withML(s string) []byte {
	for n := len(s) + len(";ml=") + 1; ; n++ {
		out := s + ";ml=" + strconv.Itoa(n)
		if len(out) == n {
			return []byte(out)
		}
	}
}

func sourceCode(s Source) string {
	switch s {
	case SourceGPS:
		return "G"
	case SourceWiFi:
		return "W"
	case SourceCell:
		return "C"
	case SourceFused:
		return "F"
	}
	// Not "N": that is "no location" (pm=N, ls=N), and a position of unknown source is
	// still a position. Left out, the source reads back as unknown.
	return ""
}

func ftoa(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

// signed writes ±DD.ddddd with zero-padded degrees, as in TS 103 625's examples.
func signed(f float64, prec, width int) string {
	sign := "+"
	if f < 0 {
		sign = "-"
	}
	// Abs also turns -0 (lg=-0 is a longitude) into 0, which ftoa would write "-0": the
	// sign would be given twice, "+0-0.00000", a longitude the parser refuses.
	s := ftoa(math.Abs(f), prec)
	if i := strings.IndexByte(s, '.'); i < width {
		s = strings.Repeat("0", width-i) + s
	}
	return sign + s
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
