package gateway

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"socle/internal/gateway/analytics"
	"socle/internal/gateway/catalog"
	"socle/internal/gateway/spec"
	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/problem"
	"socle/internal/platform/server"
)

// Where an error comes from, in records, metrics and the X-Socle-Error-Origin header: the
// gateway refused the call (credentials, subscription, quota, limits), the network failed on
// the way to the upstream (refused, reset, timed out), or the upstream answered an error.
const (
	OriginGateway  = analytics.OriginGateway
	OriginNetwork  = analytics.OriginNetwork
	OriginUpstream = analytics.OriginUpstream
)

// call is what the gateway learns of one call, recorded when it ends.
type call struct {
	start    time.Time
	route    *apiRoute
	snap     *snapshot
	consumer string
	plan     spec.Quota
	counted  bool // the quota counted it: a refusal by the gateway gives it back
	tried    []*target
	target   *target
	// what the record says
	operation      string
	status         int
	upstreamStatus int
	origin         string
	reason         string
	upstreamTime   time.Duration
	bytesIn        int64
	bytesOut       int64
	traceparent    string
	soap           soapCall
}

type callKey struct{}

func callFrom(ctx context.Context) *call { return ctx.Value(callKey{}).(*call) }

// handler serves /apis/ on one listener; interconnect says it is the mutual-TLS one, where
// a client certificate identifies the consumer.
func (g *Gateway) handler(interconnect bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, interconnect)
	})
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, interconnect bool) {
	c := &call{start: time.Now(), snap: g.snap.Load()}
	rec := &recorder{ResponseWriter: w}
	defer g.finish(c, rec, r)
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/apis/"), "/")
	route, ok := c.snap.routes[name]
	if !ok {
		c.origin, c.reason = OriginGateway, "no such API"
		problem.Write(rec, r, problem.New("no-such-api", http.StatusNotFound, "No such API",
			fmt.Sprintf("no API is published as %q: the catalogue is at /portal/", name)))
		return
	}
	c.route = route
	c.traceparent = traceparent(r.Header.Get("Traceparent"))
	rec.Header().Set("Traceparent", c.traceparent)
	if route.cors != nil && route.cors.preflight(rec, r) {
		c.status = http.StatusNoContent
		return
	}
	if route.cors != nil {
		route.cors.actual(rec, r)
	}
	if rest == "" && r.URL.RawQuery == "wsdl" && route.api.Kind == spec.SOAP && r.Method == http.MethodGet {
		// The WSDL, with the gateway's address in place of the upstream's: anyone may read it
		// (it is in the portal too), so it costs no quota.
		c.operation = "wsdl"
		g.serveWSDL(rec, r, route)
		return
	}
	if !g.authenticate(rec, r, c, interconnect) {
		return
	}
	if r.ContentLength > int64(route.api.MaxRequestBytes) {
		g.refuse(rec, r, c, http.StatusRequestEntityTooLarge, "request-too-large",
			fmt.Sprintf("the request body is larger than the %d bytes this API accepts", route.api.MaxRequestBytes))
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, int64(route.api.MaxRequestBytes))
	if route.api.Kind == spec.SOAP {
		if !g.readSOAP(rec, r, c) {
			return
		}
	} else if route.ops != nil {
		c.operation = route.ops.find(r.Method, "/"+rest)
	}
	if !g.admit(rec, r, c) {
		return
	}
	ctx := context.WithValue(r.Context(), callKey{}, c)
	g.proxy.ServeHTTP(rec, r.WithContext(ctx))
}

