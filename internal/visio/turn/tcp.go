package turn

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// tcpIdleTimeout closes a TCP client connection that has sent nothing for that long. A
// client with an allocation refreshes it well within its 10-minute lifetime.
const tcpIdleTimeout = 10 * time.Minute

// tcpListener guards the TCP listener that Pion serves: it bounds the number of open client
// connections, closes idle ones, keeps accepting after transient errors (Pion would stop),
// and hangs up every client on closeConns (Pion does not close accepted connections).
type tcpListener struct {
	net.Listener
	max    int
	idle   time.Duration
	logger *slog.Logger

	mu     sync.Mutex
	conns  map[*tcpConn]struct{}
	closed bool
}

func newTCPListener(ln net.Listener, max int, idle time.Duration, logger *slog.Logger) *tcpListener {
	return &tcpListener{Listener: ln, max: max, idle: idle, logger: logger, conns: make(map[*tcpConn]struct{})}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.logger.Warn("turn tcp accept failed", "err", err.Error(), "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		tc := &tcpConn{Conn: c, l: l}
		l.mu.Lock()
		refused := l.closed || len(l.conns) >= l.max
		if !refused {
			l.conns[tc] = struct{}{}
		}
		l.mu.Unlock()
		if refused {
			l.logger.Warn("turn tcp connection refused", "reason", "too many connections",
				"remote_addr", c.RemoteAddr().String())
			_ = c.Close()
			continue
		}
		return tc, nil
	}
}

// closeConns closes every client connection, and any accepted from now on.
func (l *tcpListener) closeConns() {
	l.mu.Lock()
	l.closed = true
	conns := make([]*tcpConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// tcpConn is a client connection whose every read must come within the idle timeout.
type tcpConn struct {
	net.Conn
	l    *tcpListener
	once sync.Once
}

func (c *tcpConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.l.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *tcpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
