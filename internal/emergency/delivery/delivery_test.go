package delivery

import "testing"

func TestIMEIIsWrittenAsRFC7254URN(t *testing.T) {
	for imei, want := range map[string]string{
		"356938035643809":  "urn:gsma:imei:35693803-564380-9",
		"3569380356438012": "urn:gsma:imei:35693803-564380-0", // IMEISV: software version dropped
		"35693803564380":   "",                                // too short: names no device
		"35693803564380A":  "",
		"":                 "",
	} {
		if got := imeiURN(imei); got != want {
			t.Errorf("imeiURN(%q) = %q, want %q", imei, got, want)
		}
	}
}
