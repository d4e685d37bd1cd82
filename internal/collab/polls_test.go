package collab

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"socle/internal/platform/database/dbtest"
	"socle/internal/platform/identity"
	socmail "socle/internal/platform/mail"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// pollSite is collab on a real database, behind the platform's identity middleware, sending
// its mail through the platform's SMTP client to a real SMTP server on loopback.
type pollSite struct {
	c      *Collab
	srv    *httptest.Server
	tokens map[string]string // agent's address → personal access token
	mails  chan socmail.Received
	now    time.Time
}

var agents = []struct{ email, name string }{
	{"claire.martin@interieur.gouv.test", "Claire Martin"},
	{"bruno.dupont@interieur.gouv.test", "Bruno Dupont"},
	{"nadia.benali@interieur.gouv.test", "Nadia Benali"},
}

func newPollSite(t *testing.T) *pollSite {
	pool := dbtest.New(t, identity.Migrations(), Migrations())
	s := &pollSite{tokens: map[string]string{}, mails: make(chan socmail.Received, 100), now: time.Now().UTC()}
	sink, err := socmail.StartSink(socmail.SinkOptions{Addr: "127.0.0.1:0", Deliver: func(r socmail.Received) error { s.mails <- r; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	logger := slog.New(slog.DiscardHandler)
	sender := socmail.New(socmail.Config{Relay: sink.Addr(), TLS: socmail.TLSNone, From: "socle <no-reply@socle.test>"}, nil, logger)
	people := identity.New(pool, logger)
	for _, a := range agents {
		u, err := people.AddUser(t.Context(), a.email, a.name, "correct horse battery staple 42")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := people.NewToken(t.Context(), u.ID, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[a.email] = tok
	}
	c, err := New(Config{}, service.Env{Pool: pool, Logger: logger, Identity: people, Mail: sender, DataDir: t.TempDir(),
		PublicURL: func() string { return s.srv.URL }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Routes(mux, http.NewServeMux())
	c.pp.now = func() time.Time { return s.now }
	s.c, s.srv = c, httptest.NewServer(people.Middleware(mux))
	t.Cleanup(s.srv.Close)
	return s
}

// do sends a request as the agent (empty: as no one), with a JSON body if body is not a
// string, and reads the answer.
func (s *pollSite) do(t *testing.T, agent, method, path string, body any, header ...string) (*http.Response, []byte) {
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/x-www-form-urlencoded"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, _ := http.NewRequest(method, s.srv.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if agent != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[agent])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := *s.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

type created struct {
	ID        string `json:"id"`
	Visio     string `json:"visio"`
	Outsiders []struct{ Name, Email, URL string }
}

func (s *pollSite) create(t *testing.T, extra map[string]any) created {
	in := map[string]any{
		"title": "Comité de pilotage, budget 2027", "description": "Ordre du jour : arbitrages.", "place": "Salle 4.12",
		"zone": "Europe/Paris", "deadline": s.now.Add(72 * time.Hour).Format(time.RFC3339),
		"slots": []map[string]any{
			{"start": "2027-01-12T10:00", "end": "2027-01-12T11:30"},
			{"start": "2027-01-13T14:00", "end": "2027-01-13T15:30"},
			{"date": "2027-01-15"}},
		"agents":    []string{agents[1].email, agents[2].email},
		"outsiders": []map[string]string{{"name": "Léa Garnier", "email": "lea.garnier@example.org"}},
	}
	for k, v := range extra {
		in[k] = v
	}
	res, b := s.do(t, agents[0].email, "POST", "/polls/", in)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	var c created
	json.Unmarshal(b, &c)
	// The invitations: one to each invited agent, one to the outsider with an address.
	s.drain(t, 3)
	return c
}

// drain waits for n mails (the SMTP server's deliveries) and returns them.
func (s *pollSite) drain(t *testing.T, n int) []socmail.Received {
	var out []socmail.Received
	deadline := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case m := <-s.mails:
			out = append(out, m)
		case <-deadline:
			t.Fatalf("%d mails of %d received", len(out), n)
		}
	}
	return out
}

func (s *pollSite) slots(t *testing.T, agent, id string) []int64 {
	res, b := s.do(t, agent, "GET", "/polls/"+id, nil, "Accept", "application/json")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var v struct{ Slots []struct{ ID int64 } }
	json.Unmarshal(b, &v)
	var ids []int64
	for _, sl := range v.Slots {
		ids = append(ids, sl.ID)
	}
	return ids
}

func path(u string) string { return u[strings.Index(u, "/polls/"):] }

func answers(m map[int64]string) map[string]any {
	a := map[string]string{}
	for k, v := range m {
		a[jsonInt(k)] = v
	}
	return map[string]any{"answers": a}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// The must-show: what an outsider sees, as a page and as JSON, holds no agent's name or
// address — by default nor when the creator shows them the totals.
func TestAnOutsiderSeesNoAgentNameOrAddress(t *testing.T) {
	s := newPollSite(t)
	for _, see := range []string{"own", "counts"} {
		c := s.create(t, map[string]any{"outsiders_see": see})
		slots := s.slots(t, agents[0].email, c.ID)
		if res, b := s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "yes", slots[1]: "no"})); res.StatusCode != 204 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		if res, b := s.do(t, agents[0].email, "POST", "/polls/"+c.ID+"/comments", "body=Je+pr%C3%A9f%C3%A8re+mardi"); res.StatusCode != 303 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		link := path(c.Outsiders[0].URL)
		res, b := s.do(t, "", "POST", link, map[string]any{"answers": map[string]string{jsonInt(slots[0]): "maybe", jsonInt(slots[2]): "yes"}, "name": "Léa G."})
		if res.StatusCode != 204 {
			t.Fatalf("outsider answer: %d %s", res.StatusCode, b)
		}
		_, page := s.do(t, "", "GET", link, nil, "Accept", "text/html")
		_, js := s.do(t, "", "GET", link, nil, "Accept", "application/json")
		for _, view := range [][]byte{page, js} {
			for _, a := range agents {
				for _, secret := range []string{a.email, a.name, strings.Split(a.email, "@")[1], "Je préfère", "Salle 4.12"} {
					if bytes.Contains(view, []byte(secret)) {
						t.Errorf("outsiders_see=%s: the outsider's view holds %q", see, secret)
					}
				}
			}
		}
		var d struct {
			Title string
			Name  string
			Slots []struct {
				ID     int64
				Answer string
				Yes    *int
			}
		}
		json.Unmarshal(js, &d)
		if d.Title != "Comité de pilotage, budget 2027" || d.Name != "Léa G." || len(d.Slots) != 3 || d.Slots[0].Answer != "maybe" || d.Slots[2].Answer != "yes" {
			t.Fatalf("%s", js)
		}
		if (d.Slots[0].Yes != nil) != (see == "counts") || see == "counts" && *d.Slots[0].Yes != 1 {
			t.Errorf("outsiders_see=%s: totals %s", see, js)
		}
		if !bytes.Contains(page, []byte("Léa G.")) {
			t.Error("the outsider's page does not show their own answer")
		}
		// The agents see everyone's answers, by name.
		_, grid := s.do(t, agents[0].email, "GET", "/polls/"+c.ID, nil, "Accept", "text/html")
		if !bytes.Contains(grid, []byte("Bruno Dupont")) || !bytes.Contains(grid, []byte("Léa G.")) {
			t.Errorf("the creator's grid lacks a participant")
		}
	}
	// A wrong link, and an agent not invited, find nothing.
	if res, _ := s.do(t, "", "GET", "/polls/x/p/nope", nil); res.StatusCode != 404 {
		t.Errorf("unknown link: %d", res.StatusCode)
	}
	c := s.create(t, map[string]any{"agents": []string{agents[1].email}, "outsiders": []map[string]string{{"name": "X", "email": "x@example.org"}, {"name": "Y", "email": "y@example.org"}}})
	if res, _ := s.do(t, agents[2].email, "GET", "/polls/"+c.ID, nil); res.StatusCode != 404 {
		t.Errorf("an agent not invited: %d", res.StatusCode)
	}
}

func TestAnswersKeepThePollsLimitsAndItsDeadline(t *testing.T) {
	s := newPollSite(t)
	c := s.create(t, map[string]any{"max_per_slot": 1, "one_vote": true})
	slots := s.slots(t, agents[0].email, c.ID)
	if res, b := s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "yes"})); res.StatusCode != 204 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	problemField := func(b []byte) string {
		var p struct {
			Errors []struct{ Field, Reason string }
		}
		json.Unmarshal(b, &p)
		if len(p.Errors) == 0 {
			return ""
		}
		return p.Errors[0].Field + ": " + p.Errors[0].Reason
	}
	// The slot is full for anyone else...
	res, b := s.do(t, agents[2].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "yes", slots[1]: "no"}))
	if res.StatusCode != 422 || !strings.HasPrefix(problemField(b), "slot-"+jsonInt(slots[0])+": this slot is full") ||
		res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("full slot: %d %s", res.StatusCode, b)
	}
	// ...but the one who holds the place may answer again.
	if res, b := s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "yes", slots[1]: "maybe"})); res.StatusCode != 204 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	// One yes per person.
	res, b = s.do(t, agents[2].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[1]: "yes", slots[2]: "yes"}))
	if res.StatusCode != 422 || !strings.Contains(problemField(b), "one yes per person") {
		t.Fatalf("one vote: %d %s", res.StatusCode, b)
	}
	// Nothing of a refused answer was kept.
	var n int
	s.c.pool.QueryRow(t.Context(), `SELECT count(*) FROM collab.poll_answers a JOIN collab.poll_participants p ON p.id = a.participant_id WHERE p.email = $1`, agents[2].email).Scan(&n)
	if n != 0 {
		t.Fatalf("%d answers kept of refused ones", n)
	}
	// A slot of another poll, a word that is no answer.
	other := s.create(t, nil)
	oslots := s.slots(t, agents[0].email, other.ID)
	for _, body := range []map[string]any{answers(map[int64]string{oslots[0]: "yes"}), {"answers": map[string]string{jsonInt(slots[1]): "peut-être"}}} {
		if res, b := s.do(t, agents[2].email, "POST", "/polls/"+c.ID+"/answer", body); res.StatusCode != 422 || problemField(b) == "" {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
	}
	// So does an agent's.
	res, b = s.do(t, agents[2].email, "POST", "/polls/"+c.ID+"/answer", "slot-"+jsonInt(slots[0])+"=yes", "Accept", "text/html")
	if res.StatusCode != 422 || !bytes.Contains(b, []byte(`href="#slot-`+jsonInt(slots[0])+`"`)) ||
		!bytes.Contains(b, []byte(`id="slot-`+jsonInt(slots[0])+`-yes" name="slot-`+jsonInt(slots[0])+`" value="yes" checked`)) {
		t.Fatalf("agent's form: %d %s", res.StatusCode, b)
	}
	// An outsider's form comes back as sent, with the slot at fault linked.
	res, b = s.do(t, "", "POST", path(c.Outsiders[0].URL), "slot-"+jsonInt(slots[0])+"=yes&name=L%C3%A9a+G.&email=", "Accept", "text/html")
	if res.StatusCode != 422 || !bytes.Contains(b, []byte(`href="#slot-`+jsonInt(slots[0])+`"`)) || !bytes.Contains(b, []byte("this slot is full")) ||
		!bytes.Contains(b, []byte(`value="Léa G."`)) || !bytes.Contains(b, []byte(`id="slot-`+jsonInt(slots[0])+`-yes" name="slot-`+jsonInt(slots[0])+`" value="yes" checked`)) {
		t.Fatalf("outsider's form: %d %s", res.StatusCode, b)
	}
	// Past the deadline, no one answers any more.
	s.now = s.now.Add(73 * time.Hour)
	res, b = s.do(t, agents[2].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[1]: "yes"}))
	if res.StatusCode != 409 || !strings.Contains(problemField(b), "deadline has passed") {
		t.Fatalf("deadline: %d %s", res.StatusCode, b)
	}
	res, b = s.do(t, "", "POST", path(c.Outsiders[0].URL), answers(map[int64]string{slots[1]: "yes"}))
	if res.StatusCode != 409 {
		t.Fatalf("outsider after the deadline: %d %s", res.StatusCode, b)
	}
}

