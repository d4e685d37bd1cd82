package collab

import (
	"encoding/json"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"socle/internal/platform/problem"
	"socle/internal/web"
)

// pollInput is a poll as its creator sends it, by the form or as JSON: the one thing both
// parsers make and check reads.
type pollInput struct {
	Title        string      `json:"title"`
	Description  string      `json:"description"`
	Place        string      `json:"place"`
	Visio        bool        `json:"visio"`
	Zone         string      `json:"zone"` // the slots' IANA zone when a slot names none
	Slots        []slotInput `json:"slots"`
	Deadline     string      `json:"deadline"` // YYYY-MM-DDTHH:MM in Zone, or RFC 3339
	MaxPerSlot   int         `json:"max_per_slot"`
	OneVote      bool        `json:"one_vote"`
	Anonymous    bool        `json:"anonymous"`
	OutsidersSee string      `json:"outsiders_see"` // "own" (default) or "counts"
	Agents       []string    `json:"agents"`        // e-mail addresses of socle accounts
	Outsiders    []invitee   `json:"outsiders"`

	SlotsText string `json:"-"` // the form's slots, as typed, to show again
}

// slotInput is a time range (Start, End: YYYY-MM-DDTHH:MM in Zone) or a plain Date.
type slotInput struct {
	Date  string `json:"date,omitempty"`
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
	Zone  string `json:"zone,omitempty"`
}

type invitee struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// slot is a checked slot: a range in UTC with its zone, or a day.
type slot struct {
	ID         int64
	Start, End time.Time
	Zone       string
	Day        string // YYYY-MM-DD
}

// checkedPoll is a pollInput that passed check.
type checkedPoll struct {
	pollInput
	slots    []slot
	deadline time.Time
}

const (
	maxTitle     = 200
	maxText      = 4000
	maxSlots     = 100
	maxInvitees  = 200
	maxBodyBytes = 256 << 10
)

// parsePollJSON reads a poll sent as JSON; unknown members are refused (a misspelt
// "max_per_slot" would otherwise silently mean "no limit").
func parsePollJSON(r io.Reader) (pollInput, []problem.FieldError) {
	var in pollInput
	dec := json.NewDecoder(io.LimitReader(r, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, []problem.FieldError{{Field: "body", Reason: "not a poll as JSON: " + err.Error()}}
	}
	if dec.More() {
		return in, []problem.FieldError{{Field: "body", Reason: "one JSON object, nothing after it"}}
	}
	return in, nil
}

// parsePollForm reads the creation form: slots one a line ("2026-12-10 14:00-15:30", or
// "2026-12-10" for the whole day), agents' and outsiders' addresses one a line ("Name
// <address>", or an address, or a name alone for an outsider reached only by the link).
func parsePollForm(f url.Values) (pollInput, []problem.FieldError) {
	in := pollInput{Title: f.Get("title"), Description: f.Get("description"), Place: f.Get("place"),
		Visio: f.Get("visio") != "", Zone: f.Get("zone"), Deadline: f.Get("deadline"),
		OneVote: f.Get("one_vote") != "", Anonymous: f.Get("anonymous") != "", OutsidersSee: f.Get("outsiders_see"),
		SlotsText: f.Get("slots")}
	var errs []problem.FieldError
	if s := strings.TrimSpace(f.Get("max_per_slot")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "max_per_slot", Reason: "a whole number (0 or empty: no limit)"})
		}
		in.MaxPerSlot = n
	}
	for i, line := range web.Lines(f.Get("slots")) {
		s, err := parseSlotLine(line)
		if err != nil {
			errs = append(errs, problem.FieldError{Field: "slots", Reason: fmt.Sprintf("line %d, %q: %v", i+1, line, err)})
			continue
		}
		in.Slots = append(in.Slots, s)
	}
	in.Agents = web.Lines(f.Get("agents"))
	for _, line := range web.Lines(f.Get("outsiders")) {
		if a, err := mail.ParseAddress(line); err == nil {
			in.Outsiders = append(in.Outsiders, invitee{Name: a.Name, Email: a.Address})
		} else {
			in.Outsiders = append(in.Outsiders, invitee{Name: line})
		}
	}
	return in, errs
}

