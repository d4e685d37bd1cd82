package sfu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// Peers negotiated once. WHIP (RFC 9725) and WHEP (draft-ietf-wish-whep) set a session up
// with one offer from the client and one answer (RFC 9725 §4.2): there is no channel for the
// SFU's later offers, so such a peer never renegotiates. A WHIP publisher receives nothing;
// a WHEP watcher receives into the transceivers its offer asked for, one "slot" per m-line,
// and the SFU changes what a slot carries — another publisher's track when the one it showed
// ends — without a new offer, keeping its numbering continuous as for a simulcast switch.

// ErrNoMedia is returned by Answer for an offer without a media section the peer can use.
var ErrNoMedia = errors.New("sfu: the offer has no media to exchange")

// JoinPublisher adds a peer that only publishes: the tracks of its offer are forwarded to
// the room as a browser's are; it is offered nothing.
func (r *Room) JoinPublisher(peerID string) (*Peer, error) {
	return r.joinFixed(peerID, 0, 0)
}

// JoinWatcher adds a peer that only receives, into audio and video slots: each slot carries
// one published track of its kind, chosen in the order tracks were published, tracks of the
// publishers already shown first (so that one audio and one video slot show one person);
// when a track ends its slot takes the next one not shown. Video slots carry VP8, audio slots
// Opus: a publisher's H.264 is not shown to watchers.
func (r *Room) JoinWatcher(peerID string, audio, video int) (*Peer, error) {
	if audio+video == 0 {
		return nil, ErrNoMedia
	}
	return r.joinFixed(peerID, audio, video)
}

func (r *Room) joinFixed(peerID string, audio, video int) (*Peer, error) {
	p, err := newPeer(r, peerID, func(Signal) {}) // signals go in the HTTP answer
	if err != nil {
		return nil, err
	}
	p.fixed = &slots{peer: p}
	p.spoke = true // never offers: see Peer.spoke
	for i := range audio + video {
		kind, codec := webrtc.RTPCodecTypeAudio, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
		if i >= audio {
			kind, codec = webrtc.RTPCodecTypeVideo, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
		}
		// The forwarding's own track (downlocal.go), as a subscriber's: packets handed down
		// by reference.
		track := newLocalTrack(codec, fmt.Sprintf("%s-%d", kind, i), "socle")
		// Sending only, added before the offer is applied: Pion pairs each with one of
		// the offer's receiving m-lines of its kind.
		t, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err == nil {
			sl := &slot{kind: kind, mime: strings.ToLower(codec.MimeType), track: track, sender: t.Sender()}
			p.fixed.list = append(p.fixed.list, sl)
			go p.fixed.readRTCP(sl)
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("sfu: watcher's track: %w", err)
		}
	}
	// As Join: in the room, then given what is already published.
	tracks, err := r.admit(peerID, p)
	if err != nil {
		return nil, err
	}
	r.logger.Info("sfu: fixed peer joined", "peer", peerID, "audio", audio, "video", video)
	for _, up := range tracks {
		p.subscribe(up)
	}
	return p, nil
}

// Answer applies the client's offer and returns the SFU's answer, with every candidate of
// the SFU in it: a WHIP or WHEP client may not trickle (RFC 9725 §4.3.2 makes it optional
// for both sides), so the answer must be enough to connect. Once only: a peer of
// JoinPublisher or JoinWatcher is negotiated once.
func (p *Peer) Answer(ctx context.Context, offer string) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if p.pc.RemoteDescription() != nil {
		return "", fmt.Errorf("%w: already negotiated", ErrSignal)
	}
	p.armTimeout()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: offer: %w", ErrSignal, err)
	}
	p.addCandidates()
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: answer: %w", ErrSignal, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: answer: %w", ErrSignal, err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("sfu: gathering candidates: %w", ctx.Err())
	}
	return p.pc.LocalDescription().SDP, nil
}

// Done is closed when the peer has hung up, whoever hung up.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Connected reports whether the peer's media are flowing.
func (p *Peer) Connected() bool {
	return p.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
}

// slots are a fixed peer's sending transceivers: none for a publisher.
type slots struct {
	peer *Peer

	mu   sync.Mutex
	list []*slot
}

// slot is one sending transceiver and the track it carries now.
type slot struct {
	kind   webrtc.RTPCodecType
	mime   string // lower case
	track  *localTrack
	sender *webrtc.RTPSender

	down *downTrack // what it carries, nil: nothing; under slots.mu
	last *downTrack // what it carried before, whose numbering the next one continues
}

func (sl *slot) fits(up *upTrack) bool {
	return sl.kind == up.kind && sl.mime == strings.ToLower(up.codec.MimeType)
}

// offer gives a newly published track a free slot, if one fits. It returns false: the peer
// never negotiates.
func (s *slots) offer(up *upTrack) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.list {
		if sl.down != nil && sl.down.up == up {
			return false
		}
	}
	for _, sl := range s.list {
		if sl.down == nil && sl.fits(up) {
			s.assignLocked(sl, up)
			return false
		}
	}
	return false
}

