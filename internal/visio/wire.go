package visio

import (
	"context"
	"encoding/json"

	"github.com/coder/websocket"
)

// wire is what serve talks to a participant through: the browser's WebSocket itself, or,
// when the meeting is on this node and the browser's socket on another web replica, a
// session relayed over NATS (remote.go). *websocket.Conn is one as it is.
type wire interface {
	Read(ctx context.Context) (websocket.MessageType, []byte, error)
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	Close(code websocket.StatusCode, reason string) error
	CloseNow() error
}

var _ wire = (*websocket.Conn)(nil)

// writeMessage sends m as one JSON text message, as wsjson.Write does on a WebSocket.
func writeMessage(ctx context.Context, w wire, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return w.Write(ctx, websocket.MessageText, b)
}