// authenticate finds the consumer, and checks that it is subscribed to the API.
func (g *Gateway) authenticate(w http.ResponseWriter, r *http.Request, c *call, interconnect bool) bool {
	api := c.route.api
	allows := func(m string) bool { return slices.Contains(api.Auth, m) }
	token := r.Header.Get("X-Api-Key")
	if token == "" {
		if scheme, v, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(v)
		}
	}
	switch {
	case token != "" && catalog.LooksLikeKey(token):
		if !allows(spec.AuthKey) {
			return g.unauthorized(w, r, c, "this API does not accept API keys; it accepts: "+strings.Join(api.Auth, ", "))
		}
		k, err := c.snap.cat.ConsumerOfKey(token, c.start)
		if err != nil {
			return g.unauthorized(w, r, c, "the API key is unknown, expired or revoked")
		}
		c.consumer = k.Consumer
	case token != "" && strings.Count(token, ".") == 2:
		if !allows(spec.AuthJWT) {
			return g.unauthorized(w, r, c, "this API does not accept JWTs; it accepts: "+strings.Join(api.Auth, ", "))
		}
		iss, sub, err := g.jwt.Verify(r.Context(), token, c.snap.issuer)
		if err != nil {
			return g.unauthorized(w, r, c, err.Error())
		}
		consumer, ok := c.snap.cat.ConsumerOfToken(iss, sub)
		if !ok {
			return g.forbidden(w, r, c, "no-consumer", fmt.Sprintf("the token's subject %q of %s is bound to no consumer", sub, iss))
		}
		c.consumer = consumer
	case token != "":
		return g.unauthorized(w, r, c, "the credential is neither an API key of this gateway nor a JWT")
	case interconnect && r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		if !allows(spec.AuthMTLS) {
			return g.unauthorized(w, r, c, "this API does not accept client certificates; it accepts: "+strings.Join(api.Auth, ", "))
		}
		fp := pki.Fingerprint(r.TLS.PeerCertificates[0])
		consumer, ok := c.snap.cat.ConsumerOfCertificate(fp)
		if !ok {
			if org := identity.CallerFrom(r.Context()).Org; org != nil {
				return g.forbidden(w, r, c, "no-consumer", fmt.Sprintf("the client certificate is %s %s's, bound to no consumer of the gateway", org.Kind, org.ID))
			}
			return g.forbidden(w, r, c, "no-consumer", "the client certificate (SHA-256 "+fp[:16]+"…) is bound to no consumer")
		}
		c.consumer = consumer
	default:
		return g.unauthorized(w, r, c, "no credential: send an API key (Authorization: Bearer KEY, or X-API-Key), a JWT, or call on the mutual-TLS listener; this API accepts: "+strings.Join(api.Auth, ", "))
	}
	consumer := c.snap.cat.Consumers[c.consumer]
	sub := consumer.Subscriptions[api.Name]
	switch {
	case sub == nil:
		return g.forbidden(w, r, c, "not-subscribed", fmt.Sprintf("consumer %s is not subscribed to %s: subscribe in the portal", c.consumer, api.Name))
	case sub.Status == catalog.Pending:
		return g.forbidden(w, r, c, "subscription-pending", fmt.Sprintf("consumer %s's subscription to %s awaits the API owner's approval", c.consumer, api.Name))
	case sub.Status != catalog.Approved:
		return g.forbidden(w, r, c, "subscription-refused", fmt.Sprintf("consumer %s's subscription to %s was refused", c.consumer, api.Name))
	}
	if p := c.snap.cat.Plans[sub.Plan]; p != nil {
		c.plan = p.Quota
	}
	return true
}

// admit counts the call against the plan's quota, or refuses it.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, c *call) bool {
	d, err := g.quota.Take(r.Context(), c.consumer, c.route.api.Name, c.plan, c.start)
	if err != nil {
		// Exact quotas need their counter: without it the gateway cannot say whether the
		// call is within the plan, and refuses rather than overshoot.
		g.logger.Error("gateway: quota counter unavailable", "error", err)
		g.refuse(w, r, c, http.StatusServiceUnavailable, "quota-unavailable", "the quota counter cannot be reached; try again shortly")
		return false
	}
	if d.Limit > 0 {
		// draft-ietf-httpapi-ratelimit-headers: the window closest to refusing.
		h := w.Header()
		reset := int((d.Reset + time.Second - 1) / time.Second)
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
		h.Set("RateLimit-Reset", strconv.Itoa(reset))
		h.Set("RateLimit-Policy", policy(c.plan))
		if !d.Allowed {
			h.Set("Retry-After", strconv.Itoa(reset)) // RFC 9110 §10.2.3
		}
	}
	if !d.Allowed {
		g.refuse(w, r, c, http.StatusTooManyRequests, "quota-exceeded",
			fmt.Sprintf("consumer %s has used its %d calls per %s to %s", c.consumer, d.Limit, d.Window, c.route.api.Name))
		return false
	}
	c.counted = c.plan.PerSecond > 0 || c.plan.PerDay > 0
	return true
}

