// The transfers' pages: a transfer is made (POST /transfers/api/transfers, or the voucher's),
// each file goes by tus (tus-js-client: resumable, retried after a network cut, resumed after
// a reload from the URL it keeps in localStorage), then the transfer is sent.
(() => {
  'use strict';
  const form = document.getElementById('send');
  const words = {};
  document.querySelectorAll('#words').forEach((t) => t.content.querySelectorAll('span').forEach((s) => { words[s.dataset.k] = s.textContent; }));
  const say = (k, ...args) => args.reduce((s, a) => s.replace('%s', a), words[k] || k);
  const status = document.getElementById('status');
  const bar = document.getElementById('bar');
  const voucher = form && form.dataset.voucher ? decodeURIComponent(location.hash.slice(1)) : '';
  const headers = voucher ? { 'X-Socle-Voucher': voucher } : {};

  async function api(path, body) {
    const r = await fetch(path, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body || {}), credentials: 'same-origin' });
    const out = await r.json().catch(() => ({}));
    if (!r.ok) {
      const fields = (out.errors || []).map((e) => `${e.field}: ${e.reason}`).join('; ');
      throw new Error(out.detail ? `${out.detail}${fields ? ' — ' + fields : ''}` : `HTTP ${r.status}`);
    }
    return out;
  }

  // upload sends one file; the transfer's id is in its metadata, and in the fingerprint, so
  // that after a reload the same file resumes into the same transfer.
  function upload(file, transfer, done, total) {
    return new Promise((resolve, reject) => {
      const up = new tus.Upload(file, {
        endpoint: '/transfers/files/',
        headers,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
        removeFingerprintOnSuccess: true,
        chunkSize: 50 * 1024 * 1024,
        metadata: { transfer: String(transfer), filename: file.name, filetype: file.type || 'application/octet-stream' },
        onProgress(sent) {
          bar.value = Math.floor(((done + sent) / total) * 100);
          status.textContent = say('js.uploading', file.name, String(bar.value));
        },
        onShouldRetry(err) {
          const s = err.originalResponse ? err.originalResponse.getStatus() : 0;
          if (s >= 400 && s < 500 && s !== 409 && s !== 423) return false; // refused, not cut
          status.textContent = say('js.retry', file.name);
          return true;
        },
        onError(err) {
          const body = err.originalResponse ? err.originalResponse.getBody() : '';
          let detail = err.message;
          try { detail = JSON.parse(body).detail || detail; } catch { /* not a problem+json */ }
          reject(new Error(detail));
        },
        onSuccess() { resolve(); },
      });
      up.findPreviousUploads().then((prev) => {
        const same = prev.find((p) => p.metadata && p.metadata.transfer === String(transfer));
        if (same) up.resumeFromPreviousUpload(same);
        up.start();
      });
    });
  }

  // The transfer being sent survives a reload: the same files, chosen again, resume into it.
  const pendingKey = voucher ? 'socle.transfer.voucher' : 'socle.transfer.pending';

  form && form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const files = [...form.files.files];
    if (!files.length) return;
    document.getElementById('progress').hidden = false;
    form.querySelector('button[type=submit]').disabled = true;
    try {
      status.textContent = say('js.creating');
      let id = Number(localStorage.getItem(pendingKey)) || 0;
      if (!id) {
        const body = { message: form.message.value };
        if (!voucher) {
          body.recipients = form.recipients.value.split(/[\s,;]+/).filter(Boolean);
          body.expiry_days = Number(form.expiry_days.value);
          body.password = form.password.value;
          body.receipt = form.receipt.checked;
        }
        id = (await api(voucher ? '/transfers/api/vouchers/transfer' : '/transfers/api/transfers', body)).id;
        localStorage.setItem(pendingKey, String(id));
      }
      const total = files.reduce((n, f) => n + f.size, 0);
      let done = 0;
      for (const f of files) {
        await upload(f, id, done, total);
        done += f.size;
      }
      status.textContent = say('js.sending');
      await api(`/transfers/api/transfers/${id}/send`);
      localStorage.removeItem(pendingKey);
      bar.value = 100;
      status.textContent = say('js.done');
      if (!voucher) location.assign(`/transfers/?lang=${document.documentElement.lang}#t${id}`);
    } catch (err) {
      // A refused file (a virus, the quota) ends this transfer: the next one starts afresh.
      localStorage.removeItem(pendingKey);
      status.textContent = say('js.refused', err.message);
      form.querySelector('button[type=submit]').disabled = false;
    }
  });

  const vform = document.getElementById('voucher');
  vform && vform.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = document.getElementById('voucher-link');
    try {
      const v = await api('/transfers/api/vouchers', { note: vform.note.value });
      out.textContent = say('js.voucher', v.url);
    } catch (err) {
      out.textContent = say('js.error', err.message);
    }
  });
})();
