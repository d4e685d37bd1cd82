// The portal's few scripts; every page works without them. On a documentation page, the
// OpenAPI viewer: Swagger UI, loaded from the portal itself, calling the gateway only — no
// validator badge, the document's servers already replaced by the gateway's address of the
// API, and the key pasted by the visitor sent as X-API-Key. On an application's page, the
// button that copies a new key.

function startViewer(el) {
  if (typeof window.SwaggerUIBundle !== 'function') return;
  const key = document.getElementById('try-key');
  window.SwaggerUIBundle({
    url: el.dataset.url,
    domNode: el,
    validatorUrl: null,
    queryConfigEnabled: false,
    deepLinking: false,
    tryItOutEnabled: false,
    withCredentials: false,
    requestInterceptor: (req) => {
      const k = key && key.value.trim();
      if (k && !req.headers.Authorization && !req.headers['X-API-Key']) req.headers['X-API-Key'] = k;
      return req;
    },
  });
}

function copyButton(button) {
  const input = document.getElementById(button.dataset.copy);
  const status = button.parentElement.querySelector('.copied');
  if (!input || !navigator.clipboard) return; // the key stays selectable by hand
  button.hidden = false;
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      if (status) status.textContent = button.dataset.done;
    } catch {
      input.select();
    }
  });
}

const viewer = document.getElementById('swagger');
if (viewer) startViewer(viewer);
document.querySelectorAll('button.copy[data-copy]').forEach(copyButton);
