package wallet

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"socle/internal/platform/nrn"
	"socle/internal/platform/problem"
	"socle/internal/web"
)

// The official inbox (eBox): administrations publish messages to citizens through the API
// gateway (API "ebox", upstream socle://interconnect/wallet/partners/inbox); the citizen
// reads them at /wallet/inbox. docs/wallet.md, "Inbox (eBox)".

// The bounds of a message.
const (
	inboxMaxAttachments   = 10
	inboxMaxAttachBytes   = 10 << 20 // all of a message's attachments, decoded
	inboxMaxSubject       = 200      // characters
	inboxMaxBody          = 100_000  // characters
	inboxMaxName          = 200      // characters of an attachment's name
	inboxDefaultRetention = 365      // days
	inboxMaxRetention     = 3650
	// inboxMaxRequest bounds the request's body: the attachments in base64 (4/3 of their
	// size) and the text. The gateway's API has the same bound (max_request_bytes).
	inboxMaxRequest = 15 << 20
)

// inboxMediaTypes are the attachments a message may carry: documents a citizen opens
// without risk. Served as downloads with nosniff, none is run by the browser; the binary
// ones must also start as their type does (a "PDF" that is an HTML page is refused).
var inboxMediaTypes = map[string]string{
	"application/pdf": "application/pdf",
	"image/png":       "image/png",
	"image/jpeg":      "image/jpeg",
	"text/plain":      "",
	"text/csv":        "",
	"application/xml": "",
}

// inboxLanguages are the languages of a message: Belgium's three, and English.
var inboxLanguages = map[string]bool{"fr": true, "nl": true, "de": true, "en": true}

// senderMessageID is the sender's own id of a message, in the path: its idempotency key.
var senderMessageID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// inboxRequest is the body of PUT /v1/messages/{senderMessageId}.
type inboxRequest struct {
	Citizen       string `json:"citizen"`
	Subject       string `json:"subject"`
	Body          string `json:"body"`
	Language      string `json:"language"`
	Registered    bool   `json:"registered"`
	RetentionDays *int   `json:"retention_days"`
	Attachments   []struct {
		Name      string `json:"name"`
		MediaType string `json:"media_type"`
		Content   string `json:"content"`
	} `json:"attachments"`
}

// inboxMessage is a message as the wallet keeps it.
type inboxMessage struct {
	NRN           string
	Subject       string
	Body          string
	Language      string
	Registered    bool
	RetentionDays int
	Attachments   []inboxAttachment
	// Digest is the SHA-256 of the content and the attachments' digests: the same request
	// again is the same message; another under the same id is a conflict. The proof of
	// delivery keeps it after the content is purged.
	Digest string
}

type inboxAttachment struct {
	Name      string
	MediaType string
	Size      int
	SHA256    string
	Content   []byte
}

