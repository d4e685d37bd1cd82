package gatewaybench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"socle/internal/platform/pki"
)

// ProxyFlags are the child roles' flags: `socle bench gateway -role bare-proxy -listen ADDR
// -upstream URL -ca FILE -cert FILE -key FILE`.
type ProxyFlags struct {
	Role, Listen, Upstream, CA, Cert, Key string
}

// roleBareProxy is the bare reverse proxy, run as a child so that its CPU time is its own.
const roleBareProxy = "bare-proxy"

// ServeRole runs the child role p names until ctx ends. It writes "listening ADDR" on out
// once it accepts connections.
func ServeRole(ctx context.Context, p ProxyFlags, out io.Writer) error {
	if p.Role != roleBareProxy {
		return fmt.Errorf("-role: unknown role %q (known: %s)", p.Role, roleBareProxy)
	}
	if p.Upstream == "" || p.CA == "" || p.Cert == "" || p.Key == "" {
		return errors.New("-role bare-proxy needs -upstream, -ca, -cert and -key")
	}
	up, err := url.Parse(p.Upstream)
	if err != nil || up.Scheme != "https" || up.Host == "" {
		return fmt.Errorf("-upstream: want https://HOST:PORT, got %q", p.Upstream)
	}
	roots, err := pki.LoadPool(p.CA)
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		return fmt.Errorf("bare proxy: %w", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(up); r.SetXForwarded() },
		// Tuned as one would for a single busy upstream: plenty of idle keep-alive
		// connections, TLS sessions resumed, no compression negotiated, copy buffers reused.
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ClientSessionCache: tls.NewLRUClientSessionCache(64)},
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		BufferPool: &bufferPool{},
	}
	ln, err := net.Listen("tcp", p.Listen)
	if err != nil {
		return fmt.Errorf("bare proxy: %w", err)
	}
	stop := httpServer(ln, cert, proxy)
	defer stop()
	fmt.Fprintf(out, "listening %s\n", ln.Addr())
	<-ctx.Done()
	return nil
}

// bufferPool lends the proxy its 32 KiB copy buffers (httputil.BufferPool).
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