func policy(q spec.Quota) string {
	var p []string
	if q.PerSecond > 0 {
		p = append(p, strconv.Itoa(q.PerSecond)+";w=1")
	}
	if q.PerDay > 0 {
		p = append(p, strconv.Itoa(q.PerDay)+";w=86400")
	}
	return strings.Join(p, ", ")
}

func (g *Gateway) unauthorized(w http.ResponseWriter, r *http.Request, c *call, why string) bool {
	w.Header().Set("WWW-Authenticate", `Bearer realm="socle"`) // RFC 6750 §3
	g.refuse(w, r, c, http.StatusUnauthorized, "unauthenticated", why)
	return false
}

func (g *Gateway) forbidden(w http.ResponseWriter, r *http.Request, c *call, typ, why string) bool {
	g.refuse(w, r, c, http.StatusForbidden, typ, why)
	return false
}

// refuse answers a call the gateway refuses, in the API's own terms: a SOAP fault for a SOAP
// API, a problem+json otherwise.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, c *call, status int, typ, why string) {
	c.origin, c.reason = OriginGateway, typ
	w.Header().Set("X-Socle-Error-Origin", OriginGateway)
	if c.route != nil && c.route.api.Kind == spec.SOAP {
		writeSOAPFault(w, r, c, status, typ, why)
		return
	}
	problem.Write(w, r, problem.New(typ, status, http.StatusText(status), why))
}

// newProxy is the reverse proxy every API goes through: a call's upstream is chosen per
// attempt by the transport, so that an idempotent call can be tried again on another one.
func (g *Gateway) newProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			c := callFrom(pr.In.Context())
			pr.SetXForwarded()
			h := pr.Out.Header
			h.Del("X-Api-Key")
			if auth := h.Get("Authorization"); auth != "" && catalog.LooksLikeKey(strings.TrimSpace(auth[min(len(auth), 7):])) {
				h.Del("Authorization") // the consumer's key is the gateway's business, not the upstream's
			}
			h.Set("X-Request-Id", server.RequestID(pr.In.Context()))
			h.Set("Traceparent", c.traceparent)
			h.Set("X-Socle-Consumer", c.consumer)
			// The consumer's organisation, percent-encoded (RFC 3986: it is UTF-8, a header
			// is not): who a service published from this socle shows the citizen.
			h.Del("X-Socle-Organisation")
			if co := c.snap.cat.Consumers[c.consumer]; co != nil && co.Organisation != "" {
				h.Set("X-Socle-Organisation", url.PathEscape(co.Organisation))
			}
			for _, k := range c.route.api.Headers.Request.Remove {
				h.Del(k)
			}
			for k, v := range c.route.api.Headers.Request.Set {
				h.Set(k, v)
			}
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/apis/"+c.route.api.Name)
			pr.Out.URL.RawPath = ""
		},
		Transport:      g.transport,
		FlushInterval:  -1, // stream: events and large bodies go through as they come
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.proxyError,
		BufferPool:     bufferPool{},
		ErrorLog:       nil,
	}
}

// transport sends a call to its API's upstreams: one attempt per upstream tried, within the
// API's timeout each; another attempt only after a failure of the network, and only when the
// call may be sent twice (an idempotent method, or a connection that never opened).
type transport struct {
	g    *Gateway
	base http.RoundTripper
}

