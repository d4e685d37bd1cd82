package visio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Limits of a participant's messages, beyond those of the room (MaxChatRunes...).
const (
	// MaxMessageBytes is the largest message a participant may send: the WebSocket's read
	// limit, which a shared-notes edit (64 KiB at most) fits with its envelope.
	MaxMessageBytes = 64 << 10
	// ReadLimit is the WebSocket's read limit: above MaxMessageBytes by a margin, so that a
	// message a little too large is answered (code CodeTooLarge) on a connection that goes
	// on; only one far beyond what any page sends ends the connection.
	ReadLimit = MaxMessageBytes + 64<<10
	// MaxIDBytes bounds a participant id (server-given: "1", "2"...) named in a message.
	MaxIDBytes = 64
	// MaxTrackBytes bounds a track id a browser names (a UUID, with braces in Firefox).
	MaxTrackBytes = 256
)

// ClientMessage is a message from a participant (docs/visio-signalling.md): its type and
// the fields that type uses; zero fields are left out when it is encoded.
type ClientMessage struct {
	Type     string          `json:"type"`
	Name     string          `json:"name,omitempty"`     // join
	Password string          `json:"password,omitempty"` // join, lock
	To       string          `json:"to,omitempty"`       // chat (private), p2p
	Text     string          `json:"text,omitempty"`     // chat
	ID       string          `json:"id,omitempty"`       // admit, refuse, grant, mute, kick, stats
	Enabled  bool            `json:"enabled,omitempty"`  // lobby, audio-only
	Raised   bool            `json:"raised,omitempty"`   // hand
	Rev      int             `json:"rev,omitempty"`      // notes-edit
	Op       json.RawMessage `json:"op,omitempty"`       // notes-edit: checked by notes.ParseOp
	Signal   json.RawMessage `json:"signal,omitempty"`   // signal, p2p: relayed as it is
	Max      string          `json:"max,omitempty"`      // layer
	Track    string          `json:"track,omitempty"`    // screen
	On       bool            `json:"on,omitempty"`       // screen
	// join: the room's creator makes it end-to-end encrypted (docs/visio-e2ee.md); the key
	// itself never reaches the server.
	E2EE bool `json:"e2ee,omitempty"`
}

// CodeTooLarge is the error code of a message over MaxMessageBytes, or of a chat message
// over MaxChatRunes: the page says the message is too long, and the connection goes on.
const CodeTooLarge = "message-too-large"

// MessageError is a message refused before it reaches the room: Request is its type (as
// far as it could be read), for the answer {"type":"error","code":...,"request":...}; Code
// is "refused" unless it says more (CodeTooLarge).
type MessageError struct {
	Request string
	Reason  string
	Code    string
}

func (e *MessageError) Error() string { return e.Reason }

// DecodeClientMessage reads a participant's message. It refuses, with a reason the page can
// show, what is not one of the protocol's messages or has a field outside its range; what it
// returns holds only the fields its type uses, and re-encodes (EncodeClientMessage) to a
// message that decodes to the same value. A join whose name or password cannot be right is
// refused as the room would refuse it: an *EnterError with its code. Whether the sender may
// do what it asks is for the room to say.
func DecodeClientMessage(b []byte) (ClientMessage, error) {
	if len(b) > MaxMessageBytes {
		var probe struct{ Type string }
		json.Unmarshal(b, &probe) // the type, if it is readable, for the answer
		return ClientMessage{}, &MessageError{Request: shorten(probe.Type), Code: CodeTooLarge,
			Reason: fmt.Sprintf("a message has at most %d bytes", MaxMessageBytes)}
	}
	return decodeClientMessage(b)
}

