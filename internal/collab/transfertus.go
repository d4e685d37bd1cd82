package collab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
)

// uploader is who sends bytes to the tus endpoint: a signed-in agent (session or personal
// access token) or an outsider holding an agent's upload voucher.
type uploader struct {
	userID    int64 // 0 for a voucher
	voucherID int64 // 0 for an agent
}

type uploaderKey struct{}

// voucherHeader carries an upload voucher's token on the tus requests of an outsider's page.
const voucherHeader = "X-Socle-Voucher"

// tusEndpoint is /transfers/files/: tusd behind socle's own checks. Every request must come
// from an agent or a voucher; requests on an upload must come from who may write its transfer.
// GET is served here, not by tusd, so that the uploader can read a file back with ranges.
func (t *transfers) tusEndpoint() http.Handler {
	// t.tus exists once Start has run; Routes may come first.
	inner := http.StripPrefix("/transfers/files", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.tus.ServeHTTP(w, r) }))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up, ok := t.uploaderOf(w, r)
		if !ok {
			return
		}
		ctx := context.WithValue(r.Context(), uploaderKey{}, up)
		r = r.WithContext(ctx)
		id := strings.Trim(strings.TrimPrefix(r.URL.Path, "/transfers/files/"), "/")
		if id != "" {
			if !validUploadID(id) {
				problem.Write(w, r, problem.New("unknown-upload", http.StatusNotFound, "No such upload", "upload ids are 32 lowercase hexadecimal digits"))
				return
			}
			f, err := t.fileByUpload(ctx, id)
			if err == nil && !up.mayWrite(f) {
				err = errNotFound // others' uploads do not exist, as far as the caller knows
			}
			if errors.Is(err, errNotFound) {
				problem.Write(w, r, problem.New("unknown-upload", http.StatusNotFound, "No such upload", "no upload "+id+" of yours"))
				return
			}
			if err != nil {
				t.fail(w, r, err)
				return
			}
			if r.Method == http.MethodGet {
				t.serveFile(w, r, f, 0)
				return
			}
		}
		inner.ServeHTTP(w, r)
	})
}

