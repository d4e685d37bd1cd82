package sfu

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// Signal is a signalling message between the SFU and a participant.
type Signal struct {
	Type      string                   `json:"type"` // "offer", "answer" or "candidate"
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"` // nil with "candidate": no more
}

// Signal types.
const (
	SignalOffer     = "offer"
	SignalAnswer    = "answer"
	SignalCandidate = "candidate"
)

const (
	connectTimeout = 30 * time.Second // from the first description to a connection
	failedGrace    = 30 * time.Second // from ICE failing to the participant restarting it
	tick           = 500 * time.Millisecond
	// defaultFirstOfferWait is how long the SFU waits for a participant's first offer before
	// making its own: see Peer.spoke.
	defaultFirstOfferWait = 3 * time.Second
)

// Errors HandleSignal may wrap.
var (
	ErrSignal          = errors.New("sfu: bad signal")
	ErrUnexpectedReply = errors.New("sfu: answer without an offer")
	ErrGlare           = errors.New("sfu: offer crossed the SFU's: answer it, then offer again")
)

// Peer is a participant's connection to the SFU.
type Peer struct {
	id     string
	room   *Room
	logger *slog.Logger
	pc     *webrtc.PeerConnection
	out    *outbox

	estimator atomic.Pointer[cc.BandwidthEstimator]
	remb      atomic.Uint64
	mids      atomic.Int64

	negMu    sync.Mutex // serialises signalling
	offering bool       // an offer of ours awaits its answer
	again    bool       // offer again once the current exchange is over
	// spoke: the participant's first offer was answered. Until then the SFU makes no offer
	// of its own (for firstOfferWait at most): the first offer fixes the ids of the RTP
	// header extensions for the whole BUNDLE group, and an offer of Pion's, with its own ids,
	// applied by a browser before it offered its camera left it unable to offer at all
	// (Chrome: "A BUNDLE group contains a codec collision for header extension id=1") — its
	// camera and microphone never reached anyone. The participant speaking first, Pion
	// answers with the browser's ids and keeps them. (Config.FirstOfferWait bounds the wait.)
	spoke      bool
	joined     time.Time
	candidates []webrtc.ICECandidateInit
	timeout    sync.Once

	mu        sync.Mutex
	downs     map[*upTrack]*downTrack
	ups       []*upTrack
	audioOnly bool
	maxLayer  int
	budget    budget

	closeOnce sync.Once
	done      chan struct{}

	// fixed: a WHIP publisher or WHEP watcher (fixed.go), whose media never renegotiate.
	fixed *slots
}

func newPeer(r *Room, id string, send func(Signal)) (*Peer, error) {
	p := &Peer{
		id: id, room: r, logger: r.logger.With("peer", id), out: newOutbox(send),
		downs: make(map[*upTrack]*downTrack), maxLayer: layerF, done: make(chan struct{}), joined: time.Now(),
	}
	api, err := r.sfu.newAPI(func(e cc.BandwidthEstimator) { p.estimator.Store(&e) })
	if err != nil {
		return nil, err
	}
	p.pc, err = api.NewPeerConnection(webrtc.Configuration{ICEServers: r.sfu.cfg.ICEServers})
	if err != nil {
		return nil, fmt.Errorf("sfu: peer connection: %w", err)
	}
	p.pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			init := c.ToJSON()
			p.out.push(Signal{Type: SignalCandidate, Candidate: &init})
		}
	})
	p.pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		go r.publish(p, track, receiver)
	})
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.logger.Debug("sfu: connection state", "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateClosed:
			go p.Close()
		case webrtc.PeerConnectionStateFailed:
			// A network cut fails ICE (after Pion's 25 s without a packet), but the
			// participant's page restarts ICE when it is back (RFC 8445 §9, JSEP
			// restartIce: a re-offer with new credentials, which SetRemoteDescription
			// applies to this connection): it is given failedGrace to do so.
			time.AfterFunc(failedGrace, func() {
				if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
					p.logger.Info("sfu: ICE failed and was not restarted", "within", failedGrace)
					p.Close()
				}
			})
		}
	})
	go p.run()
	return p, nil
}

// ID returns the participant's id in the room.
func (p *Peer) ID() string { return p.id }