// assignLocked makes sl carry up; its first packets wait for a keyframe, then follow on the
// numbering of what sl carried before (downTrack.switchTo).
func (s *slots) assignLocked(sl *slot, up *upTrack) {
	p := s.peer
	d := &downTrack{up: up, peer: p, track: sl.track, sender: sl.sender, current: -1, target: -1}
	if prev := sl.last; prev != nil {
		prev.mu.Lock()
		d.started, d.lastSeq, d.lastTS, d.lastAt = prev.started, prev.lastSeq, prev.lastTS, prev.lastAt
		d.havePic, d.lastPic, d.haveTL0, d.lastTL0 = prev.havePic, prev.lastPic, prev.haveTL0, prev.lastTL0
		prev.mu.Unlock()
	}
	p.mu.Lock()
	p.downs[up] = d
	d.paused = p.audioOnly && d.isVideo()
	limit := p.limitLocked()
	p.mu.Unlock()
	d.retarget(limit, time.Now())
	if !up.addDown(d) { // unpublished meanwhile
		p.mu.Lock()
		delete(p.downs, up)
		p.mu.Unlock()
		return
	}
	sl.down = d
	p.logger.Info("sfu: slot shows a track", "publisher", up.pub.id, "track", up.id, "kind", up.kind.String())
}

// withdraw stops showing a track that ended, and gives its slot the next one. It returns
// false: the peer never negotiates.
func (s *slots) withdraw(up *upTrack) bool {
	p := s.peer
	s.mu.Lock()
	var d *downTrack
	for _, sl := range s.list {
		if sl.down != nil && sl.down.up == up {
			d, sl.down, sl.last = sl.down, nil, sl.down
		}
	}
	s.mu.Unlock()
	if d == nil {
		return false
	}
	p.mu.Lock()
	delete(p.downs, up)
	p.mu.Unlock()
	d.close()
	up.removeDown(d)
	if !p.isClosed() {
		s.refill()
	}
	return false
}

// refill gives every free slot a track not shown yet: first those of publishers already
// shown in another slot, then in the order they were published.
func (s *slots) refill() {
	r := s.peer.room
	r.mu.Lock()
	tracks := append([]*upTrack(nil), r.tracks...)
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.list {
		if sl.down != nil {
			continue
		}
		shown := map[*Peer]bool{}
		for _, o := range s.list {
			if o.down != nil {
				shown[o.down.up.pub] = true
			}
		}
		candidates := slices.DeleteFunc(slices.Clone(tracks), func(up *upTrack) bool {
			if !sl.fits(up) || up.pub.isClosed() || up.pub == s.peer {
				return true
			}
			return slices.ContainsFunc(s.list, func(o *slot) bool { return o.down != nil && o.down.up == up })
		})
		slices.SortStableFunc(candidates, func(a, b *upTrack) int {
			switch {
			case shown[a.pub] && !shown[b.pub]:
				return -1
			case shown[b.pub] && !shown[a.pub]:
				return 1
			}
			return 0
		})
		if len(candidates) > 0 {
			s.assignLocked(sl, candidates[0])
		}
	}
}

// readRTCP reads what the watcher says of a slot's stream, as downTrack.readRTCP does for
// the track it carries at the time.
func (s *slots) readRTCP(sl *slot) {
	for {
		pkts, _, err := sl.sender.ReadRTCP()
		if err != nil {
			return
		}
		s.mu.Lock()
		d := sl.down
		s.mu.Unlock()
		if d != nil {
			d.handleRTCP(pkts)
		}
	}
}

// RestartICE restarts ICE with the client's new credentials (an ICE restart, RFC 8445
// §9): the client's current offer, its ufrag and pwd replaced, is applied again, which makes
// Pion restart its agent with new credentials of its own; then the client's candidates are
// added. It returns the SFU's answer, whose credentials and candidates the caller sends back
// (RFC 9725 §4.3.3).
func (p *Peer) RestartICE(ctx context.Context, ufrag, pwd string, candidates []webrtc.ICECandidateInit) (string, error) {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	rd := p.pc.RemoteDescription()
	if rd == nil || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return "", fmt.Errorf("%w: no session to restart", ErrSignal)
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(rd.SDP, "\r\n", "\n"), "\n") {
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			line = "a=ice-ufrag:" + ufrag
		case strings.HasPrefix(line, "a=ice-pwd:"):
			line = "a=ice-pwd:" + pwd
		case strings.HasPrefix(line, "a=candidate:"), line == "a=end-of-candidates":
			continue // the old ones; the new ones come below
		}
		b.WriteString(line + "\r\n")
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: b.String()}); err != nil {
		return "", fmt.Errorf("%w: ice restart: %w", ErrSignal, err)
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: ice restart answer: %w", ErrSignal, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("%w: ice restart answer: %w", ErrSignal, err)
	}
	for _, c := range candidates {
		if err := p.pc.AddICECandidate(c); err != nil {
			return "", fmt.Errorf("%w: candidate: %w", ErrSignal, err)
		}
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("sfu: gathering candidates: %w", ctx.Err())
	}
	return p.pc.LocalDescription().SDP, nil
}
