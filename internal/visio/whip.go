package visio

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"socle/internal/platform/identity"
	"socle/internal/platform/problem"
	"socle/internal/visio/sfu"
	"socle/internal/visio/token"
)

// Standard ingress and egress: WHIP (RFC 9725) publishes into a room, WHEP
// (draft-ietf-wish-whep) watches it, so that OBS, GStreamer or ffmpeg speak to the conference.
//
//	POST    /visio/whip/{room}     an SDP offer that sends: the publisher joins the room
//	POST    /visio/whep/{room}     an SDP offer that receives: a watcher of the room
//	OPTIONS /visio/whip/{room}, /visio/whep/{room}   CORS, and the ICE servers
//	PATCH   /visio/sessions/{id}   trickle ICE (application/trickle-ice-sdpfrag)
//	DELETE  /visio/sessions/{id}   ends the session
//
// The session resource's URL, 128 random bits, is the client's proof on PATCH and DELETE.

// Limits of what a WHIP or WHEP client sends.
const (
	maxSDPBytes   = 64 << 10
	answerTimeout = 10 * time.Second // gathering the SFU's candidates for the answer
	sessionPath   = "/visio/sessions/"
	ingestName    = "WHIP" // a publisher whose credentials carry no name
)

// mediaSession is one WHIP or WHEP session: a peer of the SFU negotiated once.
type mediaSession struct {
	id, etag string
	ufrag    string // the client's ICE username fragment: another one in a PATCH is an ICE restart
	peer     *sfu.Peer
	mu       sync.Mutex // serialises PATCH requests
}

// whipRoutes declares the endpoints; Routes calls it.
func (s *Service) whipRoutes(pages *http.ServeMux) {
	pages.HandleFunc("POST /visio/whip/{path...}", s.whipPost)
	pages.HandleFunc("POST /visio/whep/{path...}", s.whepPost)
	pages.HandleFunc("OPTIONS /visio/whip/{path...}", s.whipOptions)
	pages.HandleFunc("OPTIONS /visio/whep/{path...}", s.whipOptions)
	pages.HandleFunc("PATCH /visio/sessions/{id}", s.sessionPatch)
	pages.HandleFunc("DELETE /visio/sessions/{id}", s.sessionDelete)
	pages.HandleFunc("OPTIONS /visio/sessions/{id}", s.sessionOptions)
	if s.deps.Identity != nil {
		// Callers prove who they are with a bearer token, never with the browser's cookie
		// (whipAuth ignores it): pages of other sites may call, as RFC 9725 §4.1 expects of
		// browser clients (CORS).
		for _, p := range []string{"/visio/whip/", "/visio/whep/", sessionPath} {
			s.deps.Identity.AllowCrossOrigin(p)
		}
	}
}

// cors answers browsers of any origin: the endpoints take bearer tokens, not cookies, so a
// page of another site gains nothing it could not do with the token itself.
func cors(w http.ResponseWriter, methods string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post")
}

