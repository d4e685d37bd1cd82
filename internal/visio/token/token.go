// Package token verifies the tokens that let people into a web conference, in the format
// Jitsi Meet's token authentication uses, so that the token issuers agencies already run
// keep working: a JWT (RFC 7519) passed as ?jwt= on the room URL, with
//
//	aud, iss                the application (SOCLE_VISIO_JWT_APP_ID)
//	sub                     the conference domain, or "*"
//	room                    the room name, or "*" for every room
//	exp, nbf                validity
//	context.user            id, name, email, avatar of the person
//	moderator               true (also read as context.user.moderator "true", or
//	                        context.user.affiliation "owner" / "moderator")
//
// signed with HS256 and the shared secret (SOCLE_VISIO_JWT_SECRET), or with RS256 or ES256 and
// a public key configured under the token's kid.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors a refusal wraps, to tell the person what is wrong with their link.
var (
	ErrMalformed = errors.New("token: not a well-formed token")
	ErrSignature = errors.New("token: the signature does not verify")
	ErrExpired   = errors.New("token: expired")
	ErrNotYet    = errors.New("token: not valid yet")
	ErrAudience  = errors.New("token: issued for another application")
	ErrRoom      = errors.New("token: issued for another room")
)

// User is the person a token names.
type User struct {
	ID, Name, Email, Avatar string
}

// Claims is what a verified token grants.
type Claims struct {
	User      User
	Room      string // the room it was issued for, "*" for any
	Moderator bool
	Expires   time.Time
}

// Verifier checks tokens. The zero value refuses every token.
type Verifier struct {
	// AppID is the accepted iss, and aud (which may also be "*"), as Jitsi's
	// app_id.
	AppID string
	// Secret verifies HS256 tokens; empty refuses them.
	Secret []byte
	// Keys verify RS256 (*rsa.PublicKey) and ES256 (*ecdsa.PublicKey) tokens, by kid.
	Keys map[string]crypto.PublicKey
	// Domain, when set, is the accepted sub besides "*".
	Domain string
	// Leeway tolerates clocks that disagree, on exp and nbf.
	Leeway time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

type jitsiClaims struct {
	jwt.RegisteredClaims
	Room      string `json:"room"`
	Moderator any    `json:"moderator"`
	Context   struct {
		User struct {
			ID          any    `json:"id"`
			Name        string `json:"name"`
			Email       string `json:"email"`
			Avatar      string `json:"avatar"`
			Moderator   any    `json:"moderator"`
			Affiliation string `json:"affiliation"`
		} `json:"user"`
	} `json:"context"`
}

// Verify checks a token for a room and returns what it grants.
func (v *Verifier) Verify(raw, room string) (*Claims, error) {
	if v.AppID == "" {
		return nil, fmt.Errorf("%w: no application is configured", ErrAudience)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	var c jitsiClaims
	p := jwt.NewParser(
		// Only the algorithms configured: an RS256 key must never verify an HS256 token
		// (the key-confusion attack), and "none" is never accepted.
		jwt.WithValidMethods(v.methods()),
		jwt.WithIssuer(v.AppID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(now),
	)
	_, err := p.ParseWithClaims(raw, &c, v.key)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, fmt.Errorf("%w: %v", ErrNotYet, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, fmt.Errorf("%w: %v", ErrAudience, err)
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if !audienceOK(c.Audience, v.AppID) {
		return nil, fmt.Errorf("%w: aud %v", ErrAudience, []string(c.Audience))
	}
	if v.Domain != "" && c.Subject != "*" && !strings.EqualFold(c.Subject, v.Domain) {
		return nil, fmt.Errorf("%w: sub %q", ErrAudience, c.Subject)
	}
	if c.Room == "" {
		return nil, fmt.Errorf("%w: no room claim", ErrMalformed)
	}
	// Jitsi compares room names in lower case.
	if c.Room != "*" && !strings.EqualFold(c.Room, room) {
		return nil, fmt.Errorf("%w: %q", ErrRoom, c.Room)
	}
	u := c.Context.User
	return &Claims{
		User:      User{ID: fmt.Sprint(orEmpty(u.ID)), Name: u.Name, Email: u.Email, Avatar: u.Avatar},
		Room:      c.Room,
		Moderator: truthy(c.Moderator) || truthy(u.Moderator) || u.Affiliation == "owner" || u.Affiliation == "moderator",
		Expires:   c.ExpiresAt.Time,
	}, nil
}

func (v *Verifier) methods() []string {
	var m []string
	if len(v.Secret) > 0 {
		m = append(m, "HS256")
	}
	for _, k := range v.Keys {
		switch k.(type) {
		case *rsa.PublicKey:
			m = append(m, "RS256")
		case *ecdsa.PublicKey:
			m = append(m, "ES256")
		}
	}
	if len(m) == 0 {
		return []string{"none-configured"} // refuses every token
	}
	return m
}

// key picks the verification key by algorithm and kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if t.Method.Alg() == "HS256" {
		return v.Secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := v.Keys[kid]
	if !ok {
		return nil, fmt.Errorf("no public key for kid %q", kid)
	}
	switch k.(type) {
	case *rsa.PublicKey:
		if t.Method.Alg() != "RS256" {
			return nil, fmt.Errorf("kid %q is an RSA key, the token says %s", kid, t.Method.Alg())
		}
	case *ecdsa.PublicKey:
		if t.Method.Alg() != "ES256" {
			return nil, fmt.Errorf("kid %q is an ECDSA key, the token says %s", kid, t.Method.Alg())
		}
	}
	return k, nil
}

func audienceOK(aud jwt.ClaimStrings, app string) bool {
	for _, a := range aud {
		if a == app || a == "*" {
			return true
		}
	}
	return false
}

// truthy reads Jitsi's booleans, written as true or "true".
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}
