package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/config"
	"socle/internal/platform/pki"
)

// relay is a real SMTP server on loopback with STARTTLS and AUTH PLAIN, as an organisation's
// relay is, and the CA that signed its certificate.
func relay(t *testing.T, user, password string) (*Sink, *x509.CertPool, chan Received) {
	t.Helper()
	ca, err := pki.NewCA("mail test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	is, err := ca.Issue(pki.Request{Name: "localhost", Usage: pki.Server, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := is.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Received, 10)
	s, err := StartSink(SinkOptions{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		Username: user, Password: password, Deliver: func(r Received) error { got <- r; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return s, roots, got
}

func TestAMessageGoesThroughTheRelayOverSTARTTLSWithItsCalendarPart(t *testing.T) {
	s, roots, got := relay(t, "socle", "s3cret")
	_, port, _ := net.SplitHostPort(s.Addr())
	sender := New(Config{Relay: "localhost:" + port, TLS: TLSStartTLS, Username: "socle", Password: "s3cret",
		From: "socle <no-reply@socle.test>"}, roots, nil)
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//socle//test//FR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
	err := sender.Send(t.Context(), Message{To: []string{"agent@interieur.gouv.test"}, Subject: "Réunion préfecture",
		Text: "Bonjour,\nla réunion est fixée.", Calendar: []byte(ics)})
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.From != "no-reply@socle.test" || len(r.To) != 1 || r.To[0] != "agent@interieur.gouv.test" {
		t.Fatalf("envelope: %+v", r)
	}
	m, err := netmail.ReadMessage(strings.NewReader(string(r.Data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "Réunion préfecture" || m.Header.Get("Auto-Submitted") != "auto-generated" || m.Header.Get("Message-Id") == "" {
		t.Fatalf("headers: %v", m.Header)
	}
	// The calendar is an alternative calendar clients act on, and an attachment.
	var types []string
	var walk func(ct string, body io.Reader)
	walk = func(ct string, body io.Reader) {
		mt, params, _ := mime.ParseMediaType(ct)
		types = append(types, mt+";"+params["method"])
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p)
			}
		}
	}
	walk(m.Header.Get("Content-Type"), m.Body)
	joined := strings.Join(types, ",")
	if !strings.Contains(joined, "text/calendar;REQUEST") || !strings.Contains(joined, "application/ics") || !strings.Contains(joined, "text/plain") {
		t.Fatalf("parts: %s", joined)
	}
}

func TestTheRelayRefusesWrongCredentialsAndSocleRefusesAnUnverifiedRelay(t *testing.T) {
	s, roots, _ := relay(t, "socle", "s3cret")
	_, port, _ := net.SplitHostPort(s.Addr())
	msg := Message{To: []string{"a@b.test"}, Subject: "x", Text: "y"}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := New(Config{Relay: "localhost:" + port, TLS: TLSStartTLS, Username: "socle", Password: "wrong", From: "s@socle.test"}, roots, nil).Send(ctx, msg); err == nil {
		t.Fatal("wrong password: sent")
	}
	// The relay's certificate must chain to the roots given (here: the system's, which do
	// not know the test CA).
	if err := New(Config{Relay: "localhost:" + port, TLS: TLSStartTLS, Username: "socle", Password: "s3cret", From: "s@socle.test"}, nil, nil).Send(ctx, msg); err == nil {
		t.Fatal("an unverified relay: sent")
	}
	if err := New(Config{From: "s@socle.test"}, nil, nil).Send(ctx, msg); !errors.Is(err, ErrNoRelay) {
		t.Fatalf("no relay: %v", err)
	}
}

func TestTheSettingsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		says string
	}{
		{map[string]string{"SOCLE_SMTP_RELAY": "smtp.example.org:25", "SOCLE_SMTP_TLS": "none"}, "only for a relay on loopback"},
		{map[string]string{"SOCLE_SMTP_RELAY": "smtp.example.org"}, "host:port"},
		{map[string]string{"SOCLE_SMTP_TLS": "ssl"}, "want one of starttls, tls, none"},
		{map[string]string{"SOCLE_SMTP_RELAY": "127.0.0.1:2525", "SOCLE_SMTP_TLS": "none"}, ""},
	} {
		var c Config
		s := config.New()
		c.Register(s)
		err := s.LoadEnv(func(k string) string { return tc.env[k] })
		if err == nil {
			err = s.Validate()
		}
		if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%v: %v, want %q", tc.env, err, tc.says)
		}
	}
}

func TestTheDemoMailboxKeepsEachMessageAsAnEMLFile(t *testing.T) {
	dir := t.TempDir()
	box, err := StartMailbox(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	if err := New(Config{Relay: box.Addr(), TLS: TLSNone, From: "socle <no-reply@socle.test>"}, nil, nil).Send(t.Context(),
		Message{To: []string{"agent@demo.socle.test"}, Subject: "Sondage", Text: "Répondez avant vendredi."}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 1 {
		t.Fatalf("files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	if !strings.Contains(string(b), "agent@demo.socle.test") {
		t.Fatalf("%s", b)
	}
}

func TestARawMessageIsRelayedAsItIs(t *testing.T) {
	s, roots, got := relay(t, "socle", "s3cret")
	_, port, _ := net.SplitHostPort(s.Addr())
	raw := "From: Alice <alice@interieur.gouv.test>\r\nTo: bob@example.org\r\nSubject: relayed\r\n\r\nunchanged body\r\n"
	err := New(Config{Relay: "localhost:" + port, TLS: TLSStartTLS, Username: "socle", Password: "s3cret", From: "s@socle.test"}, roots, nil).
		SendRaw(t.Context(), "alice@interieur.gouv.test", []string{"bob@example.org"}, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.From != "alice@interieur.gouv.test" || string(r.Data) != raw {
		t.Fatalf("%q %q", r.From, r.Data)
	}
}
