package acceptance

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"socle/internal/emergency/directory"
	"socle/internal/platform/identity"
	"socle/internal/web"
)

//go:embed templates/*.html
var templateFiles embed.FS

// PullRunner plays a campaign's PULL cases (set by the service, which holds the HELD client).
type PullRunner func(r *http.Request, campaign int64, e Endpoint) error

// Web serves /emergency/acceptance/: people with acceptance.tester on an operator, and
// administrators.
type Web struct {
	A        *Acceptance
	Identity *identity.Store
	Pull     PullRunner

	site *web.Site
}

// Routes mounts the pages, every one behind sign-in.
func (w *Web) Routes(mux *http.ServeMux) {
	w.site = web.NewSite(web.Text{FR: "Recevabilité des opérateurs", EN: "Operators' acceptance"}, "/emergency/acceptance/",
		templateFiles, template.FuncMap{
			"join":  strings.Join,
			"deref": func(b *bool) bool { return b != nil && *b },
			"result": func(r string) string {
				return map[string]string{Pass: "operational", Warn: "degraded", Fail: "down"}[r]
			},
			"state": func(s string) string {
				return map[string]string{Passed: "operational", Waiting: "degraded", Failed: "down"}[s]
			},
			"renewal": func(s string) string {
				return map[string]string{"renewed": "operational", "campaign": "degraded", "due": "down"}[s]
			},
		}, "templates/*.html")
	w.site.Logger = w.A.Logger
	h := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, w.Identity.Require(w.site.Handle(fn))) }
	h("GET /emergency/acceptance/{$}", w.index)
	h("GET /emergency/acceptance/{op}/{$}", w.operator)
	h("POST /emergency/acceptance/{op}/certificates", w.upload)
	h("POST /emergency/acceptance/{op}/endpoint", w.endpoint)
	h("POST /emergency/acceptance/{op}/campaigns", w.start)
	h("GET /emergency/acceptance/certificates/{file}", w.certificate)
	h("GET /emergency/acceptance/campaigns/{id}/{$}", w.campaign)
	h("GET /emergency/acceptance/campaigns/{file}", w.campaignJSON)
	h("POST /emergency/acceptance/campaigns/{id}/pull", w.pull)
	h("POST /emergency/acceptance/campaigns/{id}/finish", w.finish)
}

type page struct {
	web.Page
	T    func(string) string
	Data any
	Soon func(time.Time) bool
}

func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name, title string, data any, fields ...web.FieldProblem) {
	lang := web.Lang(r)
	p := page{Page: w.site.Page(r, messages.T(lang, title)), T: func(k string) string { return messages.T(lang, k) }, Data: data,
		Soon: func(t time.Time) bool { return t.Sub(w.A.now()) < RenewalNotice }}
	p.Fields = fields
	if status >= 400 {
		p.Error = true
	}
	w.site.Render(rw, r, status, name, p)
}

func refusal(status int, typ, key string) *web.Error {
	return web.Errorf(status, typ, messages.Text("err.title"), messages.Text(key))
}

func user(r *http.Request) *identity.User {
	u, _ := identity.UserFrom(r.Context())
	return u
}

// operatorFor returns the operator of the path if the user may act for it.
func (w *Web) operatorFor(r *http.Request, id string) (*directory.Operator, error) {
	op, ok := w.A.Directory().Operators[id]
	if !ok {
		return nil, web.NotFound()
	}
	if !user(r).Can(RoleTester, op.ID) {
		return nil, refusal(http.StatusForbidden, "forbidden", "err.forbidden")
	}
	return op, nil
}

type indexRow struct {
	ID, Name string
	Cert     *Registered
	Last     *Campaign
	Renewal  string // renewed, campaign, due: see renewalState
}

// index is the operators' page: each operator's certificate and last campaign, and where it
// stands in the coming September renewal.
type index struct {
	Rows     []indexRow
	Deadline time.Time // the end of the coming renewal campaign
	Renewed  int
}

