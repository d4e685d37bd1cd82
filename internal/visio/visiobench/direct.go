package visiobench

import (
	"context"
	"fmt"
	"sync"

	"github.com/pion/webrtc/v4"
)

// mesh connects every pair of participants by a peer connection of their own, each side
// sending its two tracks on it: a participant's track is bound to all of its connections,
// so that one write is encrypted and sent once per receiver, as the SFU does for it.
type mesh struct {
	mu  sync.Mutex
	pcs []*webrtc.PeerConnection
}

func (m *mesh) connect(ctx context.Context, ph *phase) error {
	api := newClientAPI()
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for i, a := range ph.parts {
		for _, b := range ph.parts[i+1:] {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return ctx.Err()
			}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := m.pair(ctx, api, a, b); err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%w: %s and %s: %w", errSetup, a.id, b.id, err) })
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for _, p := range ph.parts {
		ph.start(p)
	}
	return nil
}

// pair connects a and b: a offers its tracks, b answers with its own on the same
// transceivers, both with every candidate in the description.
func (m *mesh) pair(ctx context.Context, api *webrtc.API, a, b *participant) error {
	var pcs [2]*webrtc.PeerConnection
	for i, p := range []*participant{a, b} {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			return err
		}
		m.mu.Lock()
		m.pcs = append(m.pcs, pc)
		m.mu.Unlock()
		pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) { go p.receive(tr, r) })
		for _, tr := range []webrtc.TrackLocal{p.video, p.audio} {
			sender, err := pc.AddTrack(tr)
			if err != nil {
				return err
			}
			go p.readRTCP(sender)
		}
		pcs[i] = pc
	}
	describe := func(pc *webrtc.PeerConnection, d webrtc.SessionDescription) (webrtc.SessionDescription, error) {
		gathered := webrtc.GatheringCompletePromise(pc)
		if err := pc.SetLocalDescription(d); err != nil {
			return d, err
		}
		select {
		case <-gathered:
		case <-ctx.Done():
			return d, ctx.Err()
		}
		return *pc.LocalDescription(), nil
	}
	offer, err := pcs[0].CreateOffer(nil)
	if err == nil {
		offer, err = describe(pcs[0], offer)
	}
	if err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	if err := pcs[1].SetRemoteDescription(offer); err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	answer, err := pcs[1].CreateAnswer(nil)
	if err == nil {
		answer, err = describe(pcs[1], answer)
	}
	if err == nil {
		err = pcs[0].SetRemoteDescription(answer)
	}
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	return nil
}

func (m *mesh) failed() error { return nil }

func (m *mesh) close() {
	m.mu.Lock()
	pcs := m.pcs
	m.pcs = nil
	m.mu.Unlock()
	closeAll(pcs)
}
