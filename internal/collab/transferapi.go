package collab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"socle/internal/platform/identity"
	smail "socle/internal/platform/mail"
	"socle/internal/platform/problem"
)

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// transferRoutes mounts the large-file transfers (Melanissimo) under /transfers/.
func (c *Collab) transferRoutes(webMux, icMux *http.ServeMux) {
	t := c.transfers
	if t == nil {
		return
	}
	req := c.people.Require
	// tus from the page is same-origin; scripts authenticate with a token (no cookie, no CSRF).
	webMux.Handle("/transfers/files/", t.tusEndpoint())
	webMux.Handle("POST /transfers/api/transfers", req(http.HandlerFunc(t.createTransfer)))
	webMux.Handle("GET /transfers/api/transfers", req(http.HandlerFunc(t.listTransfers)))
	webMux.Handle("GET /transfers/api/transfers/{id}", req(http.HandlerFunc(t.getTransfer)))
	webMux.Handle("POST /transfers/api/transfers/{id}/send", http.HandlerFunc(t.sendTransfer))
	webMux.Handle("POST /transfers/api/vouchers", req(http.HandlerFunc(t.createVoucher)))
	webMux.HandleFunc("POST /transfers/api/vouchers/transfer", t.voucherTransfer)
	webMux.HandleFunc("GET /transfers/d/{token}", t.recipientFiles)
	webMux.HandleFunc("GET /transfers/d/{token}/{file}", t.recipientDownload)
	webMux.HandleFunc("POST /transfers/d/{token}/{file}", t.recipientDownload)
	c.transferPages(webMux)
}

// transferRequest is the body of POST /transfers/api/transfers.
type transferRequest struct {
	Recipients []string `json:"recipients"`
	Message    string   `json:"message"`
	ExpiryDays int      `json:"expiry_days"`
	Password   string   `json:"password"`
	Receipt    bool     `json:"receipt"`
}

// parseTransferRequest reads and checks a transfer's settings (JSON or a form), returning
// the normalised recipients and the field errors.
func parseTransferRequest(r io.Reader, contentType string, maxDays, defDays int) (transferRequest, []problem.FieldError) {
	var req transferRequest
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/json" {
		return req, []problem.FieldError{{Field: "Content-Type", Reason: "send application/json"}}
	}
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, []problem.FieldError{{Field: "body", Reason: "not a transfer's JSON: " + err.Error()}}
	}
	return checkTransferRequest(req, maxDays, defDays)
}

// checkTransferRequest normalises the recipients (lower case, once each) and checks the
// settings.
func checkTransferRequest(req transferRequest, maxDays, defDays int) (transferRequest, []problem.FieldError) {
	var errs []problem.FieldError
	seen := map[string]bool{}
	var rcpts []string
	for i, a := range req.Recipients {
		e, ok := normalizeRecipient(a)
		if !ok {
			errs = append(errs, problem.FieldError{Field: fmt.Sprintf("recipients[%d]", i), Reason: "not an e-mail address"})
			continue
		}
		if !seen[e] {
			seen[e] = true
			rcpts = append(rcpts, e)
		}
	}
	if len(rcpts) > 100 {
		errs = append(errs, problem.FieldError{Field: "recipients", Reason: "at most 100 recipients"})
	}
	req.Recipients = rcpts
	if len(req.Message) > 10000 || !utf8.ValidString(req.Message) {
		errs = append(errs, problem.FieldError{Field: "message", Reason: "at most 10,000 bytes of UTF-8"})
	}
	if req.ExpiryDays == 0 {
		req.ExpiryDays = defDays
	}
	if req.ExpiryDays < 1 || req.ExpiryDays > maxDays {
		errs = append(errs, problem.FieldError{Field: "expiry_days", Reason: fmt.Sprintf("between 1 and %d days", maxDays)})
	}
	if req.Password != "" && (len(req.Password) < 8 || len(req.Password) > 72) {
		// bcrypt reads 72 bytes at most.
		errs = append(errs, problem.FieldError{Field: "password", Reason: "between 8 and 72 bytes"})
	}
	return req, errs
}

