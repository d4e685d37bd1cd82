package collab

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed templates/transfers/*.html
var transferTemplates embed.FS

// static/transfers holds the pages' script, and npm/, where make build copies
// tus-js-client (the tus protocol's browser client: resumable uploads, resumed after a reload).
//
//go:embed all:static/transfers
var transferStatic embed.FS

type transferPage struct {
	web.Page
	T      func(string) string
	Script string
	TusJS  string // empty: tus-js-client was not copied in at build time
	Data   any
}

func (c *Collab) transferSite() (*web.Site, *web.Assets) {
	sub, _ := fs.Sub(transferStatic, "static/transfers")
	assets := web.NewAssets(sub, "/transfers/static/")
	site := web.NewSite(web.Text{FR: "Envoi de fichiers", EN: "File transfer"}, "/transfers/", transferTemplates,
		template.FuncMap{"size": humanSize, "pct": func(a, b int64) int64 {
			if b <= 0 {
				return 0
			}
			return a * 100 / b
		}}, "templates/transfers/*.html")
	site.Logger = c.logger
	return site, assets
}

// transferPages mounts the pages: the agent's (send, follow), the recipient's (download),
// the outsider's (a voucher's upload).
func (c *Collab) transferPages(mux *http.ServeMux) {
	t := c.transfers
	site, assets := c.transferSite()
	t.site, t.assets = site, assets
	mux.Handle("GET /transfers/static/", assets)
	mux.Handle("GET /transfers/{$}", c.people.Require(http.HandlerFunc(t.indexPage)))
	mux.HandleFunc("GET /transfers/voucher", t.voucherPage)
}

func (t *transfers) page(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	lang := web.Lang(r)
	p := transferPage{Page: t.site.Page(r, transferMessages.T(lang, title)),
		T: func(k string) string { return transferMessages.T(lang, k) }, Script: t.assets.Path("transfers.js"), Data: data}
	if _, err := fs.Stat(transferStatic, "static/transfers/npm/tus.min.js"); err == nil {
		p.TusJS = t.assets.Path("npm/tus.min.js")
	}
	t.site.Render(w, r, http.StatusOK, name, p)
}

type indexData struct {
	Transfers []transferView
	Used      int64
	Quota     int64
	MaxSize   int64
	MaxDays   int
	DefDays   int
}

func (t *transfers) indexPage(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.UserFrom(r.Context())
	d := indexData{Quota: int64(t.cfg.QuotaMB) << 20, MaxSize: t.cfg.MaxSize, MaxDays: maxExpiryDays, DefDays: t.cfg.ExpiryDays}
	rows, err := t.pool.Query(r.Context(), `SELECT id FROM collab.transfers WHERE owner_id = $1 ORDER BY id DESC LIMIT 50`, u.ID)
	if err != nil {
		t.site.Fail(w, r, err)
		return
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			t.site.Fail(w, r, err)
			return
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.site.Fail(w, r, err)
		return
	}
	for _, id := range ids {
		v, err := t.transferView(r.Context(), id, true)
		if err != nil {
			t.site.Fail(w, r, err)
			return
		}
		d.Transfers = append(d.Transfers, v)
	}
	if d.Used, err = t.usedBytes(r.Context(), t.pool, u.ID); err != nil {
		t.site.Fail(w, r, err)
		return
	}
	t.page(w, r, "index.html", "index.title", d)
}

func (t *transfers) voucherPage(w http.ResponseWriter, r *http.Request) {
	t.page(w, r, "voucher.html", "voucher.title", nil)
}

func (c *Collab) renderTransfer(w http.ResponseWriter, r *http.Request, name string, v any) {
	c.transfers.page(w, r, name, "download.title", v)
}

// humanSize writes a size in bytes as people read it: 1,5 Go / 1.5 GB.
func humanSize(lang string, n int64) string {
	units := []string{"o", "Ko", "Mo", "Go", "To"}
	if lang == "en" {
		units = []string{"B", "kB", "MB", "GB", "TB"}
	}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return web.Number(lang, int(n)) + " " + units[0]
	}
	return web.Decimal(lang, f, 1) + " " + units[i]
}
