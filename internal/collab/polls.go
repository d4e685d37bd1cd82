package collab

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
	"socle/internal/web"
)

//go:embed templates/polls/*.html
var pollTemplates embed.FS

// pollPages is the polls' part of the site.
type pollPages struct {
	site  *web.Site
	store pollStore
	now   func() time.Time
}

// pollRoutes mounts the meeting polls (Pégase) under /polls/: the agents' pages and API
// (signed in), and the outsiders' personal links, /polls/{id}/p/{token}.
func (c *Collab) pollRoutes(mux *http.ServeMux) {
	site := web.NewSite(web.Text{FR: "Sondages de réunion", EN: "Meeting polls"}, "/polls/", pollTemplates, template.FuncMap{
		"slotText": slotText, "answerWord": answerWord,
		"answerKinds": func() []string { return []string{"yes", "maybe", "no"} },
		"deref":       func(p *int64) int64 { return *p },
		// The platform's level colours, always beside the words they colour (WCAG 1.4.1).
		"answerClass": func(a string) string {
			return map[string]string{"yes": "level-operational", "maybe": "level-degraded", "no": "level-down"}[a]
		},
		"heatClass": func(level int) string {
			switch {
			case level >= 3:
				return "level-operational"
			case level >= 1:
				return "level-degraded"
			}
			return "level-down"
		},
	}, "templates/polls/*.html")
	site.Nav = []web.Link{{Path: "/polls/", Text: web.Text{FR: "Mes sondages", EN: "My polls"}},
		{Path: "/polls/new", Text: web.Text{FR: "Nouveau sondage", EN: "New poll"}}}
	site.Logger = c.logger
	c.pollState().site = site
	h := func(pattern string, fn web.HandlerFunc) { mux.Handle(pattern, c.people.Require(site.Handle(fn))) }
	h("GET /polls/{$}", c.pollIndex)
	h("GET /polls/new", c.pollNew)
	h("POST /polls/{$}", c.pollCreate)
	h("GET /polls/{id}", c.pollView)
	h("POST /polls/{id}/answer", c.pollAnswer)
	h("POST /polls/{id}/comments", c.pollComment)
	h("POST /polls/{id}/close", c.pollClose)
	h("GET /polls/{id}/export.csv", c.pollCSV)
	h("GET /polls/{id}/calendar.ics", c.pollICS)
	// The outsiders' links: no account, the token is the key.
	mux.Handle("GET /polls/{id}/p/{token}", site.Handle(c.outsiderView))
	mux.Handle("POST /polls/{id}/p/{token}", site.Handle(c.outsiderAnswer))
}

// pollState is the polls' state, made by whichever of Routes and Start comes first.
func (c *Collab) pollState() *pollPages {
	if c.pp == nil {
		c.pp = &pollPages{store: pollStore{c.pool}, now: time.Now}
	}
	return c.pp
}

type pollPage struct {
	web.Page
	T    func(string) string
	Data any
}

func (c *Collab) renderPoll(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	lang := web.Lang(r)
	p := pollPage{Page: c.pp.site.Page(r, pollWords.T(lang, title)), T: func(k string) string { return pollWords.T(lang, k) }, Data: data}
	if done := r.URL.Query().Get("done"); done != "" {
		p.Flash = pollWords.T(lang, "done."+done)
	}
	if f, ok := data.(interface{ fields() []problem.FieldError }); ok {
		for _, e := range f.fields() {
			label := "field." + e.Field
			if strings.HasPrefix(e.Field, "slot-") {
				label = "col.slot" // an answer's slot: its fieldset is the target
			}
			p.Fields = append(p.Fields, web.FieldProblem{Field: pollWords.T(lang, label), Message: e.Reason, Target: e.Field})
		}
	}
	c.pp.site.Render(w, r, status, name, p)
}

func wantsJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// writeJSON answers v as JSON, never cached: the polls' and the transfers' APIs.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func invalid(errs []problem.FieldError) *web.Error {
	return &web.Error{Status: http.StatusUnprocessableEntity, Type: "invalid-poll", Fields: errs,
		Title:  web.Text{FR: "Sondage incomplet", EN: "Poll not valid"},
		Detail: web.Text{FR: "Corrigez les champs signalés.", EN: "Correct the fields listed."}}
}

