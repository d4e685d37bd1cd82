package registrysim

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed openapi.yaml
var openAPI []byte

//go:embed driving-licences.yaml
var licencesOpenAPI []byte

//go:embed civil-status.wsdl
var wsdl []byte

// wsdlAddress is the SOAP address written in the embedded WSDL; the server puts its own in
// its place.
const wsdlAddress = "https://localhost:9101/civil-status"

// OpenAPI returns the population register's OpenAPI 3.1 document, as embedded.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// LicencesOpenAPI returns the central file of driving licences' OpenAPI 3.1 document, as
// embedded.
func LicencesOpenAPI() []byte { return bytes.Clone(licencesOpenAPI) }

// WSDL returns the civil-status register's WSDL 1.1 document, as embedded: its addresses are
// https://localhost:9101/civil-status until a server writes its own.
func WSDL() []byte { return bytes.Clone(wsdl) }

// Handler serves the registers of reg: /population/ and /driving-licences/ (REST),
// /civil-status (SOAP) and /healthz.
func Handler(reg *Registry) http.Handler {
	mux := http.NewServeMux()
	population{reg}.routes(mux)
	civilStatus{reg}.routes(mux)
	drivingLicences{reg}.routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}

// publicBase is the scheme, host and path prefix by which the client reached the server:
// the request's own, or a gateway's as its X-Forwarded-Proto, -Host and -Prefix say.
func publicBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && !strings.ContainsAny(h, "/\\@?#<>\"' ") {
		host = h
	}
	return scheme + "://" + host + forwardedPrefix(r)
}

// forwardedPrefix is the path a gateway mounts the server at (X-Forwarded-Prefix), without
// its final slash; empty when there is none.
func forwardedPrefix(r *http.Request) string {
	p := firstValue(r.Header.Get("X-Forwarded-Prefix"))
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "?#\\<>\"' ") {
		return ""
	}
	return strings.TrimRight(p, "/")
}

func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(v)
}

// wsdlFor is the WSDL with the addresses by which r reached the server.
func wsdlFor(r *http.Request) []byte {
	var addr bytes.Buffer
	xml.EscapeText(&addr, []byte(publicBase(r)+"/civil-status"))
	return bytes.ReplaceAll(wsdl, []byte(wsdlAddress), addr.Bytes())
}

type noteKey struct{}

// note names what a request did (the SOAP operation) in its log line.
func note(r *http.Request, what string) {
	if p, ok := r.Context().Value(noteKey{}).(*string); ok {
		*p = what
	}
}

// logRequests writes one line per request to out: method, path or SOAP operation, status.
func logRequests(out io.Writer, next http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		what := r.URL.Path
		if r.URL.RawQuery != "" {
			what += "?" + r.URL.RawQuery
		}
		var op string
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, &op)))
		if op != "" {
			what += " " + op
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "%s %s %d\n", r.Method, what, rec.status)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Options configure a server started with Start.
type Options struct {
	// Addr is the address to listen on; default 127.0.0.1:0 (a free port).
	Addr string
	// TLS is the server's TLS configuration, with its certificate; required.
	TLS *tls.Config
	// Seed and Persons make the registry (NewRegistry); 0 for DefaultSeed and DefaultPersons.
	Seed    int64
	Persons int
	// Log, if set, gets one line per request served.
	Log io.Writer
}

// Server is a running simulator.
type Server struct {
	// Registry is the population served, for tests to pick persons from.
	Registry *Registry
	url      string
	srv      *http.Server
	done     chan struct{}
	err      error // of Serve
	closing  sync.Once
	closeErr error
}

// Start makes the registry, listens on o.Addr and serves over HTTPS until Close, or until
// ctx is done.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.TLS == nil {
		return nil, errors.New("registrysim: Options.TLS is required: the registers are served over HTTPS only")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("registrysim: %w", err)
	}
	reg := NewRegistry(o.Seed, o.Persons)
	h := Handler(reg)
	if o.Log != nil {
		h = logRequests(o.Log, h)
	}
	cfg := o.TLS.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	s := &Server{
		Registry: reg,
		url:      "https://" + ln.Addr().String(),
		srv:      &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute},
		done:     make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(tls.NewListener(ln, cfg)); !errors.Is(err, http.ErrServerClosed) {
			s.err = err
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Close(sctx)
		case <-s.done:
		}
	}()
	return s, nil
}

// URL is the server's base URL, https://HOST:PORT.
func (s *Server) URL() string { return s.url }

// Close stops the server, letting requests under way finish until ctx is done. It may be
// called more than once, and races with the end of Start's context harmlessly.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Do(func() { s.closeErr = s.srv.Shutdown(ctx) })
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return errors.Join(s.closeErr, s.err)
}