// whipOptions answers a CORS preflight and, for a caller with valid credentials, gives the
// ICE servers as Link headers (RFC 9725 §4.6): the relay's credentials are not for anyone.
func (s *Service) whipOptions(w http.ResponseWriter, r *http.Request) {
	cors(w, "POST, OPTIONS")
	w.Header().Set("Accept-Post", "application/sdp")
	if _, ok := bearer(r); ok {
		if name, ok := RoomKey(r.PathValue("path")); ok {
			if _, p := s.whipAuth(r, name, strings.HasPrefix(r.URL.Path, "/visio/whep/")); p == nil {
				s.linkICEServers(w, name)
			}
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// linkICEServers adds the relay, if there is one, as RFC 9725 §4.6 Link headers.
func (s *Service) linkICEServers(w http.ResponseWriter, room string) {
	for _, srv := range s.iceServers(room) {
		for _, u := range srv.URLs {
			w.Header().Add("Link", fmt.Sprintf(`<%s>; rel="ice-server"; username=%q; credential=%q; credential-type="password"`,
				u, srv.Username, srv.Credential))
		}
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	v = strings.TrimSpace(v)
	return v, ok && strings.EqualFold(scheme, "Bearer") && v != ""
}

// whipAuth reads the bearer token of a request (RFC 9725 §4.7): a Jitsi-format room token
// (as ?jwt= on the WebSocket), a personal access token of the platform (resolved by
// identity's middleware), or, when invitations is set (WHEP), a guest's invitation code.
// A session cookie is not enough: these endpoints accept other sites' requests.
func (s *Service) whipAuth(r *http.Request, room string, invitations bool) (who, *problem.Problem) {
	raw, ok := bearer(r)
	if !ok {
		return who{}, problem.New("authentication-required", http.StatusUnauthorized, "Bearer token needed",
			"send Authorization: Bearer with a room token, a personal access token or (to watch) an invitation code").
			With(problem.FieldError{Field: "Authorization", Reason: "missing, or not a Bearer token"})
	}
	if strings.HasPrefix(raw, identity.TokenPrefix) {
		// identity's middleware has refused an unknown one already; without it, none is known.
		if u, ok := identity.UserFrom(r.Context()); ok {
			return who{agent: true, name: u.Name}, nil
		}
		return who{}, problem.New("invalid-token", http.StatusUnauthorized, "Invalid token",
			"personal access tokens are not accepted by this server").
			With(problem.FieldError{Field: "Authorization", Reason: "unknown personal access token"})
	}
	if strings.Count(raw, ".") == 2 { // a JWT: header.claims.signature
		c, err := s.tokens.Verify(raw, room)
		if err != nil {
			typ := "token-invalid"
			for e, name := range map[error]string{token.ErrExpired: "token-expired", token.ErrNotYet: "token-not-yet-valid",
				token.ErrRoom: "token-wrong-room", token.ErrAudience: "token-wrong-application", token.ErrTenant: "token-wrong-tenant"} {
				if errors.Is(err, e) {
					typ = name
				}
			}
			return who{}, problem.New(typ, http.StatusUnauthorized, "Token refused", err.Error()).
				With(problem.FieldError{Field: "Authorization", Reason: err.Error()})
		}
		return who{agent: true, moderator: c.Moderator, name: c.User.Name}, nil
	}
	if invitations {
		if _, err := s.invites.Check(raw, room, time.Now()); err != nil {
			return who{}, problem.New("invitation-refused", http.StatusForbidden, "Invitation refused", err.Error()).
				With(problem.FieldError{Field: "Authorization", Reason: err.Error()})
		}
		return who{guest: true}, nil
	}
	return who{}, problem.New("token-invalid", http.StatusUnauthorized, "Token refused",
		"publishing needs a room token or a personal access token").
		With(problem.FieldError{Field: "Authorization", Reason: "neither a room token (JWT) nor a personal access token"})
}

// readOffer checks what a POST carries: an SDP offer (RFC 9725 §4.2), whose media sections
// must include one that sends (publish) or receives (watch). A bad one changes nothing.
func readOffer(w http.ResponseWriter, r *http.Request, publish bool) (string, *sdp.SessionDescription, *problem.Problem) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/sdp" {
		return "", nil, problem.New("unsupported-media-type", http.StatusUnsupportedMediaType, "An SDP offer is expected", "").
			With(problem.FieldError{Field: "Content-Type", Reason: "must be application/sdp"})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBytes))
	if err != nil {
		return "", nil, problem.New("offer-too-large", http.StatusRequestEntityTooLarge, "Offer too large", "").
			With(problem.FieldError{Field: "body", Reason: fmt.Sprintf("an offer has at most %d bytes", maxSDPBytes)})
	}
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(string(body)); err != nil {
		return "", nil, badOffer("not an SDP session description: " + err.Error())
	}
	audio, video := mediaWanted(&desc, publish)
	if audio+video == 0 {
		if publish {
			return "", nil, badOffer("no audio or video media section that sends (sendonly or sendrecv)")
		}
		return "", nil, badOffer("no audio or video media section that receives (recvonly or sendrecv)")
	}
	return string(body), &desc, nil
}

func badOffer(reason string) *problem.Problem {
	return problem.New("invalid-offer", http.StatusBadRequest, "Invalid SDP offer", reason).
		With(problem.FieldError{Field: "body", Reason: reason})
}

// mediaWanted counts the offer's audio and video sections that send (publish) or receive.
func mediaWanted(desc *sdp.SessionDescription, publish bool) (audio, video int) {
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Port.Value == 0 { // rejected section (RFC 8866 §5.14)
			continue
		}
		dir := "sendrecv"
		for _, a := range m.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				dir = a.Key
			}
		}
		ok := dir == "sendrecv" || (publish && dir == "sendonly") || (!publish && dir == "recvonly")
		switch {
		case ok && m.MediaName.Media == "audio":
			audio++
		case ok && m.MediaName.Media == "video":
			video++
		}
	}
	return audio, video
}