func TestABadPollIsRefusedFieldByFieldAndNothingIsStored(t *testing.T) {
	s := newPollSite(t)
	res, b := s.do(t, agents[0].email, "POST", "/polls/", map[string]any{"title": "", "zone": "Mars/Olympus",
		"slots": []map[string]any{{"start": "2027-01-12T10:00", "end": "2027-01-12T09:00"}}, "deadline": "demain",
		"max_per_slot": -1, "outsiders_see": "all", "agents": []string{"nobody@interieur.gouv.test"}})
	var p struct {
		Errors []struct{ Field, Reason string }
	}
	json.Unmarshal(b, &p)
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	if res.StatusCode != 422 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	for _, f := range []string{"title", "zone", "slots", "deadline", "max_per_slot", "outsiders_see"} {
		if !fields[f] {
			t.Errorf("no problem for %s: %s", f, b)
		}
	}
	// An unknown agent is named once the rest is right.
	res, b = s.do(t, agents[0].email, "POST", "/polls/", map[string]any{"title": "T", "slots": []map[string]any{{"date": "2027-01-12"}},
		"deadline": s.now.Add(time.Hour).Format(time.RFC3339), "agents": []string{"nobody@interieur.gouv.test"}})
	if res.StatusCode != 422 || !bytes.Contains(b, []byte(`"field":"agents"`)) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	// A form is shown again with what was typed and the field's error.
	res, b = s.do(t, agents[0].email, "POST", "/polls/", "title=R%C3%A9union&slots=12+janvier&deadline=2027-01-01T10:00", "Accept", "text/html")
	if res.StatusCode != 422 || !bytes.Contains(b, []byte(`href="#slots"`)) || !bytes.Contains(b, []byte("12 janvier</textarea>")) || !bytes.Contains(b, []byte(`value="Réunion"`)) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var n int
	s.c.pool.QueryRow(t.Context(), `SELECT count(*) FROM collab.polls`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d polls stored from bad input", n)
	}
	// Anonymous: no session, no poll.
	if res, _ := s.do(t, "", "GET", "/polls/", nil, "Accept", "application/json"); res.StatusCode != 401 {
		t.Fatalf("anonymous: %d", res.StatusCode)
	}
}

