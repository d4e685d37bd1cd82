package visiobench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"socle/internal/visio/sfu"
)

// When socle is compared with a peer, its SFU runs in a process of its own, as the peer
// does, so that the CPU time measured is the SFU's alone. That process is `socle bench visio
// -serve-sfu` (ServeSFU): the SFU and a WebSocket per participant carrying sfu.Signal as
// JSON, the signalling of the SFU's Go API and nothing more: the bench measures media
// forwarding, and socle's own signalling (rooms, tokens, lobby) would need its database.

// sfuWire is one message on a participant's WebSocket to the SFU process: a signal either
// way, and from the SFU the outcome of each signal the participant sent, in order.
type sfuWire struct {
	Signal *sfu.Signal `json:"signal,omitempty"`
	Ack    bool        `json:"ack,omitempty"`
	Error  string      `json:"error,omitempty"`
	Glare  bool        `json:"glare,omitempty"` // the error was sfu.ErrGlare
}

const sfuListening = "sfu listening on "

// ServeSFU runs an SFU restricted to loopback with one room and prints the address of its
// signalling, a line "sfu listening on 127.0.0.1:port", on out. It returns when ctx ends or
// its standard input closes (the bench that started it is gone).
func ServeSFU(ctx context.Context, logger *slog.Logger, out io.Writer) error {
	s, err := sfu.New(sfu.Config{LoopbackOnly: true}, logger)
	if err != nil {
		return err
	}
	defer s.Close()
	room := s.Room("bench")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveSFUPeer(w, r, room, logger)
	}), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(out, "%s%s\n", sfuListening, ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serveSFUPeer joins the room as ?id= and relays signals until either side hangs up.
func serveSFUPeer(w http.ResponseWriter, r *http.Request, room *sfu.Room, logger *slog.Logger) {
	id := r.URL.Query().Get("id")
	if id == "" {
		http.Error(w, "id wanted", http.StatusBadRequest)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	ctx := r.Context()
	var wmu sync.Mutex
	write := func(m sfuWire) error {
		wmu.Lock()
		defer wmu.Unlock()
		return wsjson.Write(ctx, conn, m)
	}
	peer, err := room.Join(id, func(s sfu.Signal) { _ = write(sfuWire{Signal: &s}) })
	if err != nil {
		conn.Close(websocket.StatusInternalError, err.Error())
		return
	}
	defer peer.Close()
	for {
		var m sfuWire
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			return
		}
		if m.Signal == nil {
			conn.Close(websocket.StatusPolicyViolation, "a signal wanted")
			return
		}
		ack := sfuWire{Ack: true}
		if err := peer.HandleSignal(*m.Signal); err != nil {
			ack.Error, ack.Glare = err.Error(), errors.Is(err, sfu.ErrGlare)
			logger.Debug("visiobench: signal", "peer", id, "type", m.Signal.Type, "error", err)
		}
		if err := write(ack); err != nil {
			return
		}
	}
}

// startSFUProcess starts the SFU's process and waits for its address.
func startSFUProcess(ctx context.Context, argv []string) (*child, string, error) {
	lines := make(chan string, 16)
	c, err := startChild("socle's SFU", argv, "", lines)
	if err != nil {
		return nil, "", err
	}
	for {
		select {
		case l := <-lines:
			if addr, ok := strings.CutPrefix(l, sfuListening); ok {
				return c, addr, nil
			}
		case <-c.done:
			return nil, "", c.exited()
		case <-ctx.Done():
			c.stop()
			return nil, "", ctx.Err()
		}
	}
}

// wsPeer is a participant's signalling to the SFU's process: HandleSignal returns once the
// SFU handled the signal, with its error, as sfu.Peer.HandleSignal does in process.
type wsPeer struct {
	conn *websocket.Conn
	acks chan sfuWire

	mu sync.Mutex // one signal in flight: acks come back in order
}

func dialSFU(ctx context.Context, addr, id string, send func(sfu.Signal)) (*wsPeer, error) {
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/?id="+id, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	w := &wsPeer{conn: conn, acks: make(chan sfuWire, 1)}
	go func() {
		defer close(w.acks)
		for {
			var m sfuWire
			if err := wsjson.Read(context.Background(), conn, &m); err != nil {
				return
			}
			switch {
			case m.Ack:
				w.acks <- m
			case m.Signal != nil:
				send(*m.Signal)
			}
		}
	}()
	return w, nil
}

func (w *wsPeer) HandleSignal(s sfu.Signal) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	// Candidates trickle after the phase's setup; a signal is bounded by its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, w.conn, sfuWire{Signal: &s}); err != nil {
		return err
	}
	select {
	case ack, ok := <-w.acks:
		switch {
		case !ok:
			return errors.New("the SFU hung up")
		case ack.Glare:
			return sfu.ErrGlare
		case ack.Error != "":
			return errors.New(ack.Error)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("the SFU did not answer a signal: %w", ctx.Err())
	}
}

func (w *wsPeer) close() { w.conn.Close(websocket.StatusNormalClosure, "") }