// HandleSignal applies a participant's offer, answer or ICE candidate.
func (p *Peer) HandleSignal(sig Signal) error {
	switch sig.Type {
	case SignalOffer:
		return p.handleOffer(sig.SDP)
	case SignalAnswer:
		return p.handleAnswer(sig.SDP)
	case SignalCandidate:
		if sig.Candidate == nil {
			return nil
		}
		p.negMu.Lock()
		defer p.negMu.Unlock()
		if p.pc.RemoteDescription() == nil {
			p.candidates = append(p.candidates, *sig.Candidate)
			return nil
		}
		if err := p.pc.AddICECandidate(*sig.Candidate); err != nil {
			return fmt.Errorf("sfu: candidate: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: type %q", ErrSignal, sig.Type)
}

// handleOffer answers an offer, unless it crosses an offer of the SFU's. Pion cannot roll
// an offer back, so the SFU is the impolite side of perfect negotiation: its offer stands,
// the crossing one is refused with ErrGlare, and the participant answers the SFU's offer
// and then offers again (a browser does both by itself when polite).
func (p *Peer) handleOffer(sdp string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	p.armTimeout()
	if p.offering || p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.logger.Debug("sfu: offers crossed, refusing the peer's")
		return ErrGlare
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: offer: %w", ErrSignal, err)
	}
	p.addCandidates()
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("sfu: answer: %w", err)
	}
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("sfu: answer: %w", err)
	}
	p.out.push(Signal{Type: SignalAnswer, SDP: answer.SDP})
	p.spoke = true
	if p.again {
		p.offerLocked()
	}
	return nil
}

func (p *Peer) handleAnswer(sdp string) error {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	if !p.offering {
		return ErrUnexpectedReply
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return fmt.Errorf("%w: answer: %w", ErrSignal, err)
	}
	p.offering = false
	p.addCandidates()
	if p.again {
		p.offerLocked()
	}
	return nil
}

func (p *Peer) addCandidates() {
	for _, c := range p.candidates {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.logger.Debug("sfu: early candidate", "error", err)
		}
	}
	p.candidates = nil
}

// negotiate sends an offer describing the tracks the peer now has, or notes that one is
// due when the current exchange is over.
func (p *Peer) negotiate() {
	p.negMu.Lock()
	defer p.negMu.Unlock()
	p.offerLocked()
}

func (p *Peer) offerLocked() {
	if p.isClosed() {
		return
	}
	if p.offering || p.pc.SignalingState() != webrtc.SignalingStateStable {
		p.again = true
		return
	}
	if wait := cmp.Or(p.room.sfu.cfg.FirstOfferWait, defaultFirstOfferWait) - time.Since(p.joined); !p.spoke && wait > 0 {
		if !p.again { // a participant that sends nothing may never offer
			time.AfterFunc(wait, func() {
				p.negMu.Lock()
				defer p.negMu.Unlock()
				if p.again {
					p.offerLocked()
				}
			})
		}
		p.again = true
		return
	}
	p.again = false
	p.armTimeout()
	offer, err := p.pc.CreateOffer(nil)
	if err == nil {
		err = p.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.logger.Warn("sfu: offer", "error", err)
		return
	}
	p.offering = true
	p.out.push(Signal{Type: SignalOffer, SDP: offer.SDP})
}

// armTimeout hangs up on a peer that has not connected some time after negotiating began.
func (p *Peer) armTimeout() {
	p.timeout.Do(func() {
		time.AfterFunc(connectTimeout, func() {
			if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
				p.logger.Info("sfu: peer did not connect", "after", connectTimeout)
				p.Close()
			}
		})
	})
}

// subscribe starts forwarding up to this peer; the caller negotiates.
func (p *Peer) subscribe(up *upTrack) bool {
	if p.isClosed() {
		return false
	}
	if p.fixed != nil {
		return p.fixed.offer(up)
	}
	track := newLocalTrack(up.codec, up.id, up.pub.id)
	// A transceiver of its own, sending only: AddTrack would reuse one the participant made
	// to receive (a participant without camera offers receive-only audio and video first,
	// see Peer.spoke), and the page would have to tell, on that transceiver, which
	// participant's stream it later carries; on a new one, the track event says it.
	t, err := p.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.logger.Warn("sfu: add track", "track", up.id, "error", err)
		return false
	}
	sender := t.Sender()
	p.nameMid(sender)
	d := &downTrack{up: up, peer: p, track: track, sender: sender, current: -1, target: -1}
	p.mu.Lock()
	p.downs[up] = d
	d.paused = p.audioOnly && d.isVideo()
	limit := p.limitLocked()
	p.mu.Unlock()
	d.retarget(limit, time.Now())
	if !up.addDown(d) {
		p.unsubscribe(up)
		return false
	}
	go d.readRTCP()
	return true
}

// nameMid gives a new transceiver of the SFU's a mid of its own, "s1", "s2"...: the mids a
// participant gives its transceivers are numbers, so that an offer of the SFU's and one of
// the participant's never name different media alike, even when they cross.
func (p *Peer) nameMid(sender *webrtc.RTPSender) {
	for _, t := range p.pc.GetTransceivers() {
		if t.Sender() == sender && t.Mid() == "" {
			_ = t.SetMid(fmt.Sprintf("s%d", p.mids.Add(1)))
		}
	}
}