func (c *Collab) pollIndex(w http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	list, err := c.pp.store.mine(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		out := []map[string]any{}
		for _, p := range list {
			out = append(out, map[string]any{"id": p.ID, "title": p.Title, "deadline": p.Deadline, "closed": p.ClosedAt != nil, "mine": p.OwnerID == u.ID})
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	c.renderPoll(w, r, http.StatusOK, "index.html", "index.title", struct {
		Polls []poll
		Me    int64
	}{list, u.ID})
	return nil
}

// newForm is the creation form as shown: what was typed, and what is wrong with it.
type newForm struct {
	In     pollInput
	Zones  []string
	Errors []problem.FieldError
}

func (f newForm) fields() []problem.FieldError { return f.Errors }

// zones are the time zones the form offers (any IANA name is taken by the API).
var zones = []string{"Europe/Paris", "Europe/Brussels", "Europe/London", "UTC", "America/Cayenne", "America/Guadeloupe",
	"America/Martinique", "Indian/Reunion", "Indian/Mayotte", "Pacific/Noumea", "Pacific/Tahiti", "America/New_York", "Asia/Tokyo"}

func (c *Collab) pollNew(w http.ResponseWriter, r *http.Request) error {
	in := pollInput{Zone: "Europe/Paris", OutsidersSee: "own",
		Deadline: c.pp.now().In(web.Paris).AddDate(0, 0, 7).Format("2006-01-02T15:04")}
	c.renderPoll(w, r, http.StatusOK, "new.html", "new.title", newForm{In: in, Zones: zones})
	return nil
}

// pollCreate creates a poll from the form or from JSON; bad input changes nothing.
func (c *Collab) pollCreate(w http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := ct == "application/json"
	var in pollInput
	var errs []problem.FieldError
	if isJSON {
		in, errs = parsePollJSON(r.Body)
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			return invalid([]problem.FieldError{{Field: "body", Reason: "not a form: " + err.Error()}})
		}
		in, errs = parsePollForm(r.PostForm)
	}
	cp, more := in.check(c.pp.now())
	errs = append(errs, more...)
	var agents []agentInvitee
	for _, email := range cp.Agents {
		if len(errs) > 0 {
			break
		}
		a, err := c.people.UserByEmail(r.Context(), email)
		if err != nil || a.Disabled {
			errs = append(errs, problem.FieldError{Field: "agents", Reason: email + ": no socle account has this address"})
			continue
		}
		agents = append(agents, agentInvitee{ID: a.ID, Email: a.Email, Name: a.Name})
	}
	if len(errs) > 0 {
		if isJSON {
			return invalid(errs)
		}
		c.renderPoll(w, r, http.StatusUnprocessableEntity, "new.html", "new.title", newForm{In: in, Zones: zones, Errors: errs})
		return nil
	}
	p := &poll{OwnerID: u.ID, OwnerEmail: u.Email, OwnerName: u.Name, Title: cp.Title, Description: cp.Description,
		Place: cp.Place, Deadline: cp.deadline, MaxPerSlot: cp.MaxPerSlot, OneVote: cp.OneVote, Anonymous: cp.Anonymous,
		OutsidersSee: cp.OutsidersSee, Slots: cp.slots}
	if cp.Visio {
		p.VisioRoom = roomFor(cp.Title, randomWord(5))
	}
	links, err := c.pp.store.create(r.Context(), p, agents, cp.Outsiders)
	if err != nil {
		return err
	}
	c.logger.Info("collab: poll created", "poll", p.ID, "owner", u.ID, "slots", len(p.Slots), "agents", len(agents), "outsiders", len(links))
	c.notifyInvitees(r, p, agents, links)
	type linkOut struct{ Name, Email, URL string }
	var out []linkOut
	for _, l := range links {
		out = append(out, linkOut{l.Name, l.Email, c.publicURL() + "/polls/" + p.ID + "/p/" + l.Token})
	}
	if isJSON {
		w.Header().Set("Location", "/polls/"+p.ID)
		writeJSON(w, http.StatusCreated, map[string]any{"id": p.ID, "url": c.publicURL() + "/polls/" + p.ID, "visio": c.visioURL(p), "outsiders": out})
		return nil
	}
	c.renderPoll(w, r, http.StatusCreated, "created.html", "created.title", struct {
		Poll  *poll
		Links []linkOut
	}{p, out})
	return nil
}

func (c *Collab) visioURL(p *poll) string {
	if p.VisioRoom == "" {
		return ""
	}
	return c.publicURL() + "/visio/" + p.VisioRoom
}

// notifyInvitees mails the invited agents the poll's address and the outsiders who have an
// address their personal link. A failed mail does not undo the poll: the creator has the
// links on the page; it is logged.
func (c *Collab) notifyInvitees(r *http.Request, p *poll, agents []agentInvitee, links []outsiderLink) {
	ctx := r.Context()
	for _, a := range agents {
		err := c.mail.Send(ctx, mailMessage(a.Email, "invite", p.Title, p.OwnerName, c.publicURL()+"/polls/"+p.ID, p.Deadline))
		if err != nil {
			c.logger.Warn("collab: poll invitation not sent", "poll", p.ID, "error", err)
		}
	}
	for _, l := range links {
		if l.Email == "" {
			continue
		}
		// An outsider learns the poll, not who made it: no agent's name in their mail.
		err := c.mail.Send(ctx, mailMessage(l.Email, "invite.outsider", p.Title, "", c.publicURL()+"/polls/"+p.ID+"/p/"+l.Token, p.Deadline))
		if err != nil {
			c.logger.Warn("collab: poll invitation not sent", "poll", p.ID, "error", err)
		}
	}
}

// pollView is a poll as an agent sees it: the grid, the heat-map, their answer, the comments,
// and for its creator the closing form.
type pollView struct {
	Poll        *poll
	Owner       bool
	Me          int64 // the viewer's participant id
	Mine        map[int64]string
	Rows        []gridRow
	Heat        []heat
	Comments    []comment
	Visio       string
	Zone        string
	Zones       []string
	Open        bool
	Errors      []problem.FieldError
	Participant int
}

func (v *pollView) fields() []problem.FieldError { return v.Errors }

type gridRow struct {
	Name    string
	Answers []string // per slot, in order: yes, maybe, no, or ""
	You     bool
}

// heat is a slot's availability: its counts, and its level 0–4 for the colour, which the text
// always says too (WCAG 1.4.1: colour is never the only means).
type heat struct {
	Slot               slot
	Yes, Maybe, No     int
	Level              int
	Best, Chosen, Full bool
}

func (c *Collab) loadForAgent(r *http.Request) (*poll, int64, bool, error) {
	u, _ := identity.UserFrom(r.Context())
	p, err := c.pp.store.get(r.Context(), r.PathValue("id"))
	if errors.Is(err, errNoPoll) {
		return nil, 0, false, web.NotFound()
	}
	if err != nil {
		return nil, 0, false, err
	}
	me, err := c.pp.store.agentParticipant(r.Context(), p.ID, u.ID)
	if errors.Is(err, errNotInvited) {
		return nil, 0, false, web.NotFound() // a poll one is not invited to does not exist for them
	}
	return p, me, p.OwnerID == u.ID, err
}

func (c *Collab) pollView(w http.ResponseWriter, r *http.Request) error {
	p, me, owner, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	v, err := c.buildView(r, p, me, owner)
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, agentJSON(v))
		return nil
	}
	c.renderPoll(w, r, http.StatusOK, "poll.html", "poll.title", v)
	return nil
}

