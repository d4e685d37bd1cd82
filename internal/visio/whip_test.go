package visio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"socle/internal/visio"
	"socle/internal/visio/client"
)

// whipClient is a WHIP or WHEP client in Go: a Pion PeerConnection on loopback whose one
// offer goes over HTTP (RFC 9725 §4.2), with every candidate in it.
type whipClient struct {
	pc       *webrtc.PeerConnection
	location string
	etag     string
	tracks   chan *webrtc.TrackRemote
}

// post sends the client's offer to url with the bearer token and returns the response,
// applying the answer when it is 201.
func (s *site) post(t *testing.T, pc *webrtc.PeerConnection, url, bearer string) (*http.Response, string) {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return s.send(t, http.MethodPost, url, "application/sdp", bearer, pc.LocalDescription().SDP, nil)
}

func (s *site) send(t *testing.T, method, url, ctype, bearer, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx(t), method, s.srv.URL+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// negotiate posts the offer, wants 201 and applies the answer.
func (s *site) negotiate(t *testing.T, pc *webrtc.PeerConnection, url, bearer string) *whipClient {
	t.Helper()
	resp, body := s.post(t, pc, url, bearer)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Content-Type") != "application/sdp" ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/visio/sessions/") || resp.Header.Get("ETag") == "" {
		t.Fatalf("POST %s: %s %v %s", url, resp.Status, resp.Header, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	return &whipClient{pc: pc, location: resp.Header.Get("Location"), etag: resp.Header.Get("ETag")}
}

// wantProblem checks a refusal: its status, problem type and, if given, the field at fault.
func wantProblem(t *testing.T, what string, resp *http.Response, body string, status int, typ, field string) {
	t.Helper()
	var p struct {
		Type   string `json:"type"`
		Errors []struct{ Field, Reason string }
	}
	json.Unmarshal([]byte(body), &p)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" ||
		p.Type != "urn:socle:problem:"+typ || (field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != field)) {
		t.Errorf("%s: %s %s", what, resp.Status, body)
	}
}

// readPackets reads n packets of a track, within the deadline, and returns how many came.
func readPackets(tr *webrtc.TrackRemote, n int, within time.Duration) int {
	deadline := time.Now().Add(within)
	got := 0
	for got < n {
		tr.SetReadDeadline(deadline)
		if _, _, err := tr.ReadRTP(); err != nil {
			break
		}
		got++
	}
	return got
}

// whipMark ends the WHIP publisher's payloads, one byte longer than pionPeer.publish's.
const whipMark = 0xAA

// sendVP8 writes VP8 keyframe-looking packets on track until the test ends; sent tells the
// sequence number of the last one.
func sendVP8(t *testing.T, track *webrtc.TrackLocalStaticRTP) (sent func() uint16) {
	var last atomic.Uint32
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-c.Done():
				return
			case <-tick.C:
			}
			// VP8 payload descriptor with S set, then a keyframe's first bytes (RFC 7741 §4.2).
			payload := []byte{0x10, 0x00, 0x9d, 0x01, 0x2a, byte(seq), byte(seq >> 8), whipMark}
			track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: payload})
			last.Store(uint32(seq))
		}
	}()
	return func() uint16 { return uint16(last.Load()) }
}

