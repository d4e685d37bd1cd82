package visiobench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"socle/internal/visio/sfu"
)

// sfuRoom connects every participant to one room of an SFU restricted to loopback. They
// join one after the other, each publishing as it joins, as people arrive in a meeting.
// The SFU runs in this process, or, with command set, in a child process of its own whose
// CPU time is then the phase's (see sfuproc.go).
type sfuRoom struct {
	logger  *slog.Logger
	command []string // the child process serving the SFU, if any
	s       *sfu.SFU
	proc    *child
	clients []*sfuClient

	mu  sync.Mutex
	err error // the first signalling error of a client
}

func (r *sfuRoom) connect(ctx context.Context, ph *phase) error {
	join, err := r.start(ctx)
	if err != nil {
		return fmt.Errorf("%w: the SFU: %w", errSetup, err)
	}
	api := newClientAPI()
	for _, p := range ph.parts {
		c, err := r.join(api, join, p)
		if err != nil {
			return fmt.Errorf("%w: %s joins: %w", errSetup, p.id, err)
		}
		if err := c.publish(ctx); err != nil {
			return fmt.Errorf("%w: %s publishes: %w", errSetup, p.id, err)
		}
		ph.start(p)
	}
	return nil
}

func (r *sfuRoom) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *sfuRoom) close() {
	pcs := make([]*webrtc.PeerConnection, 0, len(r.clients))
	for _, c := range r.clients {
		close(c.done)
		pcs = append(pcs, c.pc)
	}
	closeAll(pcs)
	for _, c := range r.clients {
		if cl, ok := c.peer.(interface{ close() }); ok {
			cl.close()
		}
	}
	if r.s != nil {
		r.s.Close()
	}
	if r.proc != nil {
		r.proc.stop()
	}
}

// joinFunc joins the bench's room as id; send takes what the SFU says to the participant.
type joinFunc func(id string, send func(sfu.Signal)) (signaller, error)

// signaller takes a participant's signals, as sfu.Peer does in the SFU's own process.
type signaller interface {
	HandleSignal(sfu.Signal) error
}

// start starts the SFU, in this process or in its own.
func (r *sfuRoom) start(ctx context.Context) (joinFunc, error) {
	if len(r.command) > 0 {
		proc, addr, err := startSFUProcess(ctx, r.command)
		if err != nil {
			return nil, err
		}
		r.proc = proc
		return func(id string, send func(sfu.Signal)) (signaller, error) {
			return dialSFU(ctx, addr, id, send)
		}, nil
	}
	var err error
	if r.s, err = sfu.New(sfu.Config{LoopbackOnly: true}, r.logger); err != nil {
		return nil, err
	}
	room := r.s.Room("bench")
	return func(id string, send func(sfu.Signal)) (signaller, error) {
		p, err := room.Join(id, send)
		if err != nil {
			return nil, err
		}
		return p, nil
	}, nil
}

// cpu is the SFU's CPU time so far when it runs in a process of its own.
func (r *sfuRoom) cpu() (time.Duration, bool) {
	if r.proc == nil {
		return 0, false
	}
	return r.proc.cpu()
}

// sfuClient is a participant's connection to the SFU, the other side of the negotiation
// from it: one goroutine does all its signalling.
type sfuClient struct {
	room  *sfuRoom
	p     *participant
	pc    *webrtc.PeerConnection
	peer  signaller
	inbox chan sfu.Signal
	do    chan func()
	done  chan struct{}
}

func (r *sfuRoom) join(api *webrtc.API, join joinFunc, p *participant) (*sfuClient, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &sfuClient{room: r, p: p, pc: pc, inbox: make(chan sfu.Signal, 256), do: make(chan func()), done: make(chan struct{})}
	r.clients = append(r.clients, c)
	pc.OnTrack(func(tr *webrtc.TrackRemote, rcv *webrtc.RTPReceiver) { go p.receive(tr, rcv) })
	c.peer, err = join(p.id, func(s sfu.Signal) {
		select {
		case c.inbox <- s:
		case <-c.done:
		}
	})
	if err != nil {
		return nil, err
	}
	// Candidates are gathered once a local description is set, which only the loop does,
	// after Join returned.
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand != nil {
			init := cand.ToJSON()
			_ = c.peer.HandleSignal(sfu.Signal{Type: sfu.SignalCandidate, Candidate: &init})
		}
	})
	go c.loop()
	return c, nil
}

func (c *sfuClient) loop() {
	for {
		select {
		case <-c.done:
			return
		case f := <-c.do:
			f()
		case s := <-c.inbox:
			if err := c.handle(s); err != nil {
				c.room.mu.Lock()
				if c.room.err == nil {
					c.room.err = fmt.Errorf("%s: %s: %w", c.p.id, s.Type, err)
				}
				c.room.mu.Unlock()
			}
		}
	}
}

func (c *sfuClient) handle(s sfu.Signal) error {
	switch s.Type {
	case sfu.SignalOffer:
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: s.SDP}); err != nil {
			return err
		}
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.pc.SetLocalDescription(answer); err != nil {
			return err
		}
		return c.peer.HandleSignal(sfu.Signal{Type: sfu.SignalAnswer, SDP: answer.SDP})
	case sfu.SignalAnswer:
		return c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: s.SDP})
	case sfu.SignalCandidate:
		if s.Candidate == nil {
			return nil
		}
		return c.pc.AddICECandidate(*s.Candidate)
	}
	return fmt.Errorf("unknown signal %q", s.Type)
}

// run does f on the signalling goroutine.
func (c *sfuClient) run(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	select {
	case c.do <- func() { errc <- f() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-errc
}

// publish adds the camera and the microphone and offers them. The SFU is the impolite side:
// an offer crossing one of its own is refused with ErrGlare, and the client answers the
// SFU's (the loop does) and offers again. The offer is set locally only once the SFU took it.
func (c *sfuClient) publish(ctx context.Context) error {
	err := c.run(ctx, func() error {
		for _, tr := range []webrtc.TrackLocal{c.p.video, c.p.audio} {
			sender, err := c.pc.AddTrack(tr)
			if err != nil {
				return err
			}
			go c.p.readRTCP(sender)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for {
		var crossed bool
		err := c.run(ctx, func() error {
			if c.pc.SignalingState() != webrtc.SignalingStateStable {
				crossed = true // an exchange of the SFU's is under way: let the loop finish it
				return nil
			}
			offer, err := c.pc.CreateOffer(nil)
			if err != nil {
				return err
			}
			err = c.peer.HandleSignal(sfu.Signal{Type: sfu.SignalOffer, SDP: offer.SDP})
			if errors.Is(err, sfu.ErrGlare) {
				crossed = true
				return nil
			}
			if err != nil {
				return err
			}
			return c.pc.SetLocalDescription(offer)
		})
		if err != nil || !crossed {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond): // the SFU's offer is on its way
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