// iceUfrag is the offer's ICE username fragment: session level, or the first section's.
func iceUfrag(desc *sdp.SessionDescription) string {
	if v, ok := desc.Attribute("ice-ufrag"); ok {
		return v
	}
	for _, m := range desc.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok {
			return v
		}
	}
	return ""
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// whipPost serves POST /visio/whip/{room}: the publisher enters the room as a participant
// (named by its token, else "WHIP"), and what it sends is forwarded to everyone as a
// browser's camera and microphone are.
func (s *Service) whipPost(w http.ResponseWriter, r *http.Request) {
	cors(w, "POST, OPTIONS")
	name, ok := RoomKey(r.PathValue("path"))
	if !ok {
		problem.Write(w, r, invalidRoom())
		return
	}
	// Who asks first: an unknown caller learns nothing of how its offer would fare.
	id, p := s.whipAuth(r, name, false)
	if p == nil {
		var offer string
		var desc *sdp.SessionDescription
		if offer, desc, p = readOffer(w, r, true); p == nil {
			p = s.publish(w, r, name, id, offer, desc)
		}
	}
	if p != nil {
		problem.Write(w, r, p)
	}
}

func invalidRoom() *problem.Problem {
	return problem.New("invalid-room", http.StatusBadRequest, "Invalid room name", "").
		With(problem.FieldError{Field: "room", Reason: "1 to 64 letters a-z, digits, - or _, starting with a letter or digit; a tenant's room is tenant/room"})
}

func (s *Service) publish(w http.ResponseWriter, r *http.Request, name string, id who, offer string, desc *sdp.SessionDescription) *problem.Problem {
	room, created := s.room(name, id.agent)
	if room == nil {
		return problem.New("room-not-found", http.StatusNotFound, "No such meeting", "this meeting has not started")
	}
	sess := &mediaSession{id: randomID(), etag: `"` + randomID() + `"`, ufrag: iceUfrag(desc)}
	e := Entrant{Name: cmp.Or(id.name, ingestName), Moderator: id.moderator || created, Ingest: true}
	// Removed by a moderator, or the meeting ended: the session ends with it (below, once
	// the peer exists: this may come while the answer is being made).
	removed := make(chan struct{})
	var once sync.Once
	pid, waiting, err := room.Enter(e, func(m Message) {
		if t := m["type"]; t == "kicked" || t == "ended" {
			once.Do(func() { close(removed) })
		}
	}, func(string, bool) {})
	if err == nil && waiting {
		room.Leave(pid)
		err = &EnterError{CodeRefused, "the room's lobby is on: publishing needs a moderator's token"}
	}
	if err != nil {
		if created {
			room.Leave("")
		}
		code, msg := "error", err.Error()
		var ee *EnterError
		if errors.As(err, &ee) {
			code, msg = ee.Code, ee.Message
		}
		return problem.New("enter-"+code, http.StatusForbidden, "Cannot enter the room", msg)
	}
	peer, err := s.media.Room(room.media).JoinPublisher(pid)
	if err != nil {
		room.Leave(pid)
		return problem.New("media-unavailable", http.StatusServiceUnavailable, "Media unavailable", err.Error())
	}
	sess.peer = peer
	if p := s.answer(w, r, sess, offer); p != nil {
		peer.Close()
		room.Leave(pid)
		return p
	}
	s.participants.Inc()
	go func() {
		select {
		case <-peer.Done():
		case <-removed:
			peer.Close()
		}
		s.whip.Delete(sess.id)
		room.Leave(pid)
		s.participants.Dec()
		s.log.Info("whip: publisher left", "room", room.Name, "id", pid)
	}()
	s.log.Info("whip: publisher joined", "room", room.Name, "id", pid, "name", e.Name)
	return nil
}

