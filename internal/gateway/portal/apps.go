package portal

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/spec"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/web"
)

// maxForm bounds a form: a certificate, a few fields.
const maxForm = 64 << 10

type appsPage struct {
	Apps []*catalog.Consumer
	Form spec.Consumer // as typed, when it had problems
}

// mine are the applications u owns, by name (all of them for an admin).
func mine(cat *catalog.Catalog, u *identity.User) []*catalog.Consumer {
	var out []*catalog.Consumer
	for _, c := range cat.Consumers {
		if c.Owner == u.ID && c.Owner != 0 || isAdmin(u) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *catalog.Consumer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (p *Portal) apps(w http.ResponseWriter, r *http.Request) error {
	return p.showApps(w, r, http.StatusOK, spec.Consumer{}, nil)
}

func (p *Portal) showApps(w http.ResponseWriter, r *http.Request, status int, form spec.Consumer, problems []web.FieldProblem) error {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return err
	}
	p.render(w, r, status, "apps.html", "apps.title", appsPage{Apps: mine(cat, user(r)), Form: form}, problems...)
	return nil
}

// fieldProblems words spec's problems for the page: the field's label, the message, the id
// of the form field (Where is the field's name, or ".name" relative to an API).
func fieldProblems(lang string, ps spec.Problems) []web.FieldProblem {
	var out []web.FieldProblem
	for _, pr := range ps {
		field := strings.TrimPrefix(pr.Where, ".")
		if i := strings.IndexAny(field, ".["); i > 0 {
			field = field[:i]
		}
		label := messages.T(lang, "field."+field)
		if label == "" {
			label = field
		}
		msg := pr.Message
		if key, ok := worded[msg]; ok {
			msg = messages.T(lang, key)
		}
		// Where says the problem is in the form (the component heads lines of a file otherwise).
		out = append(out, web.FieldProblem{Where: messages.T(lang, "where.form"), Field: label, Message: msg, Target: "f-" + field})
	}
	return out
}

// worded are the catalogue's problems that the portal says in the page's language; the
// others (an API's, as package spec words them for files too) are shown as they are.
var worded = map[string]string{
	"lower-case letters, digits and hyphens, at most 63": "err.name",
	"taken by another application":                       "err.taken",
	"an e-mail address, such as api@commune.be":          "err.contact",
	"required: who to tell about the API's changes":      "err.contact.required",
	"at most 200 characters":                             "err.organisation",
	"a number of calls, 0 or more (0: no limit)":         "err.count",
}

func (p *Portal) register(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return refusal(http.StatusBadRequest, "unreadable-form", "err.form")
	}
	c := spec.Consumer{Name: strings.TrimSpace(r.PostFormValue("name")), Organisation: strings.TrimSpace(r.PostFormValue("organisation")),
		Contact: strings.TrimSpace(r.PostFormValue("contact"))}
	u := user(r)
	ps, err := catalog.RegisterConsumer(r.Context(), p.d.Pool, c, u.ID)
	if err != nil {
		return err
	}
	if len(ps) > 0 {
		fields := fieldProblems(web.Lang(r), ps)
		if !wantsPage(r) {
			return invalid(fields)
		}
		return p.showApps(w, r, http.StatusUnprocessableEntity, c, fields)
	}
	p.d.Logger.Info("gateway portal: application registered", "consumer", c.Name, "by", u.Email)
	redirect(w, r, "/portal/apps/"+c.Name+"/", "done.registered")
	return nil
}

// appFor is the application of the path, if the person signed in owns it.
func (p *Portal) appFor(r *http.Request) (*catalog.Catalog, *catalog.Consumer, error) {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return nil, nil, err
	}
	c := cat.Consumers[r.PathValue("app")]
	u := user(r)
	switch {
	case c == nil:
		return nil, nil, notFound()
	case !(c.Owner == u.ID && c.Owner != 0 || isAdmin(u)):
		return nil, nil, forbidden()
	}
	return cat, c, nil
}

type subRow struct {
	*catalog.Subscription
	Title string
}

type appPage struct {
	App        *catalog.Consumer
	Subs       []subRow
	APIs       []apiRow // those it may still ask for
	Plans      []*catalog.Plan
	Keys       []*catalog.Key
	NewKey     string // the key just issued: shown this once
	NewKeyID   string
	Now        time.Time
	Usage      *usageView
	PEM        string // as pasted, when it had problems
	Overlap    string
	Certs      []certRow
	UsageError bool
}

type certRow struct {
	catalog.Certificate
	Expired bool
}

func (p *Portal) app(w http.ResponseWriter, r *http.Request) error {
	return p.showApp(w, r, http.StatusOK, appPage{})
}

