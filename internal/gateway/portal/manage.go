package portal

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/soap"
	"socle/internal/gateway/spec"
	"socle/internal/web"
)

// maxDoc bounds an uploaded description document.
const maxDoc = 10 << 20

type pendingRow struct {
	*catalog.Subscription
	Organisation, Contact string
}

type managePage struct {
	Pending []pendingRow
	APIs    []apiRow
	Plans   []*catalog.Plan
	Plan    spec.Plan // as typed, when it had problems
}

// managed are the APIs u may manage; none means the owners' pages are closed to u.
func managed(cat *catalog.Catalog, r *http.Request) []*catalog.API {
	u := user(r)
	var out []*catalog.API
	for _, a := range cat.APIs {
		if owns(u, a) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *catalog.API) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
	return out
}

func (p *Portal) manage(w http.ResponseWriter, r *http.Request) error {
	return p.showManage(w, r, http.StatusOK, spec.Plan{})
}

func (p *Portal) showManage(w http.ResponseWriter, r *http.Request, status int, plan spec.Plan, problems ...web.FieldProblem) error {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return err
	}
	apis := managed(cat, r)
	if len(apis) == 0 && !isAdmin(user(r)) {
		return forbidden()
	}
	d := managePage{Plan: plan}
	for _, a := range apis {
		d.APIs = append(d.APIs, row(a))
		for _, c := range cat.Consumers {
			if s := c.Subscriptions[a.Spec.Name]; s != nil && s.Status == catalog.Pending {
				d.Pending = append(d.Pending, pendingRow{s, c.Organisation, c.Contact})
			}
		}
	}
	slices.SortFunc(d.Pending, func(a, b pendingRow) int { return a.RequestedAt.Compare(b.RequestedAt) })
	for _, pl := range cat.Plans {
		d.Plans = append(d.Plans, pl)
	}
	slices.SortFunc(d.Plans, func(a, b *catalog.Plan) int { return strings.Compare(a.Name, b.Name) })
	p.render(w, r, status, "manage.html", "manage.title", d, problems...)
	return nil
}

// decide approves or refuses a pending subscription, for an owner of its API.
func (p *Portal) decide(w http.ResponseWriter, r *http.Request) error {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return err
	}
	a := cat.APIs[r.PathValue("api")]
	if a == nil {
		return notFound()
	}
	u := user(r)
	if !owns(u, a) {
		return forbidden()
	}
	approve := r.PostFormValue("decision") == "approve"
	if !approve && r.PostFormValue("decision") != "refuse" {
		return refusal(http.StatusBadRequest, "unreadable-form", "err.form")
	}
	app := r.PathValue("app")
	if err := catalog.DecideSubscription(r.Context(), p.d.Pool, app, a.Spec.Name, approve, u.Email); err != nil {
		return catalogErr(err)
	}
	p.d.Logger.Info("gateway portal: subscription decided", "consumer", app, "api", a.Spec.Name, "approved", approve, "by", u.Email)
	done := "done.refused"
	if approve {
		done = "done.approved"
	}
	redirect(w, r, "/portal/manage/", done)
	return nil
}

// apiForm is an API's form, as stored or as typed.
type apiForm struct {
	Name, Kind, Source, UpdatedBy         string
	UpdatedAt                             time.Time
	Title, Description, Upstreams         string
	Auth                                  map[string]bool
	Timeout, Retries, MaxRequest, MaxResp string
	Origins                               string
	Balance, HealthPath, HealthInterval   string
	// Header rules, one per line: "Name: value" to set, "Name" to remove.
	ReqSet, ReqRemove, RespSet, RespRemove string
}

