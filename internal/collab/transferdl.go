package collab

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	smail "socle/internal/platform/mail"
	"socle/internal/platform/problem"
)

// fileRow is a file of a transfer, with what deciding who may read it needs.
type fileRow struct {
	id, transferID     int64
	uploadID           string
	name, contentType  string
	size               int64
	state              string
	deleted            bool
	ownerID, voucherID int64
	expiresAt          time.Time
	passwordHash       *string
	receipt            bool
}

const fileSelect = `SELECT f.id, f.transfer_id, f.upload_id, f.name, f.content_type, f.size, f.state, f.deleted_at IS NOT NULL,
	t.owner_id, coalesce(t.voucher_id, 0), t.expires_at, t.password_hash, t.receipt
	FROM collab.transfer_files f JOIN collab.transfers t ON t.id = f.transfer_id `

func scanFile(row pgx.Row) (fileRow, error) {
	var f fileRow
	err := row.Scan(&f.id, &f.transferID, &f.uploadID, &f.name, &f.contentType, &f.size, &f.state, &f.deleted,
		&f.ownerID, &f.voucherID, &f.expiresAt, &f.passwordHash, &f.receipt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, errNotFound
	}
	return f, err
}

func (t *transfers) fileByUpload(ctx context.Context, id string) (fileRow, error) {
	return scanFile(t.pool.QueryRow(ctx, fileSelect+`WHERE f.upload_id = $1`, id))
}

// countingWriter counts the body bytes served.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// serveFile serves a ready file with ranges (RFC 9110 §14, through http.ServeContent) and
// records the download: recipient 0 is the owner reading it back.
func (t *transfers) serveFile(w http.ResponseWriter, r *http.Request, f fileRow, recipient int64) {
	if f.state != "ready" || f.deleted {
		status, reason := http.StatusConflict, "the file is still being uploaded"
		switch {
		case f.deleted && f.state == "expired" || f.deleted && f.state == "ready":
			status, reason = http.StatusGone, "the file has expired and was deleted"
		case f.state == "infected":
			status, reason = http.StatusGone, "the file was infected and was deleted"
		case f.deleted:
			status, reason = http.StatusGone, "the file was deleted"
		}
		problem.Write(w, r, problem.New("file-unavailable", status, "File unavailable", reason))
		return
	}
	fh, err := os.Open(t.binPath(f.uploadID))
	if err != nil {
		t.fail(w, r, fmt.Errorf("transfers: opening %s: %w", f.uploadID, err))
		return
	}
	defer fh.Close()
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.name}))
	w.Header().Set("Cache-Control", "private, no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	cw := &countingWriter{ResponseWriter: w}
	http.ServeContent(cw, r, "", time.Time{}, fh)
	if cw.n == 0 || r.Method == http.MethodHead {
		return
	}
	var start int64
	if cr := w.Header().Get("Content-Range"); cr != "" { // ours: "bytes a-b/size"
		if a, _, ok := strings.Cut(strings.TrimPrefix(cr, "bytes "), "-"); ok {
			start, _ = strconv.ParseInt(a, 10, 64)
		}
	}
	t.recordDownload(context.WithoutCancel(r.Context()), f, recipient, start, cw.n, clientNetwork(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), t.proxies))
}