// calendarPart finds the text/calendar part of a raw message.
func calendarPart(t *testing.T, raw []byte) []byte {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(ct string, body io.Reader) []byte
	walk = func(ct string, body io.Reader) []byte {
		mt, params, _ := mime.ParseMediaType(ct)
		if mt == "text/calendar" {
			b, _ := io.ReadAll(body)
			return b
		}
		if !strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		r := multipart.NewReader(body, params["boundary"])
		for {
			p, err := r.NextPart() // decodes quoted-printable; base64 below
			if err != nil {
				return nil
			}
			var rd io.Reader = p
			if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
				rd = base64Reader(p)
			}
			if b := walk(p.Header.Get("Content-Type"), rd); b != nil {
				return b
			}
		}
	}
	return walk(m.Header.Get("Content-Type"), m.Body)
}

// parseICS parses an iCalendar object with Python's icalendar (Debian's python3-icalendar),
// an implementation other than socle's, and returns what it read.
func parseICS(t *testing.T, ics []byte) map[string]string {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import icalendar").Run() != nil {
		t.Fatal("Debian's python3-icalendar is not installed: make deps installs it (apt-get install python3-icalendar)")
	}
	cmd := exec.Command(py, "-c", `
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
ev = [c for c in cal.walk() if c.name == "VEVENT"]
assert len(ev) == 1, len(ev)
e = ev[0]
att = e.get("ATTENDEE")
att = att if isinstance(att, list) else [att]
print(json.dumps({"method": str(cal["METHOD"]), "uid": str(e["UID"]), "seq": str(e["SEQUENCE"]),
  "start": e.decoded("DTSTART").isoformat(), "end": e.decoded("DTEND").isoformat(), "summary": str(e["SUMMARY"]),
  "location": str(e.get("LOCATION", "")), "url": str(e.get("URL", "")), "organizer": str(e.get("ORGANIZER", "")),
  "attendees": " ".join(str(a) for a in att), "description": str(e.get("DESCRIPTION", ""))}))
`)
	cmd.Stdin = bytes.NewReader(ics)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("icalendar: %v %s\n%s", err, out, ics)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s", out)
	}
	return m
}