// A Pion publisher speaks WHIP over real HTTP; the room's participant sees it join and gets
// its video through the SFU; a WHEP watcher with the guests' invitation gets it too; DELETE
// ends the session and the publisher leaves the room.
func TestAWHIPPublisherIsSeenInTheRoomAndByAWHEPWatcher(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	invite := strings.TrimPrefix(s.invitation(agent), "invite=")
	pa := newPionPeer(t, agent)

	pub, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	camera, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", "obs")
	if _, err := pub.AddTransceiverFromTrack(camera, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	w := s.negotiate(t, pub, "/visio/whip/salle", token(t, "salle", nil))
	sent := sendVP8(t, camera)

	// The publisher is a participant, named by its token, marked as an ingest.
	var whipID string
	for deadline := time.After(30 * time.Second); whipID == ""; {
		select {
		case m := <-pa.others:
			if m.Type() == "joined" {
				p := m["participant"].(map[string]any)
				if p["name"] != "Agent Martin" || p["ingest"] != true {
					t.Fatalf("joined %v", p)
				}
				whipID = p["id"].(string)
			}
			if m.Type() == "mode" && m["mode"] == "p2p" {
				t.Fatalf("a room with a WHIP publisher went peer to peer: %v", m)
			}
		case <-deadline:
			t.Fatal("the WHIP publisher never joined")
		}
	}
	select {
	case tr := <-pa.tracks:
		if tr.StreamID() != whipID {
			t.Fatalf("track of stream %q, the publisher is %q", tr.StreamID(), whipID)
		}
		if n := readPackets(tr, 20, 10*time.Second); n < 20 {
			t.Fatalf("the participant got %d packets of the WHIP publisher", n)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the participant received no track from the WHIP publisher")
	}

	// A WHEP watcher, with the guests' invitation code as its token.
	watcher, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watcher.Close() })
	tracks := make(chan *webrtc.TrackRemote, 4)
	watcher.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { tracks <- tr })
	watcher.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	watcher.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	we := s.negotiate(t, watcher, "/visio/whep/salle", invite)
	// The watcher's video track is read from now on: what it carries, in order.
	type got struct {
		seq  uint16
		ts   uint32
		whip bool
	}
	received := make(chan got, 4096)
	select {
	case tr := <-tracks:
		if tr.Kind() != webrtc.RTPCodecTypeVideo {
			t.Fatalf("the watcher got a %s track: only video is published", tr.Kind())
		}
		go func() {
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					close(received)
					return
				}
				received <- got{pkt.SequenceNumber, pkt.Timestamp, len(pkt.Payload) == 8 && pkt.Payload[7] == whipMark}
			}
		}()
	case <-time.After(30 * time.Second):
		t.Fatal("the WHEP watcher received no track")
	}
	var last got
	before := time.Now()
	for n := 0; n < 20; n++ {
		select {
		case last = <-received:
			if !last.whip {
				t.Fatalf("the watcher got a packet that is not the WHIP publisher's: %+v", last)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("the WHEP watcher got %d packets", n)
		}
	}
	t.Logf("WHEP watcher: 20 packets in %v", time.Since(before))
	// Trickle: a candidate fragment is taken (204); a stale entity tag is 412; another ufrag
	// is an ICE restart, refused with 422; a broken fragment is 400.
	frag := "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	resp, body := s.send(t, http.MethodPatch, w.location, "application/trickle-ice-sdpfrag", "", frag, http.Header{"If-Match": {`"stale"`}})
	wantProblem(t, "stale etag", resp, body, http.StatusPreconditionFailed, "precondition-failed", "If-Match")
	resp, body = s.send(t, http.MethodPatch, w.location, "application/trickle-ice-sdpfrag", "", "a=candidate:1 1 udp\r\n", nil)
	wantProblem(t, "broken fragment", resp, body, http.StatusBadRequest, "invalid-fragment", "body")
	ufrag := strings.SplitN(strings.SplitN(pub.LocalDescription().SDP, "a=ice-ufrag:", 2)[1], "\r\n", 2)[0]
	resp, body = s.send(t, http.MethodPatch, w.location, "application/trickle-ice-sdpfrag", "",
		strings.Replace(frag, "abcd", ufrag, 1), http.Header{"If-Match": {w.etag}})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("trickle: %s %s", resp.Status, body)
	}

	// An ICE restart (RFC 9725 §4.3.3): the publisher's new credentials and candidates go in a
	// PATCH, the SFU's come back; media flow again, over the new ICE session only (the
	// publisher's agent has new credentials: the old session's checks no longer succeed).
	restart, err := pub.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pub)
	pub.SetLocalDescription(restart)
	<-gathered
	local := pub.LocalDescription().SDP
	var rfrag strings.Builder
	fmt.Fprintf(&rfrag, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n", sdpAttr(local, "ice-ufrag"), sdpAttr(local, "ice-pwd"))
	for _, line := range strings.Split(local, "\r\n") {
		if strings.HasPrefix(line, "a=candidate:") {
			rfrag.WriteString(line + "\r\n")
		}
	}
	resp, body = s.send(t, http.MethodPatch, w.location, "application/trickle-ice-sdpfrag", "", rfrag.String(), http.Header{"If-Match": {"*"}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/trickle-ice-sdpfrag" ||
		resp.Header.Get("ETag") == w.etag || sdpAttr(body, "ice-ufrag") == sdpAttr(pub.RemoteDescription().SDP, "ice-ufrag") {
		t.Fatalf("ICE restart: %s %v %s", resp.Status, resp.Header, body)
	}
	var answer strings.Builder
	for _, line := range strings.Split(pub.RemoteDescription().SDP, "\r\n") {
		switch {
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			line = "a=ice-ufrag:" + sdpAttr(body, "ice-ufrag")
		case strings.HasPrefix(line, "a=ice-pwd:"):
			line = "a=ice-pwd:" + sdpAttr(body, "ice-pwd")
		case strings.HasPrefix(line, "a=candidate:"), line == "a=end-of-candidates", line == "":
			continue
		}
		answer.WriteString(line + "\r\n")
	}
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer.String()}); err != nil {
		t.Fatalf("restart answer: %v", err)
	}
	mid := "0"
	for _, line := range strings.Split(body, "\r\n") {
		if c, ok := strings.CutPrefix(line, "a="); ok && strings.HasPrefix(c, "candidate:") {
			if err := pub.AddICECandidate(webrtc.ICECandidateInit{Candidate: c, SDPMid: &mid}); err != nil {
				t.Fatalf("the SFU's candidate %q: %v", c, err)
			}
		}
	}
	mark := sent() + 20
	for deadline := time.After(30 * time.Second); ; {
		select {
		case g := <-received:
			if !g.whip {
				t.Fatalf("not the WHIP publisher's: %+v", g)
			}
			last = g
			if int16(g.seq-mark) < 0 {
				continue
			}
		case <-deadline:
			t.Fatalf("after the ICE restart the watcher got the publisher's packets up to %d, not %d", last.seq, mark)
		}
		break
	}

	// DELETE ends the publisher's session: it leaves the room.
	if resp, body := s.send(t, http.MethodDelete, w.location, "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %s %s", resp.Status, body)
	}
	for deadline := time.After(30 * time.Second); ; {
		select {
		case m := <-pa.others:
			if m.Type() != "left" || m.String("id") != whipID {
				continue
			}
		case <-deadline:
			t.Fatal("the WHIP publisher did not leave the room")
		}
		break
	}
	if resp, _ := s.send(t, http.MethodDelete, w.location, "", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE again: %s", resp.Status)
	}
	// The watcher's slot takes the next track published, the participant's camera, on the
	// same track, its numbering going on from the WHIP publisher's last packet.
	pa.publish()
	for deadline := time.After(30 * time.Second); ; {
		select {
		case g, ok := <-received:
			if !ok {
				t.Fatal("the watcher's track ended")
			}
			if g.whip {
				last = g
				continue
			}
			if g.seq != last.seq+1 || int32(g.ts-last.ts) <= 0 {
				t.Fatalf("after the switch: seq %d ts %d, before it seq %d ts %d", g.seq, g.ts, last.seq, last.ts)
			}
			t.Logf("switch: seq %d → %d, ts %d → %d", last.seq, g.seq, last.ts, g.ts)
		case <-deadline:
			t.Fatal("the watcher's slot never showed the next publisher")
		}
		break
	}
	if resp, _ := s.send(t, http.MethodDelete, we.location, "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("DELETE the watcher: %s", resp.Status)
	}
}