var slotLinePattern = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})(?:[ T]+(\d{1,2}:\d{2})\s*(?:-|–|à|to)\s*(\d{1,2}:\d{2}))?$`)

func parseSlotLine(line string) (slotInput, error) {
	m := slotLinePattern.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return slotInput{}, fmt.Errorf("write a day, 2026-12-10, or a day and hours, 2026-12-10 14:00-15:30")
	}
	if m[2] == "" {
		return slotInput{Date: m[1]}, nil
	}
	pad := func(h string) string {
		if len(h) == 4 {
			return "0" + h
		}
		return h
	}
	return slotInput{Start: m[1] + "T" + pad(m[2]), End: m[1] + "T" + pad(m[3])}, nil
}

// check checks everything of in against the clock now; every problem is named by its field.
func (in pollInput) check(now time.Time) (checkedPoll, []problem.FieldError) {
	var errs []problem.FieldError
	bad := func(field, reason string) { errs = append(errs, problem.FieldError{Field: field, Reason: reason}) }
	in.Title = strings.TrimSpace(in.Title)
	in.Description = strings.TrimSpace(in.Description)
	in.Place = strings.TrimSpace(in.Place)
	text := func(field, s string, max int, required bool) {
		switch {
		case required && s == "":
			bad(field, "required")
		case !utf8.ValidString(s):
			bad(field, "not valid UTF-8")
		case utf8.RuneCountInString(s) > max:
			bad(field, fmt.Sprintf("%d characters at most", max))
		}
	}
	text("title", in.Title, maxTitle, true)
	text("description", in.Description, maxText, false)
	text("place", in.Place, maxTitle, false)
	if in.Zone == "" {
		in.Zone = "Europe/Paris"
	}
	zone, err := loadZone(in.Zone)
	if err != nil {
		bad("zone", "not an IANA time zone, such as Europe/Paris")
		zone = time.UTC
	}
	cp := checkedPoll{pollInput: in}
	if len(in.Slots) == 0 {
		bad("slots", "at least one slot")
	}
	if len(in.Slots) > maxSlots {
		bad("slots", fmt.Sprintf("%d slots at most", maxSlots))
	}
	seen := map[string]bool{}
	for i, s := range in.Slots {
		where := fmt.Sprintf("slot %d: ", i+1)
		z, zname := zone, in.Zone
		if s.Zone != "" {
			if z, err = loadZone(s.Zone); err != nil {
				bad("slots", where+"zone not an IANA time zone")
				continue
			}
			zname = s.Zone
		}
		var sl slot
		switch {
		case s.Date != "" && s.Start == "" && s.End == "":
			d, err := time.Parse(time.DateOnly, s.Date)
			if err != nil {
				bad("slots", where+"not a day YYYY-MM-DD")
				continue
			}
			sl.Day = d.Format(time.DateOnly)
		case s.Date == "" && s.Start != "" && s.End != "":
			st, err1 := parseLocal(s.Start, z)
			en, err2 := parseLocal(s.End, z)
			if err1 != nil || err2 != nil {
				bad("slots", where+"start and end as YYYY-MM-DDTHH:MM")
				continue
			}
			if !en.After(st) {
				bad("slots", where+"ends before it starts")
				continue
			}
			if en.Sub(st) > 7*24*time.Hour {
				bad("slots", where+"a week long at most")
				continue
			}
			sl = slot{Start: st.UTC(), End: en.UTC(), Zone: zname}
		default:
			bad("slots", where+"either a date, or a start and an end")
			continue
		}
		key := sl.Day + sl.Start.String() + sl.End.String()
		if seen[key] {
			bad("slots", where+"given twice")
			continue
		}
		seen[key] = true
		cp.slots = append(cp.slots, sl)
	}
	if in.Deadline == "" {
		bad("deadline", "required")
	} else if d, err := parseLocal(in.Deadline, zone); err != nil {
		bad("deadline", "a date and time, YYYY-MM-DDTHH:MM")
	} else if !d.After(now) {
		bad("deadline", "in the future")
	} else {
		cp.deadline = d.UTC()
	}
	if in.MaxPerSlot < 0 || in.MaxPerSlot > 10000 {
		bad("max_per_slot", "between 0 (no limit) and 10000")
	}
	switch in.OutsidersSee {
	case "":
		cp.OutsidersSee = "own"
	case "own", "counts":
	default:
		bad("outsiders_see", `"own" (the slots and their own answer) or "counts" (and each slot's totals, without names)`)
	}
	if len(in.Agents)+len(in.Outsiders) > maxInvitees {
		bad("agents", fmt.Sprintf("%d invitees at most", maxInvitees))
	}
	for i, a := range in.Agents {
		addr, err := mail.ParseAddress(a)
		if err != nil {
			bad("agents", fmt.Sprintf("line %d: not an e-mail address", i+1))
			continue
		}
		cp.Agents[i] = strings.ToLower(addr.Address)
	}
	for i, o := range in.Outsiders {
		o.Name, o.Email = strings.TrimSpace(o.Name), strings.TrimSpace(o.Email)
		if o.Email != "" {
			a, err := mail.ParseAddress(o.Email)
			if err != nil || a.Address != o.Email {
				bad("outsiders", fmt.Sprintf("line %d: not an e-mail address", i+1))
				continue
			}
		}
		if o.Name == "" && o.Email == "" {
			bad("outsiders", fmt.Sprintf("line %d: a name or an address", i+1))
			continue
		}
		if utf8.RuneCountInString(o.Name) > maxTitle || !utf8.ValidString(o.Name) {
			bad("outsiders", fmt.Sprintf("line %d: a name of %d characters at most", i+1, maxTitle))
			continue
		}
		cp.Outsiders[i] = o
	}
	return cp, errs
}

func loadZone(name string) (*time.Location, error) {
	// time.LoadLocation also takes "Local" and "" and file-like names: only IANA names here.
	if name == "Local" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("zone %q", name)
	}
	return time.LoadLocation(name)
}

// parseLocal reads a time as a form's datetime-local gives it, in zone, or RFC 3339.
func parseLocal(s string, zone *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04", s, zone)
}

// roomFor makes a socle conference room name from the title, as visio's rules want them
// (lower-case letters, digits, dash, 64 at most, not a reserved word), with a random part so
// that no one guesses it.
func roomFor(title, random string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(foldAccents(title)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	name := strings.Trim(b.String(), "-")
	if name == "" {
		name = "reunion"
	}
	return name + "-" + random
}

func foldAccents(s string) string {
	r := strings.NewReplacer("à", "a", "â", "a", "ä", "a", "á", "a", "ç", "c", "é", "e", "è", "e", "ê", "e", "ë", "e",
		"î", "i", "ï", "i", "í", "i", "ô", "o", "ö", "o", "ó", "o", "ù", "u", "û", "u", "ü", "u", "ú", "u", "ÿ", "y", "œ", "oe", "æ", "ae", "ß", "ss",
		"À", "a", "Â", "a", "Ç", "c", "É", "e", "È", "e", "Ê", "e", "Î", "i", "Ô", "o", "Ù", "u", "Û", "u")
	return r.Replace(s)
}
