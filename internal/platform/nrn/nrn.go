// Package nrn reads and writes Belgian national register numbers (numéro de registre
// national, rijksregisternummer): the population register's simulator and the wallet, which
// addresses citizens by them, check them alike.
package nrn

import (
	"fmt"
	"strconv"
	"time"
)

// Error says why a national register number is refused. Checksum tells a well-formed
// number whose check digits are wrong from one that is not a number of the register's shape.
type Error struct {
	Input    string
	Reason   string
	Checksum bool
}

func (e *Error) Error() string {
	return fmt.Sprintf("national register number %q: %s", e.Input, e.Reason)
}

// Parse reads a national register number, as 11 digits (YYMMDDSSSCC) or formatted
// (YY.MM.DD-SSS.CC), and returns its 11 digits. The check digits are 97 − (n mod 97) of the
// first nine digits, with a 2 written before them for people born from 2000 on; which one
// matches gives the century. Birth dates may be partly unknown (month or day 00), as in the
// register; bis numbers (month + 20 or + 40) are not the population register's and are
// refused.
func Parse(s string) (string, error) {
	digits, ok := Digits(s)
	if !ok {
		return "", &Error{Input: s, Reason: "must be 11 digits, YYMMDDSSSCC or YY.MM.DD-SSS.CC"}
	}
	month, _ := strconv.Atoi(digits[2:4])
	day, _ := strconv.Atoi(digits[4:6])
	serial, _ := strconv.Atoi(digits[6:9])
	switch {
	case month > 12:
		return "", &Error{Input: s, Reason: "the month (digits 3-4) must be 00 to 12"}
	case day > 31:
		return "", &Error{Input: s, Reason: "the day (digits 5-6) must be 00 to 31"}
	case serial == 0 || serial > 997:
		return "", &Error{Input: s, Reason: "the serial number (digits 7-9) must be 001 to 997"}
	}
	if _, ok := nrnCentury(digits); !ok {
		return "", &Error{Input: s, Checksum: true,
			Reason: fmt.Sprintf("the check digits %s do not match: %s expected (born before 2000) or %s (born from 2000)",
				digits[9:], checkDigits(digits[:9], false), checkDigits(digits[:9], true))}
	}
	if y, ok := BirthYear(digits); ok && month != 0 && day != 0 {
		if t := time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC); t.Day() != day {
			return "", &Error{Input: s, Reason: fmt.Sprintf("%04d-%02d-%02d is not a date", y, month, day)}
		}
	}
	return digits, nil
}

// Digits returns the 11 digits of either written form, unchecked.
func Digits(s string) (string, bool) {
	switch len(s) {
	case 11:
		if allDigits(s) {
			return s, true
		}
	case 15: // YY.MM.DD-SSS.CC
		if s[2] == '.' && s[5] == '.' && s[8] == '-' && s[12] == '.' {
			d := s[0:2] + s[3:5] + s[6:8] + s[9:12] + s[13:15]
			if allDigits(d) {
				return d, true
			}
		}
	}
	return "", false
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkDigits are the two check digits of the first nine digits of a number.
func checkDigits(first9 string, from2000 bool) string {
	if from2000 {
		first9 = "2" + first9
	}
	n, _ := strconv.ParseInt(first9, 10, 64)
	return fmt.Sprintf("%02d", 97-n%97)
}

// nrnCentury says whether 11 digits were given to someone born from 2000 on, and whether
// their check digits are right at all.
func nrnCentury(digits string) (from2000, ok bool) {
	switch digits[9:] {
	case checkDigits(digits[:9], false):
		return false, true
	case checkDigits(digits[:9], true):
		return true, true
	}
	return false, false
}

// BirthYear is the year of birth of 11 digits, and whether their check digits are right.
func BirthYear(digits string) (int, bool) {
	from2000, ok := nrnCentury(digits)
	yy, _ := strconv.Atoi(digits[:2])
	if from2000 {
		return 2000 + yy, ok
	}
	return 1900 + yy, ok
}

// Format writes the 11 digits of a number as YY.MM.DD-SSS.CC.
func Format(digits string) string {
	if len(digits) != 11 {
		return digits
	}
	return digits[0:2] + "." + digits[2:4] + "." + digits[4:6] + "-" + digits[6:9] + "." + digits[9:11]
}

// Make is the number of someone born on birth with the given serial (odd for men, even
// for women, 1 to 997).
func Make(birth time.Time, serial int) string {
	first9 := fmt.Sprintf("%02d%02d%02d%03d", birth.Year()%100, int(birth.Month()), birth.Day(), serial)
	return first9 + checkDigits(first9, birth.Year() >= 2000)
}
