// Package jwtauth checks the JWTs consumers present to the gateway (RFC 7519) against their
// issuers' JSON Web Key Sets (RFC 7517), fetched over HTTPS and cached by lestrrat-go/jwx's
// jwk.Cache: refreshed in the background, and at once — at most every MinRefresh — when a
// token names a key id the cached set does not have, which is how an issuer's key rotation
// reaches the gateway without a restart.
package jwtauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// MinRefresh is how often a key set may be fetched again because of an unknown key id: a
// flood of tokens with made-up kids must not become a flood of requests to the issuer.
const MinRefresh = 10 * time.Second

// FetchTimeout bounds the first fetch of an issuer's key set.
const FetchTimeout = 5 * time.Second

// Skew is the clock difference tolerated on exp, nbf and iat.
const Skew = 30 * time.Second

// Issuer is an issuer the gateway accepts tokens of.
type Issuer struct {
	Issuer, JWKS, Audience string
}

// Verifier checks tokens.
type Verifier struct {
	cache  *jwk.Cache
	client *http.Client
	mu     sync.Mutex
	known  map[string]bool      // JWKS URLs registered in the cache
	last   map[string]time.Time // when a JWKS was last refreshed for an unknown kid
}

// New starts a verifier whose key sets are fetched with client; it stops with ctx.
func New(ctx context.Context, client *http.Client) (*Verifier, error) {
	c, err := jwk.NewCache(ctx, httprc.NewClient(httprc.WithHTTPClient(client)))
	if err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	return &Verifier{cache: c, client: client, known: map[string]bool{}, last: map[string]time.Time{}}, nil
}

// ErrIssuer is a token of an issuer not among those given.
var ErrIssuer = errors.New("token of an issuer the gateway does not accept")

// Verify checks token as one of the issuers (by its iss claim) and returns its issuer and its
// subject: client_id when the token has one (RFC 9068 §2.2, the application the token was
// issued to), else sub.
func (v *Verifier) Verify(ctx context.Context, token string, issuers func(iss string) (Issuer, bool)) (issuer, subject string, err error) {
	raw := []byte(token)
	unverified, err := jwt.ParseInsecure(raw)
	if err != nil {
		return "", "", fmt.Errorf("not a JWT: %w", err)
	}
	iss, _ := unverified.Issuer()
	is, ok := issuers(iss)
	if !ok {
		return "", "", ErrIssuer
	}
	set, err := v.set(ctx, is.JWKS)
	if err != nil {
		return "", "", err
	}
	opts := []jwt.ParseOption{jwt.WithIssuer(is.Issuer), jwt.WithValidate(true), jwt.WithAcceptableSkew(Skew)}
	if is.Audience != "" {
		opts = append(opts, jwt.WithAudience(is.Audience))
	}
	parse := func(set jwk.Set) (jwt.Token, error) {
		// Public keys only: a symmetric key in a published set would let anyone who reads
		// the set sign tokens (RFC 8725 §3.1).
		return jwt.Parse(raw, append(opts, jwt.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(false)))...)
	}
	// A key id the set does not have is how an issuer's new key shows: fetch the set again
	// (at most every MinRefresh), rather than wait for its scheduled refresh.
	if kid := keyID(raw); kid != "" {
		if _, ok := set.LookupKeyID(kid); !ok && v.mayRefresh(is.JWKS) {
			if fresh, err := v.cache.Refresh(ctx, is.JWKS); err == nil {
				set = fresh
			}
		}
	}
	t, err := parse(set)
	if err != nil {
		return "", "", fmt.Errorf("token refused: %w", err)
	}
	var clientID string
	if t.Get("client_id", &clientID) == nil && clientID != "" {
		return is.Issuer, clientID, nil
	}
	sub, ok := t.Subject()
	if !ok || sub == "" {
		return "", "", errors.New("token refused: no sub nor client_id")
	}
	return is.Issuer, sub, nil
}

// keyID is the kid of a token's protected header, if any.
func keyID(raw []byte) string {
	msg, err := jws.Parse(raw)
	if err != nil || len(msg.Signatures()) == 0 {
		return ""
	}
	kid, _ := msg.Signatures()[0].ProtectedHeaders().KeyID()
	return kid
}

// set returns the cached key set of url, registering it at first use.
func (v *Verifier) set(ctx context.Context, url string) (jwk.Set, error) {
	v.mu.Lock()
	known := v.known[url]
	v.mu.Unlock()
	if !known {
		// The first fetch is awaited, briefly: a call must not hang on an issuer that does not
		// answer. A set that could not be fetched is forgotten, and asked for again by a later
		// call.
		rctx, cancel := context.WithTimeout(ctx, FetchTimeout)
		err := v.cache.Register(rctx, url, jwk.WithHTTPClient(v.client), jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(time.Hour))
		cancel()
		if err != nil {
			v.cache.Unregister(context.WithoutCancel(ctx), url)
			return nil, fmt.Errorf("issuer's key set %s could not be fetched: %w", url, err)
		}
		v.mu.Lock()
		v.known[url] = true
		v.mu.Unlock()
	}
	set, err := v.cache.Lookup(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("issuer's key set %s: %w", url, err)
	}
	for i := range set.Len() {
		if k, ok := set.Key(i); ok && k.KeyType().String() == "oct" {
			return nil, fmt.Errorf("issuer's key set %s holds a symmetric key: refused", url)
		}
	}
	return set, nil
}

func (v *Verifier) mayRefresh(url string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if time.Since(v.last[url]) < MinRefresh {
		return false
	}
	v.last[url] = time.Now()
	return true
}

// Close stops the background refreshes.
func (v *Verifier) Close(ctx context.Context) error { return v.cache.Shutdown(ctx) }
