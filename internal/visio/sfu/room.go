package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/webrtc/v4"
)

// ErrPeerExists is returned by Join for a peer id already in the room.
var ErrPeerExists = errors.New("sfu: peer already in the room")

// Room is a set of peers, each receiving what the others publish.
type Room struct {
	sfu    *SFU
	name   string
	logger *slog.Logger

	mu     sync.Mutex
	peers  map[string]*Peer
	tracks []*upTrack
	closed bool
}

func newRoom(s *SFU, name string) *Room {
	return &Room{sfu: s, name: name, logger: s.logger.With("room", name), peers: make(map[string]*Peer)}
}

// Name returns the room's name.
func (r *Room) Name() string { return r.name }

// admit puts p in the room under peerID, and returns the tracks already published, which it
// is to be given; a room closed or a name taken closes p.
func (r *Room) admit(peerID string, p *Peer) ([]*upTrack, error) {
	r.mu.Lock()
	var err error
	switch {
	case r.closed:
		err = ErrClosed
	case r.peers[peerID] != nil:
		err = fmt.Errorf("%w: %q", ErrPeerExists, peerID)
	}
	if err != nil {
		r.mu.Unlock()
		p.Close()
		return nil, err
	}
	r.peers[peerID] = p
	tracks := append([]*upTrack(nil), r.tracks...)
	r.mu.Unlock()
	return tracks, nil
}

// Join adds a peer to the room. send delivers the SFU's signals to the participant; it is
// called from one goroutine at a time, in order, and may block. The participant publishes by
// sending an offer of its own; the SFU offers the tracks already published once that first
// offer is answered, or after Config.FirstOfferWait from a participant that does not offer.
// Each forwarded track has the publisher's peer id as its stream id and the publisher's
// track id as its own.
func (r *Room) Join(peerID string, send func(Signal)) (*Peer, error) {
	p, err := newPeer(r, peerID, send)
	if err != nil {
		return nil, err
	}
	tracks, err := r.admit(peerID, p)
	if err != nil {
		return nil, err
	}

	r.logger.Info("sfu: peer joined", "peer", peerID)
	subscribed := false
	for _, up := range tracks {
		subscribed = p.subscribe(up) || subscribed
	}
	if subscribed {
		p.negotiate()
	}
	return p, nil
}

// Peers returns the number of peers in the room.
func (r *Room) Peers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

// Close hangs up on every peer and forgets the room; a later SFU.Room with its name
// returns a new one.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	peers := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	r.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	r.sfu.forget(r)
}

// publish starts forwarding a stream a peer sends: a new track is offered to every other
// peer; a further simulcast layer of a known track joins it.
func (r *Room) publish(pub *Peer, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	r.mu.Lock()
	if r.peers[pub.id] != pub {
		r.mu.Unlock()
		return
	}
	var up *upTrack
	for _, t := range r.tracks {
		if t.receiver == receiver {
			up = t
		}
	}
	var others []*Peer
	if up == nil {
		up = newUpTrack(pub, track, receiver)
		r.tracks = append(r.tracks, up)
		for _, p := range r.peers {
			if p != pub {
				others = append(others, p)
			}
		}
		pub.mu.Lock()
		pub.ups = append(pub.ups, up)
		pub.mu.Unlock()
	}
	r.mu.Unlock()

	l, ok := up.addLayer(track)
	if !ok {
		r.logger.Warn("sfu: stream not forwarded", "peer", pub.id, "track", track.ID(), "rid", track.RID())
		return
	}
	go readReceiverRTCP(receiver, track.RID())
	r.logger.Info("sfu: publishing", "peer", pub.id, "track", up.id, "kind", up.kind.String(), "rid", track.RID())
	for _, p := range others {
		if p.subscribe(up) {
			p.negotiate()
		}
	}
	// A new layer may be the one some receivers want.
	up.requestKeyframe(l.index)
	if up.forward(l, track) {
		r.unpublish(up)
	}
}

// readReceiverRTCP drains what a publisher reports on its streams, which Pion's
// interceptors use (sender reports for round-trip times in our receiver reports).
func readReceiverRTCP(receiver *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, 1500)
	for {
		var err error
		if rid == "" {
			_, _, err = receiver.Read(buf)
		} else {
			_, _, err = receiver.ReadSimulcast(buf, rid)
		}
		if err != nil {
			return
		}
	}
}

// unpublish withdraws a track from every receiver.
func (r *Room) unpublish(up *upTrack) {
	r.mu.Lock()
	found := false
	for i, t := range r.tracks {
		if t == up {
			r.tracks = append(r.tracks[:i:i], r.tracks[i+1:]...)
			found = true
			break
		}
	}
	r.mu.Unlock()
	if !found {
		return
	}
	up.pub.mu.Lock()
	for i, t := range up.pub.ups {
		if t == up {
			up.pub.ups = append(up.pub.ups[:i:i], up.pub.ups[i+1:]...)
			break
		}
	}
	up.pub.mu.Unlock()
	r.logger.Info("sfu: unpublished", "peer", up.pub.id, "track", up.id)
	for _, d := range up.close() {
		if d.peer.unsubscribe(up) {
			d.peer.negotiate()
		}
	}
}

// leave removes a peer: its tracks are withdrawn from the others, and it stops receiving.
func (r *Room) leave(p *Peer) {
	r.mu.Lock()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
	var gone []*upTrack
	for _, t := range r.tracks {
		if t.pub == p {
			gone = append(gone, t)
		}
	}
	r.mu.Unlock()
	r.logger.Info("sfu: peer left", "peer", p.id)
	for _, up := range gone {
		r.unpublish(up)
	}
	p.mu.Lock()
	downs := p.downList()
	p.mu.Unlock()
	for _, d := range downs {
		p.unsubscribe(d.up)
	}
}