func (p *Portal) showApp(w http.ResponseWriter, r *http.Request, status int, d appPage, problems ...web.FieldProblem) error {
	cat, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	lang := web.Lang(r)
	d.App, d.Now, d.Keys = c, p.d.Now(), c.Keys
	d.Overlap = overlapText(lang, p.d.KeyOverlap)
	for _, s := range c.Subscriptions {
		t := s.API
		if a := cat.APIs[s.API]; a != nil {
			t = row(a).Title
		}
		d.Subs = append(d.Subs, subRow{s, t})
	}
	slices.SortFunc(d.Subs, func(a, b subRow) int { return strings.Compare(a.API, b.API) })
	for _, a := range cat.APIs {
		if s := c.Subscriptions[a.Spec.Name]; s == nil || s.Status != catalog.Approved {
			d.APIs = append(d.APIs, row(a))
		}
	}
	slices.SortFunc(d.APIs, func(a, b apiRow) int { return strings.Compare(a.Title, b.Title) })
	for _, pl := range cat.Plans {
		d.Plans = append(d.Plans, pl)
	}
	slices.SortFunc(d.Plans, func(a, b *catalog.Plan) int { return strings.Compare(a.Name, b.Name) })
	for _, ce := range c.Certificates {
		d.Certs = append(d.Certs, certRow{ce, !d.Now.Before(ce.NotAfter)})
	}
	slices.Reverse(d.Keys) // newest first
	if p.d.Analytics != nil {
		to := d.Now.Truncate(time.Hour).Add(time.Hour)
		from := to.Add(-24 * time.Hour)
		points, err := p.d.Analytics.Usage(r.Context(), c.Name, from, to, time.Hour)
		if err != nil {
			p.d.Logger.Error("gateway portal: usage", "consumer", c.Name, "error", err)
			d.UsageError = true
		} else {
			d.Usage = usage(lang, points, from, to)
		}
	}
	p.render(w, r, status, "app.html", "", d, problems...)
	return nil
}

func overlapText(lang string, d time.Duration) string {
	switch {
	case d <= 0:
		return messages.T(lang, "overlap.none")
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf(messages.T(lang, "overlap.days"), int(d/(24*time.Hour)))
	case d%time.Hour == 0:
		return fmt.Sprintf(messages.T(lang, "overlap.hours"), int(d/time.Hour))
	}
	return d.String()
}

func (p *Portal) subscribe(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	api, plan := r.PostFormValue("api"), r.PostFormValue("plan")
	if err := catalog.RequestSubscription(r.Context(), p.d.Pool, c.Name, api, plan); err != nil {
		return catalogErr(err)
	}
	p.d.Logger.Info("gateway portal: subscription requested", "consumer", c.Name, "api", api, "plan", plan, "by", user(r).Email)
	redirect(w, r, "/portal/apps/"+c.Name+"/", "done.requested")
	return nil
}

// issueKey gives the application a new key — replacing one, with the overlap, when replace
// names it — and shows it in the answer, this once: only its hash is kept.
func (p *Portal) issueKey(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	u := user(r)
	label := strings.TrimSpace(r.PostFormValue("label"))
	if len(label) > 100 {
		label = label[:100]
	}
	replace := r.PostFormValue("replace")
	overlap := time.Duration(0)
	if replace != "" {
		overlap = p.d.KeyOverlap
	}
	text, k, err := catalog.IssueKey(r.Context(), p.d.Pool, c.Name, label, u.Email, replace, overlap)
	if err != nil {
		return refusal(http.StatusConflict, "key-not-issued", "err.key")
	}
	p.d.Logger.Info("gateway portal: key issued", "consumer", c.Name, "key", k.ID, "replaces", replace, "by", u.Email)
	if !wantsPage(r) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "{\"id\":%q,\"key\":%q}\n", k.ID, text)
		return nil
	}
	return p.showApp(w, r, http.StatusCreated, appPage{NewKey: text, NewKeyID: k.ID})
}

func (p *Portal) revokeKey(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := catalog.RevokeKey(r.Context(), p.d.Pool, c.Name, id); err != nil {
		return refusal(http.StatusConflict, "key-not-in-use", "err.revoked")
	}
	p.d.Logger.Info("gateway portal: key revoked", "consumer", c.Name, "key", id, "by", user(r).Email)
	redirect(w, r, "/portal/apps/"+c.Name+"/", "done.revoked")
	return nil
}

// bindCert binds a pasted PEM certificate to the application: it must chain to the
// platform's client CA, for client authentication, and not have expired.
func (p *Portal) bindCert(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	text := r.PostFormValue("pem")
	lang := web.Lang(r)
	cert, key := p.checkCert(text)
	if key == "" {
		_, err = catalog.BindCertificate(r.Context(), p.d.Pool, c.Name, cert)
		switch {
		case errors.Is(err, catalog.ErrBoundElse):
			key = "err.bound"
		case err != nil:
			return err
		}
	}
	if key != "" {
		fields := []web.FieldProblem{{Where: messages.T(lang, "where.form"), Field: messages.T(lang, "field.pem"), Message: messages.T(lang, key), Target: "f-pem"}}
		if !wantsPage(r) {
			return invalid(fields)
		}
		return p.showApp(w, r, http.StatusUnprocessableEntity, appPage{PEM: text}, fields...)
	}
	p.d.Logger.Info("gateway portal: certificate bound", "consumer", c.Name, "fingerprint", pki.Fingerprint(cert), "by", user(r).Email)
	redirect(w, r, "/portal/apps/"+c.Name+"/", "done.bound")
	return nil
}