// renewalDeadline is the end of the September renewal under way or to come.
func renewalDeadline(now time.Time) time.Time {
	d := time.Date(now.Year(), time.September, 30, 23, 59, 59, 0, time.UTC)
	if now.After(d) {
		d = d.AddDate(1, 0, 0)
	}
	return d
}

// renewalState says where an operator stands: "renewed" when an acceptable certificate
// outlives the deadline and a campaign passed with it, "campaign" when only the certificate
// is there, "due" otherwise.
func renewalState(certs []Registered, campaigns []Campaign, deadline time.Time) string {
	state := "due"
	for _, c := range certs {
		if !c.Report.Acceptable() || !c.Report.NotAfter.After(deadline) {
			continue
		}
		state = "campaign"
		for _, k := range campaigns {
			if k.Fingerprint == c.Report.Fingerprint && k.Passed != nil && *k.Passed {
				return "renewed"
			}
		}
	}
	return state
}

func (w *Web) index(rw http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	certs, err := w.A.Store.Certificates(ctx, "")
	if err != nil {
		return err
	}
	campaigns, err := w.A.Store.Campaigns(ctx, "")
	if err != nil {
		return err
	}
	idx := index{Deadline: renewalDeadline(w.A.now())}
	for _, op := range w.A.Directory().Operators {
		if !user(r).Can(RoleTester, op.ID) {
			continue
		}
		row := indexRow{ID: op.ID, Name: op.Name}
		var mine []Registered
		var theirs []Campaign
		for _, c := range certs {
			if c.OperatorID == op.ID {
				mine = append(mine, c)
			}
		}
		for _, c := range campaigns {
			if c.OperatorID == op.ID {
				theirs = append(theirs, c)
			}
		}
		row.Renewal = renewalState(mine, theirs, idx.Deadline)
		if row.Renewal == "renewed" {
			idx.Renewed++
		}
		for i := range certs {
			if certs[i].OperatorID == op.ID {
				row.Cert = &certs[i]
				break
			}
		}
		for i := range campaigns {
			if campaigns[i].OperatorID == op.ID {
				row.Last = &campaigns[i]
				break
			}
		}
		idx.Rows = append(idx.Rows, row)
	}
	slices.SortFunc(idx.Rows, func(a, b indexRow) int { return strings.Compare(a.Name, b.Name) })
	w.render(rw, r, http.StatusOK, "index.html", "", idx)
	return nil
}

type operatorPage struct {
	Operator   *directory.Operator
	Certs      []Registered
	Acceptable []Registered
	Endpoint   Endpoint
	Campaigns  []Campaign
	CanEdit    bool
}

func (w *Web) operatorData(r *http.Request, op *directory.Operator) (*operatorPage, error) {
	ctx := r.Context()
	p := &operatorPage{Operator: op, CanEdit: true}
	var err error
	if p.Certs, err = w.A.Store.Certificates(ctx, op.ID); err != nil {
		return nil, err
	}
	for _, c := range p.Certs {
		if c.Report.Acceptable() {
			p.Acceptable = append(p.Acceptable, c)
		}
	}
	if p.Endpoint, _, err = w.A.Store.Endpoint(ctx, op.ID); err != nil {
		return nil, err
	}
	if p.Campaigns, err = w.A.Store.Campaigns(ctx, op.ID); err != nil {
		return nil, err
	}
	return p, nil
}

func (w *Web) operator(rw http.ResponseWriter, r *http.Request) error {
	op, err := w.operatorFor(r, r.PathValue("op"))
	if err != nil {
		return err
	}
	p, err := w.operatorData(r, op)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "operator.html", "operator.title", p)
	return nil
}

func (w *Web) back(rw http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(rw, r, path+"?lang="+web.Lang(r), http.StatusSeeOther)
}

