package wallet

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/nrn"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
)

// inboxSite is the wallet on a real database: its pages behind the platform's identity
// middleware, and its interconnect, where the gateway calls the senders' API with socle's
// client certificate (identity.Self), as cmd socle serve mounts them.
type inboxSite struct {
	w        *Wallet
	web, ic  *httptest.Server
	gateway  *http.Client // socle's certificate: what the gateway forwards with
	stranger *http.Client // a certificate of the same CA that is not socle's
	nobody   *http.Client // no certificate
	tokens   map[string]string
}

const (
	sophieNRN = "85031412401"
	thomasNRN = "83110203774"
)

func newInboxSite(t *testing.T) *inboxSite {
	pool := dbtest.New(t, identity.Migrations(), Migrations())
	people := identity.New(pool, slog.New(slog.DiscardHandler))
	s := &inboxSite{tokens: map[string]string{}}
	w, err := New(Config{}, service.Env{Pool: pool, Logger: slog.New(slog.DiscardHandler), Identity: people, DataDir: t.TempDir(),
		PublicURL: func() string { return s.web.URL }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ email, nrn string }{{"sophie@demo.socle.test", sophieNRN}, {"thomas@demo.socle.test", thomasNRN}} {
		u, err := people.AddUser(t.Context(), c.email, c.email, "correct horse battery staple 42")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.citizens.link(t.Context(), u.ID, c.nrn); err != nil {
			t.Fatal(err)
		}
		if s.tokens[c.nrn], _, err = people.Login(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	webMux, icMux := http.NewServeMux(), http.NewServeMux()
	w.Routes(webMux, icMux)
	s.w, s.web = w, httptest.NewTLSServer(people.Middleware(webMux))
	t.Cleanup(s.web.Close)

	ca, err := pki.NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(r pki.Request) tls.Certificate {
		i, err := ca.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := i.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	socleCert := issue(pki.Request{Name: "socle", Usage: pki.Client})
	s.ic = httptest.NewUnstartedServer(identity.Organisations(func() []identity.CertResolver {
		return []identity.CertResolver{identity.Self(socleCert)}
	})(icMux))
	s.ic.TLS = &tls.Config{Certificates: []tls.Certificate{issue(pki.Request{Name: "localhost", Usage: pki.Server, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: roots}
	s.ic.StartTLS()
	t.Cleanup(s.ic.Close)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	s.gateway, s.stranger, s.nobody = client(socleCert), client(issue(pki.Request{Name: "someone", Usage: pki.Client})), client()
	return s
}

// call makes a request of the senders' API as the gateway forwards it for consumer (none
// when empty), with client c.
func (s *inboxSite) call(t *testing.T, c *http.Client, consumer, method, path string, body []byte) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.ic.URL+"/wallet/partners/inbox/v1/"+path, bytes.NewReader(body))
	if consumer != "" {
		req.Header.Set("X-Socle-Consumer", consumer)
		req.Header.Set("X-Socle-Organisation", url.PathEscape("Organisation of "+consumer))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res, m
}

func (s *inboxSite) put(t *testing.T, consumer, id string, msg map[string]any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(msg)
	return s.call(t, s.gateway, consumer, "PUT", "messages/"+id, b)
}

// page asks for a citizen's page (or posts to it), following no redirect.
func (s *inboxSite) page(t *testing.T, nrn, method, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.web.URL+path, nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: identity.CookieName, Value: s.tokens[nrn]})
	c := *s.web.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func (s *inboxSite) count(t *testing.T, table string) int {
	var n int
	if err := s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.`+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func letter(registered bool) map[string]any {
	return map[string]any{"citizen": sophieNRN, "subject": "Votre avertissement-extrait de rôle", "language": "fr",
		"body": "Madame,\n\nVotre avertissement-extrait de rôle est disponible.\nBien à vous.", "registered": registered,
		"attachments": []map[string]any{{"name": "aer 2026.pdf", "media_type": "application/pdf",
			"content": base64.StdEncoding.EncodeToString([]byte("%PDF-1.7\n% a test document\n%%EOF\n"))}}}
}

func TestAMessageIsPublishedOnceUnderTheSendersID(t *testing.T) {
	s := newInboxSite(t)
	res, first := s.put(t, "spf-finances", "aer-2026-1", letter(false))
	if res.StatusCode != 201 || first["id"] == "" || first["citizen"] != sophieNRN || first["read_at"] != nil ||
		!strings.HasPrefix(first["digest"].(string), "sha256:") || first["expires_at"] == nil {
		t.Fatalf("created: %d %v", res.StatusCode, first)
	}
	res, again := s.put(t, "spf-finances", "aer-2026-1", letter(false))
	if res.StatusCode != 200 || again["id"] != first["id"] || again["published_at"] != first["published_at"] {
		t.Fatalf("the same again: %d %v, want 200 and %v", res.StatusCode, again, first)
	}
	other := letter(false)
	other["subject"] = "Another subject"
	res, conflict := s.put(t, "spf-finances", "aer-2026-1", other)
	if res.StatusCode != 409 || res.Header.Get("Content-Type") != "application/problem+json" ||
		conflict["errors"].([]any)[0].(map[string]any)["field"] != "senderMessageId" {
		t.Fatalf("another under the same id: %d %v", res.StatusCode, conflict)
	}
	// Another sender's id is its own.
	if res, _ := s.put(t, "spf-interieur", "aer-2026-1", other); res.StatusCode != 201 {
		t.Fatalf("another sender, the same id: %d", res.StatusCode)
	}
	if n := s.count(t, "inbox_messages"); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestEveryBadMessageIsRefusedWithItsFieldAndNothingIsWritten(t *testing.T) {
	s := newInboxSite(t)
	with := func(change func(m map[string]any)) []byte {
		m := letter(true)
		change(m)
		b, _ := json.Marshal(m)
		return b
	}
	attachment := func(m map[string]any) map[string]any { return m["attachments"].([]map[string]any)[0] }
	big := base64.StdEncoding.EncodeToString(make([]byte, 5<<20+1))
	for _, c := range []struct {
		name   string
		id     string
		body   []byte
		status int
		field  string
	}{
		{"wrong check digits", "a", with(func(m map[string]any) { m["citizen"] = "85031412402" }), 422, "citizen"},
		{"not a date", "a", with(func(m map[string]any) { m["citizen"] = "01022900166" }), 422, "citizen"},
		{"no citizen", "a", with(func(m map[string]any) { delete(m, "citizen") }), 422, "citizen"},
		{"no subject", "a", with(func(m map[string]any) { m["subject"] = "  " }), 422, "subject"},
		{"a subject of two lines", "a", with(func(m map[string]any) { m["subject"] = "a\nb" }), 422, "subject"},
		{"no body", "a", with(func(m map[string]any) { delete(m, "body") }), 422, "body"},
		{"a language of no Belgian", "a", with(func(m map[string]any) { m["language"] = "es" }), 422, "language"},
		{"a retention of 0 days", "a", with(func(m map[string]any) { m["retention_days"] = 0 }), 422, "retention_days"},
		{"an unknown field", "a", with(func(m map[string]any) { m["priority"] = "high" }), 422, "priority"},
		{"a string for a bool", "a", with(func(m map[string]any) { m["registered"] = "yes" }), 422, "registered"},
		{"bad base64", "a", with(func(m map[string]any) { attachment(m)["content"] = "not base64!" }), 422, "attachments[0].content"},
		{"a PDF that is HTML", "a", with(func(m map[string]any) {
			attachment(m)["content"] = base64.StdEncoding.EncodeToString([]byte("<html><script>alert(1)</script>"))
		}), 422, "attachments[0].content"},
		{"a type not accepted", "a", with(func(m map[string]any) { attachment(m)["media_type"] = "text/html" }), 422, "attachments[0].media_type"},
		{"a name with a path", "a", with(func(m map[string]any) { attachment(m)["name"] = "../etc/passwd" }), 422, "attachments[0].name"},
		{"eleven attachments", "a", with(func(m map[string]any) {
			m["attachments"] = append(make([]map[string]any, 10), attachment(m))
			for i := range 10 {
				m["attachments"].([]map[string]any)[i] = attachment(m)
			}
		}), 422, "attachments"},
		{"attachments over 10 MiB", "a", with(func(m map[string]any) {
			m["attachments"] = []map[string]any{{"name": "a.txt", "media_type": "text/plain", "content": big},
				{"name": "b.txt", "media_type": "text/plain", "content": big}}
		}), 413, "attachments"},
		{"a body over 15 MiB", "a", append(append([]byte(`{"body":"`), bytes.Repeat([]byte("a"), 16<<20)...), `"}`...), 413, "(body)"},
		{"not JSON", "a", []byte(`{"citizen": `), 400, "(body)"},
		{"two objects", "a", []byte(`{} {}`), 400, "(body)"},
		{"a bad id", "a%20b", with(func(map[string]any) {}), 400, "senderMessageId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, p := s.call(t, s.gateway, "spf-finances", "PUT", "messages/"+c.id, c.body)
			if res.StatusCode != c.status || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %s %v, want %d", res.StatusCode, res.Header.Get("Content-Type"), p, c.status)
			}
			errs, _ := p["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field || errs[0].(map[string]any)["reason"] == "" {
				t.Fatalf("errors %v, want the field %s and why", p["errors"], c.field)
			}
		})
	}
	req, _ := http.NewRequest("PUT", s.ic.URL+"/wallet/partners/inbox/v1/messages/a", strings.NewReader("citizen=1"))
	req.Header.Set("X-Socle-Consumer", "spf-finances")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := s.gateway.Do(req); err != nil || res.StatusCode != 415 {
		t.Fatalf("a form: %v %v", res, err)
	}
	for _, table := range []string{"inbox_proofs", "inbox_messages", "inbox_attachments"} {
		if n := s.count(t, table); n != 0 {
			t.Errorf("%s: %d rows after refusals", table, n)
		}
	}
}

func TestOnlyTheGatewayCallsTheSendersAPI(t *testing.T) {
	s := newInboxSite(t)
	body, _ := json.Marshal(letter(false))
	for name, c := range map[string]struct {
		client   *http.Client
		consumer string
		want     string
	}{
		"no certificate":             {s.nobody, "spf-finances", "not-through-the-gateway"},
		"another certificate":        {s.stranger, "spf-finances", "not-through-the-gateway"},
		"socle, naming nobody":       {s.gateway, "", "no-consumer"},
		"an unknown path of the API": {s.gateway, "spf-finances", "not-found"},
	} {
		t.Run(name, func(t *testing.T) {
			method, path := "PUT", "messages/x"
			if name == "an unknown path of the API" {
				method, path = "GET", "letters"
			}
			res, p := s.call(t, c.client, c.consumer, method, path, body)
			if res.StatusCode/100 != 4 || p["type"] != "urn:socle:problem:"+c.want {
				t.Fatalf("%d %v, want %s", res.StatusCode, p, c.want)
			}
		})
	}
	if n := s.count(t, "inbox_proofs"); n != 0 {
		t.Fatalf("%d messages", n)
	}
}

func TestASenderSeesItsOwnMessagesStatusOnly(t *testing.T) {
	s := newInboxSite(t)
	before := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	s.put(t, "spf-finances", "m1", letter(false))
	if res, st := s.call(t, s.gateway, "spf-finances", "GET", "messages/m1", nil); res.StatusCode != 200 || st["sender_message_id"] != "m1" {
		t.Fatalf("its own: %d %v", res.StatusCode, st)
	}
	if res, p := s.call(t, s.gateway, "spf-interieur", "GET", "messages/m1", nil); res.StatusCode != 404 || p["id"] != nil {
		t.Fatalf("another's: %d %v", res.StatusCode, p)
	}
	_, list := s.call(t, s.gateway, "spf-finances", "GET", "messages?since="+url.QueryEscape(before), nil)
	if ms := list["messages"].([]any); len(ms) != 1 || list["more"] != false {
		t.Fatalf("its list: %v", list)
	}
	_, list = s.call(t, s.gateway, "spf-interieur", "GET", "messages", nil)
	if ms := list["messages"].([]any); len(ms) != 0 {
		t.Fatalf("another's list: %v", list)
	}
	_, list = s.call(t, s.gateway, "spf-finances", "GET", "messages?since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil)
	if ms := list["messages"].([]any); len(ms) != 0 {
		t.Fatalf("since later: %v", list)
	}
	if res, p := s.call(t, s.gateway, "spf-finances", "GET", "messages?since=yesterday", nil); res.StatusCode != 400 || p["errors"].([]any)[0].(map[string]any)["field"] != "since" {
		t.Fatalf("a bad since: %d %v", res.StatusCode, p)
	}
}

func TestTheCitizenReadsAndAcknowledgesARegisteredMessage(t *testing.T) {
	s := newInboxSite(t)
	_, reg := s.put(t, "spf-finances", "registered", letter(true))
	_, plain := s.put(t, "spf-finances", "ordinary", letter(false))
	id, plainID := reg["id"].(string), plain["id"].(string)

	res, list := s.page(t, sophieNRN, "GET", "/wallet/inbox")
	if res.StatusCode != 200 || strings.Count(list, `id="message-`) != 2 || !strings.Contains(list, "Organisation of spf-finances") ||
		!strings.Contains(list, "Boîte aux lettres (2 non lus)") || !strings.Contains(list, "Recommandé") {
		t.Fatalf("the list: %d %s", res.StatusCode, list)
	}
	if _, en := s.page(t, sophieNRN, "GET", "/wallet/inbox?lang=en"); !strings.Contains(en, "Inbox (2 unread)") || !strings.Contains(en, "Registered") {
		t.Fatalf("in English: %s", en)
	}
	// A registered message shows its content once receipt is acknowledged.
	res, page := s.page(t, sophieNRN, "GET", "/wallet/inbox/"+id)
	if res.StatusCode != 200 || strings.Contains(page, "est disponible") || !strings.Contains(page, "Accuser réception") {
		t.Fatalf("sealed: %d %s", res.StatusCode, page)
	}
	if res, _ := s.page(t, sophieNRN, "GET", "/wallet/inbox/"+id+"/attachments/0"); res.StatusCode != 403 {
		t.Fatalf("its attachment before the acknowledgement: %d", res.StatusCode)
	}
	_, st := s.call(t, s.gateway, "spf-finances", "GET", "messages/registered", nil)
	if st["read_at"] == nil || st["acknowledged_at"] != nil {
		t.Fatalf("read, not acknowledged: %v", st)
	}
	// Another citizen finds neither it nor its attachment, nor acknowledges it.
	for _, r := range [][2]string{{"GET", "/wallet/inbox/" + id}, {"GET", "/wallet/inbox/" + id + "/attachments/0"}, {"POST", "/wallet/inbox/" + id + "/acknowledge"}} {
		if res, _ := s.page(t, thomasNRN, r[0], r[1]); res.StatusCode != 404 {
			t.Errorf("Thomas: %s %s: %d", r[0], r[1], res.StatusCode)
		}
	}
	if res, _ := s.page(t, sophieNRN, "POST", "/wallet/inbox/"+plainID+"/acknowledge"); res.StatusCode != 409 {
		t.Fatalf("acknowledging an ordinary message: %d", res.StatusCode)
	}
	res, _ = s.page(t, sophieNRN, "POST", "/wallet/inbox/"+id+"/acknowledge")
	if res.StatusCode != 303 || !strings.HasSuffix(res.Header.Get("Location"), "done=acknowledged") {
		t.Fatalf("acknowledge: %d %v", res.StatusCode, res.Header)
	}
	_, st = s.call(t, s.gateway, "spf-finances", "GET", "messages/registered", nil)
	ack := st["acknowledged_at"]
	if ack == nil {
		t.Fatalf("acknowledged: %v", st)
	}
	s.page(t, sophieNRN, "POST", "/wallet/inbox/"+id+"/acknowledge")
	if _, st = s.call(t, s.gateway, "spf-finances", "GET", "messages/registered", nil); st["acknowledged_at"] != ack {
		t.Fatalf("a second acknowledgement changed the first: %v, was %v", st["acknowledged_at"], ack)
	}
	res, page = s.page(t, sophieNRN, "GET", "/wallet/inbox/"+id)
	if !strings.Contains(page, "Votre avertissement-extrait de rôle est disponible.<br>Bien à vous.") || !strings.Contains(page, "aer 2026.pdf") {
		t.Fatalf("open: %s", page)
	}
	res, file := s.page(t, sophieNRN, "GET", "/wallet/inbox/"+id+"/attachments/0")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" || res.Header.Get("X-Content-Type-Options") != "nosniff" ||
		res.Header.Get("Content-Disposition") != `attachment; filename="aer 2026.pdf"` || !strings.HasPrefix(file, "%PDF-1.7") {
		t.Fatalf("the attachment: %d %v %q", res.StatusCode, res.Header, file)
	}
	if res, _ := s.page(t, sophieNRN, "GET", "/wallet/inbox/"+id+"/attachments/1"); res.StatusCode != 404 {
		t.Fatalf("an attachment that is not: %d", res.StatusCode)
	}
}

func TestThePurgeDeletesTheContentAndKeepsTheProofOfDelivery(t *testing.T) {
	s := newInboxSite(t)
	m := letter(true)
	m["retention_days"] = 30
	_, st := s.put(t, "spf-finances", "short", m)
	s.page(t, sophieNRN, "POST", "/wallet/inbox/"+st["id"].(string)+"/acknowledge")
	store, now := inboxStore{s.w.pool}, time.Now()
	if n, err := store.purge(t.Context(), now.AddDate(0, 0, 29)); err != nil || n != 0 {
		t.Fatalf("before the end of its retention: %d %v", n, err)
	}
	if n, err := store.purge(t.Context(), now.AddDate(0, 0, 31)); err != nil || n != 1 {
		t.Fatalf("after: %d %v", n, err)
	}
	if s.count(t, "inbox_messages") != 0 || s.count(t, "inbox_attachments") != 0 {
		t.Fatal("the content outlived its retention")
	}
	_, after := s.call(t, s.gateway, "spf-finances", "GET", "messages/short", nil)
	if after["purged_at"] == nil || after["expires_at"] != nil || after["digest"] != st["digest"] || after["acknowledged_at"] == nil || after["read_at"] == nil {
		t.Fatalf("the proof: %v, was %v", after, st)
	}
	if res, _ := s.page(t, sophieNRN, "GET", "/wallet/inbox/"+st["id"].(string)); res.StatusCode != 404 {
		t.Fatalf("the citizen's page of a purged message: %d", res.StatusCode)
	}
	// The sender's id stays taken by the proof: the same message again is the purged one.
	if res, again := s.put(t, "spf-finances", "short", m); res.StatusCode != 200 || again["purged_at"] == nil {
		t.Fatalf("published again: %d %v", res.StatusCode, again)
	}
	if _, err := store.purge(t.Context(), now.AddDate(inboxProofYears, 0, 32)); err != nil || s.count(t, "inbox_proofs") != 0 {
		t.Fatalf("the proof outlived its own retention: %v", err)
	}
}

func TestTheDemoPutsTwoMessagesInSophiesInboxOnce(t *testing.T) {
	s := newInboxSite(t)
	for range 2 {
		if err := demoInbox(t.Context(), s.w.pool); err != nil {
			t.Fatal(err)
		}
	}
	list, err := inboxStore{s.w.pool}.ofCitizen(t.Context(), sophieNRN)
	if err != nil || len(list) != 2 || list[0].Registered == list[1].Registered || list[0].Sender != "SPF Finances (démo)" {
		t.Fatalf("%v %+v", err, list)
	}
}

// FuzzParseInboxMessage: whatever the body, the parser answers a message within its bounds
// or a problem naming fields, and the same body has the same digest.
func FuzzParseInboxMessage(f *testing.F) {
	good, _ := json.Marshal(letter(true))
	for _, seed := range []string{string(good), `{}`, `{"citizen":"85.03.14-124.01","subject":"a","body":"b","language":"nl"}`,
		`{"attachments":[{"name":"x","media_type":"text/plain; charset=UTF-8","content":"YQ=="}]}`, `[1]`, `{"citizen":1}`, `null`,
		`{"retention_days":1e9}`, `{"Subject":"x"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, p := parseInboxMessage(b)
		if p != nil {
			if p.Status < 400 || len(p.Errors) == 0 {
				t.Fatalf("a problem without its field: %+v", p)
			}
			return
		}
		if _, err := nrn.Parse(m.NRN); err != nil || m.NRN == "" || m.Subject == "" || !inboxLanguages[m.Language] ||
			m.RetentionDays < 1 || m.RetentionDays > inboxMaxRetention || len(m.Attachments) > inboxMaxAttachments {
			t.Fatalf("accepted out of bounds: %+v", m)
		}
		total := 0
		for _, a := range m.Attachments {
			total += a.Size
			if a.Size != len(a.Content) || a.Size == 0 || a.Name == "" {
				t.Fatalf("attachment %+v", a)
			}
		}
		if total > inboxMaxAttachBytes {
			t.Fatalf("%d bytes of attachments", total)
		}
		if again, _ := parseInboxMessage(b); again.Digest != m.Digest {
			t.Fatal("the same body, another digest")
		}
	})
}

// A message to a national number no account is linked to yet is kept for its citizen, who
// finds it on signing in with an account linked to it.
func TestAMessageToACitizenWithoutAccountWaitsForThem(t *testing.T) {
	s := newInboxSite(t)
	m := letter(false)
	m["citizen"] = "92072121866"
	if res, st := s.put(t, "spf-finances", "later", m); res.StatusCode != 201 || st["citizen"] != "92072121866" {
		t.Fatalf("%d %v", res.StatusCode, st)
	}
	people := identity.New(s.w.pool, slog.New(slog.DiscardHandler))
	u, err := people.AddUser(t.Context(), "lotte@demo.socle.test", "Lotte", "correct horse battery staple 42")
	if err != nil {
		t.Fatal(err)
	}
	s.w.citizens.link(t.Context(), u.ID, "92072121866")
	s.tokens["92072121866"], _, _ = people.Login(t.Context(), u)
	if _, list := s.page(t, "92072121866", "GET", "/wallet/inbox"); strings.Count(list, `id="message-`) != 1 {
		t.Fatalf("Lotte's inbox: %s", list)
	}
}