func (t *transport) RoundTrip(out *http.Request) (*http.Response, error) {
	c := callFrom(out.Context())
	api := c.route.api
	rest := out.URL.Path
	// The body is read by one attempt only; an attempt whose connection never opened read
	// none of it, and the next attempt sends it whole. (The server closes the client's body
	// when the call ends.)
	var body *onceBody
	if out.Body != nil && out.Body != http.NoBody {
		body = &onceBody{r: out.Body}
	}
	var lastErr error
	for attempt := 0; attempt <= *api.Retries; attempt++ {
		tg := c.route.pool.pick(c.tried)
		if tg == nil {
			break
		}
		req := out // the proxy's own copy of the call: the first attempt may change it
		if attempt > 0 {
			req = out.Clone(out.Context())
		}
		if body != nil {
			if body.read {
				if out.GetBody == nil {
					break
				}
				b, err := out.GetBody()
				if err != nil {
					break
				}
				body = &onceBody{r: b}
			}
			req.Body = body
		}
		c.tried = append(c.tried, tg)
		c.target = tg
		u := tg.where()
		if u == nil {
			lastErr = errors.New("socle's interconnect is not bound yet")
			continue
		}
		req.URL.Scheme, req.URL.Host, req.Host = u.Scheme, u.Host, u.Host
		req.URL.Path = u.Path + rest
		ctx, cancel := context.WithTimeout(req.Context(), time.Duration(api.Timeout))
		tg.inflight.Add(1)
		sent := time.Now()
		res, err := t.base.RoundTrip(req.WithContext(ctx))
		c.upstreamTime += time.Since(sent)
		tg.inflight.Add(-1)
		if err == nil {
			if res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusBadGateway {
				tg.failed(c.route.pool.unhealthy)
			} else {
				tg.succeeded(c.route.pool.healthy)
			}
			res.Body = &cancelBody{ReadCloser: res.Body, cancel: cancel}
			return res, nil
		}
		cancel()
		lastErr = err
		var tooBig *http.MaxBytesError
		if out.Context().Err() != nil || errors.As(err, &tooBig) {
			break // the client left, or sent too much: no other upstream will do better
		}
		tg.failed(c.route.pool.unhealthy)
		if !spec.Idempotent(out.Method) && !neverSent(err) {
			break // the upstream may have acted on it: sending it again could act twice
		}
	}
	if lastErr == nil {
		lastErr = errNoUpstream
	}
	return nil, lastErr
}

// onceBody is a request body that says whether an attempt read from it, and that an
// attempt's transport does not close.
type onceBody struct {
	r    io.ReadCloser
	read bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	b.read = true
	return b.r.Read(p)
}

func (b *onceBody) Close() error { return nil }

var errNoUpstream = errors.New("no upstream available")

// neverSent says whether err is a failure to connect: the request never left, so it may go
// to another upstream whatever its method.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// cancelBody ends an attempt's context when its body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// modifyResponse passes the upstream's answer through unchanged but for the API's response
// rules, and notes what the record needs: an upstream error, a SOAP fault, a body too large.
func (g *Gateway) modifyResponse(res *http.Response) error {
	c := callFrom(res.Request.Context())
	c.upstreamStatus = res.StatusCode
	api := c.route.api
	if res.ContentLength > int64(api.MaxResponseBytes) {
		res.Body.Close()
		return errResponseTooLarge
	}
	h := res.Header
	for _, k := range api.Headers.Response.Remove {
		h.Del(k)
	}
	for k, v := range api.Headers.Response.Set {
		h.Set(k, v)
	}
	if res.StatusCode >= 400 {
		c.origin, c.reason = OriginUpstream, res.Status
		h.Set("X-Socle-Error-Origin", OriginUpstream)
	}
	body := io.ReadCloser(&limitedBody{ReadCloser: res.Body, left: int64(api.MaxResponseBytes)})
	if api.Kind == spec.SOAP && res.StatusCode >= 400 || api.Kind == spec.SOAP && strings.Contains(res.Header.Get("Content-Type"), "xml") {
		br := bufio.NewReaderSize(body, 4096)
		if fault, code := detectFault(br); fault {
			c.origin, c.reason = OriginUpstream, "SOAP fault "+code
			h.Set("X-Socle-Error-Origin", OriginUpstream)
		}
		body = struct {
			io.Reader
			io.Closer
		}{br, body}
	}
	res.Body = body
	return nil
}

var errResponseTooLarge = errors.New("the upstream's response is larger than the API's limit")

// limitedBody cuts a response that turns out larger than the limit: the client sees the
// connection end before the declared length, never a silently truncated document.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errResponseTooLarge
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errResponseTooLarge
	}
	return n, err
}

