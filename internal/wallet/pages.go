package wallet

import (
	"embed"
	"errors"
	"net/http"
	"strings"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/sources"
	"socle/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

type page struct {
	web.Page
	T    func(string) string
	Data any
}

func (w *Wallet) render(rw http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	lang := web.Lang(r)
	p := page{Page: w.site.Page(r, messages.T(lang, title)), T: func(k string) string { return messages.T(lang, k) }, Data: data}
	w.unreadInNav(r, &p.Page)
	if done := r.URL.Query().Get("done"); done != "" {
		p.Flash = messages.T(lang, "done."+done) // empty for a word the wallet does not know
	}
	w.site.Render(rw, r, status, name, p)
}

// held is a document the sources hold for the citizen, as the page lists it.
type held struct {
	Kind          string
	Configuration string
	Others        []string // the configurations of its other formats (the licence's mdoc)
	Title         string
	Facts         []fact // what the document says, in short
}

type fact struct{ Label, Value string }

type indexData struct {
	Person    sources.Person
	Documents []held
}

// index lists the documents the authentic sources hold for the signed-in citizen, read live.
func (w *Wallet) index(rw http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	lang := web.Lang(r)
	nrn, err := w.citizens.nrn(r.Context(), u.ID)
	if errors.Is(err, ErrNoCitizen) {
		return web.Errorf(http.StatusForbidden, "no-national-number", messages.Text("error"), messages.Text("err.nocitizen"))
	}
	if err != nil {
		return err
	}
	src, err := w.sources()
	if err != nil {
		return err
	}
	p, err := src.Person(r.Context(), nrn)
	if err != nil {
		w.logger.Warn("wallet: population register", "error", err)
		return web.Errorf(http.StatusBadGateway, "sources-unreachable", messages.Text("error"), messages.Text("err.sources"))
	}
	d := indexData{Person: p}
	is := w.issuer()
	if pid, err := is.NewPID(p, time.Now()); err == nil {
		d.Documents = append(d.Documents, held{Kind: documents.PID, Title: messages.T(lang, "doc.pid"), Facts: []fact{
			{messages.T(lang, "fact.name"), pid.Claims["given_name"].(string) + " " + p.FamilyName},
			{messages.T(lang, "fact.birth"), web.Day(lang, p.BirthDate) + ", " + p.BirthPlace.Municipality},
			{messages.T(lang, "fact.address"), pid.Claims["address"].(map[string]any)["formatted"].(string)},
		}})
	}
	if b, err := src.BirthCertificate(r.Context(), nrn); err == nil {
		d.Documents = append(d.Documents, held{Kind: documents.Birth, Title: messages.T(lang, "doc.birth"), Facts: []fact{
			{messages.T(lang, "fact.birth"), web.Day(lang, b.BirthDate) + ", " + b.BirthPlace.Municipality},
		}})
	} else {
		w.logger.Warn("wallet: civil-status register", "error", err)
	}
	if ms, err := src.MarriageCertificates(r.Context(), nrn); err == nil {
		for _, m := range ms {
			d.Documents = append(d.Documents, held{Kind: documents.Marriage, Title: messages.T(lang, "doc.marriage"), Facts: []fact{
				{messages.T(lang, "fact.marriage"), web.Day(lang, m.Date) + ", " + m.Place.Municipality},
			}})
		}
	} else {
		w.logger.Warn("wallet: civil-status register", "error", err)
	}
	// The driving licence, if the citizen holds one that has not expired.
	l, err := src.DrivingLicence(r.Context(), nrn)
	if err == nil {
		_, err = is.NewDrivingLicence(l, time.Now())
	}
	switch {
	case err == nil:
		var cats []string
		for _, c := range l.Categories {
			cats = append(cats, c.Category)
		}
		d.Documents = append(d.Documents, held{Kind: documents.DrivingLicence, Title: messages.T(lang, "doc.driving-licence"), Facts: []fact{
			{messages.T(lang, "fact.categories"), strings.Join(cats, ", ")},
			{messages.T(lang, "fact.valid"), web.Day(lang, l.ExpiryDate)},
		}})
	case !errors.Is(err, sources.ErrNotFound):
		w.logger.Warn("wallet: driving licence", "error", err)
	}
	for i := range d.Documents {
		d.Documents[i].Configuration = configurationFor(d.Documents[i].Kind)
		for _, c := range configurations {
			if c.kind == d.Documents[i].Kind && c.id != d.Documents[i].Configuration {
				d.Documents[i].Others = append(d.Documents[i].Others, c.id)
			}
		}
	}
	w.render(rw, r, http.StatusOK, "index.html", "index.title", d)
	return nil
}

// issued lists the credentials issued to the citizen, each revocable (a lost phone).
func (w *Wallet) issued(rw http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	list, err := issuedStore{w.pool}.ofUser(r.Context(), u.ID)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "issued.html", "issued.title", list)
	return nil
}

// revoke revokes one of the citizen's credentials: its status turns INVALID in the list
// verifiers read.
func (w *Wallet) revoke(rw http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	err := issuedStore{w.pool}.revoke(r.Context(), u.ID, r.PathValue("id"))
	if errors.Is(err, errNoCredential) {
		return web.NotFound()
	}
	if err != nil {
		return err
	}
	w.logger.Info("wallet: credential revoked", "user", u.ID, "credential", r.PathValue("id"))
	http.Redirect(rw, r, "/wallet/issued?lang="+web.Lang(r)+"&done=revoked", http.StatusSeeOther)
	return nil
}
