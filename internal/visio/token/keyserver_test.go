package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A key server as Jitsi's asap_key_server: the public key of kid is at
// <server>/<hex(sha256(kid))>.pem. Source: jitsi-meet
// resources/prosody-plugins/token/util.lib.lua, get_public_key and
// process_and_verify_token.
type keyServer struct {
	*httptest.Server
	keys     map[string][]byte // by file name
	requests atomic.Int32
	paths    chan string
}

func newKeyServer(t *testing.T, keys map[string]crypto.PublicKey) *keyServer {
	t.Helper()
	ks := &keyServer{keys: map[string][]byte{}, paths: make(chan string, 100)}
	for kid, k := range keys {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(kid))
		ks.keys["/keys/"+hex.EncodeToString(sum[:])+".pem"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	ks.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.requests.Add(1)
		ks.paths <- r.URL.Path
		b, ok := ks.keys[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func signed(t *testing.T, m jwt.SigningMethod, kid string, key any, edit func(jwt.MapClaims)) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jitsi(edit))
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyServerVerifier(t *testing.T, srv *keyServer) (*Verifier, *KeyServer, *time.Time) {
	t.Helper()
	ks, err := NewKeyServer(srv.URL+"/keys/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	ks.Now = func() time.Time { return clock }
	return &Verifier{AppID: "socle", KeyServer: ks, Domain: "visio.gouv.fr", Now: func() time.Time { return now }}, ks, &clock
}

func TestKeysAreFetchedByKidFromTheKeyServerAndCached(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newKeyServer(t, map[string]crypto.PublicKey{"socle/rsa-2026": &rk.PublicKey, "socle/ec-2026": &ek.PublicKey})
	v, ks, clock := keyServerVerifier(t, srv)

	tok := signed(t, jwt.SigningMethodRS256, "socle/rsa-2026", rk, nil)
	if _, err := v.Verify(tok, "point-hebdo"); err != nil {
		t.Fatal(err)
	}
	// The file Jitsi asks for: the kid hashed with SHA-256, in hex, and .pem.
	sum := sha256.Sum256([]byte("socle/rsa-2026"))
	if p := <-srv.paths; p != "/keys/"+hex.EncodeToString(sum[:])+".pem" {
		t.Errorf("requested %s", p)
	}
	// Cached: the second verification, and one with another RSA size, ask nothing.
	if _, err := v.Verify(tok, "point-hebdo"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signed(t, jwt.SigningMethodRS512, "socle/rsa-2026", rk, nil), "point-hebdo"); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	// ES256 with an EC P-256 key.
	if _, err := v.Verify(signed(t, jwt.SigningMethodES256, "socle/ec-2026", ek, nil), "point-hebdo"); err != nil {
		t.Errorf("ES256: %v", err)
	}
	// Once the TTL has passed, the key is asked for again (a withdrawn key stops working).
	*clock = clock.Add(ks.TTL)
	if _, err := v.Verify(tok, "point-hebdo"); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("%d requests after the TTL, want 3", n)
	}
}

func TestAnUnknownKidIsRefusedAndTheRefusalRemembered(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newKeyServer(t, nil)
	v, ks, clock := keyServerVerifier(t, srv)
	tok := signed(t, jwt.SigningMethodRS256, "socle/unknown", rk, nil)
	for range 3 {
		if _, err := v.Verify(tok, "point-hebdo"); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "404") {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	// A flood of tokens with that kid costs the server one request per NegativeTTL.
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	*clock = clock.Add(ks.NegativeTTL)
	v.Verify(tok, "point-hebdo")
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests after NegativeTTL, want 2", n)
	}
	// Kids no issuer writes are refused before any request: none, control characters, too long.
	for _, kid := range []string{"", "socle/\x00", "a b", strings.Repeat("k", maxKidLen+1)} {
		if _, err := ks.Key(kid); !errors.Is(err, ErrKey) {
			t.Errorf("kid %q: %v", kid, err)
		}
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestTheKeyServerIsHTTPSOnly(t *testing.T) {
	for _, u := range []string{"http://keys.example/", "keys.example", "ftp://keys.example/", "https://user:pw@keys.example/", "https:///keys"} {
		if _, err := NewKeyServer(u, nil); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	if _, err := NewKeyServer("https://keys.example/asap/", nil); err != nil {
		t.Error(err)
	}
}

func TestWhatTheKeyServerAnswersIsBounded(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newKeyServer(t, map[string]crypto.PublicKey{"big": &rk.PublicKey, "ed": ed25519.PublicKey(make([]byte, 32))})
	ek384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ek384.PublicKey)
	sum := sha256.Sum256([]byte("p384"))
	srv.keys["/keys/"+hex.EncodeToString(sum[:])+".pem"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	// A body larger than MaxKeyBytes, though it begins with a good key.
	sum = sha256.Sum256([]byte("big"))
	big := "/keys/" + hex.EncodeToString(sum[:]) + ".pem"
	srv.keys[big] = append(srv.keys[big], strings.Repeat("#", MaxKeyBytes)...)
	v, _, _ := keyServerVerifier(t, srv)
	for kid, why := range map[string]string{"big": "larger than", "ed": "only RSA and EC P-256", "p384": "only P-256"} {
		_, err := v.Verify(signed(t, jwt.SigningMethodRS256, kid, rk, nil), "point-hebdo")
		if !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v, want %q", kid, err, why)
		}
	}
}

// A key from the server is a public key, never an HMAC secret: an HS256 token "signed"
// with its PEM is refused (the key-confusion attack), as is ES256 under an RSA kid.
func TestAFetchedKeyIsNeverASecret(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := newKeyServer(t, map[string]crypto.PublicKey{"rsa": &rk.PublicKey})
	v, _, _ := keyServerVerifier(t, srv)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		if _, err := v.Verify(signed(t, m, "rsa", pub, nil), "point-hebdo"); !errors.Is(err, ErrSignature) {
			t.Errorf("%s with the public key: %v", m.Alg(), err)
		}
	}
	if _, err := v.Verify(signed(t, jwt.SigningMethodES256, "rsa", ek, nil), "point-hebdo"); !errors.Is(err, ErrSignature) {
		t.Errorf("ES256 under an RSA kid: %v", err)
	}
}

// Keys configured in advance keep working beside the key server, and are preferred to it.
func TestStaticKeysAndTheKeyServerTogether(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := newKeyServer(t, map[string]crypto.PublicKey{"fetched": &rk.PublicKey, "static": &other.PublicKey})
	v, _, _ := keyServerVerifier(t, srv)
	v.Keys = map[string]crypto.PublicKey{"static": &rk.PublicKey}
	if _, err := v.Verify(signed(t, jwt.SigningMethodRS256, "static", rk, nil), "point-hebdo"); err != nil {
		t.Errorf("static: %v", err)
	}
	if _, err := v.Verify(signed(t, jwt.SigningMethodRS256, "fetched", rk, nil), "point-hebdo"); err != nil {
		t.Errorf("fetched: %v", err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (the static kid is not asked for)", n)
	}
}

// A full cache makes room rather than grow.
func TestTheKeyCacheIsBounded(t *testing.T) {
	srv := newKeyServer(t, nil)
	_, ks, _ := keyServerVerifier(t, srv)
	ks.MaxEntries = 3
	for _, kid := range []string{"a", "b", "c", "d", "e"} {
		ks.Key(kid)
	}
	ks.mu.Lock()
	n := len(ks.cache)
	ks.mu.Unlock()
	if n > 3 {
		t.Errorf("%d entries, want at most 3", n)
	}
}
