package wallet

import (
	"fmt"
	"strconv"
	"time"
)

// parseNRN reads a Belgian national register number, as 11 digits (YYMMDDSSSCC) or written
// YY.MM.DD-SSS.CC, and returns its 11 digits, or why it is none. The rules are the register's:
// the check digits are 97 − (n mod 97) of the first nine digits, with a 2 written before them for
// people born from 2000 on; the month and day may be 00 (a birth date partly unknown); the
// serial is 001 to 997. Bis numbers (month + 20 or + 40), given to people who are not in the
// register, name no citizen of the wallet and are refused.
//
// The gateway's register simulator has the same rules (internal/gateway/registrysim): the
// wallet does not import the gateway, and the two are tested each on its own.
func parseNRN(s string) (string, error) {
	d, ok := nrnDigits(s)
	if !ok {
		return "", fmt.Errorf("must be 11 digits, YYMMDDSSSCC or YY.MM.DD-SSS.CC")
	}
	month, _ := strconv.Atoi(d[2:4])
	day, _ := strconv.Atoi(d[4:6])
	serial, _ := strconv.Atoi(d[6:9])
	switch {
	case month > 12:
		return "", fmt.Errorf("the month (digits 3-4) must be 00 to 12")
	case day > 31:
		return "", fmt.Errorf("the day (digits 5-6) must be 00 to 31")
	case serial == 0 || serial > 997:
		return "", fmt.Errorf("the serial number (digits 7-9) must be 001 to 997")
	}
	year := 0
	switch d[9:] {
	case nrnCheck(d[:9], false):
		year = 1900
	case nrnCheck(d[:9], true):
		year = 2000
	default:
		return "", fmt.Errorf("the check digits %s do not match: %s expected (born before 2000) or %s (born from 2000)",
			d[9:], nrnCheck(d[:9], false), nrnCheck(d[:9], true))
	}
	if month != 0 && day != 0 {
		yy, _ := strconv.Atoi(d[:2])
		if t := time.Date(year+yy, time.Month(month), day, 0, 0, 0, 0, time.UTC); t.Day() != day {
			return "", fmt.Errorf("%04d-%02d-%02d is not a date", year+yy, month, day)
		}
	}
	return d, nil
}

// nrnDigits returns the 11 digits of either written form.
func nrnDigits(s string) (string, bool) {
	if len(s) == 15 && s[2] == '.' && s[5] == '.' && s[8] == '-' && s[12] == '.' {
		s = s[0:2] + s[3:5] + s[6:8] + s[9:12] + s[13:15]
	}
	if len(s) != 11 {
		return "", false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// nrnCheck are the check digits of the first nine digits of a number.
func nrnCheck(first9 string, from2000 bool) string {
	if from2000 {
		first9 = "2" + first9
	}
	n, _ := strconv.ParseInt(first9, 10, 64)
	return fmt.Sprintf("%02d", 97-n%97)
}
