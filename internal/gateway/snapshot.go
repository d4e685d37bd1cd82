package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/jwtauth"
	"socle/internal/gateway/spec"
)

// snapshot is what the gateway serves from: one catalogue and the routes built from it. A
// call takes the current snapshot once, when it starts, and keeps it to the end: a change to
// the catalogue applies to the calls that start after it, whole.
type snapshot struct {
	cat    *catalog.Catalog
	routes map[string]*apiRoute
}

// apiRoute is an API as the proxy serves it.
type apiRoute struct {
	api  spec.API
	pool *pool
	ops  *operations  // REST: the OpenAPI operations, to name each call's
	soap *soapService // SOAP: the WSDL's operations
	cors *cors
}

// issuer finds a JWT issuer of the catalogue.
func (s *snapshot) issuer(iss string) (jwtauth.Issuer, bool) {
	is := s.cat.Issuers[iss]
	if is == nil {
		return jwtauth.Issuer{}, false
	}
	return jwtauth.Issuer{Issuer: is.Issuer, JWKS: is.JWKS, Audience: is.Audience}, true
}

// build makes the snapshot of a catalogue. An API whose description cannot be read is still
// served (its calls are just not named by operation); the problem is logged.
func (g *Gateway) build(ctx context.Context, cat *catalog.Catalog) *snapshot {
	s := &snapshot{cat: cat, routes: map[string]*apiRoute{}}
	for name, a := range cat.APIs {
		r := &apiRoute{api: a.Spec, pool: g.targets.pool(a.Spec)}
		if a.Spec.CORS != nil {
			r.cors = newCORS(*a.Spec.CORS)
		}
		var err error
		switch a.Spec.Kind {
		case spec.REST:
			if len(a.Doc) > 0 {
				r.ops, err = g.operations(ctx, a.Doc)
			}
		case spec.SOAP:
			r.soap, err = newSOAPService(a.Doc)
		}
		if err != nil {
			g.logger.Warn("gateway: API description unusable", "api", name, "error", err)
		}
		s.routes[name] = r
	}
	return s
}

// operations are an OpenAPI document's operations, found by kin-openapi's router. Documents
// are parsed once per text: a reload that does not change an API's document reuses them.
type operations struct {
	router routers.Router
}

type opsCache struct {
	mu   sync.Mutex
	docs map[string]*operations
}

func (g *Gateway) operations(ctx context.Context, doc []byte) (*operations, error) {
	g.ops.mu.Lock()
	defer g.ops.mu.Unlock()
	if o, ok := g.ops.docs[string(doc)]; ok {
		return o, nil
	}
	o, err := parseOperations(ctx, doc)
	if err != nil {
		return nil, err
	}
	if g.ops.docs == nil {
		g.ops.docs = map[string]*operations{}
	}
	g.ops.docs[string(doc)] = o
	return o, nil
}

// CheckOpenAPI says whether doc is an OpenAPI 3.0 or 3.1 document the gateway can use.
func CheckOpenAPI(ctx context.Context, doc []byte) error {
	_, err := parseOperations(ctx, doc)
	return err
}

func parseOperations(ctx context.Context, doc []byte) (*operations, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false // a description names nothing outside itself
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI: %w", err)
	}
	if err := t.Validate(ctx); err != nil {
		return nil, fmt.Errorf("OpenAPI: %w", err)
	}
	// Paths are matched against what follows /apis/NAME, whatever the document's servers.
	t.Servers = openapi3.Servers{{URL: "/"}}
	r, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI: %w", err)
	}
	return &operations{router: r}, nil
}

// find names the operation of a call: its operationId, or METHOD path-template.
func (o *operations) find(method, path string) string {
	req := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "gateway"}
	route, _, err := o.router.FindRoute(req)
	if err != nil {
		return ""
	}
	if route.Operation != nil && route.Operation.OperationID != "" {
		return route.Operation.OperationID
	}
	return method + " " + route.Path
}

// cors answers the CORS protocol of the Fetch standard for an API (§3.2): preflights, and
// the headers of actual responses.
type cors struct {
	c       spec.CORS
	any     bool
	methods string
	headers string
	expose  string
	maxAge  string
}

func newCORS(c spec.CORS) *cors {
	methods := c.Methods
	if len(methods) == 0 {
		methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}
	}
	headers := c.Headers
	if len(headers) == 0 {
		headers = []string{"Authorization", "X-API-Key", "Content-Type", "Traceparent"}
	}
	age := time.Duration(c.MaxAge)
	if age == 0 {
		age = 10 * time.Minute
	}
	return &cors{c: c, any: slices.Contains(c.Origins, "*"), methods: strings.Join(methods, ", "),
		headers: strings.Join(headers, ", "), expose: strings.Join(append([]string{"X-Request-Id", "Traceparent",
			"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "X-Socle-Error-Origin"}, c.Expose...), ", "),
		maxAge: strconv.Itoa(int(age.Seconds()))}
}

func (c *cors) allowed(origin string) bool {
	return origin != "" && (c.any || slices.Contains(c.c.Origins, origin))
}

func (c *cors) origin(h http.Header, origin string) {
	if c.any && !c.c.Credentials {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	if c.c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// preflight answers an OPTIONS preflight request; it says whether it was one. A preflight
// carries no credentials (Fetch §3.2.2), so it is answered before authentication and costs
// no quota.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if r.Method != http.MethodOptions || origin == "" || r.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	h := w.Header()
	if c.allowed(origin) {
		c.origin(h, origin)
		h.Set("Access-Control-Allow-Methods", c.methods)
		h.Set("Access-Control-Allow-Headers", c.headers)
		h.Set("Access-Control-Max-Age", c.maxAge)
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (c *cors) actual(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); c.allowed(origin) {
		c.origin(w.Header(), origin)
		w.Header().Set("Access-Control-Expose-Headers", c.expose)
	}
}
