package collab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	"socle/internal/platform/mail"
	"socle/internal/platform/service"
)

// mailbox is the test's SMTP server's received mail.
type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Received
}

func (m *mailbox) wait(t *testing.T, pred func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		m.mu.Lock()
		for _, r := range m.msgs {
			// Bodies come quoted-printable: read them decoded.
			dec, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(r.Data)))
			if s := string(dec); pred(s) {
				m.mu.Unlock()
				return s
			}
		}
		m.mu.Unlock()
		pollPause()
	}
	t.Fatal("no such mail arrived")
	return ""
}

// site is one collab instance on a shared database and storage directory.
type site struct {
	c      *Collab
	srv    *httptest.Server
	people *identity.Store
}

type env struct {
	url     string
	dir     string
	box     *mailbox
	sink    *mail.Sink
	clock   *clock
	aliceID int64
	alice   string // her personal access token
	bob     string // another agent's
}

type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	e := &env{url: dbtest.NewURL(t, identity.Migrations(), Migrations()), dir: t.TempDir(), box: &mailbox{},
		clock: &clock{at: time.Now()}}
	var err error
	e.sink, err = mail.StartSink(mail.SinkOptions{Addr: "127.0.0.1:0", Deliver: func(r mail.Received) error {
		e.box.mu.Lock()
		e.box.msgs = append(e.box.msgs, r)
		e.box.mu.Unlock()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sink.Close() })
	pool := e.pool(t)
	people := identity.New(pool, slog.New(slog.DiscardHandler))
	a, err := people.AddUser(t.Context(), "alice.martin@demo.socle.test", "Alice", "correct horse battery staple 42")
	if err != nil {
		t.Fatal(err)
	}
	b, err := people.AddUser(t.Context(), "bruno.petit@demo.socle.test", "Bruno", "correct horse battery staple 43")
	if err != nil {
		t.Fatal(err)
	}
	e.aliceID = a.ID
	if e.alice, err = people.NewToken(t.Context(), a.ID, "test", time.Hour); err != nil {
		t.Fatal(err)
	}
	if e.bob, err = people.NewToken(t.Context(), b.ID, "test", time.Hour); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) pool(t *testing.T) *pgxpool.Pool {
	pool, err := pgxpool.New(t.Context(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// start runs a collab instance with cfg on the env's database and storage.
func (e *env) start(t *testing.T, cfg TransferConfig) *site {
	return e.startWith(t, Config{Transfers: cfg})
}

// startWith runs a collab instance with the whole of cfg.
func (e *env) startWith(t *testing.T, all Config) *site {
	cfg := all.Transfers
	pool := e.pool(t)
	people := identity.New(pool, slog.New(slog.DiscardHandler))
	s := &site{people: people}
	cfg.StorageDir = e.dir
	sender := mail.New(mail.Config{Relay: e.sink.Addr(), TLS: mail.TLSNone, From: "socle <no-reply@socle.test>"}, nil, slog.New(slog.DiscardHandler))
	all.Transfers = cfg
	// The server listens before the service starts, so that its URL is known (and never
	// written) while the service's goroutines read it; the routes are added to its mux after.
	mux := http.NewServeMux()
	s.srv = httptest.NewServer(people.Middleware(mux))
	t.Cleanup(s.srv.Close)
	url := s.srv.URL
	c, err := New(all, service.Env{Pool: pool, Logger: slog.New(slog.DiscardHandler), Identity: people,
		DataDir: e.dir, Mail: sender, PublicURL: func() string { return url }})
	if err != nil {
		t.Fatal(err)
	}
	c.transfers.now = e.clock.now
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	c.Routes(mux, http.NewServeMux())
	s.c = c
	return s
}

func (s *site) do(t *testing.T, token, method, path string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantStatus(t *testing.T, r *http.Response, status int) []byte {
	t.Helper()
	b := readAll(t, r)
	if r.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, b)
	}
	return b
}

// newTransfer makes a transfer of token's agent to recipients.
func (s *site) newTransfer(t *testing.T, token string, settings string) int64 {
	t.Helper()
	b := wantStatus(t, s.do(t, token, "POST", "/transfers/api/transfers", strings.NewReader(settings), "Content-Type", "application/json"), 201)
	var out struct{ ID int64 }
	json.Unmarshal(b, &out)
	return out.ID
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// create is tus's creation (POST), returning the upload's path.
func (s *site) create(t *testing.T, token string, transfer int64, name string, size int) string {
	t.Helper()
	r := s.do(t, token, "POST", "/transfers/files/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(size),
		"Upload-Metadata", fmt.Sprintf("transfer %s,filename %s,filetype %s", b64(strconv.FormatInt(transfer, 10)), b64(name), b64("application/pdf")))
	wantStatus(t, r, http.StatusCreated)
	loc := r.Header.Get("Location")
	i := strings.Index(loc, "/transfers/files/")
	if i < 0 {
		t.Fatalf("Location %q", loc)
	}
	return loc[i:]
}

func (s *site) patch(t *testing.T, token, path string, offset int, body io.Reader) *http.Response {
	return s.do(t, token, "PATCH", path, body, "Tus-Resumable", "1.0.0", "Upload-Offset", strconv.Itoa(offset),
		"Content-Type", "application/offset+octet-stream")
}

func (s *site) offset(t *testing.T, token, path string) int {
	t.Helper()
	r := s.do(t, token, "HEAD", path, nil, "Tus-Resumable", "1.0.0")
	wantStatus(t, r, http.StatusOK)
	n, err := strconv.Atoi(r.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("Upload-Offset %q", r.Header.Get("Upload-Offset"))
	}
	return n
}

// cutPatch sends the first half of data and then breaks the connection mid-request, as a
// network cut does; it returns once the server has answered or the request failed.
func (s *site) cutPatch(t *testing.T, token, path string, data []byte, half int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest("PATCH", s.srv.URL+path, pr)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.ContentLength = int64(len(data))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	// Cut once the server has stored what was sent: what a real cut loses in flight is not
	// this test's subject, the resumption is.
	bin := filepath.Join(s.c.transfers.store.Path, strings.TrimPrefix(path, "/transfers/files/"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(bin); err == nil && fi.Size() >= int64(half) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never stored the first half")
		}
		pollPause()
	}
	pw.CloseWithError(fmt.Errorf("network cut"))
	<-done
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var linkRE = regexp.MustCompile(`/transfers/d/[A-Za-z0-9_-]{43}`)

// TestUploadCutResumedDownloadedByRange: a tus upload cut in the middle resumes with HEAD and
// PATCH at the offset; sent, the recipient's personal link serves ranges (206), and the sender
// sees per file and recipient the download, whether complete, and the network.
func TestUploadCutResumedDownloadedByRange(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{})
	id := s.newTransfer(t, e.alice, `{"recipients":["Chloe.Durand@example.org"],"message":"Le dossier","receipt":true}`)
	data := randomBytes(3<<20 + 17)
	path := s.create(t, e.alice, id, "dossier.pdf", len(data))

	s.cutPatch(t, e.alice, path, data, len(data)/2)
	off := s.offset(t, e.alice, path)
	if off != len(data)/2 {
		t.Fatalf("offset after the cut %d, want %d", off, len(data)/2)
	}
	// Not yet complete: sending is refused, and says why.
	b := wantStatus(t, s.do(t, e.alice, "POST", fmt.Sprintf("/transfers/api/transfers/%d/send", id), nil), http.StatusConflict)
	if !strings.Contains(string(b), "still uploading") {
		t.Fatalf("send before the end: %s", b)
	}
	r := s.patch(t, e.alice, path, off, bytes.NewReader(data[off:]))
	wantStatus(t, r, http.StatusNoContent)
	if got := r.Header.Get("Upload-Offset"); got != strconv.Itoa(len(data)) {
		t.Fatalf("final offset %s", got)
	}
	// The uploader reads it back at its tus URL, with a range.
	r = s.do(t, e.alice, "GET", path, nil, "Range", "bytes=10-19")
	if b := wantStatus(t, r, http.StatusPartialContent); !bytes.Equal(b, data[10:20]) {
		t.Fatal("the uploader's range differs")
	}
	// Another agent does not see it.
	wantStatus(t, s.do(t, e.bob, "GET", path, nil), http.StatusNotFound)
	wantStatus(t, s.do(t, e.bob, "HEAD", path, nil, "Tus-Resumable", "1.0.0"), http.StatusNotFound)

	wantStatus(t, s.do(t, e.alice, "POST", fmt.Sprintf("/transfers/api/transfers/%d/send", id), nil), http.StatusOK)
	msg := e.box.wait(t, func(m string) bool { return strings.Contains(m, "chloe.durand@example.org") })
	link := linkRE.FindString(msg)
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", msg)
	}
	var list transferView
	json.Unmarshal(wantStatus(t, s.do(t, "", "GET", link, nil, "Accept", "application/json"), 200), &list)
	if len(list.Files) != 1 || list.Files[0].URL == "" || list.Files[0].Name != "dossier.pdf" {
		t.Fatalf("the recipient's list: %+v", list)
	}
	fileURL := list.Files[0].URL

	r = s.do(t, "", "GET", fileURL, nil, "Range", "bytes=1000-1999")
	b = wantStatus(t, r, http.StatusPartialContent)
	if want := fmt.Sprintf("bytes 1000-1999/%d", len(data)); r.Header.Get("Content-Range") != want {
		t.Fatalf("Content-Range %q, want %q", r.Header.Get("Content-Range"), want)
	}
	if !bytes.Equal(b, data[1000:2000]) {
		t.Fatal("the range's bytes differ")
	}
	v := s.senderView(t, e.alice, id)
	d := v.Files[0].Downloads
	if len(d) != 1 || d[0].Email != "chloe.durand@example.org" || d[0].Bytes != 1000 || d[0].Complete || d[0].Downloads[0].Network != "127.0.0.0/24" {
		t.Fatalf("after a range, the sender sees %+v", d)
	}
	// The rest, as a resumed download does: complete, and the receipt goes to Alice.
	r = s.do(t, "", "GET", fileURL, nil, "Range", "bytes=0-999")
	wantStatus(t, r, http.StatusPartialContent)
	r = s.do(t, "", "GET", fileURL, nil, "Range", "bytes=2000-")
	if b := wantStatus(t, r, http.StatusPartialContent); !bytes.Equal(b, data[2000:]) {
		t.Fatal("the rest differs")
	}
	v = s.senderView(t, e.alice, id)
	if d := v.Files[0].Downloads[0]; !d.Complete || d.Bytes != int64(len(data)) || len(d.Downloads) != 3 {
		t.Fatalf("after the whole file, the sender sees %+v", d)
	}
	e.box.wait(t, func(m string) bool {
		return strings.Contains(m, "alice.martin@demo.socle.test") && strings.Contains(m, "downloaded all of")
	})
	// A forged link is unknown.
	wantStatus(t, s.do(t, "", "GET", "/transfers/d/"+strings.Repeat("A", 43)+"/1", nil), http.StatusNotFound)
}

func (s *site) senderView(t *testing.T, token string, id int64) transferView {
	t.Helper()
	var v transferView
	if err := json.Unmarshal(wantStatus(t, s.do(t, token, "GET", fmt.Sprintf("/transfers/api/transfers/%d", id), nil), 200), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTwoInstancesShareUploads: a PATCH under way on instance A holds the upload's lock (a
// PostgreSQL advisory lock); instance B's HEAD asks A to release it (NOTIFY), A stops its
// PATCH and saves what it received, and B resumes the upload at that offset.
func TestTwoInstancesShareUploads(t *testing.T) {
	e := newEnv(t)
	a := e.start(t, TransferConfig{})
	b := e.start(t, TransferConfig{})
	id := a.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"]}`)
	data := randomBytes(2<<20 + 3)
	path := a.create(t, e.alice, id, "plans.pdf", len(data))

	// A's PATCH: half the bytes, then the client stalls, the connection still open.
	pr, pw := io.Pipe()
	aDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", a.srv.URL+path, pr)
		req.Header.Set("Authorization", "Bearer "+e.alice)
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.ContentLength = int64(len(data))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			aDone <- 0
			return
		}
		resp.Body.Close()
		aDone <- resp.StatusCode
	}()
	half := len(data) / 2
	if _, err := pw.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	// Wait until A holds the lock (its PATCH is being written).
	var key = lockKey(strings.TrimPrefix(path, "/transfers/files/"))
	pool := e.pool(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var held bool
		pool.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
			AND ((classid::bigint << 32) | objid::bigint) = $1)`, key).Scan(&held)
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("instance A never took the upload's lock")
		}
		pollPause()
	}
	off := b.offset(t, e.alice, path) // waits for the lock: A is asked to release it
	if off != half {
		t.Fatalf("B sees offset %d, want %d (what A received)", off, half)
	}
	pw.Close()
	<-aDone
	r := b.patch(t, e.alice, path, off, bytes.NewReader(data[off:]))
	wantStatus(t, r, http.StatusNoContent)
	got := wantStatus(t, a.do(t, e.alice, "GET", path, nil), 200)
	if !bytes.Equal(got, data) {
		t.Fatal("the file assembled from two instances differs")
	}
}

// TestExpiryCleanup: once a transfer expires, the scheduled cleanup deletes its files (the
// record stays, the link says Gone); an upload never finished is deleted after AbandonAfter;
// Retention after expiry, the record goes too (personal data).
func TestExpiryCleanup(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{AbandonAfter: 2 * time.Hour})
	id := s.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"],"expiry_days":2}`)
	data := randomBytes(1000)
	path := s.create(t, e.alice, id, "a.pdf", len(data))
	wantStatus(t, s.patch(t, e.alice, path, 0, bytes.NewReader(data)), http.StatusNoContent)
	wantStatus(t, s.do(t, e.alice, "POST", fmt.Sprintf("/transfers/api/transfers/%d/send", id), nil), 200)
	link := linkRE.FindString(e.box.wait(t, func(m string) bool { return strings.Contains(m, "chloe.durand") }))

	other := s.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"]}`)
	stale := s.create(t, e.alice, other, "b.pdf", 5000)
	wantStatus(t, s.patch(t, e.alice, stale, 0, bytes.NewReader(randomBytes(100))), http.StatusNoContent)

	up := func(p string) string { return filepath.Join(e.dir, strings.TrimPrefix(p, "/transfers/files/")) }
	rep, err := s.c.transfers.cleanup(t.Context())
	if err != nil || rep != (cleanupReport{}) {
		t.Fatalf("cleanup before any deadline: %+v %v", rep, err)
	}
	e.clock.add(3 * time.Hour)
	if rep, err = s.c.transfers.cleanup(t.Context()); err != nil || rep.Abandoned != 1 || rep.Expired != 0 {
		t.Fatalf("cleanup after 3 h: %+v %v", rep, err)
	}
	if _, err := os.Stat(up(stale)); !os.IsNotExist(err) {
		t.Fatalf("the abandoned upload is still there: %v", err)
	}
	if _, err := os.Stat(up(path)); err != nil {
		t.Fatalf("the live file went: %v", err)
	}
	e.clock.add(48 * time.Hour)
	if rep, err = s.c.transfers.cleanup(t.Context()); err != nil || rep.Expired != 1 {
		t.Fatalf("cleanup after expiry: %+v %v", rep, err)
	}
	if _, err := os.Stat(up(path)); !os.IsNotExist(err) {
		t.Fatalf("the expired file is still there: %v", err)
	}
	v := s.senderView(t, e.alice, id)
	if len(v.Files) != 1 || v.Files[0].State != "expired" {
		t.Fatalf("the record after expiry: %+v", v.Files)
	}
	wantStatus(t, s.do(t, "", "GET", link, nil, "Accept", "application/json"), 200)
	wantStatus(t, s.do(t, "", "GET", link+fmt.Sprintf("/%d", v.Files[0].ID), nil), http.StatusGone)
	e.clock.add(91 * 24 * time.Hour)
	if rep, err = s.c.transfers.cleanup(t.Context()); err != nil || rep.Purged != 1 {
		t.Fatalf("cleanup after the retention: %+v %v", rep, err)
	}
	wantStatus(t, s.do(t, e.alice, "GET", fmt.Sprintf("/transfers/api/transfers/%d", id), nil), http.StatusNotFound)
	wantStatus(t, s.do(t, e.alice, "GET", fmt.Sprintf("/transfers/api/transfers/%d", other), nil), http.StatusOK) // not expired yet
}

// TestQuotaAndAccess: an upload over the agent's quota is refused before a byte is stored;
// without a token or session the endpoint answers 401; bad settings get field errors.
func TestQuotaAndAccess(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{QuotaMB: 1})
	id := s.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"]}`)
	s.create(t, e.alice, id, "a.bin", 600<<10)
	r := s.do(t, e.alice, "POST", "/transfers/files/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(600<<10),
		"Upload-Metadata", "transfer "+b64(strconv.FormatInt(id, 10))+",filename "+b64("b.bin"))
	if b := wantStatus(t, r, http.StatusRequestEntityTooLarge); !strings.Contains(string(b), "quota-exceeded") {
		t.Fatalf("over the quota: %s", b)
	}
	wantStatus(t, s.do(t, "", "POST", "/transfers/files/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "10"), http.StatusUnauthorized)
	// Bruno cannot add files to Alice's transfer.
	r = s.do(t, e.bob, "POST", "/transfers/files/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "10",
		"Upload-Metadata", "transfer "+b64(strconv.FormatInt(id, 10))+",filename "+b64("c.bin"))
	wantStatus(t, r, http.StatusNotFound)
	if b := wantStatus(t, s.do(t, e.alice, "GET", "/transfers/?lang=en", nil), 200); !strings.Contains(string(b), "a.bin") || !strings.Contains(string(b), "Send files") {
		t.Fatalf("the agent's page:\n%s", b)
	}
	b := wantStatus(t, s.do(t, e.alice, "POST", "/transfers/api/transfers", strings.NewReader(`{"recipients":["not an address"],"expiry_days":31}`),
		"Content-Type", "application/json"), http.StatusBadRequest)
	for _, f := range []string{`"recipients[0]"`, `"expiry_days"`} {
		if !strings.Contains(string(b), f) {
			t.Fatalf("no field error %s in %s", f, b)
		}
	}
}

// TestVoucher: an outsider sends files to an agent with a one-time voucher.
func TestVoucher(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{})
	var v struct{ Token string }
	json.Unmarshal(wantStatus(t, s.do(t, e.alice, "POST", "/transfers/api/vouchers", strings.NewReader(`{"note":"pièces du dossier"}`),
		"Content-Type", "application/json"), 201), &v)
	h := []string{voucherHeader, v.Token, "Content-Type", "application/json"}
	var tr struct{ ID int64 }
	json.Unmarshal(wantStatus(t, s.do(t, "", "POST", "/transfers/api/vouchers/transfer", strings.NewReader(`{"message":"voici"}`), h...), 201), &tr)
	wantStatus(t, s.do(t, "", "POST", "/transfers/api/vouchers/transfer", strings.NewReader(`{}`), h...), http.StatusConflict)
	data := randomBytes(5000)
	r := s.do(t, "", "POST", "/transfers/files/", nil, voucherHeader, v.Token, "Tus-Resumable", "1.0.0", "Upload-Length", "5000",
		"Upload-Metadata", "transfer "+b64(strconv.FormatInt(tr.ID, 10))+",filename "+b64("scan.pdf"))
	wantStatus(t, r, 201)
	path := r.Header.Get("Location")[strings.Index(r.Header.Get("Location"), "/transfers/files/"):]
	wantStatus(t, s.do(t, "", "PATCH", path, bytes.NewReader(data), voucherHeader, v.Token, "Tus-Resumable", "1.0.0",
		"Upload-Offset", "0", "Content-Type", "application/offset+octet-stream"), http.StatusNoContent)
	wantStatus(t, s.do(t, "", "POST", fmt.Sprintf("/transfers/api/transfers/%d/send", tr.ID), nil, voucherHeader, v.Token), 200)
	e.box.wait(t, func(m string) bool {
		return strings.Contains(m, "alice.martin@demo.socle.test") && strings.Contains(m, "voucher")
	})
	if got := wantStatus(t, s.do(t, e.alice, "GET", path, nil), 200); !bytes.Equal(got, data) {
		t.Fatal("Alice reads another file than the outsider sent")
	}
}

// TestFromMail: the SMTP relay's entry point makes a sent transfer of the sender's and
// returns each recipient's link to each file.
func TestFromMail(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{})
	one, two := randomBytes(70000), randomBytes(12345)
	links, err := s.c.fromMail(t.Context(), "Alice.Martin@demo.socle.test", []string{"Chloé <Chloe.Durand@example.org>", "d@example.org"}, "Bonjour",
		[]mailFile{{Name: "un.bin", Body: bytes.NewReader(one)}, {Name: "deux.bin", ContentType: "text/plain", Body: bytes.NewReader(two)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 {
		t.Fatalf("links for %d recipients: %v", len(links), links)
	}
	for _, rc := range []string{"Chloé <Chloe.Durand@example.org>", "d@example.org"} {
		if len(links[rc]) != 2 {
			t.Fatalf("links of %s: %v", rc, links[rc])
		}
		for i, want := range [][]byte{one, two} {
			u := strings.TrimPrefix(links[rc][i], s.srv.URL)
			if got := wantStatus(t, s.do(t, "", "GET", u, nil), 200); !bytes.Equal(got, want) {
				t.Fatalf("%s's file %d differs", rc, i)
			}
		}
	}
	if _, err := s.c.fromMail(t.Context(), "nobody@demo.socle.test", []string{"x@example.org"}, "", []mailFile{{Name: "a", Body: strings.NewReader("a")}}); err == nil {
		t.Fatal("a sender without an account made a transfer")
	}
}

// TestEICARRefused: a real clamd, with the test's own signature of the EICAR test file
// (sigtool --md5), refuses the file on its last PATCH; the file is deleted and the sender
// sees why. Without clamav-daemon installed the test fails: `make deps` installs it.
func TestEICARRefused(t *testing.T) {
	addr := startClamd(t)
	e := newEnv(t)
	s := e.start(t, TransferConfig{Clamd: "unix:" + addr})
	id := s.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"]}`)
	eicar := []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
	path := s.create(t, e.alice, id, "facture.com", len(eicar))
	r := s.patch(t, e.alice, path, 0, bytes.NewReader(eicar))
	if b := wantStatus(t, r, http.StatusUnprocessableEntity); !strings.Contains(string(b), "Socle.Test.EICAR") {
		t.Fatalf("the refusal does not name the signature: %s", b)
	}
	if _, err := os.Stat(filepath.Join(e.dir, strings.TrimPrefix(path, "/transfers/files/"))); !os.IsNotExist(err) {
		t.Fatalf("the infected file is still stored: %v", err)
	}
	v := s.senderView(t, e.alice, id)
	if v.Files[0].State != "infected" || !strings.Contains(v.Files[0].ScanResult, "EICAR") {
		t.Fatalf("the sender sees %+v", v.Files[0])
	}
	// A clean file passes the same scanner.
	clean := randomBytes(100 << 10)
	path = s.create(t, e.alice, id, "propre.bin", len(clean))
	wantStatus(t, s.patch(t, e.alice, path, 0, bytes.NewReader(clean)), http.StatusNoContent)
	if v := s.senderView(t, e.alice, id); v.Files[1].State != "ready" || v.Files[1].ScanResult != "clean" {
		t.Fatalf("the clean file: %+v", v.Files[1])
	}
}

// startClamd runs clamd on a socket of a temporary directory with a database made of the
// EICAR test file's MD5 signature only (no download: freshclam needs the internet).
func startClamd(t *testing.T) string {
	t.Helper()
	clamdBin, err := exec.LookPath("clamd")
	if err != nil {
		if _, e2 := os.Stat("/usr/sbin/clamd"); e2 == nil {
			clamdBin = "/usr/sbin/clamd"
		} else {
			t.Fatal("clamd is missing: install clamav-daemon (make deps does)")
		}
	}
	dir, err := os.MkdirTemp("", "clamd") // short: a socket's path is at most 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Mkdir(dir+"/db", 0o755)
	eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
	os.WriteFile(dir+"/eicar.txt", []byte(eicar), 0o644)
	out, err := exec.Command("sigtool", "--md5", dir+"/eicar.txt").Output()
	if err != nil {
		t.Fatalf("sigtool: %v", err)
	}
	// sigtool names the signature after the file: rename it to the test's.
	fields := strings.Split(strings.TrimSpace(string(out)), ":")
	sig := fields[0] + ":" + fields[1] + ":Socle.Test.EICAR\n"
	os.WriteFile(dir+"/db/test.hdb", []byte(sig), 0o644)
	sock := dir + "/clamd.sock"
	conf := fmt.Sprintf("Foreground yes\nDatabaseDirectory %s/db\nLocalSocket %s\nStreamMaxLength 100M\nLogFile %s/clamd.log\nTemporaryDirectory %s\n", dir, sock, dir, dir)
	os.WriteFile(dir+"/clamd.conf", []byte(conf), 0o644)
	cmd := exec.Command(clamdBin, "-c", dir+"/clamd.conf")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/clamd.log")
			t.Fatalf("clamd did not start:\n%s", log)
		}
		pollPause()
	}
}

// TestPasswordProtectedDownload: a transfer with a password serves nothing without it, and
// serves with it from a header (scripts, ranges) or the download page's form.
func TestPasswordProtectedDownload(t *testing.T) {
	e := newEnv(t)
	s := e.start(t, TransferConfig{})
	id := s.newTransfer(t, e.alice, `{"recipients":["chloe.durand@example.org"],"password":"sésame ouvre-toi"}`)
	data := randomBytes(4000)
	path := s.create(t, e.alice, id, "secret.pdf", len(data))
	wantStatus(t, s.patch(t, e.alice, path, 0, bytes.NewReader(data)), http.StatusNoContent)
	wantStatus(t, s.do(t, e.alice, "POST", fmt.Sprintf("/transfers/api/transfers/%d/send", id), nil), 200)
	link := linkRE.FindString(e.box.wait(t, func(m string) bool { return strings.Contains(m, "chloe.durand") }))
	var list transferView
	json.Unmarshal(wantStatus(t, s.do(t, "", "GET", link, nil, "Accept", "application/json"), 200), &list)
	u := list.Files[0].URL
	if b := wantStatus(t, s.do(t, "", "GET", u, nil), http.StatusForbidden); !strings.Contains(string(b), `"password"`) {
		t.Fatalf("without the password: %s", b)
	}
	wantStatus(t, s.do(t, "", "GET", u, nil, "X-Transfer-Password", "wrong password"), http.StatusForbidden)
	r := s.do(t, "", "GET", u, nil, "X-Transfer-Password", "sésame ouvre-toi", "Range", "bytes=0-9")
	if b := wantStatus(t, r, http.StatusPartialContent); !bytes.Equal(b, data[:10]) {
		t.Fatal("the range differs")
	}
	r = s.do(t, "", "POST", u, strings.NewReader("password=s%C3%A9same+ouvre-toi"), "Content-Type", "application/x-www-form-urlencoded",
		"Origin", s.srv.URL, "Sec-Fetch-Site", "same-origin")
	if b := wantStatus(t, r, http.StatusOK); !bytes.Equal(b, data) {
		t.Fatal("the form's download differs")
	}
	// The recipient's page for browsers offers the password form.
	if b := wantStatus(t, s.do(t, "", "GET", link, nil), 200); !strings.Contains(string(b), `type="password"`) {
		t.Fatalf("the download page:\n%s", b)
	}
}