// whepPost serves POST /visio/whep/{room}: a watcher of a meeting in progress, invisible to
// its participants, receives published tracks into the sections of its offer (sfu.JoinWatcher
// says which).
func (s *Service) whepPost(w http.ResponseWriter, r *http.Request) {
	cors(w, "POST, OPTIONS")
	name, ok := RoomKey(r.PathValue("path"))
	if !ok {
		problem.Write(w, r, invalidRoom())
		return
	}
	_, p := s.whipAuth(r, name, true)
	if p == nil {
		var offer string
		var desc *sdp.SessionDescription
		if offer, desc, p = readOffer(w, r, false); p == nil {
			p = s.whepWatch(w, r, name, offer, desc)
		}
	}
	if p != nil {
		problem.Write(w, r, p)
	}
}

func (s *Service) whepWatch(w http.ResponseWriter, r *http.Request, name, offer string, desc *sdp.SessionDescription) *problem.Problem {
	room, _ := s.room(name, false)
	if room == nil {
		return problem.New("room-not-found", http.StatusNotFound, "No such meeting",
			"this meeting has not started: there is nothing to watch")
	}
	sess := &mediaSession{id: randomID(), etag: `"` + randomID() + `"`, ufrag: iceUfrag(desc)}
	audio, video := mediaWanted(desc, false)
	peer, err := s.media.Room(room.media).JoinWatcher("whep-"+sess.id, audio, video)
	if err != nil {
		return problem.New("media-unavailable", http.StatusServiceUnavailable, "Media unavailable", err.Error())
	}
	sess.peer = peer
	if p := s.answer(w, r, sess, offer); p != nil {
		peer.Close()
		return p
	}
	go func() {
		<-peer.Done()
		s.whip.Delete(sess.id)
	}()
	s.log.Info("whep: watcher joined", "room", room.Name, "audio", audio, "video", video)
	return nil
}

// answer negotiates the session's peer and writes 201 Created with the answer, the session's
// URL and entity tag, and the ICE servers (RFC 9725 §4.2, §4.6).
func (s *Service) answer(w http.ResponseWriter, r *http.Request, sess *mediaSession, offer string) *problem.Problem {
	ctx, cancel := context.WithTimeout(r.Context(), answerTimeout)
	defer cancel()
	answer, err := sess.peer.Answer(ctx, offer)
	if errors.Is(err, sfu.ErrSignal) {
		return badOffer(err.Error())
	}
	if err != nil {
		return problem.New("media-unavailable", http.StatusServiceUnavailable, "Media unavailable", err.Error())
	}
	s.whip.Store(sess.id, sess)
	h := w.Header()
	h.Set("Location", sessionPath+sess.id)
	h.Set("ETag", sess.etag)
	h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	h.Set("Content-Type", "application/sdp")
	s.linkICEServers(w, sess.id)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, answer)
	return nil
}

func (s *Service) endSession(sess *mediaSession) {
	s.whip.Delete(sess.id)
	sess.peer.Close()
}

func (s *Service) session(w http.ResponseWriter, r *http.Request) (*mediaSession, bool) {
	v, ok := s.whip.Load(r.PathValue("id"))
	if !ok {
		problem.Write(w, r, problem.New("session-not-found", http.StatusNotFound, "No such session",
			"the session has ended, or never existed"))
		return nil, false
	}
	return v.(*mediaSession), true
}

func (s *Service) sessionOptions(w http.ResponseWriter, r *http.Request) {
	cors(w, "PATCH, DELETE, OPTIONS")
	w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	w.WriteHeader(http.StatusNoContent)
}

// sessionDelete ends a session (RFC 9725 §4.2: 200 OK).
func (s *Service) sessionDelete(w http.ResponseWriter, r *http.Request) {
	cors(w, "PATCH, DELETE, OPTIONS")
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	s.endSession(sess)
	w.WriteHeader(http.StatusOK)
}

