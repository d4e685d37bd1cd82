package identity

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The second factor of the built-in accounts is TOTP (RFC 6238) as every authenticator app
// reads it from an otpauth:// URI: SHA-1, six digits, 30-second steps (§4, §5.2's defaults).
const (
	totpPeriod = 30
	totpIssuer = "socle"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// ErrBadCode is a second-factor code that is wrong, too old, or used already.
var ErrBadCode = errors.New("identity: wrong or used code")

// newTOTPKey makes a secret (160 bits, RFC 4226 §4's recommended length) for email.
func newTOTPKey(email string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: email, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, fmt.Errorf("identity: second factor: %w", err)
	}
	return k, nil
}

// newKeyFor is the key of an existing secret, for its QR code.
func newKeyFor(email, secret string) (*otp.Key, error) {
	v := url.Values{"secret": {secret}, "issuer": {totpIssuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return otp.NewKeyFromURL("otpauth://totp/" + url.PathEscape(totpIssuer+":"+email) + "?" + v.Encode())
}

// totpQR is the key's otpauth:// URI as a QR code, a PNG in a data: URL.
func totpQR(k *otp.Key) (string, error) {
	img, err := k.Image(240, 240)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// totpStep finds the time step at which code is secret's, among the current one and its two
// neighbours (RFC 6238 §5.2: one step of clock drift either way), after the step last used:
// a code is good once (§5.2). 0 when none.
func totpStep(secret, code string, now time.Time, after int64) int64 {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	for _, step := range []int64{cur - 1, cur, cur + 1} {
		if step <= after {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step
		}
	}
	return 0
}

// checkTOTP accepts code for the user's secret, once: the step it belongs to is recorded in
// the same statement that checks it is later than the last one, so two sign-ins racing with
// one code cannot both pass.
func (s *Store) checkTOTP(ctx context.Context, userID int64, code string) error {
	var secret string
	var last int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(totp_secret, ''), totp_step FROM identity.users WHERE id = $1`, userID).
		Scan(&secret, &last); err != nil {
		return fmt.Errorf("identity: second factor: %w", err)
	}
	if secret == "" {
		return ErrBadCode
	}
	return s.useStep(ctx, userID, totpStep(secret, code, s.now(), last))
}

func (s *Store) useStep(ctx context.Context, userID, step int64) error {
	if step == 0 {
		return ErrBadCode
	}
	tag, err := s.pool.Exec(ctx, `UPDATE identity.users SET totp_step = $2 WHERE id = $1 AND totp_step < $2`, userID, step)
	if err != nil {
		return fmt.Errorf("identity: second factor: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return ErrBadCode
	}
	return nil
}

// enrollTOTP keeps secret as the user's once code proves the person's app holds it.
func (s *Store) enrollTOTP(ctx context.Context, userID int64, secret, code string) error {
	step := totpStep(secret, code, s.now(), 0)
	if step == 0 {
		return ErrBadCode
	}
	tag, err := s.pool.Exec(ctx, `UPDATE identity.users SET totp_secret = $2, totp_step = $3 WHERE id = $1 AND totp_secret IS NULL`,
		userID, secret, step)
	if err != nil {
		return fmt.Errorf("identity: second factor: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return ErrBadCode // enrolled meanwhile, from another browser
	}
	s.logger.Info("second factor enrolled", "user_id", userID)
	return nil
}

// SetTOTP gives the account of email a new TOTP secret and returns its otpauth:// URI, for
// `socle user totp` (an administrator who lost their phone gets a new secret from the
// console) and for the demo accounts. Its sessions end.
func (s *Store) SetTOTP(ctx context.Context, email string) (uri string, err error) {
	email, err = NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	k, err := newTOTPKey(email)
	if err != nil {
		return "", err
	}
	if err := s.updateUser(ctx, email, "second factor reset",
		`UPDATE identity.users SET totp_secret = $2, totp_step = 0 WHERE email = $1 RETURNING id`, k.Secret()); err != nil {
		return "", err
	}
	return k.URL(), nil
}

// needsSecondFactor says what a user who typed the right password must still do: "totp" when
// they have a secret, "enroll" when they hold admin and have none yet, "" otherwise.
func (s *Store) needsSecondFactor(ctx context.Context, u *User) (string, error) {
	var has bool
	if err := s.pool.QueryRow(ctx, `SELECT totp_secret IS NOT NULL FROM identity.users WHERE id = $1`, u.ID).Scan(&has); err != nil {
		return "", fmt.Errorf("identity: second factor: %w", err)
	}
	switch {
	case has:
		return "totp", nil
	case u.Can(RoleAdmin, AllScopes):
		return "enroll", nil
	}
	return "", nil
}