func TestClosingThePollSendsEveryoneTheInvitation(t *testing.T) {
	s := newPollSite(t)
	long := strings.Repeat("Arbitrages; budget, «\u00a0programmes\u00a0» ", 6)
	c := s.create(t, map[string]any{"visio": true, "description": long})
	if !regexp.MustCompile(`/visio/comite-de-pilotage-budget-2027-[a-z0-9]{8}$`).MatchString(c.Visio) {
		t.Fatalf("visio room: %q", c.Visio)
	}
	slots := s.slots(t, agents[0].email, c.ID)
	s.do(t, "", "POST", path(c.Outsiders[0].URL), answers(map[int64]string{slots[1]: "yes"}))
	// Only the creator closes.
	if res, _ := s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/close", "slot="+jsonInt(slots[1])); res.StatusCode != 403 {
		t.Fatalf("closed by another: %d", res.StatusCode)
	}
	res, b := s.do(t, agents[0].email, "POST", "/polls/"+c.ID+"/close", "slot="+jsonInt(slots[1]), "Accept", "application/json")
	if res.StatusCode != 200 || !bytes.Contains(b, []byte(`"invitations_sent":4`)) {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	got := s.drain(t, 4)
	byRcpt := map[string][]byte{}
	for _, m := range got {
		byRcpt[m.To[0]] = calendarPart(t, m.Data)
	}
	for _, a := range agents {
		ics := byRcpt[a.email]
		if ics == nil {
			t.Fatalf("no invitation for %s", a.email)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(ics), "\r\n"), "\r\n") {
			if len(l) > 75 {
				t.Errorf("a line of %d octets (RFC 5545 §3.1): %q", len(l), l)
			}
		}
		e := parseICS(t, ics)
		if e["method"] != "REQUEST" || e["uid"] != "poll-"+c.ID+"@127.0.0.1" || e["seq"] != "1" ||
			e["start"] != "2027-01-13T13:00:00+00:00" || e["end"] != "2027-01-13T14:30:00+00:00" || e["summary"] != "Comité de pilotage, budget 2027" ||
			e["url"] != c.Visio || !strings.Contains(e["location"], c.Visio) || e["organizer"] != "mailto:"+agents[0].email ||
			!strings.Contains(e["attendees"], agents[2].email) || !strings.HasPrefix(e["description"], strings.TrimSpace(long)) {
			t.Errorf("%s: %v", a.email, e)
		}
	}
	// The outsider's names only them, organised by socle.
	ics := byRcpt["lea.garnier@example.org"]
	e := parseICS(t, ics)
	if e["attendees"] != "mailto:lea.garnier@example.org" || !strings.HasPrefix(e["organizer"], "mailto:no-reply@") || e["uid"] != "poll-"+c.ID+"@127.0.0.1" {
		t.Errorf("outsider: %v", e)
	}
	for _, a := range agents {
		if bytes.Contains(ics, []byte(a.email)) || bytes.Contains(ics, []byte(a.name)) {
			t.Errorf("the outsider's invitation names %s", a.email)
		}
	}
	// Closed once: a second close sends nothing.
	if res, _ := s.do(t, agents[0].email, "POST", "/polls/"+c.ID+"/close", "slot="+jsonInt(slots[0])); res.StatusCode != 409 {
		t.Fatalf("closed twice: %d", res.StatusCode)
	}
	// The export as iCalendar is the chosen slot.
	res, b = s.do(t, agents[1].email, "GET", "/polls/"+c.ID+"/calendar.ics", nil)
	if res.Header.Get("Content-Type") != "text/calendar; charset=utf-8" {
		t.Fatal(res.Header)
	}
	if e := parseICS(t, b); e["method"] != "PUBLISH" || e["start"] != "2027-01-13T13:00:00+00:00" {
		t.Errorf("export: %v", e)
	}
	// The outsider's page now has the conference link.
	_, page := s.do(t, "", "GET", path(c.Outsiders[0].URL), nil, "Accept", "text/html")
	if !bytes.Contains(page, []byte(c.Visio)) {
		t.Error("the outsider's page lacks the conference link once closed")
	}
}