func (c *Collab) buildView(r *http.Request, p *poll, me int64, owner bool) (*pollView, error) {
	people, err := c.pp.store.participants(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	comments, err := c.pp.store.comments(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	lang := web.Lang(r)
	v := &pollView{Poll: p, Owner: owner, Me: me, Comments: comments, Visio: c.visioURL(p), Zones: zones,
		Open: p.ClosedAt == nil && c.pp.now().Before(p.Deadline), Zone: viewerZone(r)}
	n := 0
	for _, pp := range people {
		if pp.ID == me {
			v.Mine = pp.Answers
		}
		if pp.AnsweredAt == nil {
			continue
		}
		n++
		name := pp.Name
		if name == "" {
			name = pp.Email
		}
		if p.Anonymous && pp.ID != me {
			name = fmt.Sprintf("%s %d", pollWords.T(lang, "poll.participant"), n)
		}
		row := gridRow{Name: name, You: pp.ID == me}
		for _, s := range p.Slots {
			row.Answers = append(row.Answers, pp.Answers[s.ID])
		}
		v.Rows = append(v.Rows, row)
	}
	v.Participant = n
	v.Heat = heats(p, people)
	return v, nil
}

// heats counts each slot's answers; the best slots have the most yes, then the most maybe.
func heats(p *poll, people []participant) []heat {
	var hs []heat
	best := [2]int{-1, -1}
	answered := 0
	for _, pp := range people {
		if pp.AnsweredAt != nil {
			answered++
		}
	}
	for _, s := range p.Slots {
		h := heat{Slot: s, Chosen: p.ChosenSlot != nil && *p.ChosenSlot == s.ID}
		for _, pp := range people {
			switch pp.Answers[s.ID] {
			case "yes":
				h.Yes++
			case "maybe":
				h.Maybe++
			case "no":
				h.No++
			}
		}
		h.Full = p.MaxPerSlot > 0 && h.Yes >= p.MaxPerSlot
		if answered > 0 {
			h.Level = (4*(2*h.Yes+h.Maybe) + 2*answered - 1) / (2 * answered)
		}
		if s := [2]int{h.Yes, h.Maybe}; s[0] > best[0] || s[0] == best[0] && s[1] > best[1] {
			best = s
		}
		hs = append(hs, h)
	}
	for i := range hs {
		hs[i].Best = best[0]+best[1] > 0 && hs[i].Yes == best[0] && hs[i].Maybe == best[1]
	}
	return hs
}

// viewerZone is the zone the viewer asked times in (?tz=), else "" (each slot's own).
func viewerZone(r *http.Request) string {
	tz := r.URL.Query().Get("tz")
	if _, err := loadZone(tz); tz == "" || err != nil {
		return ""
	}
	return tz
}

func agentJSON(v *pollView) map[string]any {
	p := v.Poll
	slots := []map[string]any{}
	for _, h := range v.Heat {
		slots = append(slots, map[string]any{"id": h.Slot.ID, "date": h.Slot.Day, "start": timeOrNil(h.Slot.Start),
			"end": timeOrNil(h.Slot.End), "zone": h.Slot.Zone, "yes": h.Yes, "maybe": h.Maybe, "no": h.No, "chosen": h.Chosen})
	}
	rows := []map[string]any{}
	for _, r := range v.Rows {
		rows = append(rows, map[string]any{"name": r.Name, "answers": r.Answers, "you": r.You})
	}
	return map[string]any{"id": p.ID, "title": p.Title, "description": p.Description, "place": p.Place, "visio": v.Visio,
		"deadline": p.Deadline, "closed": p.ClosedAt != nil, "anonymous": p.Anonymous, "max_per_slot": p.MaxPerSlot,
		"one_vote": p.OneVote, "outsiders_see": p.OutsidersSee, "slots": slots, "participants": rows, "owner": v.Owner}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// readAnswers reads "slot-<id>" = yes|maybe|no from a form, or {"answers": {"<id>": "yes"}}
// from JSON (with "name" and "email" for an outsider).
// An outsider's name or address absent from JSON is kept as it is (nil); a form always has
// them, filled in with what is known.
func readAnswers(w http.ResponseWriter, r *http.Request, p *poll) (answers map[int64]string, name, email *string, errs []problem.FieldError) {
	answers = map[int64]string{}
	raw := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var body struct {
			Answers map[string]string `json:"answers"`
			Name    *string           `json:"name"`
			Email   *string           `json:"email"`
		}
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			return nil, nil, nil, []problem.FieldError{{Field: "body", Reason: "not answers as JSON: " + err.Error()}}
		}
		raw, name, email = body.Answers, body.Name, body.Email
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := r.ParseForm(); err != nil {
			return nil, nil, nil, []problem.FieldError{{Field: "body", Reason: "not a form"}}
		}
		for k, vs := range r.PostForm {
			if id, ok := strings.CutPrefix(k, "slot-"); ok && len(vs) > 0 {
				raw[id] = vs[0]
			}
		}
		if _, ok := r.PostForm["name"]; ok {
			n := r.PostForm.Get("name")
			name = &n
		}
		if _, ok := r.PostForm["email"]; ok {
			e := r.PostForm.Get("email")
			email = &e
		}
	}
	known := map[int64]bool{}
	for _, s := range p.Slots {
		known[s.ID] = true
	}
	for k, a := range raw {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || !known[id] {
			errs = append(errs, problem.FieldError{Field: "slot-" + k, Reason: "no such slot in this poll"})
			continue
		}
		if a != "yes" && a != "maybe" && a != "no" {
			errs = append(errs, problem.FieldError{Field: "slot-" + k, Reason: `"yes", "maybe" or "no"`})
			continue
		}
		answers[id] = a
	}
	if len(answers) == 0 && len(errs) == 0 {
		errs = append(errs, problem.FieldError{Field: "answers", Reason: "answer at least one slot"})
	}
	if name != nil {
		*name = strings.TrimSpace(*name)
		if len([]rune(*name)) > maxTitle || !utf8.ValidString(*name) {
			errs = append(errs, problem.FieldError{Field: "name", Reason: fmt.Sprintf("%d characters at most", maxTitle)})
		}
	}
	if email != nil {
		*email = strings.TrimSpace(*email)
		if *email != "" {
			if a, err := parseAddr(*email); err != nil {
				errs = append(errs, problem.FieldError{Field: "email", Reason: "not an e-mail address"})
			} else {
				*email = a
			}
		}
	}
	return answers, name, email, errs
}

// answerProblem turns a refused answer into its field problem; nil for other errors.
// submitAnswers records a participant's answers, or returns the fields a refusal names: to a
// JSON caller the refusal itself, as the error to answer.
func (c *Collab) submitAnswers(r *http.Request, p *poll, me int64, answers map[int64]string, name, email *string) ([]problem.FieldError, error) {
	err := c.pp.store.answer(r.Context(), p.ID, me, answers, name, email, c.pp.now())
	if e := answerProblem(err); e != nil {
		if wantsJSON(r) {
			return nil, e
		}
		return e.Fields, nil
	}
	return nil, err
}

func answerProblem(err error) *web.Error {
	var se *slotError
	field, reason := "answers", ""
	if errors.As(err, &se) {
		field = fmt.Sprintf("slot-%d", se.Slot)
	}
	switch {
	case errors.Is(err, errSlotFull):
		reason = "this slot is full: its maximum of participants has been reached"
	case errors.Is(err, errOneVote):
		reason = "one yes per person in this poll"
	case errors.Is(err, errUnknownSlot):
		reason = "no such slot in this poll"
	case errors.Is(err, errDeadline):
		reason = "the deadline has passed: answers are closed"
	case errors.Is(err, errClosed):
		reason = "the poll is closed"
	default:
		return nil
	}
	e := invalid([]problem.FieldError{{Field: field, Reason: reason}})
	if errors.Is(err, errDeadline) || errors.Is(err, errClosed) {
		e.Status = http.StatusConflict
	}
	e.Title = web.Text{FR: "Réponse refusée", EN: "Answer refused"}
	e.Detail = web.Text{FR: "Réponse refusée : " + reason, EN: "Answer refused: " + reason}
	return e
}

func (c *Collab) pollAnswer(w http.ResponseWriter, r *http.Request) error {
	p, me, owner, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	answers, _, _, errs := readAnswers(w, r, p)
	if len(errs) == 0 {
		if errs, err = c.submitAnswers(r, p, me, answers, nil, nil); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		if wantsJSON(r) {
			return invalid(errs)
		}
		// The page comes back with the answer as it was sent and the slot at fault linked.
		v, err := c.buildView(r, p, me, owner)
		if err != nil {
			return err
		}
		v.Mine, v.Errors = answers, errs
		c.renderPoll(w, r, http.StatusUnprocessableEntity, "poll.html", "poll.title", v)
		return nil
	}
	if wantsJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.Redirect(w, r, "/polls/"+p.ID+"?lang="+web.Lang(r)+"&done=answered", http.StatusSeeOther)
	return nil
}

func (c *Collab) pollComment(w http.ResponseWriter, r *http.Request) error {
	p, me, _, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	body := strings.TrimSpace(r.FormValue("body"))
	if body == "" || len([]rune(body)) > maxText {
		return invalid([]problem.FieldError{{Field: "body", Reason: fmt.Sprintf("a comment of 1 to %d characters", maxText)}})
	}
	if err := c.pp.store.addComment(r.Context(), p.ID, &me, body); err != nil {
		return err
	}
	http.Redirect(w, r, "/polls/"+p.ID+"?lang="+web.Lang(r)+"&done=commented#comments", http.StatusSeeOther)
	return nil
}

// pollClose closes the poll on the slot its creator picked and sends everyone the invitation.
func (c *Collab) pollClose(w http.ResponseWriter, r *http.Request) error {
	p, _, owner, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	if !owner {
		return web.Errorf(http.StatusForbidden, "not-the-creator", web.Text{}, web.Text{
			FR: "Seule la personne qui a créé le sondage peut le clore.", EN: "Only the poll's creator can close it."})
	}
	slotID, err := strconv.ParseInt(r.FormValue("slot"), 10, 64)
	found := false
	for _, s := range p.Slots {
		found = found || s.ID == slotID
	}
	if err != nil || !found {
		return invalid([]problem.FieldError{{Field: "slot", Reason: "pick one of the poll's slots"}})
	}
	ok, err := c.pp.store.close(r.Context(), p.ID, slotID, c.pp.now())
	if err != nil {
		return err
	}
	if !ok {
		return &web.Error{Status: http.StatusConflict, Type: "poll-closed", Title: web.Text{FR: "Sondage déjà clos", EN: "Poll already closed"},
			Detail: web.Text{FR: "Ce sondage est déjà clos : l'invitation est partie.", EN: "This poll is closed already: the invitation was sent."}}
	}
	p, err = c.pp.store.get(r.Context(), p.ID)
	if err != nil {
		return err
	}
	sent, failed := c.sendInvitations(r, p)
	c.logger.Info("collab: poll closed", "poll", p.ID, "slot", slotID, "invitations", sent, "failed", failed)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"closed": true, "slot": slotID, "invitations_sent": sent, "invitations_failed": failed})
		return nil
	}
	done := "closed"
	if failed > 0 {
		done = "closed-failed"
	}
	http.Redirect(w, r, "/polls/"+p.ID+"?lang="+web.Lang(r)+"&done="+done, http.StatusSeeOther)
	return nil
}

