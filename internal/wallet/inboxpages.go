package wallet

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/web"
)

// citizenNRN is the national number of the signed-in account, or the page that says it has
// none.
func (w *Wallet) citizenNRN(r *http.Request) (string, error) {
	u, _ := identity.UserFrom(r.Context())
	nrn, err := w.citizens.nrn(r.Context(), u.ID)
	if errors.Is(err, ErrNoCitizen) {
		return "", web.Errorf(http.StatusForbidden, "no-national-number", messages.Text("inbox.error"), messages.Text("err.nocitizen.inbox"))
	}
	return nrn, err
}

// inbox lists the citizen's messages, the newest first.
func (w *Wallet) inbox(rw http.ResponseWriter, r *http.Request) error {
	nrn, err := w.citizenNRN(r)
	if err != nil {
		return err
	}
	list, err := inboxStore{w.pool}.ofCitizen(r.Context(), nrn)
	if err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "inbox.html", "inbox.title", list)
	return nil
}

// messagePage is a message as its page shows it. A registered message's content is shown
// once the citizen acknowledged receipt, as a registered letter is opened once signed for.
type messagePage struct {
	inboxItem
	Sealed      bool       // registered, not acknowledged: the content is not shown
	Paragraphs  [][]string // the body, paragraph by paragraph, line by line
	Files       []fileLink
	DaysToPurge int
}

type fileLink struct{ Href, Name, Type, Size string }

// inboxMessage shows one message and records that the citizen read it.
func (w *Wallet) inboxMessage(rw http.ResponseWriter, r *http.Request) error {
	nrn, err := w.citizenNRN(r)
	if err != nil {
		return err
	}
	st := inboxStore{w.pool}
	m, err := st.message(r.Context(), nrn, r.PathValue("id"))
	if errors.Is(err, errNoMessage) {
		return web.NotFound()
	}
	if err != nil {
		return err
	}
	now := time.Now()
	if m.ReadAt == nil {
		if err := st.markRead(r.Context(), nrn, m.ID, now); err != nil {
			return err
		}
		m.ReadAt = &now
	}
	lang := web.Lang(r)
	p := messagePage{inboxItem: m, Sealed: m.Registered && m.AcknowledgedAt == nil, DaysToPurge: int(time.Until(m.ExpiresAt).Hours()/24) + 1}
	if !p.Sealed {
		for _, para := range strings.Split(strings.TrimSpace(m.Body), "\n\n") {
			if para = strings.Trim(para, "\n"); para != "" {
				p.Paragraphs = append(p.Paragraphs, strings.Split(para, "\n"))
			}
		}
		for i, a := range m.Attachments {
			kb := (a.Size + 1023) / 1024
			p.Files = append(p.Files, fileLink{Href: "/wallet/inbox/" + m.ID + "/attachments/" + strconv.Itoa(i), Name: a.Name,
				Type: strings.SplitN(a.MediaType, ";", 2)[0], Size: web.Number(lang, kb) + " " + messages.T(lang, "inbox.kb")})
		}
	}
	w.render(rw, r, http.StatusOK, "message.html", "inbox.message", p)
	return nil
}

// inboxAttachment serves an attachment as a download of its type, which the browser may not
// second-guess (nosniff) nor run (a sandbox without scripts, were it opened).
func (w *Wallet) inboxAttachment(rw http.ResponseWriter, r *http.Request) error {
	nrn, err := w.citizenNRN(r)
	if err != nil {
		return err
	}
	st := inboxStore{w.pool}
	m, err := st.message(r.Context(), nrn, r.PathValue("id"))
	n, nerr := strconv.Atoi(r.PathValue("n"))
	if errors.Is(err, errNoMessage) || nerr != nil || n < 0 || n >= len(m.Attachments) {
		return web.NotFound()
	}
	if err != nil {
		return err
	}
	if m.Registered && m.AcknowledgedAt == nil {
		return web.Errorf(http.StatusForbidden, "acknowledge-first", messages.Text("inbox.error"), messages.Text("inbox.ackfirst"))
	}
	a, err := st.attachment(r.Context(), nrn, m.ID, n)
	if err != nil {
		return err
	}
	h := rw.Header()
	h.Set("Content-Type", a.MediaType)
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
	if disposition == "" {
		disposition = "attachment"
	}
	h.Set("Content-Disposition", disposition)
	h.Set("Content-Length", strconv.Itoa(len(a.Content)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, no-store")
	rw.Write(a.Content)
	return nil
}

// acknowledge records the citizen's acknowledgement of receipt of a registered message.
func (w *Wallet) acknowledge(rw http.ResponseWriter, r *http.Request) error {
	nrn, err := w.citizenNRN(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	err = inboxStore{w.pool}.acknowledge(r.Context(), nrn, id, time.Now())
	switch {
	case errors.Is(err, errNoMessage):
		return web.NotFound()
	case errors.Is(err, errNotRegistered):
		return web.Errorf(http.StatusConflict, "not-registered", messages.Text("inbox.error"), messages.Text("inbox.notregistered"))
	case err != nil:
		return err
	}
	u, _ := identity.UserFrom(r.Context())
	w.logger.Info("wallet: inbox: receipt acknowledged", "user", u.ID, "id", id)
	http.Redirect(rw, r, "/wallet/inbox/"+id+"?lang="+web.Lang(r)+"&done=acknowledged", http.StatusSeeOther)
	return nil
}

// unreadInNav adds the count of unread messages to the inbox's link of the navigation.
func (w *Wallet) unreadInNav(r *http.Request, p *web.Page) {
	u, ok := identity.UserFrom(r.Context())
	if !ok {
		return
	}
	n, err := inboxStore{w.pool}.unread(r.Context(), u.ID)
	if err != nil || n == 0 {
		return
	}
	for i := range p.Nav {
		if p.Nav[i].Path == "/wallet/inbox" {
			p.Nav[i].Text += " (" + strconv.Itoa(n) + " " + messages.T(p.Lang, web.Plural(p.Lang, n, "inbox.unread")) + ")"
		}
	}
}
