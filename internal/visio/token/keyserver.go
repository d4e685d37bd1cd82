package token

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// ErrKey is wrapped by the refusal of a kid whose public key could not be had.
var ErrKey = errors.New("token: no public key for the token's kid")

// Limits of the key server, so that neither a slow or hostile server nor a flood of
// tokens with made-up kids can hold the conference back.
const (
	KeyServerTimeout = 3 * time.Second
	MaxKeyBytes      = 64 << 10 // a PEM public key is a few hundred bytes to a few KiB
	maxKidLen        = 256
)

// KeyServer fetches public keys by kid as Jitsi's asap_key_server does (jitsi-meet
// resources/prosody-plugins/token/util.lib.lua, get_public_key): GET
// <server>/<hex(sha256(kid))>.pem. Jitsi hashes the kid so that no kid can walk the
// server's paths; socle also refuses kids that are not printable ASCII, before any request.
//
// Keys are cached per kid (Jitsi: 128 entries, no expiry; here MaxEntries, for TTL, so
// that a key the server withdraws stops working), and so are failures, for NegativeTTL,
// so that a flood of tokens with unknown kids costs the server one request per kid and
// period. Concurrent look-ups of a kid share one request.
type KeyServer struct {
	base   string
	client *http.Client

	// TTL is how long a fetched key is used; NegativeTTL how long a failure is remembered.
	TTL, NegativeTTL time.Duration
	// MaxEntries bounds the cache; when full, expired entries go, then any.
	MaxEntries int
	// Now is the clock of the cache; nil is time.Now.
	Now func() time.Time

	mu       sync.Mutex
	cache    map[string]cached
	inflight map[string]*flight
}

type cached struct {
	key   crypto.PublicKey
	err   error
	until time.Time
}

type flight struct {
	done chan struct{}
	key  crypto.PublicKey
	err  error
}

// NewKeyServer checks the server's address — https only: the keys it serves decide who
// enters, they must not be replaceable on the way — and prepares its client. client nil
// is a client of its own; tests pass httptest's. Redirects are not followed, and every
// request is bounded by KeyServerTimeout.
func NewKeyServer(server string, client *http.Client) (*KeyServer, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("key server %q: %w", server, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("key server %q: not an https:// URL", server)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("key server %q: no credentials, query or fragment, only https://host/path", server)
	}
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	if c.Timeout == 0 || c.Timeout > KeyServerTimeout {
		c.Timeout = KeyServerTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return errors.New("the key server redirects: refused")
	}
	return &KeyServer{base: u.String(), client: c, TTL: time.Hour, NegativeTTL: 30 * time.Second, MaxEntries: 1000,
		cache: map[string]cached{}, inflight: map[string]*flight{}}, nil
}

// KeyURL is where the key of kid is, as Jitsi names it.
func (ks *KeyServer) KeyURL(kid string) (string, error) {
	sum := sha256.Sum256([]byte(kid))
	return url.JoinPath(ks.base, hex.EncodeToString(sum[:])+".pem")
}

// validKid: 1 to maxKidLen printable ASCII characters. Jitsi sends any kid, hashed; socle
// refuses what no issuer writes (ASAP kids are like "issuer/key-name").
func validKid(kid string) error {
	if kid == "" {
		return errors.New("the token has no kid")
	}
	if len(kid) > maxKidLen {
		return fmt.Errorf("kid longer than %d bytes", maxKidLen)
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return fmt.Errorf("kid %q: not printable ASCII", kid)
		}
	}
	return nil
}

// Key returns the public key of kid: an RSA key or an EC P-256 key.
func (ks *KeyServer) Key(kid string) (crypto.PublicKey, error) {
	if err := validKid(kid); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	now := ks.now()
	ks.mu.Lock()
	if e, ok := ks.cache[kid]; ok && now.Before(e.until) {
		ks.mu.Unlock()
		return e.key, e.err
	}
	if f, ok := ks.inflight[kid]; ok {
		ks.mu.Unlock()
		<-f.done
		return f.key, f.err
	}
	f := &flight{done: make(chan struct{})}
	ks.inflight[kid] = f
	ks.mu.Unlock()

	f.key, f.err = ks.fetch(kid)
	if f.err != nil {
		f.err = fmt.Errorf("%w %q: %v", ErrKey, kid, f.err)
	}

	ks.mu.Lock()
	delete(ks.inflight, kid)
	ttl := ks.TTL
	if f.err != nil {
		ttl = ks.NegativeTTL
	}
	ks.store(kid, cached{key: f.key, err: f.err, until: ks.now().Add(ttl)})
	ks.mu.Unlock()
	close(f.done)
	return f.key, f.err
}

func (ks *KeyServer) now() time.Time {
	if ks.Now != nil {
		return ks.Now()
	}
	return time.Now()
}

// store caches e under kid, making room first. Called with ks.mu held.
func (ks *KeyServer) store(kid string, e cached) {
	if len(ks.cache) >= ks.MaxEntries {
		now := ks.now()
		for k, old := range ks.cache {
			if !now.Before(old.until) {
				delete(ks.cache, k)
			}
		}
		// Still full of live entries: drop any (map order is random), rather than grow.
		for k := range ks.cache {
			if len(ks.cache) < ks.MaxEntries {
				break
			}
			delete(ks.cache, k)
		}
	}
	if ks.MaxEntries > 0 {
		ks.cache[kid] = e
	}
}

// fetch asks the server for kid's key.
func (ks *KeyServer) fetch(kid string) (crypto.PublicKey, error) {
	u, err := ks.KeyURL(kid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), KeyServerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/x-pem-file, text/plain")
	resp, err := ks.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("key server: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("key server: %s answers %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("key server: reading %s: %w", u, err)
	}
	if len(body) > MaxKeyBytes {
		return nil, fmt.Errorf("key server: %s is larger than %d bytes", u, MaxKeyBytes)
	}
	k, err := ParsePublicKey(body)
	if err != nil {
		return nil, fmt.Errorf("key server: %s: %w", u, err)
	}
	return k, nil
}

// ParsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", or PKCS #1 "RSA PUBLIC KEY")
// of a kind a token may be signed with: RSA, or EC on P-256. Anything else is refused, so
// that no key can be mistaken for another kind (an HMAC secret least of all).
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("a PEM %q, not a public key", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PublicKey:
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s: only P-256 (ES256) is accepted", k.Curve.Params().Name)
		}
		return k, nil
	}
	return nil, fmt.Errorf("a %T: only RSA and EC P-256 keys are accepted", k)
}
