// Package client speaks socle's conference signalling (docs/visio-signalling.md) from Go:
// integration tests, load tools and bots use it as a browser's page does.
package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Message is one signalling message.
type Message map[string]any

// Type is the message's type.
func (m Message) Type() string { s, _ := m["type"].(string); return s }

// String reads a string field.
func (m Message) String(k string) string { s, _ := m[k].(string); return s }

// Refused is a connection the server turned away before upgrading, with its problem type
// (RFC 9457) and status.
type Refused struct {
	Status  int
	Problem string
	Detail  string
}

func (e *Refused) Error() string {
	return fmt.Sprintf("refused (%d %s): %s", e.Status, e.Problem, e.Detail)
}

// Client is one participant's connection.
type Client struct {
	conn *websocket.Conn
	in   chan Message
	err  error
	done chan struct{}
	last atomic.Uint64 // seq of the last message received, for a resume
	// Welcome is the server's first answer once in the room: you, participants, chat...
	Welcome Message
}

// Join connects to url (wss://host/visio/ws/{room}?jwt=... or ?invite=...) with hc and
// sends the join message. It returns once the server answered: welcome (in the room),
// lobby-wait (in the lobby: call WaitFor(ctx, "welcome")), or an error.
func Join(ctx context.Context, hc *http.Client, url, name, password string) (*Client, error) {
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, refused(resp, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{conn: conn, in: make(chan Message, 1024), done: make(chan struct{})}
	go c.read()
	if err := c.Send(ctx, Message{"type": "join", "name": name, "password": password}); err != nil {
		c.Close()
		return nil, err
	}
	m, err := c.Next(ctx)
	if err != nil {
		c.Close()
		return nil, err
	}
	switch m.Type() {
	case "welcome":
		c.Welcome = m
	case "lobby-wait":
	case "error":
		c.Close()
		return nil, fmt.Errorf("%s: %s", m.String("code"), m.String("message"))
	default:
		c.Close()
		return nil, fmt.Errorf("unexpected first message %q", m.Type())
	}
	return c, nil
}

// refused is a failed dial's error: a *Refused when the server answered with a problem.
func refused(resp *http.Response, err error) error {
	if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
		var p struct{ Type, Detail string }
		if resp.Body != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			json.Unmarshal(b, &p)
		}
		return &Refused{Status: resp.StatusCode, Problem: p.Type, Detail: p.Detail}
	}
	return err
}

func (c *Client) read() {
	defer close(c.done)
	for {
		var m Message
		if err := wsjson.Read(context.Background(), c.conn, &m); err != nil {
			c.err = err
			close(c.in)
			return
		}
		if seq, ok := m["seq"].(float64); ok {
			c.last.Store(uint64(seq))
		}
		c.in <- m
	}
}

// Last is the seq of the last message received: what a resume asks to continue from.
func (c *Client) Last() uint64 { return c.last.Load() }

// Drop ends the connection as a network cut does: no close frame, so the server keeps the
// participant, reconnecting, for its grace period.
func (c *Client) Drop() { c.conn.CloseNow() }

// Resume takes a dropped participant's session back (docs/visio-signalling.md,
// "Reconnecting"): url is the room's WebSocket URL with the same credentials, token the
// welcome's "resume", last the seq of the last message received. It returns once the
// server answered "resumed"; the messages missed come before it, in c's queue. A session
// that cannot be resumed is a *Refused (410, resume-refused).
func Resume(ctx context.Context, hc *http.Client, url, token string, last uint64) (*Client, error) {
	sep := "&"
	if !strings.Contains(url, "?") {
		sep = "?"
	}
	conn, resp, err := websocket.Dial(ctx, url+sep+"resume="+neturl.QueryEscape(token)+"&last="+strconv.FormatUint(last, 10),
		&websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, refused(resp, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{conn: conn, in: make(chan Message, 1024), done: make(chan struct{})}
	c.last.Store(last)
	go c.read()
	return c, nil
}

// Send sends a message.
func (c *Client) Send(ctx context.Context, m Message) error { return wsjson.Write(ctx, c.conn, m) }

// Next returns the next message; an error once the connection is closed.
func (c *Client) Next(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.in:
		if !ok {
			return nil, fmt.Errorf("connection closed: %w", c.err)
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WaitFor skips messages until one of type typ.
func (c *Client) WaitFor(ctx context.Context, typ string) (Message, error) {
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return nil, err
		}
		if m.Type() == typ {
			if typ == "welcome" {
				c.Welcome = m
			}
			return m, nil
		}
	}
}

// Close leaves the room.
func (c *Client) Close() { c.conn.Close(websocket.StatusNormalClosure, "bye") }
