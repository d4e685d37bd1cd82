package collab

import (
	"context"
	"fmt"
	"io"
	"strings"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// cleanupReport says what one cleanup did.
type cleanupReport struct {
	Abandoned, Expired, Purged int
}

// cleanup deletes, as tusd never does: the bytes of uploads not finished within AbandonAfter
// and of transfers past their expiry (their records stay, for the sender's history), then the
// records themselves — recipients' addresses and networks are personal data — Retention after
// expiry, and vouchers that expired unused.
func (t *transfers) cleanup(ctx context.Context) (cleanupReport, error) {
	var rep cleanupReport
	now := t.now()
	del := func(state, query string, args ...any) (int, error) {
		rows, err := t.pool.Query(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		for _, id := range ids {
			// Under the upload's lock, so that no replica is writing it meanwhile.
			lock, _ := t.locker.NewLock(id)
			lctx, cancel := context.WithTimeout(ctx, t.cfg.CleanupEvery/2+1)
			err := lock.Lock(lctx, func() {})
			cancel()
			if err != nil {
				t.logger.Warn("transfers: cleanup skips a locked upload", "upload", id, "error", err)
				continue
			}
			t.removeFiles(id)
			_, err = t.pool.Exec(ctx, `UPDATE collab.transfer_files SET state = $2, deleted_at = $3 WHERE upload_id = $1`, id, state, now)
			lock.Unlock()
			if err != nil {
				return 0, err
			}
		}
		return len(ids), nil
	}
	var err error
	if rep.Abandoned, err = del("abandoned", `SELECT upload_id FROM collab.transfer_files
		WHERE state = 'uploading' AND deleted_at IS NULL AND created_at < $1`, now.Add(-t.cfg.AbandonAfter)); err != nil {
		return rep, fmt.Errorf("transfers: abandoned uploads: %w", err)
	}
	if rep.Expired, err = del("expired", `SELECT f.upload_id FROM collab.transfer_files f JOIN collab.transfers t ON t.id = f.transfer_id
		WHERE f.deleted_at IS NULL AND t.expires_at <= $1`, now); err != nil {
		return rep, fmt.Errorf("transfers: expired files: %w", err)
	}
	tag, err := t.pool.Exec(ctx, `DELETE FROM collab.transfers WHERE expires_at < $1
		AND NOT EXISTS (SELECT 1 FROM collab.transfer_files f WHERE f.transfer_id = transfers.id AND f.deleted_at IS NULL)`, now.Add(-t.cfg.Retention))
	if err != nil {
		return rep, fmt.Errorf("transfers: purge: %w", err)
	}
	rep.Purged = int(tag.RowsAffected())
	if _, err := t.pool.Exec(ctx, `DELETE FROM collab.transfer_vouchers WHERE expires_at < $1 AND used_at IS NULL`, now); err != nil {
		return rep, fmt.Errorf("transfers: vouchers: %w", err)
	}
	if rep != (cleanupReport{}) {
		t.logger.Info("transfers: cleanup", "abandoned", rep.Abandoned, "expired", rep.Expired, "purged", rep.Purged)
	}
	return rep, nil
}

// mailFile is an attachment the SMTP relay turns into a transfer (relay*.go).
type mailFile struct {
	Name, ContentType string
	Body              io.Reader
}

// fromMail makes a transfer owned by the agent whose account has the e-mail sender, to the
// recipients, with those files (read fully from each reader, streamed to storage,
// virus-checked), and returns one personal download URL per recipient per file
// (links[recipient][i] is files[i]'s link for that recipient).
func (c *Collab) fromMail(ctx context.Context, sender string, recipients []string, message string, files []mailFile) (links map[string][]string, err error) {
	t := c.transfers
	if t == nil {
		return nil, fmt.Errorf("transfers: not started")
	}
	u, err := c.people.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(sender)))
	if err != nil {
		return nil, fmt.Errorf("transfers: the sender %s: %w", sender, err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("transfers: the sender %s is disabled", sender)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("transfers: no file")
	}
	req, errs := checkTransferRequest(transferRequest{Recipients: recipients}, maxExpiryDays, t.cfg.ExpiryDays)
	if len(errs) > 0 || len(req.Recipients) == 0 {
		return nil, fmt.Errorf("transfers: recipients %v: %v", recipients, errs)
	}
	if len(message) > 10000 {
		message = message[:10000]
	}
	req.Message = strings.ToValidUTF8(message, "")
	tid, err := t.insertTransfer(ctx, u.ID, 0, req)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (map[string][]string, error) {
		// The transfer is closed unsent; its files already stored are deleted now.
		t.pool.Exec(context.WithoutCancel(ctx), `UPDATE collab.transfers SET expires_at = created_at WHERE id = $1`, tid)
		t.cleanup(context.WithoutCancel(ctx))
		return nil, err
	}
	fileIDs := make([]int64, len(files))
	for i, f := range files {
		id, err := t.storeMailFile(ctx, u.ID, tid, f)
		if err != nil {
			return fail(fmt.Errorf("transfers: %s: %w", f.Name, err))
		}
		fileIDs[i] = id
	}
	byRecipient, err := t.send(ctx, uploader{userID: u.ID}, tid)
	if err != nil {
		return fail(err)
	}
	// Keyed by the recipients as the caller spelled them (send's map is by normalised address).
	links = map[string][]string{}
	for _, r := range recipients {
		e, _ := normalizeRecipient(r)
		base, ok := byRecipient[e]
		if !ok {
			continue
		}
		for _, id := range fileIDs {
			links[r] = append(links[r], fmt.Sprintf("%s/%d", base, id))
		}
	}
	return links, nil
}

// storeMailFile streams one attachment into the store as a tus upload of deferred length,
// within the maximum size and the quota, scans it, and records it ready.
func (t *transfers) storeMailFile(ctx context.Context, owner, tid int64, f mailFile) (int64, error) {
	name := strings.TrimSpace(f.Name)
	if name == "" {
		name = "attachment"
	}
	if reason := checkFileName(name); reason != "" {
		return 0, fmt.Errorf("%s", reason)
	}
	ctype := f.ContentType
	if ctype == "" || len(ctype) > 255 || strings.ContainsAny(ctype, "\r\n") {
		ctype = "application/octet-stream"
	}
	used, err := t.usedBytes(ctx, t.pool, owner)
	if err != nil {
		return 0, err
	}
	limit := min(t.cfg.MaxSize, int64(t.cfg.QuotaMB)<<20-used)
	if limit <= 0 {
		return 0, fmt.Errorf("quota exceeded")
	}
	id := newUploadID()
	var fid int64
	// Recorded first, as uploading, so that a crash leaves a record the cleanup deletes.
	if err := t.pool.QueryRow(ctx, `INSERT INTO collab.transfer_files (transfer_id, upload_id, name, content_type, size, created_at)
		VALUES ($1, $2, $3, $4, 0, $5) RETURNING id`, tid, id, name, ctype, t.now()).Scan(&fid); err != nil {
		return 0, err
	}
	up, err := t.store.NewUpload(ctx, tusd.FileInfo{ID: id, SizeIsDeferred: true,
		MetaData: tusd.MetaData{"filename": name, "filetype": ctype}})
	if err != nil {
		return 0, err
	}
	n, err := up.WriteChunk(ctx, 0, io.LimitReader(f.Body, limit+1))
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("larger than %d bytes (the maximum size or what is left of the quota)", limit)
	}
	if err := t.store.AsLengthDeclarableUpload(up).DeclareLength(ctx, n); err != nil {
		return 0, err
	}
	if _, err := t.pool.Exec(ctx, `UPDATE collab.transfer_files SET size = $2 WHERE id = $1`, fid, n); err != nil {
		return 0, err
	}
	if _, err := t.preFinish(tusd.HookEvent{Context: ctx, Upload: tusd.FileInfo{ID: id, Size: n, Offset: n}}); err != nil {
		return 0, err
	}
	return fid, nil
}
