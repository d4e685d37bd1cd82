package oauth

import (
	"strings"
	"testing"
)

// The example of RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestPKCEAcceptsTheRFC7636Example(t *testing.T) {
	if got := S256Challenge(rfcVerifier); got != rfcChallenge {
		t.Fatalf("S256Challenge = %s", got)
	}
	if !VerifyPKCE("S256", rfcChallenge, rfcVerifier) {
		t.Fatal("the RFC's own pair refused")
	}
}

func TestPKCERefusals(t *testing.T) {
	for name, c := range map[string]struct{ method, challenge, verifier string }{
		"plain method, even with verifier = challenge": {"plain", rfcVerifier, rfcVerifier},
		"no method":                     {"", rfcChallenge, rfcVerifier},
		"method in lower case":          {"s256", rfcChallenge, rfcVerifier},
		"wrong verifier":                {"S256", rfcChallenge, strings.Repeat("a", 43)},
		"verifier of 42 characters":     {"S256", S256Challenge(strings.Repeat("a", 42)), strings.Repeat("a", 42)},
		"verifier of 129 characters":    {"S256", S256Challenge(strings.Repeat("a", 129)), strings.Repeat("a", 129)},
		"verifier with a reserved char": {"S256", S256Challenge(strings.Repeat("a", 42) + "+"), strings.Repeat("a", 42) + "+"},
		"challenge with padding":        {"S256", rfcChallenge + "=", rfcVerifier},
		"empty challenge":               {"S256", "", rfcVerifier},
	} {
		if VerifyPKCE(c.method, c.challenge, c.verifier) {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCodeVerifierSyntax(t *testing.T) {
	ok := []string{strings.Repeat("a", 43), strings.Repeat("~", 128), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"}
	bad := []string{"", strings.Repeat("a", 42), strings.Repeat("a", 129), strings.Repeat("a", 42) + " ", strings.Repeat("é", 22)}
	for _, v := range ok {
		if !ValidCodeVerifier(v) {
			t.Errorf("%q refused", v)
		}
	}
	for _, v := range bad {
		if ValidCodeVerifier(v) {
			t.Errorf("%q accepted", v)
		}
	}
}