// decodeClientMessage is DecodeClientMessage without the size limit: a message of nearly
// MaxMessageBytes may re-encode a little longer (U+2028 is escaped), and still be the same.
func decodeClientMessage(b []byte) (ClientMessage, error) {
	// RFC 6455 §5.6: a text frame is UTF-8. Browsers send nothing else; bytes that are not
	// would be replaced, silently, by JSON decoding, or relayed raw to other browsers.
	if !utf8.Valid(b) {
		return ClientMessage{}, &MessageError{Reason: "not UTF-8 text"}
	}
	var in ClientMessage
	if err := json.Unmarshal(b, &in); err != nil {
		reason := "not a JSON object"
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			reason = fmt.Sprintf("%s: want a %s", te.Field, te.Type)
		}
		var probe struct{ Type string }
		json.Unmarshal(b, &probe) // the type, if it is readable, for the answer
		return ClientMessage{}, &MessageError{Request: shorten(probe.Type), Reason: reason}
	}
	m := ClientMessage{Type: in.Type}
	refuse := func(format string, args ...any) (ClientMessage, error) {
		return ClientMessage{}, &MessageError{Request: shorten(in.Type), Reason: fmt.Sprintf(format, args...)}
	}
	id := func(field, v string, required bool) error {
		switch {
		case v == "" && required:
			return fmt.Errorf("%s: %s missing", in.Type, field)
		case len(v) > MaxIDBytes:
			return fmt.Errorf("%s: %s has more than %d bytes", in.Type, field, MaxIDBytes)
		}
		return nil
	}
	// Raw fields are kept compact, so that encoding gives them back unchanged (Unmarshal
	// checked that they are JSON).
	compact := func(raw json.RawMessage) json.RawMessage {
		var c bytes.Buffer
		json.Compact(&c, raw)
		return c.Bytes()
	}
	signal := func() error {
		if len(in.Signal) == 0 || in.Signal[0] != '{' {
			return fmt.Errorf("%s: signal must be a JSON object", in.Type)
		}
		m.Signal = compact(in.Signal)
		return nil
	}
	var err error
	switch in.Type {
	case "join":
		if utf8.RuneCountInString(in.Name) > MaxNameRunes { // empty: the credentials' name
			return ClientMessage{}, &EnterError{CodeBadName, fmt.Sprintf("a display name of 1 to %d characters is needed", MaxNameRunes)}
		}
		if utf8.RuneCountInString(in.Password) > MaxPasswordRunes {
			return ClientMessage{}, &EnterError{CodeWrongPassword, fmt.Sprintf("a password has at most %d characters", MaxPasswordRunes)}
		}
		m.Name, m.Password = in.Name, in.Password
		m.E2EE = in.E2EE // the creator's choice (ws.go honours it for the creator only)
	case "chat":
		if n := utf8.RuneCountInString(in.Text); n > MaxChatRunes {
			return ClientMessage{}, &MessageError{Request: "chat", Code: CodeTooLarge,
				Reason: fmt.Sprintf("a chat message has 1 to %d characters, this one %d", MaxChatRunes, n)}
		}
		if in.Text == "" {
			return refuse("a chat message has 1 to %d characters", MaxChatRunes)
		}
		err = id("to", in.To, false)
		m.Text, m.To = in.Text, in.To
	case "lock":
		if utf8.RuneCountInString(in.Password) > MaxPasswordRunes {
			return refuse("a password has at most %d characters", MaxPasswordRunes)
		}
		m.Password = in.Password
	case "admit", "refuse", "grant", "mute", "kick":
		err = id("id", in.ID, true)
		m.ID = in.ID
	case "stats":
		err = id("id", in.ID, false)
		m.ID = in.ID
	case "lobby", "audio-only":
		m.Enabled = in.Enabled
	case "hand":
		m.Raised = in.Raised
	case "notes-edit":
		switch {
		case in.Rev < 0:
			return refuse("notes-edit: rev is a revision, 0 or more")
		case len(in.Op) == 0 || in.Op[0] != '[':
			return refuse("notes-edit: op must be an array")
		}
		m.Rev, m.Op = in.Rev, compact(in.Op)
	case "signal":
		err = signal()
	case "p2p":
		if err = id("to", in.To, true); err == nil {
			err = signal()
		}
		m.To = in.To
	case "screen":
		if in.Track == "" || len(in.Track) > MaxTrackBytes {
			return refuse("screen: track must be a track id of 1 to %d bytes", MaxTrackBytes)
		}
		m.Track, m.On = in.Track, in.On
	case "layer":
		if in.Max != "q" && in.Max != "h" && in.Max != "f" {
			return refuse("layer: max must be q, h or f")
		}
		m.Max = in.Max
	case "unlock", "end", "invite", "notes-reload", "ping":
	default:
		return refuse("unknown message type %q", shorten(in.Type))
	}
	if err != nil {
		return refuse("%v", err)
	}
	return m, nil
}

// EncodeClientMessage is m as a participant sends it. Raw fields go out as they are (no
// HTML escaping): a decoded message encodes to one that decodes to the same value.
func EncodeClientMessage(m ClientMessage) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// shorten keeps an echoed type short: an answer must not carry back a whole message.
func shorten(s string) string {
	const max = 32
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