// recordDownload keeps a download and, the first time a recipient's downloads of a file sum to
// its size, mails the owner a receipt if asked.
func (t *transfers) recordDownload(ctx context.Context, f fileRow, recipient, start, n int64, network string) {
	var rid *int64
	if recipient != 0 {
		rid = &recipient
	}
	var before int64
	err := t.pool.QueryRow(ctx, `WITH prev AS (SELECT coalesce(sum(bytes), 0) AS b FROM collab.transfer_downloads
			WHERE file_id = $1 AND recipient_id IS NOT DISTINCT FROM $2),
		ins AS (INSERT INTO collab.transfer_downloads (file_id, recipient_id, at, range_start, bytes, network)
			VALUES ($1, $2, $3, $4, $5, $6))
		SELECT b FROM prev`, f.id, rid, t.now(), start, n, network).Scan(&before)
	if err != nil {
		t.logger.Error("transfers: recording a download", "file", f.id, "error", err)
		return
	}
	if recipient == 0 || !f.receipt || before >= f.size || before+n < f.size {
		return
	}
	var email string
	if err := t.pool.QueryRow(ctx, `SELECT email FROM collab.transfer_recipients WHERE id = $1`, recipient).Scan(&email); err != nil {
		t.logger.Error("transfers: receipt", "error", err)
		return
	}
	owner := t.ownerEmail(ctx, f.ownerID)
	if err := t.c.mail.Send(ctx, smail.Message{To: []string{owner},
		Subject: "Accusé de téléchargement / Download receipt : " + f.name,
		Text:    fmt.Sprintf("%s a téléchargé entièrement « %s » / downloaded all of %q.\n", email, f.name, f.name)}); err != nil {
		t.logger.Error("transfers: receipt", "error", err)
	}
}

// recipientByToken is the recipient of a personal link and its transfer.
func (t *transfers) recipientByToken(ctx context.Context, tok string) (rid, tid int64, err error) {
	if tok == "" || len(tok) > 100 {
		return 0, 0, errNotFound
	}
	err = t.pool.QueryRow(ctx, `SELECT r.id, r.transfer_id FROM collab.transfer_recipients r
		JOIN collab.transfers t ON t.id = r.transfer_id
		WHERE r.token_hash = $1 AND t.sent_at IS NOT NULL`, hashToken(tok)).Scan(&rid, &tid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, errNotFound
	}
	return rid, tid, err
}

// recipientFiles lists a personal link's files (JSON for scripts, the page for browsers).
func (t *transfers) recipientFiles(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	_, tid, err := t.recipientByToken(r.Context(), tok)
	if errors.Is(err, errNotFound) {
		problem.Write(w, r, problem.New("unknown-link", http.StatusNotFound, "Unknown link", "this download link is unknown"))
		return
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	v, err := t.transferView(r.Context(), tid, false)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	for i := range v.Files {
		v.Files[i].URL = fmt.Sprintf("/transfers/d/%s/%d", tok, v.Files[i].ID)
	}
	if strings.Contains(r.Header.Get("Accept"), "json") {
		writeJSON(w, http.StatusOK, v)
		return
	}
	t.c.renderTransfer(w, r, "download.html", v)
}

// recipientDownload serves one file of a personal link, with ranges; a password, when the
// transfer has one, comes in the X-Transfer-Password header (scripts) or the form's password
// field (POST from the download page).
func (t *transfers) recipientDownload(w http.ResponseWriter, r *http.Request) {
	rid, tid, err := t.recipientByToken(r.Context(), r.PathValue("token"))
	fid, perr := strconv.ParseInt(r.PathValue("file"), 10, 64)
	if errors.Is(err, errNotFound) || perr != nil {
		problem.Write(w, r, problem.New("unknown-link", http.StatusNotFound, "Unknown link", "this download link is unknown"))
		return
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	f, err := scanFile(t.pool.QueryRow(r.Context(), fileSelect+`WHERE f.id = $1 AND f.transfer_id = $2`, fid, tid))
	if errors.Is(err, errNotFound) {
		problem.Write(w, r, problem.New("unknown-file", http.StatusNotFound, "Unknown file", "no such file in this transfer"))
		return
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	if !t.now().Before(f.expiresAt) {
		problem.Write(w, r, problem.New("transfer-expired", http.StatusGone, "Transfer expired", "this transfer has expired"))
		return
	}
	if f.passwordHash != nil {
		pw := r.Header.Get("X-Transfer-Password")
		if pw == "" && r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			pw = r.PostFormValue("password")
		}
		if pw == "" || bcrypt.CompareHashAndPassword([]byte(*f.passwordHash), []byte(pw)) != nil {
			problem.Write(w, r, problem.New("bad-password", http.StatusForbidden, "Wrong password",
				"this transfer is protected by a password").With(problem.FieldError{Field: "password", Reason: "missing or wrong"}))
			return
		}
	}
	t.serveFile(w, r, f, rid)
}
