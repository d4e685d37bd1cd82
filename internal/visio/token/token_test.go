package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func verifier(keys map[string]crypto.PublicKey) *Verifier {
	return &Verifier{AppID: "socle", Secret: []byte("a shared secret of enough length"), Keys: keys,
		Domain: "visio.gouv.fr", Now: func() time.Time { return now }}
}

// jitsi is a payload as Jitsi's token issuers write it.
func jitsi(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"aud": "socle", "iss": "socle", "sub": "visio.gouv.fr", "room": "point-hebdo",
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"context": map[string]any{"user": map[string]any{
			"id": "a1b2", "name": "Camille Martin", "email": "camille.martin@interieur.gouv.fr", "avatar": "https://example.org/c.png",
		}},
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func hs256(t testing.TB, c jwt.MapClaims, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAJitsiTokenSignedWithTheSharedSecretLetsItsPersonIn(t *testing.T) {
	c, err := verifier(nil).Verify(hs256(t, jitsi(nil), "a shared secret of enough length"), "Point-Hebdo")
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{User: User{ID: "a1b2", Name: "Camille Martin", Email: "camille.martin@interieur.gouv.fr", Avatar: "https://example.org/c.png"},
		Room: "point-hebdo", Expires: time.Unix(now.Add(time.Hour).Unix(), 0)}
	if c.User != want.User || c.Room != want.Room || c.Moderator || !c.Expires.Equal(want.Expires) {
		t.Fatalf("claims %+v", c)
	}
}

func TestModeratorsAreNamedAsJitsiIssuersNameThem(t *testing.T) {
	for name, edit := range map[string]func(jwt.MapClaims){
		"moderator: true":   func(c jwt.MapClaims) { c["moderator"] = true },
		`moderator: "true"`: func(c jwt.MapClaims) { c["moderator"] = "true" },
		"context.user.moderator": func(c jwt.MapClaims) {
			c["context"].(map[string]any)["user"].(map[string]any)["moderator"] = "true"
		},
		"affiliation owner": func(c jwt.MapClaims) {
			c["context"].(map[string]any)["user"].(map[string]any)["affiliation"] = "owner"
		},
		// Jitsi's token affiliation module counts teachers as moderators too.
		"affiliation teacher": func(c jwt.MapClaims) {
			c["context"].(map[string]any)["user"].(map[string]any)["affiliation"] = "teacher"
		},
	} {
		c, err := verifier(nil).Verify(hs256(t, jitsi(edit), "a shared secret of enough length"), "point-hebdo")
		if err != nil || !c.Moderator {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	secret := "a shared secret of enough length"
	for name, tc := range map[string]struct {
		token string
		room  string
		want  error
	}{
		"bad signature": {hs256(t, jitsi(nil), "another secret, not ours at all"), "point-hebdo", ErrSignature},
		"expired":       {hs256(t, jitsi(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }), secret), "point-hebdo", ErrExpired},
		"not yet valid": {hs256(t, jitsi(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), secret), "point-hebdo", ErrNotYet},
		"no expiry":     {hs256(t, jitsi(func(c jwt.MapClaims) { delete(c, "exp") }), secret), "point-hebdo", ErrMalformed},
		"wrong room":    {hs256(t, jitsi(nil), secret), "conseil-de-defense", ErrRoom},
		"no room":       {hs256(t, jitsi(func(c jwt.MapClaims) { delete(c, "room") }), secret), "point-hebdo", ErrMalformed},
		"other issuer":  {hs256(t, jitsi(func(c jwt.MapClaims) { c["iss"] = "someone" }), secret), "point-hebdo", ErrAudience},
		"other domain":  {hs256(t, jitsi(func(c jwt.MapClaims) { c["sub"] = "meet.example.org" }), secret), "point-hebdo", ErrAudience},
		"not a token":   {"abc.def", "point-hebdo", ErrMalformed},
		"alg none":      {none(t, jitsi(nil)), "point-hebdo", ErrSignature},
	} {
		if _, err := verifier(nil).Verify(tc.token, tc.room); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestAWildcardRoomOpensEveryRoom(t *testing.T) {
	tok := hs256(t, jitsi(func(c jwt.MapClaims) { c["room"] = "*"; c["sub"] = "*" }), "a shared secret of enough length")
	if _, err := verifier(nil).Verify(tok, "any-room"); err != nil {
		t.Fatal(err)
	}
}

func none(t *testing.T, c jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPublicKeyTokensAreVerifiedByKid(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v := verifier(map[string]crypto.PublicKey{"rsa-2026": &rk.PublicKey, "ec-2026": &ek.PublicKey})
	sign := func(m jwt.SigningMethod, kid string, key any) string {
		tok := jwt.NewWithClaims(m, jitsi(nil))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := v.Verify(sign(jwt.SigningMethodRS256, "rsa-2026", rk), "point-hebdo"); err != nil {
		t.Errorf("RS256: %v", err)
	}
	if _, err := v.Verify(sign(jwt.SigningMethodES256, "ec-2026", ek), "point-hebdo"); err != nil {
		t.Errorf("ES256: %v", err)
	}
	if _, err := v.Verify(sign(jwt.SigningMethodES256, "rsa-2026", ek), "point-hebdo"); !errors.Is(err, ErrSignature) {
		t.Errorf("ES256 under an RSA kid: %v", err)
	}
	if _, err := v.Verify(sign(jwt.SigningMethodRS256, "unknown", rk), "point-hebdo"); !errors.Is(err, ErrSignature) {
		t.Errorf("unknown kid: %v", err)
	}
	// The key-confusion attack: an HS256 token whose "secret" is the RSA public key.
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	keysOnly := &Verifier{AppID: "socle", Keys: v.Keys, Now: v.Now}
	if _, err := keysOnly.Verify(hs256(t, jitsi(nil), string(pub)), "point-hebdo"); !errors.Is(err, ErrSignature) {
		t.Errorf("HS256 signed with the public key: %v", err)
	}
}

func TestANonConfiguredVerifierRefusesEverything(t *testing.T) {
	if _, err := (&Verifier{}).Verify(hs256(t, jitsi(nil), "x"), "point-hebdo"); err == nil || !strings.Contains(err.Error(), "no application") {
		t.Fatal(err)
	}
}

// FuzzVerify: a token from anyone is refused with one of the package's errors, or it was
// signed with the shared secret (checked here by hand, HMAC-SHA256 over its first two
// parts: no other algorithm is configured) and grants the room asked for, or every room,
// until a time not yet passed.
func FuzzVerify(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x", "room")
	f.Add(hs256(f, jitsi(nil), "a shared secret of enough length"), "point-hebdo")
	f.Add(hs256(f, jitsi(func(c jwt.MapClaims) { c["room"] = "*"; c["moderator"] = "true" }), "a shared secret of enough length"), "autre")
	f.Add(hs256(f, jitsi(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), "a shared secret of enough length"), "point-hebdo")
	f.Add(hs256(f, jitsi(func(c jwt.MapClaims) { c["sub"] = "dinum" }), "a shared secret of enough length"), "[dinum]point-hebdo")
	f.Add(hs256(f, jitsi(func(c jwt.MapClaims) {
		c["room"] = "^point%-%a+$"
		c["context"].(map[string]any)["room"] = map[string]any{"regex": true}
	}), "a shared secret of enough length"), "point-hebdo")
	f.Fuzz(func(t *testing.T, raw, room string) {
		c, err := verifier(nil).Verify(raw, room)
		if err != nil {
			for _, kind := range []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYet, ErrAudience, ErrRoom, ErrTenant} {
				if errors.Is(err, kind) {
					return
				}
			}
			t.Fatalf("refused with an error of no kind: %v", err)
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("%q accepted: not three parts", raw)
		}
		// The shared secret's HMAC in one of the sizes Jitsi accepts (HS256, HS384, HS512).
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		signed := false
		for _, h := range []func() hash.Hash{sha256.New, sha512.New384, sha512.New} {
			mac := hmac.New(h, []byte("a shared secret of enough length"))
			mac.Write([]byte(parts[0] + "." + parts[1]))
			signed = signed || hmac.Equal(sig, mac.Sum(nil))
		}
		if err != nil || !signed {
			t.Fatalf("%q accepted without the shared secret's signature", raw)
		}
		// The room is granted by "*", by name (the tenant's part aside), or by a pattern
		// that matches the whole name.
		tenant, name := SplitRoom(room)
		granted := c.Room == "*" || strings.EqualFold(c.Room, name)
		if c.RoomRegex {
			granted, _ = matchRoomPattern(c.Room, name)
		}
		if !granted || c.Tenant != tenant || !c.Expires.After(now) {
			t.Fatalf("%q accepted for room %q: %+v", raw, room, c)
		}
	})
}

// TestJitsisDocumentedExampleTokenIsAccepted: lib-jitsi-meet's doc/tokens.md shows a token
// with aud "jitsi", iss the client's name and sub the domain. Jitsi accepts any aud unless
// asap_accepted_audiences says otherwise, and the iss of its app_id or of
// asap_accepted_issuers: so does socle.
func TestJitsisDocumentedExampleTokenIsAccepted(t *testing.T) {
	secret := "a shared secret of enough length"
	example := func(c jwt.MapClaims) {
		c["aud"] = "jitsi"
		c["iss"] = "my_client"
		c["sub"] = "visio.gouv.fr"
		c["room"] = "*"
	}
	v := verifier(nil)
	v.AppID = "my_client"
	if _, err := v.Verify(hs256(t, jitsi(example), secret), "point-hebdo"); err != nil {
		t.Fatalf("Jitsi's example, app id my_client: %v", err)
	}
	// Lists of accepted issuers and audiences, "*" for any.
	v = verifier(nil)
	v.Issuers = []string{"socle", "my_client"}
	if _, err := v.Verify(hs256(t, jitsi(example), secret), "point-hebdo"); err != nil {
		t.Errorf("my_client among the accepted issuers: %v", err)
	}
	v.Audiences = []string{"socle"}
	if _, err := v.Verify(hs256(t, jitsi(example), secret), "point-hebdo"); !errors.Is(err, ErrAudience) {
		t.Errorf("aud jitsi with only socle accepted: %v, want refused", err)
	}
	v.Audiences = []string{"socle", "jitsi"}
	if _, err := v.Verify(hs256(t, jitsi(example), secret), "point-hebdo"); err != nil {
		t.Errorf("aud jitsi accepted: %v", err)
	}
	v.Issuers = []string{"*"}
	if _, err := v.Verify(hs256(t, jitsi(func(c jwt.MapClaims) { example(c); c["iss"] = "anyone" }), secret), "point-hebdo"); err != nil {
		t.Errorf("any issuer: %v", err)
	}
}

// TestEveryAlgorithmJitsiAcceptsIsAccepted: HS256/384/512 with the shared secret,
// RS256/384/512 with a public key (Jitsi's prosody token util).
func TestEveryAlgorithmJitsiAcceptsIsAccepted(t *testing.T) {
	secret := "a shared secret of enough length"
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	v := verifier(map[string]crypto.PublicKey{"rsa": &rk.PublicKey})
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512,
		jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512} {
		tok := jwt.NewWithClaims(m, jitsi(nil))
		tok.Header["kid"] = "rsa"
		var key any = []byte(secret)
		if strings.HasPrefix(m.Alg(), "RS") {
			key = rk
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(s, "point-hebdo"); err != nil {
			t.Errorf("%s: %v", m.Alg(), err)
		}
	}
	// The key confusion, in every HMAC size: an HS token "signed" with the RSA public key.
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	keysOnly := &Verifier{AppID: "socle", Keys: v.Keys, Now: v.Now}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		s, _ := jwt.NewWithClaims(m, jitsi(nil)).SignedString(pub)
		if _, err := keysOnly.Verify(s, "point-hebdo"); !errors.Is(err, ErrSignature) {
			t.Errorf("%s signed with the public key: %v", m.Alg(), err)
		}
	}
}