func (w *Web) upload(rw http.ResponseWriter, r *http.Request) error {
	op, err := w.operatorFor(r, r.PathValue("op"))
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 2*maxUpload)
	f, _, err := r.FormFile("file")
	if err != nil {
		return w.again(rw, r, op, "file", ErrUpload.Error()+": choisissez un fichier")
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxUpload+1))
	c, rep, signed, err := w.A.Check(b, op)
	if err != nil {
		return w.again(rw, r, op, "file", err.Error())
	}
	if err := w.A.Store.Register(r.Context(), op.ID, c, rep, signed, user(r).Email); err != nil {
		return err
	}
	if err := w.A.Load(r.Context()); err != nil {
		return err
	}
	w.A.Logger.Info("acceptance certificate registered", "operator", op.ID, "fingerprint", rep.Fingerprint,
		"acceptable", rep.Acceptable(), "signed_here", signed, "by", user(r).Email)
	w.back(rw, r, "/emergency/acceptance/"+op.ID+"/")
	return nil
}

// again shows the operator's page with what is wrong, nothing recorded.
func (w *Web) again(rw http.ResponseWriter, r *http.Request, op *directory.Operator, field, why string) error {
	p, err := w.operatorData(r, op)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusUnprocessableEntity, "operator.html", "operator.title", p, web.FieldProblem{Field: field, Message: why})
	return nil
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (w *Web) endpoint(rw http.ResponseWriter, r *http.Request) error {
	op, err := w.operatorFor(r, r.PathValue("op"))
	if err != nil {
		return err
	}
	r.ParseForm()
	e := Endpoint{OperatorID: op.ID, HELDURL: strings.TrimSpace(r.PostForm.Get("held_url")),
		MobileNumber: strings.TrimSpace(r.PostForm.Get("mobile")), FixedNumber: strings.TrimSpace(r.PostForm.Get("fixed")),
		Unknown: strings.TrimSpace(r.PostForm.Get("unknown"))}
	u, err := url.Parse(e.HELDURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return w.again(rw, r, op, "held_url", messages.T(web.Lang(r), "err.endpoint"))
	}
	for f, n := range map[string]string{"mobile": e.MobileNumber, "fixed": e.FixedNumber, "unknown": e.Unknown} {
		if !e164.MatchString(n) {
			return w.again(rw, r, op, f, messages.T(web.Lang(r), "err.endpoint"))
		}
	}
	if err := w.A.Store.SetEndpoint(r.Context(), e, user(r).Email); err != nil {
		return err
	}
	w.back(rw, r, "/emergency/acceptance/"+op.ID+"/")
	return nil
}

func (w *Web) start(rw http.ResponseWriter, r *http.Request) error {
	op, err := w.operatorFor(r, r.PathValue("op"))
	if err != nil {
		return err
	}
	r.ParseForm()
	id, err := w.A.Store.Start(r.Context(), op.ID, r.PostForm.Get("fingerprint"), user(r).Email)
	switch {
	case errors.Is(err, ErrRunning):
		return refusal(http.StatusConflict, "campaign-running", "err.running")
	case errors.Is(err, ErrUnacceptable), errors.Is(err, ErrNotFound):
		return refusal(http.StatusUnprocessableEntity, "certificate-unacceptable", "err.unacceptable")
	case err != nil:
		return err
	}
	w.A.Logger.Info("acceptance campaign started", "campaign", id, "operator", op.ID, "by", user(r).Email)
	w.back(rw, r, "/emergency/acceptance/campaigns/"+strconv.FormatInt(id, 10)+"/")
	return nil
}

func (w *Web) certificate(rw http.ResponseWriter, r *http.Request) error {
	fp, ok := strings.CutSuffix(r.PathValue("file"), ".pem")
	if !ok {
		return web.NotFound()
	}
	certs, err := w.A.Store.Certificates(r.Context(), "")
	if err != nil {
		return err
	}
	for _, c := range certs {
		if c.Report.Fingerprint == fp {
			if !user(r).Can(RoleTester, c.OperatorID) {
				return refusal(http.StatusForbidden, "forbidden", "err.forbidden")
			}
			rw.Header().Set("Content-Type", "application/x-pem-file")
			rw.Header().Set("Content-Disposition", `attachment; filename="`+c.OperatorID+`-acceptance.crt"`)
			io.WriteString(rw, c.PEM)
			return nil
		}
	}
	return web.NotFound()
}

