package collab

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// clamd is a client of ClamAV's daemon (Debian's clamav-daemon) for one command, INSTREAM
// (clamd(8), "INSTREAM"): the file is streamed to the daemon in chunks, never held in memory.
type clamd struct {
	network, addr string // "unix", "/run/clamav/clamd.ctl" or "tcp", "127.0.0.1:3310"
	timeout       time.Duration
}

// parseClamdAddr reads SOCLE_COLLAB_CLAMD: unix:/path or tcp:host:port.
func parseClamdAddr(s string) (clamd, error) {
	network, addr, ok := strings.Cut(s, ":")
	if !ok || addr == "" || network != "unix" && network != "tcp" {
		return clamd{}, fmt.Errorf("clamd address %q: want unix:/path/to/clamd.ctl or tcp:host:port", s)
	}
	return clamd{network: network, addr: addr, timeout: 10 * time.Minute}, nil
}

// errScanner is a scan that did not conclude (daemon unreachable, size limit, error reply).
var errScanner = errors.New("virus scanner")

const clamdChunk = 64 << 10

// scan streams r to clamd and returns the name of the signature found, "" when clean.
func (c clamd) scan(ctx context.Context, r io.Reader) (virus string, err error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errScanner, err)
	}
	defer conn.Close()
	deadline := time.Now().Add(c.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	// The z prefix: commands and replies end with NUL (clamd(8), "It's recommended to prefix
	// clamd commands with the letter z").
	w := bufio.NewWriterSize(conn, clamdChunk+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return "", fmt.Errorf("%w: %v", errScanner, err)
	}
	buf := make([]byte, clamdChunk)
	var size [4]byte
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			// Each chunk: its length as 4 bytes in network order, then the bytes.
			binary.BigEndian.PutUint32(size[:], uint32(n))
			w.Write(size[:])
			if _, err := w.Write(buf[:n]); err != nil {
				// clamd closes the connection once StreamMaxLength is passed: its reply says so.
				return c.reply(conn, fmt.Errorf("%w: %v", errScanner, err))
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return "", fmt.Errorf("reading the file to scan: %w", rerr)
		}
	}
	binary.BigEndian.PutUint32(size[:], 0) // the end of the stream
	w.Write(size[:])
	if err := w.Flush(); err != nil {
		return c.reply(conn, fmt.Errorf("%w: %v", errScanner, err))
	}
	return c.reply(conn, nil)
}

// reply reads clamd's answer; writeErr is what went wrong on the way, if no answer comes.
func (c clamd) reply(conn net.Conn, writeErr error) (string, error) {
	b, err := io.ReadAll(io.LimitReader(conn, 4096))
	if len(b) == 0 {
		if writeErr != nil {
			return "", writeErr
		}
		return "", fmt.Errorf("%w: no reply: %v", errScanner, err)
	}
	return parseClamdReply(string(b))
}

// parseClamdReply reads "stream: OK", "stream: <signature> FOUND" or "<reason> ERROR",
// NUL-terminated (clamd(8), INSTREAM).
func parseClamdReply(s string) (virus string, err error) {
	s, _, _ = strings.Cut(s, "\x00")
	s = strings.TrimSpace(s)
	body, ok := strings.CutPrefix(s, "stream: ")
	switch {
	case ok && body == "OK":
		return "", nil
	case ok && strings.HasSuffix(body, " FOUND"):
		name := strings.TrimSpace(strings.TrimSuffix(body, " FOUND"))
		if name == "" {
			return "", fmt.Errorf("%w: reply %q names no signature", errScanner, s)
		}
		return name, nil
	default:
		if len(s) > 200 {
			s = s[:200]
		}
		return "", fmt.Errorf("%w: %q", errScanner, s)
	}
}
