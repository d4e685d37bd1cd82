package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password policy: long enough to resist guessing, short enough to hash cheaply.
const (
	MinPasswordChars = 12
	MaxPasswordBytes = 1024
)

// CheckPasswordPolicy says why a new password is refused, or nil. It never quotes the
// password.
func CheckPasswordPolicy(password string) error {
	if n := utf8.RuneCountInString(password); n < MinPasswordChars {
		return fmt.Errorf("%w: it has %d characters, at least %d are required", ErrWeakPassword, n, MinPasswordChars)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("%w: it is longer than %d bytes", ErrWeakPassword, MaxPasswordBytes)
	}
	return nil
}

// argon2id parameters for new hashes: the OWASP recommendation (19 MiB, 2 passes, 1 lane).
// They are written into each hash, so raising them later leaves old hashes verifiable;
// Authenticate rehashes a password whose hash used other parameters.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

var current = argonParams{memory: 19 * 1024, time: 2, threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// hashing bounds how many argon2 computations run at once: each takes current.memory, and
// a burst of sign-ins must not exhaust the memory of the process.
var hashing = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

func argonKey(password, salt []byte, p argonParams, n uint32) []byte {
	hashing <- struct{}{}
	defer func() { <-hashing }()
	return argon2.IDKey(password, salt, p.time, p.memory, p.threads, n)
}

var b64 = base64.RawStdEncoding // PHC strings use standard base64 without padding

// HashPassword returns the argon2id hash of password in PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("identity: salt: %w", err)
	}
	key := argonKey([]byte(password), salt, current, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		current.memory, current.time, current.threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches hash, comparing in constant time. The
// error is for a hash that is not an argon2id PHC string socle can read.
func VerifyPassword(hash, password string) (bool, error) {
	p, salt, key, err := parseHash(hash)
	if err != nil {
		return false, err
	}
	got := argonKey([]byte(password), salt, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

var errBadHash = errors.New("identity: password hash is not an argon2id PHC string")

// parseHash reads $argon2id$v=19$m=M,t=T,p=P$salt$key, with bounds that keep a tampered
// hash from making verification take the machine down.
func parseHash(hash string) (argonParams, []byte, []byte, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return argonParams{}, nil, nil, errBadHash
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return argonParams{}, nil, nil, errBadHash
	}
	var n [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		x, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return argonParams{}, nil, nil, errBadHash
		}
		n[i] = x
	}
	p := argonParams{memory: uint32(n[0]), time: uint32(n[1]), threads: uint8(min(n[2], 255))}
	if p.threads < 1 || p.threads > 16 || p.memory < 8*uint32(p.threads) || p.memory > 1<<20 || p.time < 1 || p.time > 16 {
		return argonParams{}, nil, nil, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return argonParams{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// outdated reports whether hash was made with other parameters than new hashes.
func outdated(hash string) bool {
	p, _, key, err := parseHash(hash)
	return err != nil || p != current || len(key) != keyLen
}

// dummyHash is verified when the email is unknown, so that the answer takes as long as for
// a wrong password.
var dummyHash = sync.OnceValue(func() string {
	b := make([]byte, 24)
	rand.Read(b)
	h, _ := HashPassword(b64.EncodeToString(b))
	return h
})
