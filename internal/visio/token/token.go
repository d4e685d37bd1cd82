// Package token verifies the tokens that let people into a web conference, in the format
// Jitsi Meet's token authentication uses, so that the token issuers agencies already run
// keep working: a JWT (RFC 7519) passed as ?jwt= on the room URL, with
//
//	iss                     one of the accepted issuers (by default the application id,
//	                        SOCLE_VISIO_JWT_APP_ID), as Jitsi's asap_accepted_issuers
//	aud                     one of the accepted audiences (by default any, "*"), as
//	                        Jitsi's asap_accepted_audiences: Jitsi's own example says "jitsi"
//	sub                     the conference domain, or "*"
//	room                    the room name, or "*" for every room
//	exp, nbf                validity
//	context.user            id, name, email, avatar of the person
//	moderator               true (also read as context.user.moderator "true", or
//	                        context.user.affiliation "owner", "moderator" or "teacher")
//
// signed with HS256, HS384 or HS512 and the shared secret (SOCLE_VISIO_JWT_SECRET), or with
// RS256, RS384, RS512 or ES256 and a public key configured under the token's kid (the
// algorithms of lib-jitsi-meet's doc/tokens.md and prosody's token util).
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
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
	// AppID is the application, as Jitsi's app_id: the accepted iss when Issuers is empty.
	AppID string
	// Issuers are the accepted iss; empty is AppID alone; "*" accepts any.
	Issuers []string
	// Audiences are the accepted aud; empty is any, as Jitsi's default; "*" accepts any.
	Audiences []string
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
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	issuers := v.Issuers
	if len(issuers) == 0 {
		issuers = []string{v.AppID}
	}
	if !accepted(issuers, c.Issuer) {
		return nil, fmt.Errorf("%w: iss %q", ErrAudience, c.Issuer)
	}
	if len(v.Audiences) > 0 && !slices.ContainsFunc(c.Audience, func(a string) bool { return accepted(v.Audiences, a) }) {
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
		Moderator: truthy(c.Moderator) || truthy(u.Moderator) || moderatorAffiliation(u.Affiliation),
		Expires:   c.ExpiresAt.Time,
	}, nil
}

// The algorithms of each kind of key. Only those of the keys configured are accepted: an RSA
// key must never verify an HS token signed with its public bytes (key confusion), and
// "none" is never accepted.
var (
	hmacAlgs  = []string{"HS256", "HS384", "HS512"}
	rsaAlgs   = []string{"RS256", "RS384", "RS512"}
	ecdsaAlgs = []string{"ES256"}
)

func (v *Verifier) methods() []string {
	var m []string
	if len(v.Secret) > 0 {
		m = append(m, hmacAlgs...)
	}
	for _, k := range v.Keys {
		switch k.(type) {
		case *rsa.PublicKey:
			m = append(m, rsaAlgs...)
		case *ecdsa.PublicKey:
			m = append(m, ecdsaAlgs...)
		}
	}
	if len(m) == 0 {
		return []string{"none-configured"} // refuses every token
	}
	return m
}

// key picks the verification key by algorithm and kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if slices.Contains(hmacAlgs, alg) {
		if len(v.Secret) == 0 {
			return nil, fmt.Errorf("%s: no shared secret is configured", alg)
		}
		return v.Secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := v.Keys[kid]
	if !ok {
		return nil, fmt.Errorf("no public key for kid %q", kid)
	}
	switch k.(type) {
	case *rsa.PublicKey:
		if !slices.Contains(rsaAlgs, alg) {
			return nil, fmt.Errorf("kid %q is an RSA key, the token says %s", kid, alg)
		}
	case *ecdsa.PublicKey:
		if !slices.Contains(ecdsaAlgs, alg) {
			return nil, fmt.Errorf("kid %q is an ECDSA key, the token says %s", kid, alg)
		}
	}
	return k, nil
}

// accepted tells whether value is in list, or list holds "*".
func accepted(list []string, value string) bool {
	return slices.Contains(list, "*") || (value != "" && slices.Contains(list, value))
}

// moderatorAffiliation: Jitsi's token affiliation module makes "owner", "moderator" and
// "teacher" moderators.
func moderatorAffiliation(a string) bool {
	switch strings.ToLower(a) {
	case "owner", "moderator", "teacher":
		return true
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