// campaignFor reads the campaign of the path, if the user may see it.
func (w *Web) campaignFor(r *http.Request, idText string) (Campaign, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Campaign{}, web.NotFound()
	}
	c, err := w.A.Store.Campaign(r.Context(), id)
	if errors.Is(err, ErrNotFound) {
		return c, web.NotFound()
	} else if err != nil {
		return c, err
	}
	if !user(r).Can(RoleTester, c.OperatorID) {
		return c, refusal(http.StatusForbidden, "forbidden", "err.forbidden")
	}
	return c, nil
}

type caseRow struct {
	ID, Title, Expect, State, Reason, Exchange string
}

type campaignPage struct {
	C        Campaign
	Operator string
	Rows     []caseRow
	Done     int
	CanEdit  bool
}

func (w *Web) campaign(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.campaignFor(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	lang := web.Lang(r)
	p := campaignPage{C: c, Operator: c.OperatorID, CanEdit: true}
	if op, ok := w.A.Directory().Operators[c.OperatorID]; ok {
		p.Operator = op.Name
	}
	for _, res := range c.Results {
		k, _ := CaseByID(res.Case)
		p.Rows = append(p.Rows, caseRow{ID: k.ID, Title: k.Title.In(lang), Expect: k.Expect.In(lang), State: res.State,
			Reason: res.Reason, Exchange: res.Exchange})
		if res.State != Waiting {
			p.Done++
		}
	}
	if c.Running() {
		rw.Header().Set("Refresh", "3") // the cases come in as the operator sends
	}
	w.render(rw, r, http.StatusOK, "campaign.html", "campaign", p)
	return nil
}

func (w *Web) campaignJSON(rw http.ResponseWriter, r *http.Request) error {
	idText, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if !ok {
		return web.NotFound()
	}
	c, err := w.campaignFor(r, idText)
	if err != nil {
		return err
	}
	rw.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

func (w *Web) pull(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.campaignFor(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if !c.Running() {
		return refusal(http.StatusConflict, "campaign-closed", "err.notrunning")
	}
	e, ok, err := w.A.Store.Endpoint(r.Context(), c.OperatorID)
	if err != nil {
		return err
	}
	if !ok {
		return refusal(http.StatusUnprocessableEntity, "no-endpoint", "err.noendpoint")
	}
	if w.Pull == nil {
		return web.Errorf(http.StatusNotImplemented, "pull-unavailable", messages.Text("err.title"), web.Text{FR: "les cas PULL ne sont pas disponibles sur ce nœud", EN: "the PULL cases are not available on this node"})
	}
	if err := w.Pull(r, c.ID, e); err != nil {
		return err
	}
	w.back(rw, r, "/emergency/acceptance/campaigns/"+strconv.FormatInt(c.ID, 10)+"/")
	return nil
}

func (w *Web) finish(rw http.ResponseWriter, r *http.Request) error {
	c, err := w.campaignFor(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.FormValue("confirm") != "yes" { // the verdict becomes final: the person says so
		return refusal(http.StatusUnprocessableEntity, "unconfirmed", "err.confirm")
	}
	if err := w.A.Store.Finish(r.Context(), c.ID, w.A.now()); errors.Is(err, ErrNotRunning) {
		return refusal(http.StatusConflict, "campaign-closed", "err.notrunning")
	} else if err != nil {
		return err
	}
	w.back(rw, r, "/emergency/acceptance/campaigns/"+strconv.FormatInt(c.ID, 10)+"/")
	return nil
}