// uploaderOf is the agent of the request or the voucher of its header; otherwise it answers
// 401.
func (t *transfers) uploaderOf(w http.ResponseWriter, r *http.Request) (uploader, bool) {
	if u, ok := identity.UserFrom(r.Context()); ok {
		return uploader{userID: u.ID}, true
	}
	if tok := r.Header.Get(voucherHeader); tok != "" {
		var id int64
		err := t.pool.QueryRow(r.Context(), `SELECT id FROM collab.transfer_vouchers
			WHERE token_hash = $1 AND expires_at > $2`, hashToken(tok), t.now()).Scan(&id)
		if err == nil {
			return uploader{voucherID: id}, true
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.fail(w, r, err)
			return uploader{}, false
		}
		problem.Write(w, r, problem.New("unknown-voucher", http.StatusUnauthorized, "Unknown voucher",
			"the upload voucher is unknown or has expired").With(problem.FieldError{Field: voucherHeader, Reason: "unknown or expired"}))
		return uploader{}, false
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="socle"`)
	problem.Write(w, r, problem.New("unauthenticated", http.StatusUnauthorized, "Sign-in required",
		"sign in, send a personal access token (Authorization: Bearer socle_pat_…), or an upload voucher ("+voucherHeader+")"))
	return uploader{}, false
}

func (u uploader) mayWrite(f fileRow) bool {
	return u.userID != 0 && u.userID == f.ownerID || u.voucherID != 0 && u.voucherID == f.voucherID
}

func (t *transfers) fail(w http.ResponseWriter, r *http.Request, err error) {
	t.logger.Error("transfers", "error", err, "path", r.URL.Path)
	problem.Write(w, r, problem.New("internal", http.StatusInternalServerError, "Internal error", "the transfer service failed; try again"))
}

// tusProblem is a refusal from a tusd callback, as problem+json.
func tusProblem(status int, typ, title, field, reason string) tusd.Error {
	p := problem.New(typ, status, title, reason)
	if field != "" {
		p = p.With(problem.FieldError{Field: field, Reason: reason})
	}
	b, _ := json.Marshal(p)
	return tusd.Error{ErrorCode: typ, Message: reason, HTTPResponse: tusd.HTTPResponse{
		StatusCode: status, Body: string(b),
		Header: tusd.HTTPHeader{"Content-Type": "application/problem+json"}}}
}

// preCreate admits a new upload (tus creation, POST): into a transfer of the caller's, not yet
// sent nor expired; with a size (no deferred length: the quota needs it), within the maximum
// and the quota; named. It chooses the upload's id and records the file.
func (t *transfers) preCreate(h tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	ctx := h.Context
	up, _ := ctx.Value(uploaderKey{}).(uploader)
	meta := h.Upload.MetaData
	tid, err := strconv.ParseInt(meta["transfer"], 10, 64)
	if err != nil || tid <= 0 {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusBadRequest, "bad-metadata", "Missing transfer",
			"Upload-Metadata.transfer", "the transfer id (POST /transfers/api/transfers) is required, a positive integer")
	}
	name := strings.TrimSpace(meta["filename"])
	if problemReason := checkFileName(name); problemReason != "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusBadRequest, "bad-metadata", "Bad file name",
			"Upload-Metadata.filename", problemReason)
	}
	ctype := meta["filetype"]
	if ctype == "" || len(ctype) > 255 || strings.ContainsAny(ctype, "\r\n") {
		ctype = "application/octet-stream"
	}
	if h.Upload.SizeIsDeferred || h.Upload.Size <= 0 {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusBadRequest, "bad-length", "Length required",
			"Upload-Length", "the file's size must be given when the upload is created, and not be zero")
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	defer tx.Rollback(context.Background())
	var owner, voucher int64
	var sent bool
	var expired bool
	err = tx.QueryRow(ctx, `SELECT owner_id, coalesce(voucher_id, 0), sent_at IS NOT NULL, expires_at <= $2
		FROM collab.transfers WHERE id = $1 FOR UPDATE`, tid, t.now()).Scan(&owner, &voucher, &sent, &expired)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !up.mayWrite(fileRow{ownerID: owner, voucherID: voucher}) {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusNotFound, "unknown-transfer", "No such transfer",
			"Upload-Metadata.transfer", "no transfer "+strconv.FormatInt(tid, 10)+" of yours")
	}
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	if sent || expired {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusConflict, "transfer-closed", "Transfer closed",
			"Upload-Metadata.transfer", "this transfer has been sent or has expired: files can no longer be added")
	}
	// The quota counts the owner's files being uploaded and kept: serialise by owner so two
	// uploads created at once cannot both pass.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('collab-quota'), $1::int)`, owner%(1<<31)); err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	used, err := t.usedBytes(ctx, tx, owner)
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	if quota := int64(t.cfg.QuotaMB) << 20; used+h.Upload.Size > quota {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, tusProblem(http.StatusRequestEntityTooLarge, "quota-exceeded", "Quota exceeded",
			"Upload-Length", fmt.Sprintf("this file (%d bytes) would bring the agent's transfers to %d bytes, over the quota of %d bytes", h.Upload.Size, used+h.Upload.Size, quota))
	}
	id := newUploadID()
	if _, err := tx.Exec(ctx, `INSERT INTO collab.transfer_files (transfer_id, upload_id, name, content_type, size, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, tid, id, name, ctype, h.Upload.Size, t.now()); err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, err
	}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{ID: id}, nil
}

// checkFileName says what is wrong with a file's name, "" if nothing.
func checkFileName(name string) string {
	switch {
	case name == "":
		return "the file's name is required"
	case len(name) > 255:
		return "the file's name is longer than 255 bytes"
	case strings.ContainsAny(name, "/\\\x00\r\n"):
		return "the file's name may not contain a slash, a backslash or a control character"
	case !utf8Valid(name):
		return "the file's name is not UTF-8"
	}
	return ""
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// usedBytes is an agent's files being uploaded and kept, what the quota counts.
func (t *transfers) usedBytes(ctx context.Context, q queryer, owner int64) (int64, error) {
	var used int64
	err := q.QueryRow(ctx, `SELECT coalesce(sum(f.size), 0) FROM collab.transfer_files f
		JOIN collab.transfers t ON t.id = f.transfer_id
		WHERE t.owner_id = $1 AND f.deleted_at IS NULL AND f.state IN ('uploading', 'ready')`, owner).Scan(&used)
	return used, err
}

// preFinish scans a finished upload. An infected file is deleted and refused: the last PATCH
// answers 422 with the signature's name, and the file's state says so to the sender's page.
// A scan that cannot conclude refuses too (503, fail closed): the file is deleted and the
// sender sends it again.
func (t *transfers) preFinish(h tusd.HookEvent) (tusd.HTTPResponse, error) {
	ctx := h.Context
	id := h.Upload.ID
	virus, err := t.scanUpload(ctx, id)
	if err != nil {
		t.logger.Error("transfers: scan", "upload", id, "error", err)
		t.discard(ctx, id, "abandoned", "scan failed: "+err.Error())
		return tusd.HTTPResponse{}, tusProblem(http.StatusServiceUnavailable, "scan-failed", "Virus scan failed",
			"", "the file could not be checked for viruses and was not kept; send it again later")
	}
	if virus != "" {
		t.logger.Warn("transfers: infected file refused", "upload", id, "signature", virus)
		t.discard(ctx, id, "infected", virus)
		return tusd.HTTPResponse{}, tusProblem(http.StatusUnprocessableEntity, "infected-file", "Infected file refused",
			"", "the virus scanner found "+virus+" in this file: it was deleted and will not be sent")
	}
	result := "clean"
	if t.scanner == nil {
		result = "not scanned"
	}
	if _, err := t.pool.Exec(ctx, `UPDATE collab.transfer_files SET state = 'ready', finished_at = $2, scan_result = $3
		WHERE upload_id = $1 AND state = 'uploading'`, id, t.now(), result); err != nil {
		return tusd.HTTPResponse{}, err
	}
	return tusd.HTTPResponse{}, nil
}

// scanUpload streams the stored file to clamd.
func (t *transfers) scanUpload(ctx context.Context, id string) (string, error) {
	if t.scanner == nil {
		return "", nil
	}
	f, err := os.Open(t.binPath(id))
	if err != nil {
		return "", fmt.Errorf("opening the upload: %w", err)
	}
	defer f.Close()
	return t.scanner.scan(ctx, f)
}

func (t *transfers) binPath(id string) string  { return t.store.Path + "/" + id }
func (t *transfers) infoPath(id string) string { return t.store.Path + "/" + id + ".info" }

// discard deletes an upload's bytes and marks its record.
func (t *transfers) discard(ctx context.Context, id, state, reason string) {
	t.removeFiles(id)
	if _, err := t.pool.Exec(context.WithoutCancel(ctx), `UPDATE collab.transfer_files
		SET state = $2, scan_result = $3, deleted_at = $4 WHERE upload_id = $1`, id, state, reason, t.now()); err != nil {
		t.logger.Error("transfers: discard", "upload", id, "error", err)
	}
}

func (t *transfers) removeFiles(id string) {
	for _, p := range []string{t.binPath(id), t.infoPath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.logger.Error("transfers: deleting a file", "path", p, "error", err)
		}
	}
}

// tusLogger hands tusd (which logs with golang.org/x/exp/slog) socle's logger, at debug for
// its per-request lines.
func tusLogger(l *slog.Logger) *expslog.Logger { return expslog.New(expHandler{l}) }

type expHandler struct{ l *slog.Logger }

func (h expHandler) Enabled(ctx context.Context, lv expslog.Level) bool {
	return h.l.Enabled(ctx, slog.Level(lv)-4)
}

func (h expHandler) Handle(ctx context.Context, r expslog.Record) error {
	attrs := make([]any, 0, r.NumAttrs()*2)
	r.Attrs(func(a expslog.Attr) bool { attrs = append(attrs, a.Key, a.Value.Any()); return true })
	h.l.Log(ctx, slog.Level(r.Level)-4, "tusd: "+r.Message, attrs...)
	return nil
}

func (h expHandler) WithAttrs(as []expslog.Attr) expslog.Handler {
	args := make([]any, 0, len(as)*2)
	for _, a := range as {
		args = append(args, a.Key, a.Value.Any())
	}
	return expHandler{h.l.With(args...)}
}

func (h expHandler) WithGroup(name string) expslog.Handler { return expHandler{h.l.WithGroup(name)} }