func TestRemindersAreSentOnceAcrossReplicas(t *testing.T) {
	s := newPollSite(t)
	c := s.create(t, map[string]any{"deadline": s.now.Add(30 * time.Hour).Format(time.RFC3339)})
	slots := s.slots(t, agents[0].email, c.ID)
	s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "yes"}))
	// Not yet within the day before the deadline.
	if n, err := s.c.remindPolls(t.Context()); err != nil || n != 0 {
		t.Fatalf("%d %v", n, err)
	}
	s.now = s.now.Add(8 * time.Hour)
	// A second replica on the same database, claiming at the same time.
	other := &Collab{pool: s.c.pool, logger: s.c.logger, mail: s.c.mail, publicURL: s.c.publicURL,
		pp: &pollPages{store: pollStore{s.c.pool}, now: func() time.Time { return s.now }}}
	counts := make(chan int, 2)
	for _, r := range []*Collab{s.c, other} {
		go func() {
			n, err := r.remindPolls(context.Background())
			if err != nil {
				t.Error(err)
			}
			counts <- n
		}()
	}
	total := <-counts + <-counts
	// Nadia Benali (agent) and Léa Garnier (outsider) have not answered; the creator is not reminded.
	if total != 2 {
		t.Fatalf("%d reminders", total)
	}
	got := s.drain(t, 2)
	rcpt := map[string]bool{}
	for _, m := range got {
		rcpt[m.To[0]] = true
		if !bytes.Contains(m.Data, []byte("Rappel")) {
			t.Errorf("%s", m.Data)
		}
	}
	if !rcpt[agents[2].email] || !rcpt["lea.garnier@example.org"] {
		t.Fatal(rcpt)
	}
	if n, _ := s.c.remindPolls(t.Context()); n != 0 {
		t.Fatalf("reminded again: %d", n)
	}
}