// parseInboxMessage reads and checks a message's body. It returns every fault at once, each
// with its field; the problem is nil when the message is good.
func parseInboxMessage(b []byte) (inboxMessage, *problem.Problem) {
	var req inboxRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		if _, e := dec.Token(); e != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		return inboxMessage{}, jsonProblem(err)
	}
	var m inboxMessage
	var errs []problem.FieldError
	bad := func(field, format string, a ...any) {
		errs = append(errs, problem.FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if req.Citizen == "" {
		bad("citizen", "required: the citizen's national register number")
	} else if id, err := nrn.Parse(req.Citizen); err != nil {
		var e *nrn.Error
		errors.As(err, &e)
		bad("citizen", "%s", e.Reason)
	} else {
		m.NRN = id
	}
	m.Subject = strings.TrimSpace(req.Subject)
	switch {
	case m.Subject == "":
		bad("subject", "required")
	case utf8.RuneCountInString(m.Subject) > inboxMaxSubject:
		bad("subject", "at most %d characters", inboxMaxSubject)
	case strings.ContainsFunc(m.Subject, unicode.IsControl):
		bad("subject", "one line, without control characters")
	}
	m.Body = strings.ReplaceAll(req.Body, "\r\n", "\n")
	switch {
	case strings.TrimSpace(m.Body) == "":
		bad("body", "required: the message's text")
	case utf8.RuneCountInString(m.Body) > inboxMaxBody:
		bad("body", "at most %d characters", inboxMaxBody)
	case strings.ContainsFunc(m.Body, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		bad("body", "plain text: no control characters but line feeds and tabs")
	}
	m.Language = req.Language
	if !inboxLanguages[m.Language] {
		bad("language", "required, one of fr, nl, de, en")
	}
	m.Registered = req.Registered
	m.RetentionDays = inboxDefaultRetention
	if req.RetentionDays != nil {
		m.RetentionDays = *req.RetentionDays
		if m.RetentionDays < 1 || m.RetentionDays > inboxMaxRetention {
			bad("retention_days", "1 to %d days (default %d)", inboxMaxRetention, inboxDefaultRetention)
		}
	}
	if len(req.Attachments) > inboxMaxAttachments {
		bad("attachments", "at most %d attachments, not %d", inboxMaxAttachments, len(req.Attachments))
	}
	total := 0
	for i, a := range req.Attachments {
		field := fmt.Sprintf("attachments[%d].", i)
		at := inboxAttachment{Name: strings.TrimSpace(a.Name)}
		switch {
		case at.Name == "":
			bad(field+"name", "required: the file's name")
		case utf8.RuneCountInString(at.Name) > inboxMaxName:
			bad(field+"name", "at most %d characters", inboxMaxName)
		case at.Name == "." || at.Name == ".." || strings.ContainsAny(at.Name, `/\`) || strings.ContainsFunc(at.Name, unicode.IsControl):
			bad(field+"name", "a file's name, without / \\ or control characters")
		}
		mt, params, err := mime.ParseMediaType(a.MediaType)
		magic, allowed := inboxMediaTypes[mt]
		switch {
		case a.MediaType == "":
			bad(field+"media_type", "required")
		case err != nil:
			bad(field+"media_type", "not a media type (RFC 2045): %s", err)
		case !allowed:
			bad(field+"media_type", "%s is not accepted: application/pdf, image/png, image/jpeg, text/plain, text/csv or application/xml", mt)
		default:
			if cs, ok := params["charset"]; ok && (strings.HasPrefix(mt, "text/") || mt == "application/xml") {
				at.MediaType = mime.FormatMediaType(mt, map[string]string{"charset": strings.ToLower(cs)})
			} else {
				at.MediaType = mt
			}
		}
		content, err := base64.StdEncoding.Strict().DecodeString(a.Content)
		switch {
		case a.Content == "":
			bad(field+"content", "required: the file, in base64")
		case err != nil:
			bad(field+"content", "not base64 (RFC 4648 §4, with padding): %s", err)
		default:
			if magic != "" && !strings.HasPrefix(http.DetectContentType(content), magic) {
				bad(field+"content", "is not %s: its first bytes are those of %s", magic, http.DetectContentType(content))
			}
			at.Content, at.Size = content, len(content)
			sum := sha256.Sum256(content)
			at.SHA256 = hex.EncodeToString(sum[:])
			total += len(content)
		}
		m.Attachments = append(m.Attachments, at)
	}
	if total > inboxMaxAttachBytes {
		return inboxMessage{}, problem.New("too-large", http.StatusRequestEntityTooLarge, "Attachments too large",
			"a message's attachments weigh at most 10 MiB in all").
			With(problem.FieldError{Field: "attachments", Reason: fmt.Sprintf("%d bytes in all, above %d", total, inboxMaxAttachBytes)})
	}
	if len(errs) > 0 {
		return inboxMessage{}, problem.New("invalid-message", http.StatusUnprocessableEntity, "Invalid message",
			"the message was not published; each field at fault says why").With(errs...)
	}
	m.Digest = m.digest()
	return m, nil
}

// digest is the SHA-256 of the message's content, written as canonical JSON (fixed order),
// the attachments by their own SHA-256.
func (m inboxMessage) digest() string {
	type file struct {
		Name      string `json:"name"`
		MediaType string `json:"media_type"`
		Size      int    `json:"size"`
		SHA256    string `json:"sha256"`
	}
	c := struct {
		Citizen       string `json:"citizen"`
		Subject       string `json:"subject"`
		Body          string `json:"body"`
		Language      string `json:"language"`
		Registered    bool   `json:"registered"`
		RetentionDays int    `json:"retention_days"`
		Attachments   []file `json:"attachments"`
	}{m.NRN, m.Subject, m.Body, m.Language, m.Registered, m.RetentionDays, []file{}}
	for _, a := range m.Attachments {
		c.Attachments = append(c.Attachments, file{a.Name, a.MediaType, a.Size, a.SHA256})
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// jsonProblem says what is wrong with a body that is no message's JSON.
func jsonProblem(err error) *problem.Problem {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return problem.New("invalid-message", http.StatusUnprocessableEntity, "Invalid message", "a field has the wrong type").
			With(problem.FieldError{Field: field, Reason: "must be " + jsonType(typ.Type.String()) + ", not " + typ.Value})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return problem.New("invalid-message", http.StatusUnprocessableEntity, "Invalid message", "the body has a field this API does not know").
			With(problem.FieldError{Field: name, Reason: "unknown field: citizen, subject, body, language, registered, retention_days, attachments (name, media_type, content)"})
	case errors.As(err, &syntax):
		return problem.New("malformed-json", http.StatusBadRequest, "Malformed JSON", "the body is not JSON (RFC 8259)").
			With(problem.FieldError{Field: "(body)", Reason: fmt.Sprintf("%s, at byte %d", syntax, syntax.Offset)})
	}
	return problem.New("malformed-json", http.StatusBadRequest, "Malformed JSON", "the body is not one JSON object (RFC 8259)").
		With(problem.FieldError{Field: "(body)", Reason: err.Error()})
}

// jsonType names a Go type as JSON does.
func jsonType(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case goType == "int":
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// inboxStatus is what a sender sees of its message: when it was published, read,
// acknowledged and purged (after the purge, from the proof of delivery).
type inboxStatus struct {
	ID              string     `json:"id"`
	SenderMessageID string     `json:"sender_message_id"`
	Citizen         string     `json:"citizen"`
	Registered      bool       `json:"registered"`
	Digest          string     `json:"digest"`
	PublishedAt     time.Time  `json:"published_at"`
	ReadAt          *time.Time `json:"read_at"`
	AcknowledgedAt  *time.Time `json:"acknowledged_at"`
	PurgedAt        *time.Time `json:"purged_at"`
	ExpiresAt       *time.Time `json:"expires_at"` // when the content will be purged; null once it is
}

// publishMessage serves PUT /v1/messages/{senderMessageId}: 201 for a new message, 200 with
// the message for the same one again, 409 for another under the same id.
func (w *Wallet) publishMessage(rw http.ResponseWriter, r *http.Request, p Partner) {
	id := r.PathValue("id")
	if !senderMessageID.MatchString(id) {
		problem.Write(rw, r, problem.New("invalid-message-id", http.StatusBadRequest, "Invalid message id", "").
			With(problem.FieldError{Field: "senderMessageId", Reason: "1 to 128 letters, digits and . _ : - (not first), your own id of the message"}))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			problem.Write(rw, r, problem.New("unsupported-media-type", http.StatusUnsupportedMediaType, "Unsupported media type", "").
				With(problem.FieldError{Field: "Content-Type", Reason: fmt.Sprintf("%q: the body is application/json", ct)}))
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, inboxMaxRequest))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(rw, r, problem.New("too-large", http.StatusRequestEntityTooLarge, "Request too large", "").
				With(problem.FieldError{Field: "(body)", Reason: fmt.Sprintf("more than %d bytes", inboxMaxRequest)}))
			return
		}
		problem.Write(rw, r, problem.New("unreadable-body", http.StatusBadRequest, "Unreadable body", err.Error()))
		return
	}
	m, prob := parseInboxMessage(body)
	if prob != nil {
		problem.Write(rw, r, prob)
		return
	}
	st, created, err := inboxStore{w.pool}.publish(r.Context(), p, id, m, time.Now())
	switch {
	case errors.Is(err, errInboxConflict):
		prob := problem.New("conflict", http.StatusConflict, "Another message under this id",
			"you published another message under this id: publish a new message under a new id").
			With(problem.FieldError{Field: "senderMessageId", Reason: "taken by the message of digest " + st.Digest + ", not " + m.Digest})
		prob.Extra = map[string]any{"message": st}
		problem.Write(rw, r, prob)
		return
	case err != nil:
		w.logger.Error("wallet: inbox: publish", "error", err, "sender", p.Consumer, "sender_message_id", id)
		problem.Write(rw, r, problem.Internal())
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		// No national number in the log: the message's id says which it is.
		w.logger.Info("wallet: inbox: message published", "sender", p.Consumer, "sender_message_id", id, "id", st.ID,
			"registered", m.Registered, "attachments", len(m.Attachments))
	}
	writeJSON(rw, status, st)
}

// messageStatus serves GET /v1/messages/{senderMessageId}: the sender's own messages only.
func (w *Wallet) messageStatus(rw http.ResponseWriter, r *http.Request, p Partner) {
	st, err := inboxStore{w.pool}.status(r.Context(), p.Consumer, r.PathValue("id"))
	if errors.Is(err, errNoMessage) {
		// Another sender's message is not found either: its existence is not ours to say.
		problem.Write(rw, r, problem.New("not-found", http.StatusNotFound, "No such message",
			"you published no message under this id"))
		return
	}
	if err != nil {
		w.logger.Error("wallet: inbox: status", "error", err)
		problem.Write(rw, r, problem.Internal())
		return
	}
	writeJSON(rw, http.StatusOK, st)
}

// inboxPage is how many statuses a listing gives at most.
const inboxPage = 500

// messageStatuses serves GET /v1/messages?since=: the sender's messages whose status changed
// at or after since (RFC 3339), the oldest change first. When more is true, ask again with
// since the last one's changed_at (a message changed at that instant may come twice).
func (w *Wallet) messageStatuses(rw http.ResponseWriter, r *http.Request, p Partner) {
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			problem.Write(rw, r, problem.New("invalid-query", http.StatusBadRequest, "Invalid query", "").
				With(problem.FieldError{Field: "since", Reason: "an RFC 3339 time, e.g. 2026-12-04T09:30:00Z"}))
			return
		}
		since = t
	}
	list, err := inboxStore{w.pool}.changes(r.Context(), p.Consumer, since, inboxPage+1)
	if err != nil {
		w.logger.Error("wallet: inbox: statuses", "error", err)
		problem.Write(rw, r, problem.Internal())
		return
	}
	more := len(list) > inboxPage
	if more {
		list = list[:inboxPage]
	}
	writeJSON(rw, http.StatusOK, map[string]any{"messages": list, "more": more})
}

// inboxRoutes mounts the senders' API on the interconnect (the gateway calls it) and the
// citizen's pages.
func (w *Wallet) inboxRoutes(ic *http.ServeMux, page func(string, web.HandlerFunc)) {
	const api = partnerPrefix + "inbox/v1/messages"
	ic.Handle("PUT "+api+"/{id}", w.partner(w.publishMessage))
	ic.Handle("GET "+api+"/{id}", w.partner(w.messageStatus))
	ic.Handle("GET "+api, w.partner(w.messageStatuses))
	ic.Handle(partnerPrefix+"inbox/", w.partner(func(rw http.ResponseWriter, r *http.Request, _ Partner) {
		problem.Write(rw, r, problem.New("not-found", http.StatusNotFound, "Not found",
			"the inbox API is PUT and GET /v1/messages/{senderMessageId}, and GET /v1/messages?since="))
	}))
	page("GET /wallet/inbox", w.inbox)
	page("GET /wallet/inbox/{id}", w.inboxMessage)
	page("GET /wallet/inbox/{id}/attachments/{n}", w.inboxAttachment)
	page("POST /wallet/inbox/{id}/acknowledge", w.acknowledge)
}
