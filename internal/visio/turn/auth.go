package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the TURN REST API scheme specifies.
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	pionturn "github.com/pion/turn/v5"
)

// maxUsernameLen bounds the usernames the server looks at; STUN allows 513 bytes.
const maxUsernameLen = 513

var (
	errMalformedUsername = errors.New("malformed username")
	errExpired           = errors.New("credentials expired")
)

// sign returns the TURN REST API password of username: base64(HMAC-SHA1(secret, username)).
func sign(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a "<expiry-unix>:<user>" username and checks that it has not expired
// at now. The user is returned even with errExpired, for the log.
func parseUsername(username string, now time.Time) (user string, err error) {
	if len(username) > maxUsernameLen {
		return "", errMalformedUsername
	}
	expiry, user, ok := strings.Cut(username, ":")
	if !ok || user == "" {
		return "", errMalformedUsername
	}
	if strings.TrimLeft(expiry, "0123456789") != "" {
		return "", errMalformedUsername
	}
	exp, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil || exp <= 0 {
		return "", errMalformedUsername
	}
	if now.Unix() > exp {
		return user, errExpired
	}
	return user, nil
}

// authenticate is Pion's auth handler, called for every authenticated request (Allocate,
// Refresh, CreatePermission, ChannelBind). It refuses malformed and expired usernames and
// otherwise returns the long-term key derived from the expected password; Pion then checks
// the request's MESSAGE-INTEGRITY against it, so a wrong password is refused there (and
// reported to onAuth). The user id it returns is what allocation quotas count.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	user, err := parseUsername(ra.Username, time.Now())
	if err != nil {
		s.logger.Info("turn auth refused", "reason", err.Error(), "user", user,
			"remote_addr", addrString(ra.SrcAddr), "method", ra.Method.String())
		return "", nil, false
	}
	return user, pionturn.GenerateAuthKey(ra.Username, s.cfg.Realm, sign(s.cfg.Secret, ra.Username)), true
}

// onAuth logs the requests whose username was accepted but whose integrity check failed:
// a wrong password, or a realm other than ours.
func (s *Server) onAuth(src, _ net.Addr, protocol, username, _ string, method string, verdict bool) {
	if verdict {
		return
	}
	_, user, _ := strings.Cut(username, ":")
	s.logger.Info("turn auth refused", "reason", "bad message integrity", "user", user,
		"remote_addr", addrString(src), "protocol", protocol, "method", method)
}

// allowAllocation is Pion's quota handler: it answers 486 (Allocation Quota Reached) to a
// user at their limit, or to anyone when the server is full. The relay generator enforces
// the same limits atomically; this check only gives the client the precise error.
func (s *Server) allowAllocation(userID, _ string, src net.Addr) bool {
	if err := s.quota.check(userID); err != nil {
		s.logger.Warn("turn allocation refused", "reason", err.Error(), "user", userID,
			"remote_addr", addrString(src))
		return false
	}
	return true
}