func (p *poll) chosen() (slot, bool) {
	for _, s := range p.Slots {
		if p.ChosenSlot != nil && s.ID == *p.ChosenSlot {
			return s, true
		}
	}
	return slot{}, false
}

// uid is the event's UID (RFC 5545 §3.8.4.7): stable for the poll, so that a client updates
// its event when SEQUENCE rises.
func (c *Collab) uid(p *poll) string {
	host := "socle"
	if u, err := url.Parse(c.publicURL()); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "poll-" + p.ID + "@" + host
}

// invitation is the chosen slot's VEVENT for some attendees.
func (c *Collab) invitation(p *poll, s slot, organizer icalPerson, attendees []icalPerson) []byte {
	loc := p.Place
	if v := c.visioURL(p); v != "" {
		loc = strings.TrimSpace(strings.TrimSuffix(p.Place+" — "+v, " — "))
		if p.Place == "" {
			loc = v
		}
	}
	desc := p.Description
	if v := c.visioURL(p); v != "" {
		desc = strings.TrimSpace(desc + "\n\nVisio : " + v)
	}
	return icalendar("REQUEST", icalEvent{UID: c.uid(p), Sequence: p.Sequence, Stamp: c.pp.now(), Slot: s, Summary: p.Title,
		Description: desc, Location: loc, URL: c.visioURL(p), Status: "CONFIRMED", Organizer: &organizer, Attendees: attendees})
}

