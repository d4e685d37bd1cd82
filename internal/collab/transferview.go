package collab

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
)

// transferView is a transfer as its sender sees it (withRecipients) or as a recipient does.
type transferView struct {
	ID          int64      `json:"id"`
	Message     string     `json:"message"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	Password    bool       `json:"password"`
	FromVoucher bool       `json:"from_voucher,omitempty"`
	Files       []fileView `json:"files"`
	Recipients  []string   `json:"recipients,omitempty"`
}

type fileView struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Size        int64           `json:"size"`
	ContentType string          `json:"content_type"`
	State       string          `json:"state"`
	ScanResult  string          `json:"scan_result,omitempty"`
	UploadURL   string          `json:"upload_url,omitempty"`
	URL         string          `json:"url,omitempty"`
	Downloads   []recipientView `json:"downloads,omitempty"`
}

// recipientView is one recipient's downloads of one file.
type recipientView struct {
	Email     string         `json:"email"`
	First     *time.Time     `json:"first_download,omitempty"`
	Bytes     int64          `json:"bytes"`
	Complete  bool           `json:"complete"`
	Downloads []downloadView `json:"downloads"`
}

type downloadView struct {
	At         time.Time `json:"at"`
	RangeStart int64     `json:"range_start"`
	Bytes      int64     `json:"bytes"`
	Network    string    `json:"network"`
}

func (t *transfers) transferView(ctx context.Context, id int64, sender bool) (transferView, error) {
	var v transferView
	err := t.pool.QueryRow(ctx, `SELECT id, message, created_at, expires_at, sent_at, password_hash IS NOT NULL, voucher_id IS NOT NULL
		FROM collab.transfers WHERE id = $1`, id).Scan(&v.ID, &v.Message, &v.CreatedAt, &v.ExpiresAt, &v.SentAt, &v.Password, &v.FromVoucher)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, errNotFound
	}
	if err != nil {
		return v, err
	}
	rows, err := t.pool.Query(ctx, `SELECT id, name, size, content_type, state, scan_result, upload_id
		FROM collab.transfer_files WHERE transfer_id = $1 AND ($2 OR state = 'ready' AND deleted_at IS NULL) ORDER BY id`, id, sender)
	if err != nil {
		return v, err
	}
	v.Files, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (fileView, error) {
		var f fileView
		var up string
		err := r.Scan(&f.ID, &f.Name, &f.Size, &f.ContentType, &f.State, &f.ScanResult, &up)
		if sender {
			f.UploadURL = "/transfers/files/" + up
		} else {
			f.ScanResult = ""
		}
		return f, err
	})
	if err != nil || !sender {
		return v, err
	}
	rows, err = t.pool.Query(ctx, `SELECT email FROM collab.transfer_recipients WHERE transfer_id = $1 ORDER BY id`, id)
	if err != nil {
		return v, err
	}
	if v.Recipients, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return v, err
	}
	// Per file, per recipient (the owner's own reads are left out), each download.
	rows, err = t.pool.Query(ctx, `SELECT d.file_id, r.email, d.at, d.range_start, d.bytes, d.network
		FROM collab.transfer_downloads d JOIN collab.transfer_recipients r ON r.id = d.recipient_id
		JOIN collab.transfer_files f ON f.id = d.file_id
		WHERE f.transfer_id = $1 ORDER BY d.file_id, r.email, d.at, d.id`, id)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	byFile := map[int64]*fileView{}
	for i := range v.Files {
		byFile[v.Files[i].ID] = &v.Files[i]
	}
	for rows.Next() {
		var fid int64
		var email string
		var d downloadView
		if err := rows.Scan(&fid, &email, &d.At, &d.RangeStart, &d.Bytes, &d.Network); err != nil {
			return v, err
		}
		f := byFile[fid]
		if n := len(f.Downloads); n == 0 || f.Downloads[n-1].Email != email {
			at := d.At
			f.Downloads = append(f.Downloads, recipientView{Email: email, First: &at})
		}
		rv := &f.Downloads[len(f.Downloads)-1]
		rv.Downloads = append(rv.Downloads, d)
		rv.Bytes += d.Bytes
		rv.Complete = rv.Bytes >= f.Size
	}
	return v, rows.Err()
}

// ownTransfer is the transfer of the path's {id} when the signed-in agent owns it.
func (t *transfers) ownTransfer(w http.ResponseWriter, r *http.Request) (int64, bool) {
	u, _ := identity.UserFrom(r.Context())
	notFound := func() (int64, bool) {
		problem.Write(w, r, problem.New("unknown-transfer", http.StatusNotFound, "No such transfer", "no transfer "+r.PathValue("id")+" of yours"))
		return 0, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return notFound()
	}
	var owner int64
	err = t.pool.QueryRow(r.Context(), `SELECT owner_id FROM collab.transfers WHERE id = $1`, id).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && owner != u.ID {
		return notFound()
	}
	if err != nil {
		t.fail(w, r, err)
		return 0, false
	}
	return id, true
}

func (t *transfers) getTransfer(w http.ResponseWriter, r *http.Request) {
	id, ok := t.ownTransfer(w, r)
	if !ok {
		return
	}
	v, err := t.transferView(r.Context(), id, true)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (t *transfers) listTransfers(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.UserFrom(r.Context())
	rows, err := t.pool.Query(r.Context(), `SELECT id FROM collab.transfers WHERE owner_id = $1 ORDER BY id DESC LIMIT 100`, u.ID)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.fail(w, r, err)
		return
	}
	out := []transferView{}
	for _, id := range ids {
		v, err := t.transferView(r.Context(), id, true)
		if err != nil {
			t.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	used, err := t.usedBytes(r.Context(), t.pool, u.ID)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": out, "used_bytes": used,
		"quota_bytes": int64(t.cfg.QuotaMB) << 20, "max_file_bytes": t.cfg.MaxSize})
}

// createVoucher makes a one-time upload voucher: a link an outsider uses to send the agent
// files.
func (t *transfers) createVoucher(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.UserFrom(r.Context())
	var req struct {
		Note string `json:"note"`
		Days int    `json:"expiry_days"`
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		problem.Write(w, r, problem.New("bad-voucher", http.StatusBadRequest, "Invalid voucher", "send application/json").With(problem.FieldError{Field: "Content-Type", Reason: "application/json"}))
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		problem.Write(w, r, problem.New("bad-voucher", http.StatusBadRequest, "Invalid voucher", err.Error()).With(problem.FieldError{Field: "body", Reason: "not a voucher's JSON"}))
		return
	}
	if req.Days == 0 {
		req.Days = t.cfg.ExpiryDays
	}
	if req.Days < 1 || req.Days > maxExpiryDays || len(req.Note) > 1000 {
		problem.Write(w, r, problem.New("bad-voucher", http.StatusBadRequest, "Invalid voucher", "expiry_days 1 to 30, note at most 1,000 bytes").With(problem.FieldError{Field: "expiry_days", Reason: "between 1 and 30"}))
		return
	}
	tok, h := newToken()
	var id int64
	now := t.now()
	if err := t.pool.QueryRow(r.Context(), `INSERT INTO collab.transfer_vouchers (owner_id, token_hash, note, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, u.ID, h, req.Note, now, now.Add(time.Duration(req.Days)*24*time.Hour)).Scan(&id); err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "token": tok, "url": t.c.publicURL() + "/transfers/voucher#" + tok})
}