// proxyError answers a call no upstream answered: 502, or 504 on a timeout; 413 when the
// client's body went over the limit on the way.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	c := callFrom(r.Context())
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		g.refuse(w, r, c, http.StatusRequestEntityTooLarge, "request-too-large",
			fmt.Sprintf("the request body is larger than the %d bytes this API accepts", tooBig.Limit))
		return
	case errors.Is(err, errResponseTooLarge):
		c.origin, c.reason = OriginUpstream, "response too large"
		w.Header().Set("X-Socle-Error-Origin", OriginUpstream)
		g.writeError(w, r, c, http.StatusBadGateway, "upstream-response-too-large",
			fmt.Sprintf("the upstream answered more than the %d bytes this API allows", c.route.api.MaxResponseBytes))
		return
	case r.Context().Err() != nil:
		c.origin, c.reason, c.status = OriginNetwork, "client went away", 499
		return
	}
	status, typ := http.StatusBadGateway, "upstream-unreachable"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		status, typ = http.StatusGatewayTimeout, "upstream-timeout"
	}
	where := "no upstream"
	if c.target != nil {
		where = c.target.url.Host
	}
	c.origin, c.reason = OriginNetwork, typ
	w.Header().Set("X-Socle-Error-Origin", OriginNetwork)
	g.writeError(w, r, c, status, typ, fmt.Sprintf("%s did not answer (%d attempts): %v", where, len(c.tried), cleanErr(err)))
}

func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, c *call, status int, typ, why string) {
	if c.route.api.Kind == spec.SOAP {
		writeSOAPFault(w, r, c, status, typ, why)
		return
	}
	problem.Write(w, r, problem.New(typ, status, http.StatusText(status), why))
}

// cleanErr drops the request's URL from a transport error: the upstream's address is said
// once, and its path (which may hold an identifier) is not repeated to the client.
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// finish records the call: analytics, metrics, and the quota given back when the gateway
// refused a call it had counted.
func (g *Gateway) finish(c *call, rec *recorder, r *http.Request) {
	if c.status == 0 {
		c.status = rec.status
	}
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.counted && c.origin == OriginGateway {
		if err := g.quota.Refund(context.WithoutCancel(r.Context()), c.consumer, c.route.api.Name, c.plan, c.start); err != nil {
			g.logger.Warn("gateway: quota refund", "error", err)
		}
	}
	api := ""
	if c.route != nil {
		api = c.route.api.Name
	}
	rd := analytics.Record{
		Time:           c.start,
		RequestID:      server.RequestID(r.Context()),
		Replica:        g.replica,
		Consumer:       c.consumer,
		API:            api,
		Operation:      c.operation,
		Method:         r.Method,
		Status:         c.status,
		UpstreamStatus: c.upstreamStatus,
		Origin:         c.origin,
		Error:          c.reason,
		Latency:        time.Since(c.start),
		Upstream:       c.upstreamTime,
		BytesIn:        max(r.ContentLength, 0),
		BytesOut:       rec.bytes,
	}
	if ip, err := netip.ParseAddr(identity.ClientIP(r)); err == nil {
		rd.ClientIP = ip
	}
	if c.origin == "" && c.status >= 400 {
		rd.Origin = OriginGateway
	}
	g.metrics.Observe(rd)
	g.records.Record(rd)
}

// recorder notes what was written to the client.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// traceparent is the W3C Trace Context header the upstream gets: the caller's trace, if it
// sent a valid one, continued with a span of the gateway's; a new trace otherwise
// (https://www.w3.org/TR/trace-context/ §3.2: version ff and all-zero ids are invalid; a later
// version is read as 00 and forwarded as 00, the version the gateway speaks).
func traceparent(in string) string {
	var b [24]byte
	rand.Read(b[:])
	span := hex.EncodeToString(b[16:])
	zeros := "00000000000000000000000000000000"
	valid := len(in) >= 55 && in[2] == '-' && in[35] == '-' && in[52] == '-' && hexOnly(in[:2]) && in[:2] != "ff" &&
		hexOnly(in[3:35]) && in[3:35] != zeros && hexOnly(in[36:52]) && in[36:52] != zeros[:16] && hexOnly(in[53:55]) &&
		(len(in) == 55 || in[:2] != "00" && in[55] == '-')
	if valid {
		return "00-" + in[3:36] + span + in[52:55]
	}
	return "00-" + hex.EncodeToString(b[:16]) + "-" + span + "-01"
}

func hexOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return copyBuffers.Get().([]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(b) }
