package collab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"socle/internal/platform/config"
)

// The mail integration of the transfers (Melanissimo, seed 003): socle as an SMTP relay in
// front of the mail system. A message whose attachments weigh more than the limit does not
// bounce: its attachments become a transfer owned by the sender (fromMail), and each
// recipient receives the message without them, with a note listing their personal links.
// Smaller messages go through as they are. The relay answers 250 only once the mail system
// behind it took every message (RFC 5321 §6.1: an accepted message is the relay's to
// deliver), and spools messages to disk, never whole in memory.

// RelayConfig is the relay's part of collab's configuration.
type RelayConfig struct {
	Addr    string   // where it listens (empty: no relay)
	LimitMB int      // attachments weighing more than this become links
	Allow   []string // the networks that may submit (CIDRs)
	allowed []netip.Prefix
}

func (c *RelayConfig) register(s *config.Set) {
	s.String(&c.Addr, "collab-smtp-addr", "", "where socle listens as an SMTP relay in front of the mail system, host:port (empty: no relay); messages with large attachments are relayed with transfer links instead")
	s.Int(&c.LimitMB, "collab-smtp-limit-mb", 10, 1, 1<<20, "attachments of a message weighing more than this (MiB, together) become transfer links")
	s.List(&c.Allow, "collab-smtp-allow", "127.0.0.0/8,::1/128", "the networks (CIDRs) whose mail servers may submit to the relay: the mail system's, never the Internet")
	s.Check(func() error {
		c.allowed = nil
		for _, a := range c.Allow {
			p, err := netip.ParsePrefix(strings.TrimSpace(a))
			if err != nil {
				return fmt.Errorf("SOCLE_COLLAB_SMTP_ALLOW: %q: a CIDR such as 10.0.0.0/8", a)
			}
			c.allowed = append(c.allowed, p)
		}
		if c.Addr != "" {
			if _, _, err := net.SplitHostPort(c.Addr); err != nil {
				return fmt.Errorf("SOCLE_COLLAB_SMTP_ADDR: %q: host:port", c.Addr)
			}
		}
		return nil
	})
}

// rawSender relays a message as it is: the platform's mail (mail.SMTP).
type rawSender interface {
	SendRaw(ctx context.Context, from string, to []string, data io.Reader) error
}

// relay is the running SMTP relay.
type relay struct {
	c      *Collab
	cfg    RelayConfig
	out    rawSender
	srv    *smtp.Server
	ln     net.Listener
	spool  string
	logger *slog.Logger
}

// startRelay listens on the relay's address; the returned function stops it.
func (c *Collab) startRelay() (func(), error) {
	cfg := c.cfg.Relay
	if cfg.Addr == "" {
		return func() {}, nil
	}
	out, ok := c.mail.(rawSender)
	if !ok {
		return nil, errors.New("collab: the SMTP relay needs the platform's SMTP relay (SOCLE_SMTP_RELAY) to pass messages on")
	}
	if cfg.allowed == nil { // settings not read through the table (tests)
		for _, a := range cfg.Allow {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("collab: relay: %q: %w", a, err)
			}
			cfg.allowed = append(cfg.allowed, p)
		}
	}
	r := &relay{c: c, cfg: cfg, out: out, spool: filepath.Join(c.dataDir, "relay-spool"), logger: c.logger}
	if err := os.MkdirAll(r.spool, 0o700); err != nil {
		return nil, fmt.Errorf("collab: relay: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("collab: relay: %w", err)
	}
	r.ln = ln
	r.srv = smtp.NewServer(smtp.BackendFunc(func(conn *smtp.Conn) (smtp.Session, error) {
		return &relaySession{r: r, remote: conn.Conn().RemoteAddr()}, nil
	}))
	r.srv.Domain = "socle"
	// A message may carry files up to the transfers' limit, in base64 (4/3), and its text.
	r.srv.MaxMessageBytes = c.transferLimit()*4/3 + 16<<20
	r.srv.MaxRecipients = 100
	r.srv.ReadTimeout, r.srv.WriteTimeout = 10*time.Minute, 10*time.Minute
	go r.srv.Serve(ln)
	c.relay = r
	c.logger.Info("collab: SMTP relay listening", "addr", ln.Addr().String(), "limit_mb", cfg.LimitMB)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.srv.Shutdown(ctx)
	}, nil
}