// checkCert reads a PEM certificate and checks it against the client CAs; it returns the
// message key of what is wrong, "" when nothing is.
func (p *Portal) checkCert(text string) (*x509.Certificate, string) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, "err.pem"
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, "err.pem"
	}
	now := p.d.Now()
	if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		return nil, "err.expired"
	}
	if p.d.ClientCAs == nil {
		return nil, "err.noca"
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p.d.ClientCAs, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, "err.chain"
	}
	return cert, ""
}

func (p *Portal) unbindCert(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	if err := catalog.UnbindCertificate(r.Context(), p.d.Pool, c.Name, r.PathValue("fp")); err != nil {
		return catalogErr(err)
	}
	p.d.Logger.Info("gateway portal: certificate unbound", "consumer", c.Name, "fingerprint", r.PathValue("fp"), "by", user(r).Email)
	redirect(w, r, "/portal/apps/"+c.Name+"/", "done.unbound")
	return nil
}

// usageCSV exports the application's calls of the last 30 days.
func (p *Portal) usageCSV(w http.ResponseWriter, r *http.Request) error {
	_, c, err := p.appFor(r)
	if err != nil {
		return err
	}
	if p.d.Analytics == nil {
		return notFound()
	}
	to := p.d.Now()
	from := to.Add(-30 * 24 * time.Hour)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-calls.csv"`, c.Name))
	return p.d.Analytics.ExportCSV(r.Context(), w, "", c.Name, from, to)
}

// usageView is an application's last 24 hours: calls per hour by API, errors by class.
type usageView struct {
	Calls, Errors chart
	Hours         []string
	APIs          []string
	Rows          []usageRow
	Total         int64
}

type usageRow struct {
	Hour            string
	ByAPI           []int64
	E4xx, E5xx, All int64
}

func usage(lang string, points []UsagePoint, from, to time.Time) *usageView {
	v := &usageView{}
	apis := map[string]int{}
	for _, pt := range points {
		if _, ok := apis[pt.API]; !ok {
			apis[pt.API] = 0
			v.APIs = append(v.APIs, pt.API)
		}
	}
	slices.Sort(v.APIs)
	for i, a := range v.APIs {
		apis[a] = i
	}
	index := map[time.Time]int{}
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		index[t] = len(v.Rows)
		h := t.In(web.Paris).Format("15h")
		if lang == "en" {
			h = t.In(web.Paris).Format("15:00")
		}
		v.Hours = append(v.Hours, h)
		v.Rows = append(v.Rows, usageRow{Hour: web.Date(lang, t), ByAPI: make([]int64, len(v.APIs))})
	}
	for _, pt := range points {
		i, ok := index[pt.Start]
		if !ok {
			continue
		}
		row := &v.Rows[i]
		row.ByAPI[apis[pt.API]] += pt.Calls
		row.E4xx += pt.Errors4xx
		row.E5xx += pt.Errors5xx
		row.All += pt.Calls
		v.Total += pt.Calls
	}
	v.Calls = chart{ID: "usage-calls", Lang: lang, Labels: v.Hours, Title: messages.T(lang, "usage.calls"),
		Desc: fmt.Sprintf(messages.T(lang, "usage.calls.desc"), web.Number(lang, int(v.Total)))}
	for i, a := range v.APIs {
		s := series{Name: a, Values: make([]float64, len(v.Rows))}
		for j, row := range v.Rows {
			s.Values[j] = float64(row.ByAPI[i])
		}
		v.Calls.Series = append(v.Calls.Series, s)
	}
	var e4, e5 int64
	s4 := series{Name: messages.T(lang, "usage.4xx"), Values: make([]float64, len(v.Rows))}
	s5 := series{Name: messages.T(lang, "usage.5xx"), Values: make([]float64, len(v.Rows))}
	for j, row := range v.Rows {
		s4.Values[j], s5.Values[j] = float64(row.E4xx), float64(row.E5xx)
		e4 += row.E4xx
		e5 += row.E5xx
	}
	v.Errors = chart{ID: "usage-errors", Lang: lang, Labels: v.Hours, Title: messages.T(lang, "usage.errors"), Series: []series{s4, s5},
		Desc: fmt.Sprintf(messages.T(lang, "usage.errors.desc"), web.Number(lang, int(e4)), web.Number(lang, int(e5)))}
	return v
}
