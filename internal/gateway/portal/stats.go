package portal

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"socle/internal/web"
)

// period is a choice of the analytics page: its length and its charts' bucket.
type period struct {
	Key    string
	Length time.Duration
	Bucket time.Duration
}

var periods = []period{
	{"24h", 24 * time.Hour, time.Hour},
	{"7d", 7 * 24 * time.Hour, 6 * time.Hour},
	{"30d", 30 * 24 * time.Hour, 24 * time.Hour},
}

func periodOf(r *http.Request) period {
	for _, p := range periods {
		if p.Key == r.URL.Query().Get("period") {
			return p
		}
	}
	return periods[0]
}

// span is the period's range, ending at the end of the current bucket, and its buckets'
// starts.
func (pe period) span(now time.Time) (from, to time.Time, starts []time.Time) {
	to = now.Truncate(pe.Bucket).Add(pe.Bucket)
	from = to.Add(-pe.Length)
	for t := from; t.Before(to); t = t.Add(pe.Bucket) {
		starts = append(starts, t)
	}
	return from, to, starts
}

type apiStats struct {
	Name      string
	Consumers []ConsumerStat
	Latency   LatencyStats
	Errors    chart
	ErrorRows []errorRow
	Origins   []string
}

type errorRow struct {
	When   string
	Counts []int64
}

type analyticsPage struct {
	Period  string
	Periods []string
	Top     []APIStat
	TopC    chart
	APIs    []apiStats
	From    time.Time
	To      time.Time
}

// origins of a failure, as the gateway records them.
var origins = []string{"gateway", "network", "upstream"}

func (p *Portal) analytics(w http.ResponseWriter, r *http.Request) error {
	cat, err := p.fresh(r.Context())
	if err != nil {
		return err
	}
	apis := managed(cat, r)
	u := user(r)
	if len(apis) == 0 && !isAdmin(u) {
		return forbidden()
	}
	if p.d.Analytics == nil {
		return refusal(http.StatusServiceUnavailable, "no-analytics", "err.noanalytics")
	}
	ctx, lang := r.Context(), web.Lang(r)
	pe := periodOf(r)
	from, to, starts := pe.span(p.d.Now())
	d := analyticsPage{Period: pe.Key, From: from, To: to}
	for _, x := range periods {
		d.Periods = append(d.Periods, x.Key)
	}
	mayRead := map[string]bool{}
	for _, a := range apis {
		mayRead[a.Spec.Name] = true
	}
	n := 5
	if !isAdmin(u) {
		n = len(cat.APIs) // every API, then the owner's five busiest among them
	}
	top, err := p.d.Analytics.TopAPIs(ctx, from, to, n)
	if err != nil {
		return err
	}
	if !isAdmin(u) { // an owner sees the APIs they own
		top = slices.DeleteFunc(top, func(s APIStat) bool { return !mayRead[s.API] })
	}
	d.Top = top[:min(len(top), 5)]
	d.TopC = chart{ID: "top-apis", Lang: lang, Title: messages.T(lang, "stats.top"), Desc: messages.T(lang, "stats.top.desc")}
	calls, errs := series{Name: messages.T(lang, "stats.ok")}, series{Name: messages.T(lang, "stats.failed")}
	for _, s := range d.Top {
		d.TopC.Labels = append(d.TopC.Labels, s.API)
		calls.Values = append(calls.Values, float64(s.Calls-s.Errors))
		errs.Values = append(errs.Values, float64(s.Errors))
	}
	d.TopC.Series = []series{calls, errs}
	for _, a := range apis {
		name := a.Spec.Name
		s := apiStats{Name: name, Origins: origins}
		if s.Consumers, err = p.d.Analytics.TopConsumers(ctx, name, from, to, 10); err != nil {
			return err
		}
		if s.Latency, err = p.d.Analytics.Latency(ctx, name, from, to); err != nil {
			return err
		}
		points, err := p.d.Analytics.ErrorsByOrigin(ctx, name, from, to, pe.Bucket)
		if err != nil {
			return err
		}
		index := map[time.Time]int{}
		s.Errors = chart{ID: "errors-" + name, Lang: lang, Title: fmt.Sprintf(messages.T(lang, "stats.errors.of"), name),
			Desc: messages.T(lang, "stats.errors.desc")}
		for i, t := range starts {
			index[t] = i
			label := t.In(web.Paris).Format("02/01 15h")
			if lang == "en" {
				label = t.In(web.Paris).Format("01-02 15:00")
			}
			s.Errors.Labels = append(s.Errors.Labels, label)
			s.ErrorRows = append(s.ErrorRows, errorRow{When: web.Date(lang, t), Counts: make([]int64, len(origins))})
		}
		for _, pt := range points {
			i, ok := index[pt.Start]
			o := slices.Index(origins, pt.Origin)
			if ok && o >= 0 {
				s.ErrorRows[i].Counts[o] += pt.Count
			}
		}
		for o, origin := range origins {
			se := series{Name: messages.T(lang, "origin."+origin), Values: make([]float64, len(starts))}
			for i := range s.ErrorRows {
				se.Values[i] = float64(s.ErrorRows[i].Counts[o])
			}
			s.Errors.Series = append(s.Errors.Series, se)
		}
		// The table lists the buckets that had errors only: the chart shows the quiet ones.
		s.ErrorRows = slices.DeleteFunc(s.ErrorRows, func(e errorRow) bool { return e.Counts[0]+e.Counts[1]+e.Counts[2] == 0 })
		d.APIs = append(d.APIs, s)
	}
	p.render(w, r, http.StatusOK, "analytics.html", "stats.title", d)
	return nil
}

// analyticsCSV exports the calls of the period to one API (?api=), or to every API for an
// administrator.
func (p *Portal) analyticsCSV(w http.ResponseWriter, r *http.Request) error {
	if p.d.Analytics == nil {
		return notFound()
	}
	cat, err := p.fresh(r.Context())
	if err != nil {
		return err
	}
	api := r.URL.Query().Get("api")
	switch a := cat.APIs[api]; {
	case api == "" && !isAdmin(user(r)):
		return forbidden()
	case api != "" && a == nil:
		return notFound()
	case api != "" && !owns(user(r), a):
		return forbidden()
	}
	pe := periodOf(r)
	from, to, _ := pe.span(p.d.Now())
	name := "gateway-calls-" + pe.Key + ".csv"
	if api != "" {
		name = api + "-calls-" + pe.Key + ".csv"
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return p.d.Analytics.ExportCSV(r.Context(), w, api, "", from, to)
}