// unsubscribe stops forwarding up to this peer; the caller negotiates.
func (p *Peer) unsubscribe(up *upTrack) bool {
	if p.fixed != nil {
		return p.fixed.withdraw(up)
	}
	p.mu.Lock()
	d, ok := p.downs[up]
	delete(p.downs, up)
	p.mu.Unlock()
	if !ok {
		return false
	}
	d.close()
	up.removeDown(d)
	if err := p.pc.RemoveTrack(d.sender); err != nil && !p.isClosed() {
		p.logger.Debug("sfu: remove track", "error", err)
	}
	return true
}

// SetAudioOnly stops forwarding video to this peer, or resumes it.
func (p *Peer) SetAudioOnly(on bool) {
	p.mu.Lock()
	p.audioOnly = on
	downs := p.downList()
	p.mu.Unlock()
	for _, d := range downs {
		if d.isVideo() {
			d.setPaused(on)
		}
	}
}

// SetMaxLayer caps the simulcast layer this peer receives: "q", "h" or "f". Other values
// are ignored.
func (p *Peer) SetMaxLayer(rid string) {
	index, ok := layerOf(rid)
	if !ok || rid == "" {
		return
	}
	p.mu.Lock()
	p.maxLayer = index
	p.mu.Unlock()
	p.retarget(time.Now())
}

// limitLocked is the highest layer the peer may receive: its cap, less what the bandwidth
// estimate takes off.
func (p *Peer) limitLocked() int { return max(p.maxLayer-p.budget.drop, layerQ) }

func (p *Peer) downList() []*downTrack {
	downs := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		downs = append(downs, d)
	}
	return downs
}

func (p *Peer) retarget(now time.Time) {
	p.mu.Lock()
	limit := p.limitLocked()
	downs := p.downList()
	p.mu.Unlock()
	for _, d := range downs {
		d.retarget(limit, now)
	}
}

// run measures rates and revises the layers the peer gets, until it closes.
func (p *Peer) run() {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.mu.Lock()
			downs := p.downList()
			ups := append([]*upTrack(nil), p.ups...)
			p.mu.Unlock()
			var sent uint64
			for _, d := range downs {
				d.meter.sample(now)
				sent += d.meter.bitrate.Load()
			}
			for _, up := range ups {
				for i := range layerCount {
					if l := up.layer(i); l != nil {
						l.meter.sample(now)
					}
				}
			}
			p.mu.Lock()
			p.budget.update(now, p.estimate(), sent)
			p.mu.Unlock()
			p.retarget(now)
		}
	}
}

// estimate is the bandwidth towards the peer, in bit/s: the lower of the send-side
// estimate and the receiver's REMB, 0 when neither is known.
func (p *Peer) estimate() uint64 {
	var est uint64
	if e := p.estimator.Load(); e != nil {
		est = uint64(max((*e).GetTargetBitrate(), 0))
	}
	if remb := p.remb.Load(); remb > 0 && (est == 0 || remb < est) {
		est = remb
	}
	return est
}

func (p *Peer) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Close hangs up: the peer leaves the room, and what it published is withdrawn from the
// others.
func (p *Peer) Close() {
	p.closeOnce.Do(func() {
		close(p.done)
		p.room.leave(p)
		if err := p.pc.Close(); err != nil {
			p.logger.Debug("sfu: close", "error", err)
		}
		p.out.close()
	})
}

// outbox delivers signals to the participant in order, from its own goroutine, so that
// send may block or call back into the SFU. Candidates wait for the first description:
// a browser refuses a candidate before it has one.
type outbox struct {
	send func(Signal)

	mu        sync.Mutex
	queue     []Signal
	held      []Signal
	described bool
	closed    bool
	wake      chan struct{}
}

func newOutbox(send func(Signal)) *outbox {
	o := &outbox{send: send, wake: make(chan struct{}, 1)}
	go o.run()
	return o
}

func (o *outbox) push(s Signal) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	switch {
	case s.Type == SignalCandidate && !o.described:
		o.held = append(o.held, s)
		return
	case s.Type != SignalCandidate && !o.described:
		o.described = true
		o.queue = append(append(o.queue, s), o.held...)
		o.held = nil
	default:
		o.queue = append(o.queue, s)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) run() {
	for range o.wake {
		for {
			o.mu.Lock()
			if len(o.queue) == 0 || o.closed {
				o.mu.Unlock()
				break
			}
			s := o.queue[0]
			o.queue = o.queue[1:]
			o.mu.Unlock()
			o.send(s)
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.wake)
	}
}
