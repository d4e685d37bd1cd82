package collab

import (
	"encoding/base64"
	"io"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

// Whatever a creator sends, the parsers and the check return a poll or field problems,
// never a panic; a poll that passes has slots, a deadline in the future and no bad zone.
func FuzzPollInput(f *testing.F) {
	f.Add(`{"title":"T","slots":[{"date":"2027-01-12"}],"deadline":"2030-01-01T10:00"}`, "title=T&slots=2027-01-12+10:00-11:00&deadline=2030-01-01T10:00")
	f.Add(`{"title":"T","zone":"America/Cayenne","slots":[{"start":"2027-01-12T10:00","end":"2027-01-12T11:00","zone":"Asia/Tokyo"}],"deadline":"2030-01-01T10:00:00Z","outsiders":[{"name":"A","email":"a@b.c"}]}`, "slots=2027-01-12%0A2027-01-12&outsiders=A+%3Ca%40b.c%3E%0Ab&max_per_slot=x")
	f.Add(`{"title":"","slots":[{"date":"2027-02-30"}],"deadline":"x","max_per_slot":-1,"zone":"../../etc/passwd"}`, "zone=Local&deadline=2000-01-01T00:00")
	f.Add(`{"title":"T"} {}`, "%zz")
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body, form string) {
		check := func(in pollInput) {
			cp, errs := in.check(now)
			if len(errs) > 0 {
				for _, e := range errs {
					if e.Field == "" || e.Reason == "" {
						t.Fatalf("a problem without its field or reason: %+v", e)
					}
				}
				return
			}
			if len(cp.slots) == 0 || !cp.deadline.After(now) || cp.Title == "" {
				t.Fatalf("a poll passed that should not: %+v", cp)
			}
			for _, s := range cp.slots {
				if s.Day == "" && !s.End.After(s.Start) {
					t.Fatalf("slot %+v", s)
				}
			}
			if r := roomFor(cp.Title, "abcdefgh"); !roomName.MatchString(r) {
				t.Fatalf("room %q", r)
			}
		}
		if in, errs := parsePollJSON(strings.NewReader(body)); errs == nil {
			check(in)
		}
		if v, err := url.ParseQuery(form); err == nil {
			if in, errs := parsePollForm(v); errs == nil {
				check(in)
			}
		}
	})
}

// roomName is visio's rule for a room name (internal/visio: services do not import each other).
var roomName = regexpMust(`^[a-z0-9][a-z0-9_-]{0,63}$`)

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// Whatever an answer's body, readAnswers returns answers for the poll's slots only, each a
// known word, or field problems — never a panic.
func FuzzReadAnswers(f *testing.F) {
	f.Add("application/json", `{"answers":{"1":"yes","2":"maybe"},"name":"Léa","email":"lea@example.org"}`)
	f.Add("application/json", `{"answers":{"x":"yes","3":"peut-être"},"email":"pas une adresse"}`)
	f.Add("application/x-www-form-urlencoded", "slot-1=yes&slot-2=no&name=L&email=")
	f.Add("application/x-www-form-urlencoded", "slot-99=yes&slot-=&%zz")
	p := &poll{Slots: []slot{{ID: 1}, {ID: 2}}}
	f.Fuzz(func(t *testing.T, ct, body string) {
		r := httptest.NewRequest("POST", "/polls/x/answer", strings.NewReader(body))
		r.Header.Set("Content-Type", ct)
		answers, _, _, errs := readAnswers(httptest.NewRecorder(), r, p)
		if len(errs) > 0 {
			return
		}
		if len(answers) == 0 {
			t.Fatal("no answer and no problem")
		}
		for id, a := range answers {
			if (id != 1 && id != 2) || (a != "yes" && a != "maybe" && a != "no") {
				t.Fatalf("%d=%q", id, a)
			}
		}
	})
}
