package collab

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// smtpClient is Python's smtplib, an SMTP client independent of socle: it submits a message
// built by Python's email package, with attachments of the given sizes (random bytes, each
// also written to dir/attachment-N.bin for the test to compare), and prints the server's
// refusal, if any, as "REFUSED <code>".
const smtpClient = `
import os, smtplib, sys
from email.message import EmailMessage
host, port, sender, dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sizes = [int(s) for s in sys.argv[5].split(",") if s]
rcpts = sys.argv[6].split(",")
m = EmailMessage()
m["From"] = "Alice Martin <%s>" % sender
m["To"] = ", ".join(rcpts)
m["Subject"] = "Dossier préfecture"
m["Message-ID"] = "<dossier-42@interieur.gouv.test>"
m.set_content("Bonjour,\nvoici le dossier.\nAlice")
m.add_alternative("<p>Bonjour,<br>voici le dossier.</p>", subtype="html")
for i, n in enumerate(sizes):
    data = os.urandom(n)
    with open(os.path.join(dir, "attachment-%d.bin" % i), "wb") as f:
        f.write(data)
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="pièce-%d.bin" % i)
try:
    with smtplib.SMTP(host, port, timeout=300) as s:
        s.send_message(m, from_addr=sender, to_addrs=rcpts)
except smtplib.SMTPSenderRefused as e:
    print("REFUSED", e.smtp_code)
except smtplib.SMTPResponseException as e:
    print("REFUSED", e.smtp_code)
`

// relaySite runs collab with its relay on loopback, accepting mail from the allowed networks
// (loopback when none is given).
func relaySite(t *testing.T, allow ...string) (*env, *site, string) {
	t.Helper()
	if allow == nil {
		allow = []string{"127.0.0.0/8"}
	}
	e := newEnv(t)
	s := e.startWith(t, Config{Relay: RelayConfig{Addr: "127.0.0.1:0", LimitMB: 1, Allow: allow}})
	return e, s, s.c.relay.ln.Addr().String()
}

func submit(t *testing.T, addr, sender, dir, sizes, rcpts string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("python3", "-c", smtpClient, host, port, sender, dir, sizes, rcpts).CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	return string(out)
}

// A 50 MB attachment does not reach the mail system: each recipient receives a small
// message with the text, and a note with their own link, which serves the very bytes.
func TestTheRelayTurnsALargeAttachmentIntoLinks(t *testing.T) {
	e, s, addr := relaySite(t)
	dir := t.TempDir()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if out := submit(t, addr, "alice.martin@demo.socle.test", dir, "52428800", "chloe.durand@example.org,d@example.org"); out != "" {
		t.Fatalf("refused: %s", out)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	want, _ := os.ReadFile(filepath.Join(dir, "attachment-0.bin"))
	link := regexp.MustCompile(`https?://[^\s]+`)
	for _, rcpt := range []string{"chloe.durand@example.org", "d@example.org"} {
		var raw []byte
		e.box.mu.Lock()
		for _, m := range e.box.msgs {
			if len(m.To) == 1 && m.To[0] == rcpt && strings.Contains(string(m.Data), "dossier-42") {
				raw = m.Data
			}
		}
		e.box.mu.Unlock()
		if raw == nil {
			t.Fatalf("no message for %s", rcpt)
		}
		if len(raw) > 64<<10 {
			t.Fatalf("the message for %s is %d bytes: the attachment went through", rcpt, len(raw))
		}
		text, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw[bytes.Index(raw, []byte("\r\n\r\n")):])))
		if !strings.Contains(string(raw), "Subject: ") || !strings.Contains(string(raw), "Received: from [127.0.0.1] by socle") ||
			!strings.Contains(string(text), "voici le dossier") || !strings.Contains(string(text), "pièce-0.bin") {
			t.Fatalf("the message for %s:\n%s", rcpt, raw)
		}
		u := link.FindString(string(text))
		got := wantStatus(t, s.do(t, "", "GET", strings.TrimPrefix(u, s.srv.URL), nil), 200)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s's link serves %d bytes, not the attachment's %d", rcpt, len(got), len(want))
		}
	}
	// Spooled, not held: the heap did not grow by the message's size.
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 40<<20 {
		t.Errorf("the heap grew by %d MiB while relaying a 50 MiB attachment", grown>>20)
	}
}

// A message whose attachments are under the limit goes through as it is.
func TestASmallMessagePassesUnchanged(t *testing.T) {
	e, _, addr := relaySite(t)
	dir := t.TempDir()
	if out := submit(t, addr, "alice.martin@demo.socle.test", dir, "2000", "chloe.durand@example.org"); out != "" {
		t.Fatalf("refused: %s", out)
	}
	want, _ := os.ReadFile(filepath.Join(dir, "attachment-0.bin"))
	e.box.wait(t, func(s string) bool { return strings.Contains(s, "dossier-42") })
	e.box.mu.Lock()
	defer e.box.mu.Unlock()
	raw := string(e.box.msgs[len(e.box.msgs)-1].Data)
	// The attachment is there, as the client encoded it (base64 lines of 57 bytes).
	if !strings.HasPrefix(raw, "Received: from [127.0.0.1] by socle") || !strings.Contains(raw, "multipart/mixed") ||
		!strings.Contains(raw, base64.StdEncoding.EncodeToString(want[:57])) {
		t.Fatalf("the relayed message:\n%.3000s", raw)
	}
}

// Only agents' mail is relayed, and only from the allowed networks.
func TestTheRelayRefusesStrangers(t *testing.T) {
	_, _, addr := relaySite(t)
	if out := submit(t, addr, "nobody@example.org", t.TempDir(), "10", "x@example.org"); !strings.Contains(out, "REFUSED 550") {
		t.Fatalf("an unknown sender: %q", out)
	}
	_, _, addr = relaySite(t, "10.0.0.0/8")
	if out := submit(t, addr, "alice.martin@demo.socle.test", t.TempDir(), "10", "x@example.org"); !strings.Contains(out, "REFUSED 550") {
		t.Fatalf("from a network not allowed: %q", out)
	}
}

// The MIME walker reads anything a client sends without failing open or panicking.
func FuzzRelayWalk(f *testing.F) {
	f.Add("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Disposition: attachment; filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n")
	f.Add("Content-Type: text/plain\r\n\r\nplain")
	f.Add("Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n")
	r := &relay{}
	f.Fuzz(func(t *testing.T, msg string) {
		r.spool = t.TempDir()
		m, err := readMessage(msg)
		if err != nil {
			return
		}
		var w walked
		r.walk(m.Header, m.Body, &w, 0)
		for _, a := range w.attachments {
			if a.name == "" || strings.ContainsAny(a.name, "/\\") {
				t.Fatalf("attachment name %q", a.name)
			}
		}
	})
}

func readMessage(s string) (*netmail.Message, error) {
	return netmail.ReadMessage(strings.NewReader(s))
}