// sendInvitations mails the invitation to every participant with an address. Agents get one
// naming the agents; each outsider gets their own, naming only them, and organised by socle's
// address rather than the creator's: an outsider learns no agent's name or address.
func (c *Collab) sendInvitations(r *http.Request, p *poll) (sent, failed int) {
	s, ok := p.chosen()
	if !ok {
		return 0, 0
	}
	people, err := c.pp.store.participants(r.Context(), p.ID)
	if err != nil {
		c.logger.Error("collab: invitations", "poll", p.ID, "error", err)
		return 0, 1
	}
	var agents []icalPerson
	for _, pp := range people {
		if !pp.Outsider() && pp.Email != "" {
			agents = append(agents, icalPerson{pp.Name, pp.Email})
		}
	}
	send := func(to string, ics []byte, outsider bool) {
		m := mailMessage(to, "invitation", p.Title, "", "", time.Time{})
		m.Text += slotLine(s) + "\n"
		if v := c.visioURL(p); v != "" {
			m.Text += "\n" + v + "\n"
		}
		if !outsider && p.Place != "" {
			m.Text += p.Place + "\n"
		}
		m.Calendar, m.CalendarMethod = ics, "REQUEST"
		if err := c.mail.Send(r.Context(), m); err != nil {
			c.logger.Warn("collab: invitation not sent", "poll", p.ID, "error", err)
			failed++
			return
		}
		sent++
	}
	agentICS := c.invitation(p, s, icalPerson{p.OwnerName, p.OwnerEmail}, agents)
	for _, a := range agents {
		send(a.Email, agentICS, false)
	}
	for _, pp := range people {
		if pp.Outsider() && pp.Email != "" {
			send(pp.Email, c.invitation(p, s, c.socleOrganizer(), []icalPerson{{pp.Name, pp.Email}}), true)
		}
	}
	return sent, failed
}

