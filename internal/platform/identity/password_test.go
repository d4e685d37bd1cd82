package identity

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestPasswordsAreHashedWithArgon2idInPHCFormat(t *testing.T) {
	h, err := HashPassword(goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not $argon2id$v=19$m=...,t=...,p=...$salt$hash", h)
	}
	if strings.Contains(h, goodPassword) {
		t.Fatal("the hash contains the password")
	}
	if ok, err := VerifyPassword(h, goodPassword); !ok || err != nil {
		t.Errorf("the right password is refused: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, goodPassword+" "); ok {
		t.Error("a wrong password is accepted")
	}
	if h2, _ := HashPassword(goodPassword); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if outdated(h) {
		t.Error("a fresh hash is reported outdated")
	}
}

func TestHashesWithOtherParametersStillVerify(t *testing.T) {
	// Made with m=8192,t=1,p=2: parameters are read from the hash, not assumed.
	old := current
	current = argonParams{memory: 8192, time: 1, threads: 2}
	h, _ := HashPassword("an older, cheaper hash")
	current = old
	if ok, err := VerifyPassword(h, "an older, cheaper hash"); !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	if !outdated(h) {
		t.Error("a hash with other parameters is not reported outdated: it would never be upgraded")
	}
}

func TestUnreadableHashesAreErrorsNotMatches(t *testing.T) {
	good, _ := HashPassword(goodPassword)
	parts := strings.Split(good, "$")
	for name, h := range map[string]string{
		"empty":             "",
		"bcrypt":            "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":           strings.Replace(good, "argon2id", "argon2i", 1),
		"other version":     strings.Replace(good, "v=19", "v=16", 1),
		"params reordered":  strings.Replace(good, "m=19456,t=2,p=1", "t=2,m=19456,p=1", 1),
		"huge memory":       strings.Replace(good, "m=19456", "m=4194304", 1),
		"zero passes":       strings.Replace(good, "t=2", "t=0", 1),
		"salt not base64":   strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"missing key":       strings.Join(parts[:5], "$"),
		"key too short":     strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"trailing material": good + "$x",
	} {
		if ok, err := VerifyPassword(h, goodPassword); ok || err == nil {
			t.Errorf("%s: VerifyPassword = %v, %v; want an error", name, ok, err)
		}
	}
}

func TestPasswordPolicyWantsTwelveCharacters(t *testing.T) {
	err := CheckPasswordPolicy("short-pass1")
	if !errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), "it has 11 characters, at least 12 are required") {
		t.Errorf("11 characters: %v", err)
	}
	if strings.Contains(err.Error(), "short-pass1") {
		t.Error("the error quotes the password")
	}
	if err := CheckPasswordPolicy("éééééé"); err == nil {
		t.Error("6 accented characters are accepted: characters are counted, not bytes")
	}
	if err := CheckPasswordPolicy(strings.Repeat("x", MaxPasswordBytes+1)); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("a 1 KiB+ password is accepted: %v", err)
	}
	if err := CheckPasswordPolicy(goodPassword); err != nil {
		t.Error(err)
	}
}
