package collab

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	socmail "socle/internal/platform/mail"
	"socle/internal/web"
)

func parseAddr(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	return a.Address, nil
}

// mailMessage is one of the polls' mails, in French then English (a mail has no language
// switch, and an outsider's language is unknown). by is the creator's name (empty for an
// outsider: no agent's name in their mail).
func mailMessage(to, kind, title, by, link string, deadline time.Time) socmail.Message {
	fr, en := pollWords["fr"], pollWords["en"]
	var b strings.Builder
	for _, w := range []map[string]string{fr, en} {
		b.WriteString(w["mail."+kind])
		b.WriteString("\n\n  « " + title + " »\n")
		if by != "" {
			b.WriteString(w["mail.by"] + " " + by + "\n")
		}
		if !deadline.IsZero() {
			b.WriteString(w["mail.deadline"] + " " + deadline.In(web.Paris).Format("2006-01-02 15:04") + " (Europe/Paris)\n")
		}
		if link != "" {
			b.WriteString("\n" + link + "\n")
		}
		b.WriteString("\n")
	}
	return socmail.Message{To: []string{to}, Subject: fr["subject."+kind] + " — " + title, Text: b.String()}
}

// Reminders: the job runs every reminderEvery; a poll whose deadline falls within
// reminderBefore is claimed once (pollStore.claimReminders) by whichever replica gets it
// first, and its participants who have not answered are mailed.
const (
	reminderBefore = 24 * time.Hour
	reminderEvery  = 5 * time.Minute
	// pollsKept: a poll, with its participants' names and addresses, is deleted this long
	// after its deadline or its closing.
	pollsKept = 90 * 24 * time.Hour
)

func (c *Collab) startPolls(ctx context.Context) {
	c.pollState()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	c.stop = append(c.stop, func() { cancel(); <-done })
	go func() {
		defer close(done)
		t := time.NewTicker(reminderEvery)
		defer t.Stop()
		for {
			if _, err := c.remindPolls(ctx); err != nil && ctx.Err() == nil {
				c.logger.Error("collab: poll reminders", "error", err)
			}
			if n, err := c.pp.store.purge(ctx, c.pp.now().Add(-pollsKept)); err != nil && ctx.Err() == nil {
				c.logger.Error("collab: poll purge", "error", err)
			} else if n > 0 {
				c.logger.Info("collab: old polls deleted", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// remindPolls sends the reminders due; it returns how many mails went.
func (c *Collab) remindPolls(ctx context.Context) (int, error) {
	now := c.pp.now()
	ids, err := c.pp.store.claimReminders(ctx, now, now.Add(reminderBefore))
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, id := range ids {
		p, err := c.pp.store.get(ctx, id)
		if err != nil {
			return sent, err
		}
		people, err := c.pp.store.participants(ctx, id)
		if err != nil {
			return sent, err
		}
		for _, pp := range people {
			if pp.AnsweredAt != nil || pp.Email == "" || (pp.UserID != nil && *pp.UserID == p.OwnerID) {
				continue
			}
			link, by := c.publicURL()+"/polls/"+p.ID, p.OwnerName
			if pp.Outsider() {
				link, by = "", "" // only its hash is kept: the outsider uses the link of the first mail
			}
			if err := c.mail.Send(ctx, mailMessage(pp.Email, "reminder", p.Title, by, link, p.Deadline)); err != nil {
				c.logger.Warn("collab: reminder not sent", "poll", id, "error", err)
				continue
			}
			sent++
		}
		c.logger.Info("collab: poll reminders sent", "poll", id, "mails", sent)
	}
	return sent, nil
}

// csvCell guards a cell against formula injection: a spreadsheet runs a cell starting with
// =, +, -, @, a tab or a carriage return (OWASP "CSV Injection"); a leading apostrophe makes
// it text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// pollCSV exports the grid: one row a participant, one column a slot. Only the creator
// exports; an anonymous poll's names stay hidden.
func (c *Collab) pollCSV(w http.ResponseWriter, r *http.Request) error {
	p, me, owner, err := c.loadForAgent(r)
	if err != nil {
		return err
	}
	if !owner {
		return web.Errorf(http.StatusForbidden, "not-the-creator", web.Text{}, web.Text{
			FR: "Seule la personne qui a créé le sondage peut l'exporter.", EN: "Only the poll's creator can export it."})
	}
	v, err := c.buildView(r, p, me, owner)
	if err != nil {
		return err
	}
	lang := web.Lang(r)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="poll-`+p.ID+`.csv"`)
	cw := csv.NewWriter(w)
	head := []string{pollWords.T(lang, "col.participant")}
	for _, s := range p.Slots {
		head = append(head, slotText(lang, v.Zone, s))
	}
	cw.Write(head)
	for _, row := range v.Rows {
		rec := []string{csvCell(row.Name)}
		for _, a := range row.Answers {
			rec = append(rec, answerWord(lang, a))
		}
		cw.Write(rec)
	}
	total := []string{pollWords.T(lang, "col.total")}
	for _, h := range v.Heat {
		total = append(total, fmt.Sprintf("%d / %d / %d", h.Yes, h.Maybe, h.No))
	}
	cw.Write(total)
	cw.Flush()
	return cw.Error()
}