// voucherTransfer opens the transfer of a voucher (X-Socle-Voucher): once only.
func (t *transfers) voucherTransfer(w http.ResponseWriter, r *http.Request) {
	up, ok := t.uploaderOf(w, r)
	if !ok {
		return
	}
	if up.voucherID == 0 {
		problem.Write(w, r, problem.New("unknown-voucher", http.StatusBadRequest, "Voucher required", "send the voucher in "+voucherHeader).With(problem.FieldError{Field: voucherHeader, Reason: "required"}))
		return
	}
	req, errs := parseTransferRequest(r.Body, r.Header.Get("Content-Type"), maxExpiryDays, t.cfg.ExpiryDays)
	if len(req.Recipients) > 0 {
		errs = append(errs, problem.FieldError{Field: "recipients", Reason: "a voucher's files go to the agent who made it only"})
	}
	if len(errs) > 0 {
		problem.Write(w, r, problem.New("bad-transfer", http.StatusBadRequest, "Invalid transfer", "the transfer's settings are invalid").With(errs...))
		return
	}
	var owner int64
	err := t.pool.QueryRow(r.Context(), `UPDATE collab.transfer_vouchers SET used_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING owner_id`,
		up.voucherID, t.now()).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		problem.Write(w, r, problem.New("voucher-used", http.StatusConflict, "Voucher already used", "this upload voucher has already been used"))
		return
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	req.Password, req.Receipt = "", false
	id, err := t.insertTransfer(r.Context(), owner, up.voucherID, req)
	if err == nil {
		_, err = t.pool.Exec(r.Context(), `UPDATE collab.transfer_vouchers SET transfer_id = $2 WHERE id = $1`, up.voucherID, id)
	}
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "upload_url": "/transfers/files/",
		"send_url": "/transfers/api/transfers/" + strconv.FormatInt(id, 10) + "/send"})
}
