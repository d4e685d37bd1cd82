// Package server runs socle's three listeners — web, interconnect (mutual TLS) and ops — and
// the middleware every request goes through: request id, structured access log, panic
// recovery into problem+json.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"socle/internal/platform/problem"
)

// Listener is one HTTP server of socle.
type Listener struct {
	Name    string
	Addr    string
	TLS     *tls.Config
	Handler http.Handler
	Logger  *slog.Logger

	srv      *http.Server
	ln       net.Listener
	draining atomic.Bool
}

// Drain asks every client to close its connection after the answer it is being given (a
// "Connection: close" header, RFC 9112 §9.6), while the listener goes on serving: the step
// before Shutdown when socle leaves a load balancer's rotation. A client's next request then
// opens a new connection, which the balancer sends to a replica that stays, instead of
// reusing one that Shutdown would close under it — for a POST, an error its HTTP library
// does not retry.
func (l *Listener) Drain() { l.draining.Store(true) }

// Listen binds the address, so that a port conflict fails start-up, not later.
func (l *Listener) Listen() error {
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return fmt.Errorf("%s listener: %w", l.Name, err)
	}
	l.ln = ln
	handler := l.Handler
	l.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Not on an upgrade (a WebSocket): its answer must say "Connection: Upgrade".
			if l.draining.Load() && r.Header.Get("Upgrade") == "" {
				w.Header().Set("Connection", "close")
			}
			handler.ServeHTTP(w, r)
		}),
		TLSConfig:         l.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(l.Logger.With("listener", l.Name).Handler(), slog.LevelDebug),
	}
	return nil
}

// BoundAddr is the address actually bound (useful with port 0).
func (l *Listener) BoundAddr() string { return l.ln.Addr().String() }

// Serve runs until Shutdown.
func (l *Listener) Serve() error {
	l.Logger.Info("listening", "listener", l.Name, "addr", l.ln.Addr().String(), "tls", l.TLS != nil,
		"mutual_tls", l.TLS != nil && l.TLS.ClientAuth == tls.RequireAndVerifyClientCert)
	var err error
	if l.TLS != nil {
		err = l.srv.Serve(tls.NewListener(l.ln, l.TLS))
	} else {
		err = l.srv.Serve(l.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in flight. It also lets go of a listener
// bound and never served (a start that failed after Listen).
func (l *Listener) Shutdown(ctx context.Context) error {
	if l.srv == nil {
		return nil
	}
	defer l.ln.Close() // closed already if it was served; that error says nothing
	return l.srv.Shutdown(ctx)
}

// ServerTLS is the TLS configuration of a listener that does not ask for client
// certificates, serving the pair in the files, renewed when they change (Keypair).
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	k, err := LoadKeypair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return k.ServerTLS(), nil
}

// MutualTLS is ServerTLS that requires a client certificate chaining to clientCAs.
func MutualTLS(certFile, keyFile string, clientCAs *x509.CertPool) (*tls.Config, error) {
	k, err := LoadKeypair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return k.MutualTLS(clientCAs), nil
}

// ServerTLS is the configuration of a listener serving k.
func (k *Keypair) ServerTLS() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: k.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}

// MutualTLS is ServerTLS that requires a client certificate chaining to clientCAs. Which
// organisation a certificate belongs to is decided afterwards, by each service, against its
// directory.
func (k *Keypair) MutualTLS(clientCAs *x509.CertPool) *tls.Config {
	cfg := k.ServerTLS()
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.ClientCAs = clientCAs
	return cfg
}

type ctxKey int

const requestIDKey ctxKey = 0

// RequestID returns the id given to the request by Middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Middleware gives each request an id (X-Request-Id, echoed in the response and the log),
// logs it once with its status and duration, and turns a panic into a 500 problem.
func Middleware(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !rec.wrote {
					problem.Write(rec, r, problem.Internal())
				}
			}
			level := slog.LevelDebug
			if rec.status >= 500 {
				level = slog.LevelError
			} else if rec.status >= 400 {
				level = slog.LevelInfo
			}
			if !logger.Enabled(ctx, level) {
				return // spare the hot path building a record nobody reads
			}
			logger.Log(ctx, level, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.status, "duration_ms", float64(time.Since(start).Microseconds())/1000,
				"remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// Request ids are a random process prefix and a counter: unique, cheap (no system call per
// request), and not secrets.
var (
	idPrefix  = func() string { b := make([]byte, 4); rand.Read(b); return hex.EncodeToString(b) }()
	idCounter atomic.Uint64
)

func newRequestID() string {
	return idPrefix + strconv.FormatUint(idCounter.Add(1), 16)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// ListenersFile, under the data directory, maps each listener's name to the address it is
// bound to, once all are: with port 0 in SOCLE_WEB_ADDR and the others, the system picks free
// ports (no race between finding one and binding it), and whoever started socle reads them
// here. It goes when socle stops.
const ListenersFile = "listeners.json"

// RunningURL is the public address of the socle running on dataDir, as a command finds it:
// SOCLE_PUBLIC_URL when set, else its web listener's bound address from ListenersFile.
func RunningURL(dataDir string) (string, error) {
	if u := os.Getenv("SOCLE_PUBLIC_URL"); u != "" {
		return strings.TrimSuffix(u, "/"), nil
	}
	b, err := os.ReadFile(filepath.Join(dataDir, ListenersFile))
	var bound map[string]string
	if err != nil || json.Unmarshal(b, &bound) != nil || bound["web"] == "" {
		return "", fmt.Errorf("no running socle on %s (no %s): give its address (SOCLE_PUBLIC_URL)", dataDir, ListenersFile)
	}
	return LocalURL(bound["web"]), nil
}

// LocalURL is the https URL of a bound address, localhost for a listener on every address.
func LocalURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "https://" + addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}
