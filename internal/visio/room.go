package visio

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"socle/internal/visio/notes"
)

// Limits of what people send.
const (
	MaxChatRunes     = 4000
	MaxNameRunes     = 80
	MaxParticipants  = 200
	MaxPasswordRunes = 128
	chatHistory      = 500 // messages a latecomer gets
)

// Participant is one person in a room, as others see them.
type Participant struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Moderator bool   `json:"moderator"`
	Guest     bool   `json:"guest"`
	Hand      bool   `json:"hand,omitempty"`
	// Reconnecting: their connection dropped; they are waited for (resume.go).
	Reconnecting bool `json:"reconnecting,omitempty"`
	// Ingest: a WHIP publisher (whip.go), whose media only go through the SFU.
	Ingest bool `json:"ingest,omitempty"`
}

// ChatMessage is a chat line; To is set on private messages.
type ChatMessage struct {
	From string    `json:"from"`
	Name string    `json:"name"`
	To   string    `json:"to,omitempty"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// member is a participant and how to reach them.
type member struct {
	Participant
	send  func(Message) // never blocks: the transport queues or drops the connection
	notes *notes.Peer
}

// knocker is a guest waiting in the lobby.
type knocker struct {
	id, name string
	entrant  Entrant
	send     func(Message)
	admit    func(bool)
}

// Room is one conference: its people, its lock, its lobby and its chat. Everything a room
// holds lives in memory and is gone when the meeting ends (seed 003: the shared notes and
// the chat are destroyed at the end of the session).
type Room struct {
	Name    string
	Created time.Time
	// media names the meeting's room in the SFU: one per meeting, so that a meeting ending
	// and another starting at once under the same name never share media.
	media string

	mu       sync.Mutex
	members  map[string]*member
	order    []string // join order, for stable lists
	lobby    map[string]*knocker
	password string // empty: not locked
	lobbyOn  bool
	chat     []ChatMessage
	ended    bool
	nextID   int
	onEmpty  func()

	notes               *notes.Doc        // the shared notes, destroyed with the meeting
	screens             map[string]string // participant → track id of the screen they share
	p2p                 bool              // two people: their media go peer to peer
	usageID             int64             // its statistics row
	peak, joins, guests int
	e2ee                bool // end-to-end encrypted media: the welcome says so (docs/visio-e2ee.md)
}

// counts are the room's statistics: most participants at once, entries, guests' entries.
func (r *Room) counts() (peak, joins, guests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak, r.joins, r.guests
}

func newRoom(name string, onEmpty func()) *Room {
	now := time.Now()
	return &Room{Name: name, Created: now, media: name + "#" + strconv.FormatInt(now.UnixNano(), 36), members: map[string]*member{}, lobby: map[string]*knocker{}, onEmpty: onEmpty,
		notes: notes.NewDoc(), screens: map[string]string{}}
}

// Entrant is who asks to enter.
type Entrant struct {
	Name      string
	Moderator bool // an agent whose token or session makes them moderator, or the creator
	Guest     bool // entered by an invitation
	Password  string
	Welcome   Message // more for the welcome message (the relays the browser may use)
	E2EE      bool    // the creator makes the room end-to-end encrypted
	Ingest    bool    // a WHIP publisher: never peer to peer
}

// Message is what the server sends to a participant: Type and the fields it uses.
type Message map[string]any

// Errors of entering a room, as codes clients show in their language.
const (
	CodeWrongPassword = "wrong-password"
	CodeRoomFull      = "room-full"
	CodeEnded         = "ended"
	CodeRefused       = "refused"
	CodeBadName       = "bad-name"
)

// EnterError is a refusal to enter, with its code.
type EnterError struct{ Code, Message string }

func (e *EnterError) Error() string { return e.Code + ": " + e.Message }

func checkName(n string) error {
	if n == "" || utf8.RuneCountInString(n) > MaxNameRunes || !utf8.ValidString(n) {
		return &EnterError{CodeBadName, fmt.Sprintf("a display name of 1 to %d characters is needed", MaxNameRunes)}
	}
	return nil
}

// Enter lets e in, or puts a guest in the lobby (waiting is true: admit is called later with
// the moderators' decision). Moderators skip the lock's password and the lobby.
func (r *Room) Enter(e Entrant, send func(Message), admitted func(id string, ok bool)) (id string, waiting bool, err error) {
	if err := checkName(e.Name); err != nil {
		return "", false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return "", false, &EnterError{CodeEnded, "the meeting has ended"}
	}
	if len(r.members)+len(r.lobby) >= MaxParticipants {
		return "", false, &EnterError{CodeRoomFull, fmt.Sprintf("the room holds at most %d people", MaxParticipants)}
	}
	if r.password != "" && !e.Moderator && subtle.ConstantTimeCompare([]byte(e.Password), []byte(r.password)) != 1 {
		return "", false, &EnterError{CodeWrongPassword, "the room is locked: the password is wrong"}
	}
	r.nextID++
	id = strconv.Itoa(r.nextID)
	if r.lobbyOn && !e.Moderator {
		k := &knocker{id: id, name: e.Name, entrant: e, send: send}
		k.admit = func(ok bool) { admitted(id, ok) }
		r.lobby[id] = k
		r.toModerators(Message{"type": "knock", "id": id, "name": e.Name})
		return id, true, nil
	}
	r.add(id, e, send)
	return id, false, nil
}

// add makes id a member and tells everyone; r.mu is held.
func (r *Room) add(id string, e Entrant, send func(Message)) {
	m := &member{Participant: Participant{ID: id, Name: e.Name, Moderator: e.Moderator, Guest: e.Guest, Ingest: e.Ingest}, send: send}
	// Edits are broadcast under r.mu: joining here, the newcomer's snapshot is exactly the
	// text before the next edit it will receive.
	var text string
	var rev int
	m.notes, text, rev = r.notes.Join()
	r.members[id] = m
	r.order = append(r.order, id)
	r.joins++
	if e.Guest {
		r.guests++
	}
	r.peak = max(r.peak, len(r.members))
	if e.E2EE {
		r.e2ee = true
	}
	chat := []ChatMessage{}
	for _, c := range r.chat {
		if c.To == "" || c.To == id || c.From == id {
			chat = append(chat, c)
		}
	}
	welcome := Message{"type": "welcome", "you": m.Participant, "room": r.Name, "participants": r.list(),
		"locked": r.password != "", "lobby": r.lobbyOn, "chat": chat, "notes": Message{"text": text, "rev": rev}, "screens": maps.Clone(r.screens), "e2ee": r.e2ee}
	maps.Copy(welcome, e.Welcome)
	send(welcome)
	r.broadcast(Message{"type": "joined", "participant": m.Participant}, id)
	r.settleMode()
}

// Admit decides on a guest waiting in the lobby; only a moderator may.
func (r *Room) Admit(by, id string, ok bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mustModerate(by); err != nil {
		return err
	}
	k, found := r.lobby[id]
	if !found {
		return fmt.Errorf("nobody with id %s is waiting", id)
	}
	delete(r.lobby, id)
	r.toModerators(Message{"type": "knock-handled", "id": id, "admitted": ok})
	if ok {
		r.add(id, k.entrant, k.send)
	} else {
		k.send(Message{"type": "refused"})
	}
	go k.admit(ok)
	return nil
}

// Leave removes a participant (or a knocker); the last one out ends nothing, but an empty
// room is forgotten, with its chat.
func (r *Room) Leave(id string) {
	r.mu.Lock()
	delete(r.lobby, id)
	if m, ok := r.members[id]; ok {
		m.notes.Leave()
		delete(r.members, id)
		delete(r.screens, id)
		r.order = slices.DeleteFunc(r.order, func(s string) bool { return s == id })
		r.broadcast(Message{"type": "left", "id": id}, "")
		r.settleMode()
	}
	empty := len(r.members) == 0 && len(r.lobby) == 0
	if empty {
		r.ended = true
		r.chat = nil
	}
	r.mu.Unlock()
	if empty && r.onEmpty != nil {
		r.onEmpty()
	}
}

// Chat sends text to everyone, or privately to one participant.
func (r *Room) Chat(from, to, text string) error {
	if text == "" || utf8.RuneCountInString(text) > MaxChatRunes || !utf8.ValidString(text) {
		return fmt.Errorf("a chat message has 1 to %d characters", MaxChatRunes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.members[from]
	if !ok {
		return fmt.Errorf("not in the room")
	}
	c := ChatMessage{From: from, Name: m.Name, To: to, Text: text, At: time.Now().UTC()}
	if to != "" {
		dest, ok := r.members[to]
		if !ok {
			return fmt.Errorf("nobody with id %s is in the room", to)
		}
		dest.send(Message{"type": "chat", "message": c})
		m.send(Message{"type": "chat", "message": c})
	} else {
		r.broadcast(Message{"type": "chat", "message": c}, "")
	}
	r.chat = append(r.chat, c)
	if len(r.chat) > chatHistory {
		r.chat = r.chat[len(r.chat)-chatHistory:]
	}
	return nil
}

// Lock sets the room's password ("" unlocks); only a moderator may.
func (r *Room) Lock(by, password string) error {
	if utf8.RuneCountInString(password) > MaxPasswordRunes {
		return fmt.Errorf("a password has at most %d characters", MaxPasswordRunes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mustModerate(by); err != nil {
		return err
	}
	r.password = password
	r.broadcast(Message{"type": "locked", "locked": password != ""}, "")
	return nil
}

// SetLobby turns the lobby on or off; only a moderator may. Turning it off admits everyone
// waiting.
func (r *Room) SetLobby(by string, on bool) error {
	r.mu.Lock()
	if err := r.mustModerate(by); err != nil {
		r.mu.Unlock()
		return err
	}
	r.lobbyOn = on
	r.broadcast(Message{"type": "lobby", "enabled": on}, "")
	var waiting []string
	if !on {
		for id := range r.lobby {
			waiting = append(waiting, id)
		}
	}
	r.mu.Unlock()
	for _, id := range waiting {
		r.Admit(by, id, true)
	}
	return nil
}

// Grant makes a participant moderator; only a moderator may.
func (r *Room) Grant(by, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mustModerate(by); err != nil {
		return err
	}
	m, ok := r.members[id]
	if !ok {
		return fmt.Errorf("nobody with id %s is in the room", id)
	}
	m.Moderator = true
	r.broadcast(Message{"type": "moderator", "id": id}, "")
	return nil
}

// Mute asks one participant (or everyone but the moderator asking, id "all") to mute
// their microphone; only a moderator may.
func (r *Room) Mute(by, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.mustModerate(by); err != nil {
		return err
	}
	if id == "all" {
		r.broadcast(Message{"type": "muted", "by": by}, by)
		return nil
	}
	m, ok := r.members[id]
	if !ok {
		return fmt.Errorf("nobody with id %s is in the room", id)
	}
	m.send(Message{"type": "muted", "by": by})
	return nil
}

// Kick removes a participant; only a moderator may. kicked is told, then the transport
// closes their connection.
func (r *Room) Kick(by, id string) (func(), error) {
	r.mu.Lock()
	if err := r.mustModerate(by); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	m, ok := r.members[id]
	if !ok {
		r.mu.Unlock()
		return nil, fmt.Errorf("nobody with id %s is in the room", id)
	}
	m.send(Message{"type": "kicked", "by": by})
	r.mu.Unlock()
	return func() { r.Leave(id) }, nil
}

// Hand raises or lowers a participant's hand.
func (r *Room) Hand(id string, raised bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.members[id]; ok {
		m.Hand = raised
		r.broadcast(Message{"type": "hand", "id": id, "raised": raised}, "")
	}
}

// End ends the meeting for everyone; only a moderator may. The chat is destroyed.
func (r *Room) End(by string) error {
	r.mu.Lock()
	if err := r.mustModerate(by); err != nil {
		r.mu.Unlock()
		return err
	}
	r.endLocked(by)
	return nil
}

// shutdown ends the meeting because the server stops.
func (r *Room) shutdown() {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.endLocked("")
}

// endLocked ends the meeting; r.mu is held and released.
func (r *Room) endLocked(by string) {
	r.ended = true
	r.broadcast(Message{"type": "ended", "by": by}, "")
	for _, k := range r.lobby {
		k.send(Message{"type": "ended", "by": by})
	}
	r.members, r.lobby, r.order, r.chat = map[string]*member{}, map[string]*knocker{}, nil, nil
	r.notes.Destroy()
	r.mu.Unlock()
	if r.onEmpty != nil {
		r.onEmpty()
	}
}

// NotesEdit applies a participant's edit of the shared notes, made at revision rev: the
// author gets its acknowledgement, the others the edit as transformed. A refused edit is
// answered with the current text, which the author reloads.
func (r *Room) NotesEdit(from string, rev int, raw []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.members[from]
	if !ok {
		return
	}
	op, err := notes.ParseOp(raw)
	var applied notes.Op
	var now int
	if err == nil {
		applied, now, err = m.notes.Submit(rev, op)
	}
	if err != nil {
		text, at := m.notes.Snapshot()
		m.send(Message{"type": "notes-reload", "text": text, "rev": at, "message": err.Error()})
		return
	}
	m.send(Message{"type": "notes-ack", "rev": now})
	r.broadcast(Message{"type": "notes-edit", "rev": now, "op": applied}, from)
}

// settleMode switches media between peer to peer (exactly two participants: no server in
// the media path, the least delay) and the SFU (three or more, or one alone), and tells
// everyone; r.mu is held.
func (r *Room) settleMode() {
	p2p := len(r.members) == 2
	for _, m := range r.members {
		p2p = p2p && !m.Ingest // a WHIP publisher speaks to the SFU only
	}
	if p2p == r.p2p {
		return
	}
	r.p2p = p2p
	if p2p {
		r.broadcast(Message{"type": "mode", "mode": "p2p", "peers": slices.Clone(r.order)}, "")
	} else {
		r.broadcast(Message{"type": "mode", "mode": "sfu"}, "")
	}
}

// P2P relays a media signal between the two participants of a peer-to-peer meeting.
func (r *Room) P2P(from, to string, signal json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	dest, ok := r.members[to]
	if !r.p2p || !ok || to == from {
		return fmt.Errorf("no peer-to-peer call with %s", to)
	}
	dest.send(Message{"type": "p2p", "from": from, "signal": signal})
	return nil
}

// Screen tells everyone that a participant shares their screen as track (on), or stopped;
// pages show it large.
func (r *Room) Screen(id, track string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.members[id]; !ok {
		return
	}
	if on {
		r.screens[id] = track
	} else {
		delete(r.screens, id)
	}
	r.broadcast(Message{"type": "screen", "id": id, "track": track, "on": on}, "")
}

// NotesReload sends a participant the current notes.
func (r *Room) NotesReload(from string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.members[from]; ok {
		text, rev := m.notes.Snapshot()
		m.send(Message{"type": "notes-reload", "text": text, "rev": rev})
	}
}

// Ended reports whether the meeting is over.
func (r *Room) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// Size is the number of participants in the room (the lobby not counted).
func (r *Room) Size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// IsModerator reports whether a participant is a moderator.
func (r *Room) IsModerator(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mustModerate(id) == nil
}

func (r *Room) mustModerate(id string) error {
	if m, ok := r.members[id]; !ok || !m.Moderator {
		return fmt.Errorf("only a moderator may do this")
	}
	return nil
}

func (r *Room) list() []Participant {
	out := make([]Participant, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.members[id].Participant)
	}
	return out
}

func (r *Room) broadcast(m Message, except string) {
	for id, mem := range r.members {
		if id != except {
			mem.send(m)
		}
	}
}

func (r *Room) toModerators(m Message) {
	for _, mem := range r.members {
		if mem.Moderator {
			mem.send(m)
		}
	}
}

// SetReconnecting marks a participant whose connection dropped (on), or came back, and
// tells the others, whose lists show it.
func (r *Room) SetReconnecting(id string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.members[id]
	if !ok || m.Reconnecting == on {
		return
	}
	m.Reconnecting = on
	r.broadcast(Message{"type": "reconnecting", "id": id, "on": on}, id)
}

// Has reports whether id is a participant of the room.
func (r *Room) Has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.members[id]
	return ok
}

// Participants lists the room's participants, in the order they came.
func (r *Room) Participants() []Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list()
}