// headerLines writes header rules one per line, sorted.
func headerLines(set map[string]string) string {
	var out []string
	for k, v := range set {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// parseHeaderLines reads "Name: value" lines; the line of a bad one is returned.
func parseHeaderLines(s string) (map[string]string, string) {
	set := map[string]string{}
	for _, l := range web.Lines(s) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, l
		}
		set[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(set) == 0 {
		return nil, ""
	}
	return set, ""
}

func formOf(a *catalog.API) apiForm {
	f := apiForm{Name: a.Spec.Name, Kind: a.Spec.Kind, Source: a.Source, UpdatedBy: a.UpdatedBy, UpdatedAt: a.UpdatedAt,
		Title: a.Spec.Title, Description: a.Spec.Description, Upstreams: strings.Join(a.Spec.Upstreams, "\n"), Auth: map[string]bool{},
		Timeout: time.Duration(a.Spec.Timeout).String(), MaxRequest: strconv.FormatInt(int64(a.Spec.MaxRequestBytes), 10),
		MaxResp: strconv.FormatInt(int64(a.Spec.MaxResponseBytes), 10)}
	if a.Spec.Retries != nil {
		f.Retries = strconv.Itoa(*a.Spec.Retries)
	}
	for _, m := range a.Spec.Auth {
		f.Auth[m] = true
	}
	if a.Spec.CORS != nil {
		f.Origins = strings.Join(a.Spec.CORS.Origins, "\n")
	}
	f.Balance = a.Spec.Balance
	if h := a.Spec.Health; h != nil {
		f.HealthPath, f.HealthInterval = h.Path, time.Duration(h.Interval).String()
	}
	hs := a.Spec.Headers
	f.ReqSet, f.ReqRemove = headerLines(hs.Request.Set), strings.Join(hs.Request.Remove, "\n")
	f.RespSet, f.RespRemove = headerLines(hs.Response.Set), strings.Join(hs.Response.Remove, "\n")
	return f
}

func (p *Portal) managedAPI(r *http.Request) (*catalog.API, error) {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return nil, err
	}
	a := cat.APIs[r.PathValue("name")]
	if a == nil {
		return nil, notFound()
	}
	if !owns(user(r), a) {
		return nil, forbidden()
	}
	return a, nil
}

func (p *Portal) editAPI(w http.ResponseWriter, r *http.Request) error {
	a, err := p.managedAPI(r)
	if err != nil {
		return err
	}
	p.render(w, r, http.StatusOK, "api-edit.html", "edit.title", formOf(a))
	return nil
}

// saveAPI takes the edit form: the stored spec with the form's fields in it, checked as a
// file's API is, and the uploaded document if one is.
func (p *Portal) saveAPI(w http.ResponseWriter, r *http.Request) error {
	a, err := p.managedAPI(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxDoc+maxForm)
	if err := r.ParseMultipartForm(maxForm); err != nil && err != http.ErrNotMultipart {
		return refusal(http.StatusBadRequest, "unreadable-form", "err.form")
	}
	lang := web.Lang(r)
	v := r.PostFormValue
	f := apiForm{Name: a.Spec.Name, Kind: a.Spec.Kind, Source: a.Source, UpdatedBy: a.UpdatedBy, UpdatedAt: a.UpdatedAt,
		Title: strings.TrimSpace(v("title")), Description: strings.TrimSpace(v("description")), Upstreams: v("upstreams"),
		Auth: map[string]bool{}, Timeout: strings.TrimSpace(v("timeout")), Retries: strings.TrimSpace(v("retries")),
		MaxRequest: strings.TrimSpace(v("max_request_bytes")), MaxResp: strings.TrimSpace(v("max_response_bytes")), Origins: v("origins"),
		Balance: v("balance"), HealthPath: strings.TrimSpace(v("health_path")), HealthInterval: strings.TrimSpace(v("health_interval")),
		ReqSet: v("request_set"), ReqRemove: v("request_remove"), RespSet: v("response_set"), RespRemove: v("response_remove")}
	s := a.Spec
	s.Title, s.Description, s.Upstreams, s.Auth = f.Title, f.Description, web.Lines(f.Upstreams), nil
	for _, m := range r.PostForm["auth"] {
		f.Auth[m] = true
		s.Auth = append(s.Auth, m)
	}
	var ps spec.Problems
	bad := func(where, msg string) { ps = append(ps, spec.Problem{Where: where, Message: msg}) }
	if d, err := time.ParseDuration(f.Timeout); err != nil || d <= 0 {
		bad("timeout", messages.T(lang, "err.duration"))
	} else {
		s.Timeout = spec.Duration(d)
	}
	if n, err := strconv.Atoi(f.Retries); err != nil {
		bad("retries", messages.T(lang, "err.retries"))
	} else {
		s.Retries = &n
	}
	for _, sz := range []struct {
		where, text string
		to          *spec.Size
	}{{"max_request_bytes", f.MaxRequest, &s.MaxRequestBytes}, {"max_response_bytes", f.MaxResp, &s.MaxResponseBytes}} {
		n, err := spec.ParseSize(sz.text)
		if err != nil || n <= 0 {
			bad(sz.where, messages.T(lang, "err.size"))
			continue
		}
		*sz.to = n
	}
	s.Balance = f.Balance
	if f.HealthPath == "" {
		s.Health = nil
	} else {
		h := spec.Health{Path: f.HealthPath}
		if s.Health != nil {
			h = *s.Health
			h.Path = f.HealthPath
		}
		if d, err := time.ParseDuration(f.HealthInterval); err != nil || d <= 0 {
			bad("health", messages.T(lang, "err.duration"))
		} else {
			h.Interval = spec.Duration(d)
		}
		s.Health = &h
	}
	for _, hr := range []struct {
		text string
		to   *map[string]string
	}{{f.ReqSet, &s.Headers.Request.Set}, {f.RespSet, &s.Headers.Response.Set}} {
		set, badLine := parseHeaderLines(hr.text)
		if badLine != "" {
			bad("headers", fmt.Sprintf(messages.T(lang, "err.header"), badLine))
			continue
		}
		*hr.to = set
	}
	s.Headers.Request.Remove, s.Headers.Response.Remove = web.Lines(f.ReqRemove), web.Lines(f.RespRemove)
	if origins := web.Lines(f.Origins); len(origins) > 0 {
		cors := spec.CORS{}
		if s.CORS != nil {
			cors = *s.CORS
		}
		cors.Origins = origins
		s.CORS = &cors
	} else {
		s.CORS = nil
	}
	var doc []byte
	if file, _, err := r.FormFile("doc"); err == nil {
		doc, err = io.ReadAll(io.LimitReader(file, maxDoc+1))
		file.Close()
		switch {
		case err != nil || len(doc) > maxDoc:
			bad("doc", messages.T(lang, "err.doc.size"))
		case len(bytes.TrimSpace(doc)) == 0:
			doc = nil
		case s.Kind == spec.SOAP:
			if _, err := soap.ParseWSDL(doc); err != nil {
				bad("doc", fmt.Sprintf(messages.T(lang, "err.wsdl"), err))
			}
		default:
			if _, err := openAPI(doc); err != nil {
				bad("doc", messages.T(lang, "err.openapi"))
			}
		}
	}
	// Every problem at once: the form's own, and the API's as spec checks it.
	ps = append(ps, s.CheckAPI()...)
	if len(ps) == 0 {
		ps, err = catalog.SaveAPI(r.Context(), p.d.Pool, s, doc, user(r).Email)
		if err != nil {
			return err
		}
	}
	if len(ps) > 0 {
		fields := fieldProblems(lang, ps)
		if !wantsPage(r) {
			return invalid(fields)
		}
		p.render(w, r, http.StatusUnprocessableEntity, "api-edit.html", "edit.title", f, fields...)
		return nil
	}
	p.d.Logger.Info("gateway portal: API saved", "api", s.Name, "document", doc != nil, "by", user(r).Email)
	redirect(w, r, "/portal/manage/apis/"+s.Name, "done.saved")
	return nil
}

// savePlan creates or changes a plan, for an administrator.
func (p *Portal) savePlan(w http.ResponseWriter, r *http.Request) error {
	if !isAdmin(user(r)) {
		return forbidden()
	}
	lang := web.Lang(r)
	pl := spec.Plan{Name: strings.TrimSpace(r.PostFormValue("name")), Description: strings.TrimSpace(r.PostFormValue("description"))}
	var ps spec.Problems
	for _, q := range []struct {
		where string
		to    *int
	}{{"per_second", &pl.Quota.PerSecond}, {"per_day", &pl.Quota.PerDay}} {
		text := strings.TrimSpace(r.PostFormValue(q.where))
		if text == "" {
			continue
		}
		n, err := strconv.Atoi(text)
		if err != nil {
			ps = append(ps, spec.Problem{Where: q.where, Message: messages.T(lang, "err.count")})
			n = 0
		}
		*q.to = n
	}
	if len(ps) == 0 {
		var err error
		if ps, err = catalog.SavePlan(r.Context(), p.d.Pool, pl); err != nil {
			return err
		}
	}
	if len(ps) > 0 {
		fields := fieldProblems(lang, ps)
		for i := range fields {
			fields[i].Target = "f-plan-" + strings.TrimPrefix(fields[i].Target, "f-")
		}
		if !wantsPage(r) {
			return invalid(fields)
		}
		return p.showManage(w, r, http.StatusUnprocessableEntity, pl, fields...)
	}
	p.d.Logger.Info("gateway portal: plan saved", "plan", pl.Name, "by", user(r).Email)
	redirect(w, r, "/portal/manage/", "done.plan")
	return nil
}