// sessionPatch applies a trickle ICE fragment (RFC 9725 §4.3.2, RFC 8840): the client's
// candidates are added, 204. A fragment with a new ufrag, or If-Match: *, is an ICE restart
// (§4.3.3): 200 with the SFU's new credentials and candidates, and a new entity tag.
func (s *Service) sessionPatch(w http.ResponseWriter, r *http.Request) {
	cors(w, "PATCH, DELETE, OPTIONS")
	sess, ok := s.session(w, r)
	if !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/trickle-ice-sdpfrag" {
		problem.Write(w, r, problem.New("unsupported-media-type", http.StatusUnsupportedMediaType, "A trickle ICE fragment is expected", "").
			With(problem.FieldError{Field: "Content-Type", Reason: "must be application/trickle-ice-sdpfrag"}))
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	// §4.3.1: the fragment applies to the session the client knows; "*" is for restarts.
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != sess.etag {
		problem.Write(w, r, problem.New("precondition-failed", http.StatusPreconditionFailed, "Entity tag mismatch", "").
			With(problem.FieldError{Field: "If-Match", Reason: "not the session's current entity tag"}))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSDPBytes))
	if err != nil {
		problem.Write(w, r, problem.New("fragment-too-large", http.StatusRequestEntityTooLarge, "Fragment too large", "").
			With(problem.FieldError{Field: "body", Reason: fmt.Sprintf("a fragment has at most %d bytes", maxSDPBytes)}))
		return
	}
	frag, err := ParseSDPFrag(string(body))
	if err != nil {
		problem.Write(w, r, problem.New("invalid-fragment", http.StatusBadRequest, "Invalid trickle ICE fragment", err.Error()).
			With(problem.FieldError{Field: "body", Reason: err.Error()}))
		return
	}
	if (frag.Ufrag != "" && frag.Ufrag != sess.ufrag) || r.Header.Get("If-Match") == "*" {
		s.restartICE(w, r, sess, frag)
		return
	}
	for _, c := range frag.Candidates {
		if err := sess.peer.HandleSignal(sfu.Signal{Type: sfu.SignalCandidate, Candidate: &c}); err != nil {
			problem.Write(w, r, problem.New("invalid-fragment", http.StatusBadRequest, "Candidate refused", err.Error()).
				With(problem.FieldError{Field: "body", Reason: err.Error()}))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// restartICE answers an ICE restart (RFC 9725 §4.3.3): new credentials and candidates of the
// client in, the SFU's new ones out as a fragment, 200 with a new entity tag. sess.mu is held.
func (s *Service) restartICE(w http.ResponseWriter, r *http.Request, sess *mediaSession, frag SDPFrag) {
	if frag.Ufrag == "" || frag.Pwd == "" {
		problem.Write(w, r, problem.New("invalid-fragment", http.StatusBadRequest, "Invalid ICE restart", "").
			With(problem.FieldError{Field: "body", Reason: "an ICE restart carries the new ice-ufrag and ice-pwd"}))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), answerTimeout)
	defer cancel()
	answer, err := sess.peer.RestartICE(ctx, frag.Ufrag, frag.Pwd, frag.Candidates)
	if errors.Is(err, sfu.ErrSignal) {
		problem.Write(w, r, problem.New("invalid-fragment", http.StatusBadRequest, "ICE restart refused", err.Error()).
			With(problem.FieldError{Field: "body", Reason: err.Error()}))
		return
	}
	var out string
	if err == nil {
		out, err = answerFragment(answer)
	}
	if err != nil {
		problem.Write(w, r, problem.New("media-unavailable", http.StatusServiceUnavailable, "Media unavailable", err.Error()))
		return
	}
	sess.ufrag, sess.etag = frag.Ufrag, `"`+randomID()+`"`
	w.Header().Set("Content-Type", "application/trickle-ice-sdpfrag")
	w.Header().Set("ETag", sess.etag)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, out)
}