func TestTheCSVExportIsTheGridWithoutFormulas(t *testing.T) {
	s := newPollSite(t)
	c := s.create(t, map[string]any{"outsiders": []map[string]string{{"name": "=HYPERLINK(\"http://evil.test\")", "email": "eve@example.org"}}})
	slots := s.slots(t, agents[0].email, c.ID)
	s.do(t, "", "POST", path(c.Outsiders[0].URL), answers(map[int64]string{slots[0]: "yes", slots[1]: "maybe", slots[2]: "no"}))
	s.do(t, agents[1].email, "POST", "/polls/"+c.ID+"/answer", answers(map[int64]string{slots[0]: "no"}))
	if res, _ := s.do(t, agents[1].email, "GET", "/polls/"+c.ID+"/export.csv", nil); res.StatusCode != 403 {
		t.Fatalf("exported by a participant: %d", res.StatusCode)
	}
	res, b := s.do(t, agents[0].email, "GET", "/polls/"+c.ID+"/export.csv?lang=en", nil)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Participant", "2027-01-12 10:00–11:30 (Europe/Paris)", "2027-01-13 14:00–15:30 (Europe/Paris)", "2027-01-15"},
		{"Bruno Dupont", "No", "—", "—"},
		{"'=HYPERLINK(\"http://evil.test\")", "Yes", "If need be", "No"},
		{"Total (yes / if need be / no)", "1 / 0 / 1", "0 / 1 / 0", "0 / 0 / 1"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%q", recs)
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, recs[i], want[i])
		}
	}
}

// Polls are deleted, with their participants' names and addresses, 90 days after their
// deadline; younger ones stay.
func TestOldPollsArePurged(t *testing.T) {
	s := newPollSite(t)
	young := s.create(t, nil)
	old := &poll{OwnerID: 1, OwnerEmail: agents[0].email, OwnerName: agents[0].name, Title: "Ancien", OutsidersSee: "own",
		Deadline: s.now.Add(-91 * 24 * time.Hour), Slots: []slot{{Day: "2026-01-01"}}}
	if _, err := s.c.pp.store.create(t.Context(), old, nil, []invitee{{Name: "Ancienne", Email: "old@example.org"}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.c.pp.store.purge(t.Context(), s.now.Add(-pollsKept)); err != nil || n != 1 {
		t.Fatalf("%d %v", n, err)
	}
	var left []string
	rows, _ := s.c.pool.Query(t.Context(), `SELECT DISTINCT poll_id FROM collab.poll_participants`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 1 || left[0] != young.ID {
		t.Fatalf("participants left: %v", left)
	}
}

func TestEveryPollWordIsInFrenchAndEnglish(t *testing.T) {
	keys, err := web.KeysUsed(regexp.MustCompile(`T "([a-z0-9._-]+)"`), []fs.FS{pollTemplates})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pollWords.Missing(keys) {
		t.Error(m)
	}
	for _, lang := range []string{"fr", "en"} {
		for k := range pollWords["fr"] {
			if _, ok := pollWords[lang][k]; !ok {
				t.Errorf("%s: %s", lang, k)
			}
		}
	}
}
