// Package mail sends the platform's mail — a poll's invitations, a transfer's links — through
// the organisation's SMTP relay (RFC 5321), with TLS (STARTTLS, RFC 3207, or implicit TLS,
// RFC 8314) and authentication (RFC 4954), and receives mail where socle itself is a relay or
// a demo's mailbox (Sink). Messages are built by wneessen/go-mail, the SMTP server side is
// emersion/go-smtp: socle writes neither MIME nor SMTP by hand.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"

	"socle/internal/platform/config"
)

// TLS modes of the relay.
const (
	TLSStartTLS = "starttls" // plain connection upgraded by STARTTLS, required (port 587)
	TLSImplicit = "tls"      // TLS from the first byte (port 465, RFC 8314)
	TLSNone     = "none"     // no TLS: accepted for a relay on loopback only
)

// Config is the relay's configuration table: a platform setting, shared by the services.
type Config struct {
	Relay    string // host:port; empty: no relay (the demo's mailbox, or mail is refused)
	TLS      string
	Username string
	Password string
	From     string
}

// Register declares the settings (SOCLE_SMTP_RELAY, ...).
func (c *Config) Register(s *config.Set) {
	s.String(&c.Relay, "smtp-relay", "", "the SMTP relay socle sends its mail through, host:port (empty: none; with --demo, a mailbox under <data-dir>/mail)")
	s.Enum(&c.TLS, "smtp-tls", TLSStartTLS, []string{TLSStartTLS, TLSImplicit, TLSNone}, "starttls (required, port 587), tls (implicit, port 465) or none (a relay on loopback only)")
	s.String(&c.Username, "smtp-username", "", "the relay's user name (empty: no authentication)")
	s.Secret(&c.Password, "smtp-password", "the relay's password")
	s.String(&c.From, "mail-from", "socle <no-reply@socle.localhost>", "the sender of socle's mail (RFC 5322 mailbox)")
	s.Check(func() error {
		if c.Relay == "" {
			return nil
		}
		host, port, err := net.SplitHostPort(c.Relay)
		if err != nil || host == "" {
			return fmt.Errorf("SOCLE_SMTP_RELAY: %q: host:port", c.Relay)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("SOCLE_SMTP_RELAY: %q: the port is not a number", c.Relay)
		}
		if c.TLS == TLSNone && !isLoopback(host) {
			return fmt.Errorf("SOCLE_SMTP_TLS=none: only for a relay on loopback, not %s: mail carries personal data", host)
		}
		if _, err := parseAddress(c.From); err != nil {
			return fmt.Errorf("SOCLE_MAIL_FROM: %w", err)
		}
		return nil
	})
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Attachment is a file attached to a message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Message is one mail to its recipients.
type Message struct {
	To      []string
	ReplyTo string
	Subject string
	// Text is the body, plain text (UTF-8).
	Text string
	// Calendar, when set, is an iCalendar object (RFC 5545) with METHOD:REQUEST or CANCEL:
	// sent as the text/calendar alternative calendar clients act on (RFC 6047 §2.4), and as
	// invite.ics for the others.
	Calendar       []byte
	CalendarMethod string
	Attachments    []Attachment
}

// Sender sends messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrNoRelay is a message socle could not send: no relay is configured.
var ErrNoRelay = errors.New("mail: no SMTP relay is configured (SOCLE_SMTP_RELAY)")

// SMTP sends through the relay.
type SMTP struct {
	cfg    Config
	roots  *x509.CertPool
	logger *slog.Logger
}

// New returns the relay's sender; roots verifies the relay's certificate (nil: the system's).
func New(cfg Config, roots *x509.CertPool, logger *slog.Logger) *SMTP {
	return &SMTP{cfg: cfg, roots: roots, logger: logger}
}

// build makes the MIME message of m, from the configured sender.
func build(from string, m Message) (*gomail.Msg, error) {
	if len(m.To) == 0 {
		return nil, errors.New("mail: no recipient")
	}
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail: from %q: %w", from, err)
	}
	if err := msg.To(m.To...); err != nil {
		return nil, fmt.Errorf("mail: to: %w", err)
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return nil, fmt.Errorf("mail: reply-to: %w", err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	// RFC 3834 §5: socle's mail is sent by a program; auto-responders leave it alone.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if len(m.Calendar) > 0 {
		method := m.CalendarMethod
		if method == "" {
			method = "REQUEST"
		}
		msg.AddAlternativeString(gomail.ContentType("text/calendar; method="+method), string(m.Calendar))
		if err := msg.AttachReader("invite.ics", bytes.NewReader(m.Calendar), gomail.WithFileContentType("application/ics")); err != nil {
			return nil, fmt.Errorf("mail: calendar: %w", err)
		}
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(ct))); err != nil {
			return nil, fmt.Errorf("mail: attachment %q: %w", a.Name, err)
		}
	}
	return msg, nil
}

// Send sends m through the relay, within ctx.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if s.cfg.Relay == "" {
		return ErrNoRelay
	}
	msg, err := build(s.cfg.From, m)
	if err != nil {
		return err
	}
	host, portText, _ := net.SplitHostPort(s.cfg.Relay) // checked by Config
	port, _ := strconv.Atoi(portText)
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTimeout(30 * time.Second),
		gomail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: s.roots, MinVersion: tls.VersionTLS12})}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		// PLAIN over TLS; go-mail refuses to send credentials in clear.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(s.cfg.Username),
			gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("mail: relay %s: %w", s.cfg.Relay, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: relay %s: %w", s.cfg.Relay, err)
	}
	if s.logger != nil {
		s.logger.Info("mail sent", "relay", s.cfg.Relay, "recipients", len(m.To), "subject", m.Subject)
	}
	return nil
}

// parseAddress checks one mailbox (RFC 5322 §3.4).
func parseAddress(s string) (string, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s); err != nil {
		return "", fmt.Errorf("%q is not a mailbox: %w", s, err)
	}
	return strings.TrimSpace(s), nil
}

// SendRaw relays a message as it is — socle as a relay in front of the mail system (collab's
// SMTP relay): the envelope's sender and recipients, and the message's bytes, through the
// configured relay with the same TLS and authentication as Send.
func (s *SMTP) SendRaw(ctx context.Context, from string, to []string, data io.Reader) error {
	if s.cfg.Relay == "" {
		return ErrNoRelay
	}
	host, _, _ := net.SplitHostPort(s.cfg.Relay)
	conf := &tls.Config{ServerName: host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}
	var c *smtp.Client
	var err error
	switch s.cfg.TLS {
	case TLSImplicit:
		c, err = smtp.DialTLS(s.cfg.Relay, conf)
	case TLSStartTLS:
		c, err = smtp.DialStartTLS(s.cfg.Relay, conf)
	default:
		c, err = smtp.Dial(s.cfg.Relay)
	}
	if err != nil {
		return fmt.Errorf("mail: relay %s: %w", s.cfg.Relay, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.CommandTimeout, c.SubmissionTimeout = time.Until(d), time.Until(d)
	}
	if s.cfg.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.cfg.Username, s.cfg.Password)); err != nil {
			return fmt.Errorf("mail: relay %s: %w", s.cfg.Relay, err)
		}
	}
	if err := c.SendMail(from, to, data); err != nil {
		return fmt.Errorf("mail: relay %s: %w", s.cfg.Relay, err)
	}
	return c.Quit()
}