// Refusals are problem+json naming the field, and change nothing: a bad offer for a room
// that does not exist leaves it not existing.
func TestWHIPRefusalsSayWhyAndChangeNothing(t *testing.T) {
	s := newSite(t)
	good := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"
	recvOnly := strings.Replace(good, "a=sendonly", "a=recvonly", 1)
	tok := token(t, "neuve", nil)
	for name, tc := range map[string]struct {
		url, ctype, bearer, body string
		status                   int
		typ, field               string
	}{
		"not SDP":          {"/visio/whip/neuve", "application/sdp", tok, "hello", 400, "invalid-offer", "body"},
		"nothing to send":  {"/visio/whip/neuve", "application/sdp", tok, recvOnly, 400, "invalid-offer", "body"},
		"not an offer":     {"/visio/whip/neuve", "application/json", tok, good, 415, "unsupported-media-type", "Content-Type"},
		"no token":         {"/visio/whip/neuve", "application/sdp", "", good, 401, "authentication-required", "Authorization"},
		"another room":     {"/visio/whip/neuve", "application/sdp", token(t, "autre", nil), good, 401, "token-wrong-room", "Authorization"},
		"garbage token":    {"/visio/whip/neuve", "application/sdp", "n'importe-quoi", good, 401, "token-invalid", "Authorization"},
		"bad room":         {"/visio/whip/Neu%20ve!", "application/sdp", tok, good, 400, "invalid-room", "room"},
		"watch nothing":    {"/visio/whep/neuve", "application/sdp", tok, good, 400, "invalid-offer", "body"},
		"watch, no room":   {"/visio/whep/neuve", "application/sdp", tok, recvOnly, 404, "room-not-found", ""},
		"bad invitation":   {"/visio/whep/neuve", "application/sdp", "AAAA", recvOnly, 403, "invitation-refused", "Authorization"},
		"unknown resource": {"/visio/sessions/0123", "application/trickle-ice-sdpfrag", "", "", 404, "session-not-found", ""},
	} {
		method := http.MethodPost
		if strings.HasPrefix(tc.url, "/visio/sessions/") {
			method = http.MethodPatch
		}
		resp, body := s.send(t, method, tc.url, tc.ctype, tc.bearer, tc.body, nil)
		wantProblem(t, name, resp, body, tc.status, tc.typ, tc.field)
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" && method == http.MethodPost {
			t.Errorf("%s: no CORS header", name)
		}
	}
	// A CORS preflight: no credentials, no relay given.
	resp, _ := s.send(t, http.MethodOptions, "/visio/whip/neuve", "", "", "", http.Header{"Origin": {"https://ailleurs.example"}})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Accept-Post") != "application/sdp" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") || resp.Header.Get("Link") != "" {
		t.Errorf("OPTIONS: %s %v", resp.Status, resp.Header)
	}
}