func (t *transfers) createTransfer(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.UserFrom(r.Context())
	req, errs := parseTransferRequest(r.Body, r.Header.Get("Content-Type"), maxExpiryDays, t.cfg.ExpiryDays)
	if len(req.Recipients) == 0 && len(errs) == 0 {
		errs = append(errs, problem.FieldError{Field: "recipients", Reason: "at least one e-mail address"})
	}
	if len(errs) > 0 {
		problem.Write(w, r, problem.New("bad-transfer", http.StatusBadRequest, "Invalid transfer", "the transfer's settings are invalid").With(errs...))
		return
	}
	id, err := t.insertTransfer(r.Context(), u.ID, 0, req)
	if err != nil {
		t.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": id, "upload_url": "/transfers/files/",
		"send_url": fmt.Sprintf("/transfers/api/transfers/%d/send", id)})
}

// insertTransfer records a transfer and its recipients (their links are made when it is sent).
func (t *transfers) insertTransfer(ctx context.Context, owner, voucher int64, req transferRequest) (int64, error) {
	var hash *string
	if req.Password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(req.Password), bcrypt.DefaultCost)
		if err != nil {
			return 0, fmt.Errorf("transfers: password: %w", err)
		}
		s := string(h)
		hash = &s
	}
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	var id int64
	var v *int64
	if voucher != 0 {
		v = &voucher
	}
	now := t.now()
	if err := tx.QueryRow(ctx, `INSERT INTO collab.transfers (owner_id, message, password_hash, receipt, expires_at, created_at, voucher_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, owner, req.Message, hash, req.Receipt,
		now.Add(time.Duration(req.ExpiryDays)*24*time.Hour), now, v).Scan(&id); err != nil {
		return 0, fmt.Errorf("transfers: insert: %w", err)
	}
	for _, e := range req.Recipients {
		_, h := newToken() // replaced when sent: the token itself is only ever in the mail
		if _, err := tx.Exec(ctx, `INSERT INTO collab.transfer_recipients (transfer_id, email, token_hash) VALUES ($1, $2, $3)`, id, e, h); err != nil {
			return 0, fmt.Errorf("transfers: recipient: %w", err)
		}
	}
	return id, tx.Commit(ctx)
}

// sendTransfer closes a transfer (no more files) once every file is ready, and mails each
// recipient their personal link (a voucher's transfer: the agent is told).
func (t *transfers) sendTransfer(w http.ResponseWriter, r *http.Request) {
	up, ok := t.uploaderOf(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		problem.Write(w, r, problem.New("unknown-transfer", http.StatusNotFound, "No such transfer", "transfer ids are integers"))
		return
	}
	links, err := t.send(r.Context(), up, id)
	var rf refusal
	switch {
	case errors.As(err, &rf):
		problem.Write(w, r, rf.p)
	case err != nil:
		t.fail(w, r, err)
	default:
		_ = links
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "sent": true})
	}
}

// send closes transfer id and mails its links; it returns them by recipient.
func (t *transfers) send(ctx context.Context, up uploader, id int64) (map[string]string, error) {
	tx, err := t.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	var owner, voucher int64
	var sent bool
	var message string
	var expires time.Time
	err = tx.QueryRow(ctx, `SELECT owner_id, coalesce(voucher_id, 0), sent_at IS NOT NULL, message, expires_at
		FROM collab.transfers WHERE id = $1 FOR UPDATE`, id).Scan(&owner, &voucher, &sent, &message, &expires)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !up.mayWrite(fileRow{ownerID: owner, voucherID: voucher}) {
		return nil, refuse("unknown-transfer", http.StatusNotFound, "No such transfer", fmt.Sprintf("no transfer %d of yours", id))
	}
	if err != nil {
		return nil, err
	}
	if sent {
		return nil, refuse("transfer-closed", http.StatusConflict, "Already sent", "this transfer has already been sent")
	}
	var ready, pending int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'ready'), count(*) FILTER (WHERE state = 'uploading')
		FROM collab.transfer_files WHERE transfer_id = $1`, id).Scan(&ready, &pending); err != nil {
		return nil, err
	}
	if pending > 0 || ready == 0 {
		return nil, refuse("transfer-not-ready", http.StatusConflict, "Files not ready",
			fmt.Sprintf("%d file(s) still uploading, %d ready: send when every file is uploaded", pending, ready))
	}
	if _, err := tx.Exec(ctx, `UPDATE collab.transfers SET sent_at = $2 WHERE id = $1`, id, t.now()); err != nil {
		return nil, err
	}
	links := map[string]string{}
	rows, err := tx.Query(ctx, `SELECT id, email FROM collab.transfer_recipients WHERE transfer_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	type rc struct {
		id    int64
		email string
	}
	var rcs []rc
	for rows.Next() {
		var x rc
		if err := rows.Scan(&x.id, &x.email); err != nil {
			return nil, err
		}
		rcs = append(rcs, x)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	base := t.c.publicURL()
	for _, x := range rcs {
		tok, h := newToken()
		if _, err := tx.Exec(ctx, `UPDATE collab.transfer_recipients SET token_hash = $2 WHERE id = $1`, x.id, h); err != nil {
			return nil, err
		}
		links[x.email] = base + "/transfers/d/" + tok
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	ownerAddr := t.ownerEmail(ctx, owner)
	for email, link := range links {
		body := fmt.Sprintf("%s vous envoie des fichiers / sent you files.\n\n%s\n\nTélécharger / Download : %s\n\nDisponible jusqu'au / Available until %s.\n",
			ownerAddr, message, link, expires.UTC().Format("2006-01-02 15:04 MST"))
		if err := t.c.mail.Send(ctx, smail.Message{To: []string{email}, ReplyTo: ownerAddr,
			Subject: "Fichiers envoyés par " + ownerAddr + " / Files sent by " + ownerAddr, Text: body}); err != nil {
			t.logger.Error("transfers: mailing a recipient", "transfer", id, "error", err)
		}
	}
	if voucher != 0 && ownerAddr != "" {
		if err := t.c.mail.Send(ctx, smail.Message{To: []string{ownerAddr},
			Subject: "Fichiers reçus par bon de dépôt / Files received with an upload voucher",
			Text:    fmt.Sprintf("Des fichiers ont été déposés avec votre bon de dépôt. / Files were sent with your upload voucher.\n\n%s\n\n%s/transfers/#t%d\n", message, base, id)}); err != nil {
			t.logger.Error("transfers: mailing the voucher's owner", "transfer", id, "error", err)
		}
	}
	return links, nil
}

func (t *transfers) ownerEmail(ctx context.Context, owner int64) string {
	var e string
	if err := t.pool.QueryRow(ctx, `SELECT email FROM identity.users WHERE id = $1`, owner).Scan(&e); err != nil {
		t.logger.Error("transfers: owner's address", "owner", owner, "error", err)
	}
	return e
}

// refusal is an error that is the caller's fault, answered as its problem.
type refusal struct{ p *problem.Problem }

func (r refusal) Error() string { return r.p.Title + ": " + r.p.Detail }

func refuse(typ string, status int, title, detail string) error {
	return refusal{problem.New(typ, status, title, detail)}
}

// normalizeRecipient is the address of a recipient as stored: RFC 5322 addr-spec, lower case.
func normalizeRecipient(a string) (string, bool) {
	addr, err := mail.ParseAddress(strings.TrimSpace(a))
	if err != nil || len(addr.Address) > 254 {
		return "", false
	}
	return strings.ToLower(addr.Address), true
}