// transferLimit is the largest file a transfer takes.
func (c *Collab) transferLimit() int64 {
	if c.cfg.Transfers.MaxSize > 0 {
		return c.cfg.Transfers.MaxSize
	}
	return 2 << 30
}

type relaySession struct {
	r      *relay
	remote net.Addr
	from   string
	to     []string
}

func smtpError(code int, enhanced smtp.EnhancedCode, format string, a ...any) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: fmt.Sprintf(format, a...)}
}

func (s *relaySession) allowed() bool {
	ta, ok := s.remote.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, _ := netip.AddrFromSlice(ta.IP)
	ip = ip.Unmap()
	return slices.ContainsFunc(s.r.cfg.allowed, func(p netip.Prefix) bool { return p.Contains(ip) })
}

// Mail accepts a sender that is an agent of socle: the transfer will be theirs.
func (s *relaySession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.allowed() {
		return smtpError(550, smtp.EnhancedCode{5, 7, 1}, "relaying from %s is not allowed (SOCLE_COLLAB_SMTP_ALLOW)", s.remote)
	}
	u, err := s.r.c.people.UserByEmail(context.Background(), strings.ToLower(from))
	if err != nil || u.Disabled {
		return smtpError(550, smtp.EnhancedCode{5, 7, 1}, "the sender %s is no agent of socle: large attachments can only be sent by an agent", from)
	}
	s.from, s.to = from, nil
	return nil
}

func (s *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data spools the message, then relays it: as it is, or with its attachments turned into
// links.
func (s *relaySession) Data(r io.Reader) error {
	f, err := os.CreateTemp(s.r.spool, "msg-*")
	if err != nil {
		return smtpError(451, smtp.EnhancedCode{4, 3, 0}, "spool: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	return s.r.handle(ctx, s.from, s.to, s.remote, f)
}

func (s *relaySession) Reset()        { s.from, s.to = "", nil }
func (s *relaySession) Logout() error { return nil }

// part is an attachment, decoded to a file of the spool.
type part struct {
	name, contentType, path string
	size                    int64
}

// walked is what the relay keeps of a message's MIME tree.
type walked struct {
	text        string // the first text/plain part that is no attachment
	attachments []part
}

// maxMailText bounds the text of a relayed message the relay keeps.
const maxMailText = 1 << 20

// walk reads a MIME entity (RFC 2045, 2046) of header h and body body: multiparts part by
// part (nested ones too), attachments decoded into the spool, the first plain text kept.
func (r *relay) walk(h map[string][]string, body io.Reader, w *walked, depth int) error {
	if depth > 10 {
		return errors.New("MIME parts nested more than 10 deep")
	}
	get := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ct := get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := r.walk(p.Header, p, w, depth+1); err != nil {
				return err
			}
		}
	}
	var dec io.Reader = body
	switch strings.ToLower(strings.TrimSpace(get("Content-Transfer-Encoding"))) {
	case "base64":
		dec = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	case "quoted-printable":
		dec = quotedprintable.NewReader(body)
	}
	disp, dparams, _ := mime.ParseMediaType(get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if disp != "attachment" && name == "" && mt == "text/plain" && w.text == "" {
		b, err := io.ReadAll(io.LimitReader(dec, maxMailText))
		if err != nil {
			return fmt.Errorf("text: %w", err)
		}
		w.text = string(b)
		return nil
	}
	if disp != "attachment" && name == "" {
		return nil // an HTML alternative, an inline image: the note's text stands for them
	}
	if dn, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = dn
	}
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" || name == "" {
		name = fmt.Sprintf("piece-jointe-%d", len(w.attachments)+1)
	}
	f, err := os.CreateTemp(r.spool, "part-*")
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(f, dec)
	if err != nil {
		return fmt.Errorf("attachment %q: %w", name, err)
	}
	w.attachments = append(w.attachments, part{name: name, contentType: mt, path: f.Name(), size: n})
	return nil
}

// newlineStripper drops the line breaks of base64 content (RFC 2045 §6.8), which the
// standard decoder does not skip on its own in a stream.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, b := range p[:k] {
			if b != '\r' && b != '\n' && b != ' ' && b != '\t' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// handle relays the spooled message of f.
