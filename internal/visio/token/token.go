// Package token verifies the tokens that let people into a web conference, in the format
// Jitsi Meet's token authentication uses, so that the token issuers agencies already run
// keep working: a JWT (RFC 7519) passed as ?jwt= on the room URL, with
//
//	iss                     one of the accepted issuers (by default the application id,
//	                        SOCLE_VISIO_JWT_APP_ID), as Jitsi's asap_accepted_issuers
//	aud                     one of the accepted audiences (by default any, "*"), as
//	                        Jitsi's asap_accepted_audiences: Jitsi's own example says "jitsi"
//	sub                     the tenant of a tenant's room, else the conference domain;
//	                        or "*" for any
//	room                    the room name, or "*" for every room; a Lua pattern when
//	                        context.room.regex is true (see luapattern.go)
//	exp, nbf                validity
//	context.user            id, name, email, avatar of the person
//	moderator               true (also read as context.user.moderator "true", or
//	                        context.user.affiliation "owner", "moderator" or "teacher")
//
// signed with HS256, HS384 or HS512 and the shared secret (SOCLE_VISIO_JWT_SECRET), or with
// RS256, RS384, RS512 or ES256 and a public key configured under the token's kid, or
// fetched by kid from a key server as Jitsi's asap_key_server (keyserver.go) (the
// algorithms of lib-jitsi-meet's doc/tokens.md and prosody's token util).
//
// Rooms are named as in Jitsi's MUC: "room", or "[tenant]room" for the room of a tenant
// (Jitsi's https://meet.example/tenant/room). See Verify.
package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
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
	ErrTenant    = errors.New("token: issued for another tenant")
)

// User is the person a token names.
type User struct {
	ID, Name, Email, Avatar string
}

// Claims is what a verified token grants.
type Claims struct {
	User      User
	Room      string // the room it was issued for, "*" for any, or a Lua pattern
	RoomRegex bool   // Room is a Lua pattern (context.room.regex)
	Tenant    string // the tenant of the room entered, "" for a room without one
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
	// KeyServer, when set, provides the public keys of the kids Keys does not hold, as
	// Jitsi's asap_key_server.
	KeyServer *KeyServer
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
		// Room is kept raw: issuers put other things under context.room (lobby, password
		// in Jitsi's own plugins), which must not make the token unreadable.
		Room json.RawMessage `json:"room"`
	} `json:"context"`
}

// roomRegex reads context.room.regex, written true or "true" as Jitsi reads it.
func (c *jitsiClaims) roomRegex() bool {
	var r struct {
		Regex any `json:"regex"`
	}
	if len(c.Context.Room) == 0 || json.Unmarshal(c.Context.Room, &r) != nil {
		return false
	}
	return truthy(r.Regex)
}

// SplitRoom reads a room as Jitsi's MUC names it: "[tenant]room" is the room of a tenant,
// anything else a room without one (jitsi-meet resources/prosody-plugins/token/
// util.lib.lua, verify_room, which parses the room node with ^%[([^%]]+)%](.+)$).
func SplitRoom(room string) (tenant, name string) {
	if strings.HasPrefix(room, "[") {
		if i := strings.IndexByte(room, ']'); i > 1 && i < len(room)-1 {
			return room[1:i], room[i+1:]
		}
	}
	return "", room
}

// TenantRoom is the MUC name of a tenant's room, "[tenant]room", or room alone when tenant
// is empty.
func TenantRoom(tenant, room string) string {
	if tenant == "" {
		return room
	}
	return "[" + tenant + "]" + room
}

// Verify checks a token for a room and returns what it grants. room is named as Jitsi's
// MUC names it: "[tenant]room" for a tenant's room (TenantRoom), else the room's name.
//
// As Jitsi's verify_room with domain verification (jitsi-meet resources/prosody-plugins/
// token/util.lib.lua): a tenant's room needs sub to be that tenant or "*"; a room without a
// tenant needs sub to be Domain or "*" (any sub when Domain is not set, as Jitsi without
// enable_domain_verification). The room claim is "*", the room's name (tenant left out),
// or, with context.room.regex, a Lua pattern the name matches.
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
	tenant, name := SplitRoom(room)
	switch {
	case tenant != "":
		// A tenant's room: sub names the tenant. This is checked even when Domain is not
		// set, or a token of one tenant would open the room of the same name of every other.
		if c.Subject != "*" && !strings.EqualFold(c.Subject, tenant) {
			return nil, fmt.Errorf("%w: sub %q, the room is tenant %q's", ErrTenant, c.Subject, tenant)
		}
	case v.Domain != "" && c.Subject != "*" && !strings.EqualFold(c.Subject, v.Domain):
		return nil, fmt.Errorf("%w: sub %q", ErrAudience, c.Subject)
	}
	if c.Room == "" {
		return nil, fmt.Errorf("%w: no room claim", ErrMalformed)
	}
	regex := c.roomRegex()
	switch {
	case c.Room == "*":
	case regex:
		ok, err := matchRoomPattern(c.Room, name)
		if err != nil {
			return nil, fmt.Errorf("%w: room claim %q: %w", ErrMalformed, c.Room, err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: %q does not match the whole of %q", ErrRoom, c.Room, name)
		}
	case !strings.EqualFold(c.Room, name): // Jitsi compares room names in lower case.
		return nil, fmt.Errorf("%w: %q", ErrRoom, c.Room)
	}
	u := c.Context.User
	return &Claims{
		User:      User{ID: fmt.Sprint(orEmpty(u.ID)), Name: u.Name, Email: u.Email, Avatar: u.Avatar},
		Room:      c.Room,
		RoomRegex: regex && c.Room != "*",
		Tenant:    tenant,
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
	if v.KeyServer != nil {
		// Which kind a fetched key is, is known only once fetched: key checks it.
		m = append(m, rsaAlgs...)
		m = append(m, ecdsaAlgs...)
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
		if v.KeyServer == nil {
			return nil, fmt.Errorf("no public key for kid %q", kid)
		}
		var err error
		if k, err = v.KeyServer.Key(kid); err != nil {
			return nil, err
		}
	}
	// The key decides the algorithm, never the token: a public key is never an HMAC
	// secret, and an RSA key never verifies ES256 (nor an EC key RS256).
	switch k := k.(type) {
	case *rsa.PublicKey:
		if !slices.Contains(rsaAlgs, alg) {
			return nil, fmt.Errorf("kid %q is an RSA key, the token says %s", kid, alg)
		}
	case *ecdsa.PublicKey:
		if !slices.Contains(ecdsaAlgs, alg) || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("kid %q is an ECDSA key on %s, the token says %s", kid, k.Curve.Params().Name, alg)
		}
	default:
		return nil, fmt.Errorf("kid %q is a %T, which verifies none of the accepted algorithms", kid, k)
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