func TestSDPFragments(t *testing.T) {
	f, err := visio.ParseSDPFrag("a=ice-ufrag:EsAw\r\na=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"m=video 9 RTP/AVP 0\r\na=candidate:2 1 udp 2122260223 192.0.2.1 61765 typ host\r\na=mid:1\r\na=end-of-candidates\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.Ufrag != "EsAw" || len(f.Candidates) != 2 || !f.End || *f.Candidates[0].SDPMid != "0" || *f.Candidates[1].SDPMid != "1" ||
		*f.Candidates[1].SDPMLineIndex != 1 || !strings.HasPrefix(f.Candidates[0].Candidate, "candidate:1387637174 ") {
		t.Fatalf("%+v", f)
	}
	for name, bad := range map[string]string{
		"no m= line":      "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n",
		"short candidate": "m=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp\r\n",
		"short ufrag":     "a=ice-ufrag:ab\r\n",
		"not SDP":         "hello\r\n",
		"two ufrags":      "a=ice-ufrag:abcd\r\na=ice-ufrag:efgh\r\n",
	} {
		if _, err := visio.ParseSDPFrag(bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// sdpAttr is the value of the first a=name: line of an SDP text.
func sdpAttr(sdp, name string) string {
	_, v, _ := strings.Cut(sdp, "a="+name+":")
	v, _, _ = strings.Cut(v, "\r\n")
	return v
}

// A moderator removing the WHIP publisher ends its session, as the meeting ending does.
func TestAModeratorRemovesAWHIPPublisher(t *testing.T) {
	s := newSite(t)
	agent := s.agent("salle", "Camille")
	pub, err := loopbackAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	camera, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "camera", "obs")
	pub.AddTransceiverFromTrack(camera, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	w := s.negotiate(t, pub, "/visio/whip/salle", token(t, "salle", func(c jwt.MapClaims) { delete(c, "context") }))
	joined := want(t, agent, "joined")["participant"].(map[string]any)
	if joined["name"] != "WHIP" {
		t.Fatalf("a publisher whose token has no name: %v", joined)
	}
	agent.Send(ctx(t), client.Message{"type": "kick", "id": joined["id"]})
	if m := want(t, agent, "left"); m.String("id") != joined["id"] {
		t.Fatalf("left %v", m)
	}
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.After(30 * time.Second); ; {
		// A PATCH, not a DELETE, which would end the session itself: 404 once it is gone.
		if resp, _ := s.send(t, http.MethodPatch, w.location, "", "", "", nil); resp.StatusCode == http.StatusNotFound {
			break
		}
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatal("the removed publisher's session is still there")
		}
	}
}