// socleOrganizer is the ORGANIZER an outsider's invitation names (RFC 5546 §3.2.2 wants
// one): socle itself, at a no-reply address of its host.
func (c *Collab) socleOrganizer() icalPerson {
	host := "socle.localhost"
	if u, err := url.Parse(c.publicURL()); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return icalPerson{"Sondages de réunion (socle)", "no-reply@" + host}
}

// slotLine writes a slot for a mail: UTC is unambiguous for any reader, with its own zone.
func slotLine(s slot) string {
	if s.Day != "" {
		return s.Day
	}
	z, err := loadZone(s.Zone)
	if err != nil {
		z = time.UTC
	}
	return s.Start.In(z).Format("2006-01-02 15:04") + "–" + s.End.In(z).Format("15:04") + " (" + s.Zone + ")"
}

func (c *Collab) pollICS(w http.ResponseWriter, r *http.Request) error {
	p, _, _, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	var body []byte
	if s, ok := p.chosen(); ok {
		body = icalendar("PUBLISH", icalEvent{UID: c.uid(p), Sequence: p.Sequence, Stamp: c.pp.now(), Slot: s,
			Summary: p.Title, Description: p.Description, Location: p.Place, URL: c.visioURL(p), Status: "CONFIRMED"})
	} else {
		// An open poll: each slot, tentative, with a UID of its own.
		var es []icalEvent
		for _, s := range p.Slots {
			es = append(es, icalEvent{UID: fmt.Sprintf("poll-%s-slot-%d@socle", p.ID, s.ID), Stamp: c.pp.now(), Slot: s,
				Summary: p.Title, Location: p.Place, URL: c.visioURL(p), Status: "TENTATIVE"})
		}
		body = icalendar("PUBLISH", es...)
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="poll-`+p.ID+`.ics"`)
	w.Write(body)
	return nil
}

// outsiderData is all an outsider's page and JSON hold: the poll's title, description,
// deadline, slots, their own answer and, if the creator allowed it, the slots' totals; the
// place and the conference link once it is closed. Never a participant's name or address.
type outsiderData struct {
	Token       string               `json:"-"`
	PollID      string               `json:"-"`
	Title       string               `json:"title"`
	Description string               `json:"description"`
	Deadline    time.Time            `json:"deadline"`
	Closed      bool                 `json:"closed"`
	Open        bool                 `json:"open"`
	Chosen      *int64               `json:"chosen_slot,omitempty"`
	Place       string               `json:"place,omitempty"`
	Visio       string               `json:"visio,omitempty"`
	Slots       []outsiderSl         `json:"slots"`
	Name        string               `json:"name"`
	Email       string               `json:"email"`
	Counts      bool                 `json:"-"`
	Zone        string               `json:"-"`
	Zones       []string             `json:"-"`
	Errors      []problem.FieldError `json:"-"`
}

func (d outsiderData) fields() []problem.FieldError { return d.Errors }

type outsiderSl struct {
	Slot   slot   `json:"-"`
	ID     int64  `json:"id"`
	Date   string `json:"date,omitempty"`
	Start  any    `json:"start,omitempty"`
	End    any    `json:"end,omitempty"`
	Zone   string `json:"zone,omitempty"`
	Answer string `json:"answer"`
	Yes    *int   `json:"yes,omitempty"`
	Maybe  *int   `json:"maybe,omitempty"`
	Full   bool   `json:"full"`
}

func (c *Collab) outsiderLoad(r *http.Request) (*poll, int64, error) {
	tok := r.PathValue("token")
	if len(tok) > 64 {
		return nil, 0, web.NotFound()
	}
	pollID, pid, err := c.pp.store.byToken(r.Context(), tok)
	if errors.Is(err, errNoPoll) || err == nil && pollID != r.PathValue("id") {
		return nil, 0, web.NotFound()
	}
	if err != nil {
		return nil, 0, err
	}
	p, err := c.pp.store.get(r.Context(), pollID)
	return p, pid, err
}

func (c *Collab) outsiderBuild(r *http.Request, p *poll, me int64) (*outsiderData, error) {
	people, err := c.pp.store.participants(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	d := &outsiderData{Token: r.PathValue("token"), PollID: p.ID, Title: p.Title, Description: p.Description, Deadline: p.Deadline,
		Closed: p.ClosedAt != nil, Open: p.ClosedAt == nil && c.pp.now().Before(p.Deadline), Chosen: p.ChosenSlot,
		Counts: p.OutsidersSee == "counts", Zone: viewerZone(r), Zones: zones}
	if d.Closed {
		d.Place, d.Visio = p.Place, c.visioURL(p)
	}
	var mine map[int64]string
	for _, pp := range people {
		if pp.ID == me {
			mine, d.Name, d.Email = pp.Answers, pp.Name, pp.Email
		}
	}
	for _, h := range heats(p, people) {
		o := outsiderSl{Slot: h.Slot, ID: h.Slot.ID, Date: h.Slot.Day, Start: timeOrNil(h.Slot.Start), End: timeOrNil(h.Slot.End),
			Zone: h.Slot.Zone, Answer: mine[h.Slot.ID], Full: h.Full && mine[h.Slot.ID] != "yes"}
		if d.Counts {
			y, m := h.Yes, h.Maybe
			o.Yes, o.Maybe = &y, &m
		}
		d.Slots = append(d.Slots, o)
	}
	return d, nil
}

func (c *Collab) outsiderView(w http.ResponseWriter, r *http.Request) error {
	p, me, err := c.outsiderLoad(r)
	if err != nil {
		return err
	}
	// The link is the outsider's key: no page they go to from here learns it.
	w.Header().Set("Referrer-Policy", "no-referrer")
	d, err := c.outsiderBuild(r, p, me)
	if err != nil {
		return err
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, d)
		return nil
	}
	c.renderPoll(w, r, http.StatusOK, "answer.html", "answer.title", d)
	return nil
}

func (c *Collab) outsiderAnswer(w http.ResponseWriter, r *http.Request) error {
	p, me, err := c.outsiderLoad(r)
	if err != nil {
		return err
	}
	w.Header().Set("Referrer-Policy", "no-referrer")
	answers, name, email, errs := readAnswers(w, r, p)
	if len(errs) == 0 {
		if errs, err = c.submitAnswers(r, p, me, answers, name, email); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		if wantsJSON(r) {
			return invalid(errs)
		}
		d, err := c.outsiderBuild(r, p, me)
		if err != nil {
			return err
		}
		// The form comes back as it was sent.
		d.Errors = errs
		for i := range d.Slots {
			d.Slots[i].Answer = answers[d.Slots[i].ID]
		}
		if name != nil {
			d.Name = *name
		}
		if email != nil {
			d.Email = *email
		}
		c.renderPoll(w, r, http.StatusUnprocessableEntity, "answer.html", "answer.title", d)
		return nil
	}
	if wantsJSON(r) {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.Redirect(w, r, "/polls/"+p.ID+"/p/"+r.PathValue("token")+"?lang="+web.Lang(r)+"&done=answered", http.StatusSeeOther)
	return nil
}

// slotText writes a slot for a page in lang, in zone (the viewer's choice) or its own.
func slotText(lang, zone string, s slot) string {
	if s.Day != "" {
		return web.Day(lang, s.Day)
	}
	if zone == "" {
		zone = s.Zone
	}
	z, err := loadZone(zone)
	if err != nil {
		z, zone = time.UTC, "UTC"
	}
	st, en := s.Start.In(z), s.End.In(z)
	layout := "02/01/2006 15:04"
	if lang == "en" {
		layout = "2006-01-02 15:04"
	}
	end := en.Format("15:04")
	if en.YearDay() != st.YearDay() || en.Year() != st.Year() {
		end = en.Format(layout)
	}
	return st.Format(layout) + "–" + end + " (" + zone + ")"
}

func answerWord(lang, a string) string {
	if a == "" {
		return pollWords.T(lang, "answer.none")
	}
	return pollWords.T(lang, "answer."+a)
}