func (r *relay) handle(ctx context.Context, from string, to []string, remote net.Addr, f *os.File) error {
	received := fmt.Sprintf("Received: from [%s] by socle (collab relay) with ESMTP; %s\r\n", hostOf(remote), time.Now().UTC().Format(time.RFC1123Z))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	msg, err := netmail.ReadMessage(bufio.NewReader(f))
	if err != nil {
		return smtpError(554, smtp.EnhancedCode{5, 6, 0}, "the message cannot be read: %v", err)
	}
	var w walked
	defer func() {
		for _, a := range w.attachments {
			os.Remove(a.path)
		}
	}()
	if err := r.walk(msg.Header, msg.Body, &w, 0); err != nil {
		return smtpError(554, smtp.EnhancedCode{5, 6, 0}, "the message's MIME structure: %v", err)
	}
	var total int64
	for _, a := range w.attachments {
		total += a.size
	}
	if total <= int64(r.cfg.LimitMB)<<20 {
		// Small enough for the mail system: relayed as it is.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := r.out.SendRaw(ctx, from, to, io.MultiReader(strings.NewReader(received), f)); err != nil {
			r.logger.Warn("collab: relay: the mail system refused a message", "error", err)
			return smtpError(451, smtp.EnhancedCode{4, 4, 0}, "the mail system did not take the message: try again later")
		}
		return nil
	}
	var files []mailFile
	for _, a := range w.attachments {
		af, err := os.Open(a.path)
		if err != nil {
			return err
		}
		defer af.Close()
		files = append(files, mailFile{Name: a.name, ContentType: a.contentType, Body: af})
	}
	links, err := r.c.fromMail(ctx, from, to, w.text, files)
	if err != nil {
		r.logger.Warn("collab: relay: transfer refused", "sender", from, "error", err)
		return smtpError(554, smtp.EnhancedCode{5, 7, 0}, "the attachments could not become a transfer: %v", err)
	}
	for _, rcpt := range to {
		var b bytes.Buffer
		b.WriteString(received)
		writeRewritten(&b, msg.Header, w, links[rcpt])
		if err := r.out.SendRaw(ctx, from, []string{rcpt}, &b); err != nil {
			r.logger.Warn("collab: relay: the mail system refused a message", "error", err)
			return smtpError(451, smtp.EnhancedCode{4, 4, 0}, "the mail system did not take the message: try again later")
		}
	}
	r.logger.Info("collab: relay: attachments sent as a transfer", "sender", from, "recipients", len(to), "files", len(files), "bytes", total)
	return nil
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.String()
}

// keptHeaders are the original headers the rewritten message carries (RFC 5322 §3.6), in
// this order; the MIME ones are its own.
var keptHeaders = []string{"Date", "From", "Sender", "Reply-To", "To", "Cc", "Message-Id", "In-Reply-To", "References", "Subject"}

// writeRewritten writes the message without its attachments: its headers, its text, and a
// note (French, then English) with the recipient's links, one per file.
func writeRewritten(b *bytes.Buffer, h netmail.Header, w walked, links []string) {
	for _, k := range keptHeaders {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s: %s\r\n", k, v)
		}
	}
	var extra []string
	for k := range h {
		if strings.HasPrefix(k, "X-") {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		fmt.Fprintf(b, "%s: %s\r\n", k, h.Get(k))
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var text strings.Builder
	text.WriteString(strings.TrimRight(w.text, "\r\n "))
	text.WriteString("\n\n-- \nLes pièces jointes de ce message étaient trop volumineuses pour la messagerie : elles vous\nsont transmises par l'envoi de fichiers volumineux de l'État. Téléchargez-les ici :\n")
	for i, a := range w.attachments {
		if i < len(links) {
			fmt.Fprintf(&text, "- %s (%s) : %s\n", a.name, humanSize("fr", a.size), links[i])
		}
	}
	text.WriteString("\nThis message's attachments were too large for the mail system: download them from the links above.\n")
	qp := quotedprintable.NewWriter(b)
	qp.Write([]byte(strings.ReplaceAll(text.String(), "\n", "\r\n")))
	qp.Close()
	b.WriteString("\r\n")
}