// answerFragment is the part of the SFU's answer an ICE restart's response carries: its ICE
// credentials, and the first media section (the bundle's, RFC 9725 §4.4.1) with its mid and
// candidates, as in RFC 9725 §4.3.3's example.
func answerFragment(answer string) (string, error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(answer); err != nil {
		return "", fmt.Errorf("the SFU's answer: %w", err)
	}
	if len(d.MediaDescriptions) == 0 {
		return "", errors.New("the SFU's answer has no media section")
	}
	m := d.MediaDescriptions[0]
	ufrag, pwd := iceUfrag(&d), ""
	if v, ok := d.Attribute("ice-pwd"); ok {
		pwd = v
	} else if v, ok := m.Attribute("ice-pwd"); ok {
		pwd = v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=%s %d %s %s\r\n", ufrag, pwd, m.MediaName.Media, m.MediaName.Port.Value,
		strings.Join(m.MediaName.Protos, "/"), strings.Join(m.MediaName.Formats, " "))
	if mid, ok := m.Attribute("mid"); ok {
		fmt.Fprintf(&b, "a=mid:%s\r\n", mid)
	}
	for _, a := range m.Attributes {
		if a.Key == "candidate" {
			fmt.Fprintf(&b, "a=candidate:%s\r\n", a.Value)
		}
	}
	b.WriteString("a=end-of-candidates\r\n")
	return b.String(), nil
}

// SDPFrag is what a trickle ICE fragment (RFC 8840 §9.2, application/trickle-ice-sdpfrag)
// carries that the SFU uses.
type SDPFrag struct {
	Ufrag, Pwd string
	Candidates []webrtc.ICECandidateInit
	End        bool // a=end-of-candidates
}

// ParseSDPFrag reads a trickle ICE fragment: session-level ice-ufrag and ice-pwd, then
// media sections ("m=" and their "a=mid:") each with "a=candidate:" lines. Written by hand:
// pion/sdp reads whole session descriptions only, and a fragment has no v=, o=, s= or t=.
func ParseSDPFrag(text string) (SDPFrag, error) {
	var f SDPFrag
	mline := -1
	mid := ""
	var pending []int // candidates of the current section, waiting for its a=mid
	for n, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return SDPFrag{}, fmt.Errorf("line %d: not an SDP line (type=value)", n+1)
		}
		typ, val := line[0], line[2:]
		switch typ {
		case 'm':
			if len(strings.Fields(val)) < 3 {
				return SDPFrag{}, fmt.Errorf("line %d: m= needs media, port and protocol", n+1)
			}
			mline++
			mid, pending = "", nil
			continue
		case 'a':
		default:
			continue // other lines of a fragment do not concern ICE
		}
		key, v, _ := strings.Cut(val, ":")
		switch key {
		case "ice-ufrag":
			if !validICEChars(v, 4, 256) {
				return SDPFrag{}, fmt.Errorf("line %d: ice-ufrag must be 4 to 256 ice-chars (RFC 8839 §5.4)", n+1)
			}
			if f.Ufrag != "" && f.Ufrag != v {
				return SDPFrag{}, fmt.Errorf("line %d: a second, different ice-ufrag", n+1)
			}
			f.Ufrag = v
		case "ice-pwd":
			if !validICEChars(v, 22, 256) {
				return SDPFrag{}, fmt.Errorf("line %d: ice-pwd must be 22 to 256 ice-chars (RFC 8839 §5.4)", n+1)
			}
			f.Pwd = v
		case "mid":
			if v == "" {
				return SDPFrag{}, fmt.Errorf("line %d: empty mid", n+1)
			}
			mid = v
			for _, i := range pending {
				f.Candidates[i].SDPMid = &mid
			}
			pending = nil
		case "candidate":
			if mline < 0 {
				return SDPFrag{}, fmt.Errorf("line %d: a candidate before any m= line", n+1)
			}
			if len(strings.Fields(v)) < 8 {
				return SDPFrag{}, fmt.Errorf("line %d: a candidate has foundation, component, transport, priority, address, port, typ and type (RFC 8839 §5.1)", n+1)
			}
			idx := uint16(mline)
			c := webrtc.ICECandidateInit{Candidate: "candidate:" + v, SDPMLineIndex: &idx}
			if mid != "" {
				m := mid
				c.SDPMid = &m
			} else {
				pending = append(pending, len(f.Candidates))
			}
			if f.Ufrag != "" {
				u := f.Ufrag
				c.UsernameFragment = &u
			}
			f.Candidates = append(f.Candidates, c)
		case "end-of-candidates":
			f.End = true
		}
	}
	return f, nil
}

// validICEChars: ice-char is ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4).
func validICEChars(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
