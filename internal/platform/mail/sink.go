package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is a message an SMTP server of socle's took: the envelope and the raw message.
type Received struct {
	From string
	To   []string
	Data []byte
}

// SinkOptions configure a Sink.
type SinkOptions struct {
	// Addr to listen on: loopback only (127.0.0.1:0 for any port).
	Addr string
	// TLS, when set, is offered by STARTTLS.
	TLS *tls.Config
	// Username and Password, when set, are required (AUTH PLAIN, after STARTTLS when TLS is
	// set).
	Username, Password string
	// MaxBytes bounds a message (default 64 MiB).
	MaxBytes int64
	// Deliver takes each message; an error refuses it (the client sees a 554).
	Deliver func(Received) error
}

// Sink is an SMTP server on loopback that hands every message to Deliver: the demo's mailbox
// and the tests' mail server — a real SMTP peer, not a function standing in for one.
type Sink struct {
	srv *smtp.Server
	ln  net.Listener
}

// StartSink listens and serves until Close.
func StartSink(o SinkOptions) (*Sink, error) {
	if o.Deliver == nil {
		return nil, errors.New("mail: sink: Deliver is required")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil || !isLoopback(host) {
		return nil, fmt.Errorf("mail: sink: %q: a loopback address", o.Addr)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("mail: sink: %w", err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{o: &o}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = o.TLS
	srv.MaxMessageBytes = o.MaxBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.AllowInsecureAuth = o.TLS == nil // on loopback only (checked above)
	s := &Sink{srv: srv, ln: ln}
	go srv.Serve(ln)
	return s, nil
}

// Addr is where the sink listens, host:port.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the sink.
func (s *Sink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

type sinkSession struct {
	o      *SinkOptions
	authed bool
	msg    Received
}

func (s *sinkSession) AuthMechanisms() []string {
	if s.o.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.o.Username || password != s.o.Password {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.o.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg = Received{From: from}
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	if err := s.o.Deliver(s.msg); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 3, 0}, Message: err.Error()}
	}
	return nil
}

func (s *sinkSession) Reset()        { s.msg = Received{} }
func (s *sinkSession) Logout() error { return nil }

// StartMailbox is the demo's mailbox: a Sink on loopback that writes each message it takes to
// dir as an .eml file a mail client opens, and says so in the log. `socle serve --demo` sends
// socle's mail there when no relay is configured.
func StartMailbox(dir string, logger *slog.Logger) (*Sink, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail: mailbox: %w", err)
	}
	var n atomic.Int64
	return StartSink(SinkOptions{Addr: "127.0.0.1:0", Deliver: func(r Received) error {
		name := filepath.Join(dir, fmt.Sprintf("%s-%03d.eml", time.Now().UTC().Format("20060102T150405"), n.Add(1)%1000))
		if err := os.WriteFile(name, r.Data, 0o600); err != nil {
			return err
		}
		subject := ""
		if m, err := netmail.ReadMessage(bytes.NewReader(r.Data)); err == nil {
			subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		}
		logger.Info("demo mailbox: mail received", "to", strings.Join(r.To, ", "), "subject", subject, "file", name)
		return nil
	}})
}
