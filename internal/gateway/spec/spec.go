// Package spec is the gateway's part of the file `socle apply -f` reads: the APIs published
// on the gateway, the plans that bound their use, and the consumers that subscribe to them.
// It parses and checks the section without touching anything — every problem is reported
// with its line — and it is what the portal's forms are checked against too, so that an
// API or a plan means the same whichever way it was written.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Gateway is the `gateway:` section.
type Gateway struct {
	APIs      []API      `yaml:"apis" json:"apis"`
	Plans     []Plan     `yaml:"plans" json:"plans"`
	Consumers []Consumer `yaml:"consumers" json:"consumers"`
	// Issuers are the identity providers whose JWTs consumers may present.
	Issuers []Issuer `yaml:"jwt_issuers" json:"jwt_issuers,omitempty"`
}

// Kinds of API.
const (
	REST = "rest"
	SOAP = "soap"
)

// Credentials a consumer may present.
const (
	AuthKey  = "key"  // an API key: Authorization: Bearer KEY, or X-API-Key
	AuthJWT  = "jwt"  // a JWT from one of the issuers, bound to the consumer
	AuthMTLS = "mtls" // a client certificate bound to the consumer, on the interconnect listener
)

// API is a published service, served at /apis/NAME/ on the web and interconnect listeners.
type API struct {
	Name        string   `yaml:"name" json:"name"`
	Title       string   `yaml:"title" json:"title,omitempty"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Kind        string   `yaml:"kind" json:"kind"`
	Upstreams   []string `yaml:"upstreams" json:"upstreams"`
	Auth        []string `yaml:"auth" json:"auth"`
	// OpenAPI and WSDL are paths to the API's description (relative to the file), one of
	// them by kind; the document's text is stored with the API.
	OpenAPI string `yaml:"openapi" json:"openapi,omitempty"`
	WSDL    string `yaml:"wsdl" json:"wsdl,omitempty"`
	// Balance picks an upstream: round_robin (default) or least_requests.
	Balance string `yaml:"balance" json:"balance,omitempty"`
	// Health is the upstreams' active health check; passive checks always run.
	Health *Health `yaml:"health" json:"health,omitempty"`
	// Timeout bounds one attempt (default 30 s); Retries is how many more attempts an
	// idempotent request gets on another upstream after a network error (default 1).
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	Retries *int     `yaml:"retries" json:"retries,omitempty"`
	// MaxRequestBytes and MaxResponseBytes bound the bodies (defaults 10 MiB and 50 MiB).
	MaxRequestBytes  Size    `yaml:"max_request_bytes" json:"max_request_bytes,omitempty"`
	MaxResponseBytes Size    `yaml:"max_response_bytes" json:"max_response_bytes,omitempty"`
	Headers          Headers `yaml:"headers" json:"headers,omitempty"`
	CORS             *CORS   `yaml:"cors" json:"cors,omitempty"`
	line             int
}

// An upstream socle://interconnect/PATH is a service of this socle itself, published on its
// gateway (the wallet's verifier and inbox APIs): the gateway calls its own interconnect
// listener, wherever it is bound, with socle's client certificate, and the service believes
// the consumer the gateway names (X-Socle-Consumer) because the call comes from socle.
const (
	SelfScheme = "socle"
	SelfHost   = "interconnect"
)

// Health is an active health check: GET Path on each upstream every Interval; an upstream
// is out after Unhealthy failures in a row and back after Healthy successes.
type Health struct {
	Path      string   `yaml:"path" json:"path"`
	Interval  Duration `yaml:"interval" json:"interval,omitempty"`
	Unhealthy int      `yaml:"unhealthy" json:"unhealthy,omitempty"`
	Healthy   int      `yaml:"healthy" json:"healthy,omitempty"`
}

// Headers are rules applied to the request on its way up and to the response on its way
// back: headers set (replacing any value) and headers removed.
type Headers struct {
	Request  HeaderRules `yaml:"request" json:"request,omitempty"`
	Response HeaderRules `yaml:"response" json:"response,omitempty"`
}

// HeaderRules set and remove headers.
type HeaderRules struct {
	Set    map[string]string `yaml:"set" json:"set,omitempty"`
	Remove []string          `yaml:"remove" json:"remove,omitempty"`
}

// CORS lets web pages of other origins call the API (the Fetch standard's CORS protocol).
type CORS struct {
	Origins     []string `yaml:"origins" json:"origins"`
	Methods     []string `yaml:"methods" json:"methods,omitempty"`
	Headers     []string `yaml:"headers" json:"headers,omitempty"`
	Expose      []string `yaml:"expose" json:"expose,omitempty"`
	Credentials bool     `yaml:"credentials" json:"credentials,omitempty"`
	MaxAge      Duration `yaml:"max_age" json:"max_age,omitempty"`
}

// Plan bounds a subscription's use.
type Plan struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description,omitempty"`
	Quota       Quota  `yaml:"quota" json:"quota"`
	line        int
}

// Quota is the number of calls a subscription may make per second and per day (a day in
// Brussels and Paris time); 0 is no limit.
type Quota struct {
	PerSecond int `yaml:"per_second" json:"per_second,omitempty"`
	PerDay    int `yaml:"per_day" json:"per_day,omitempty"`
}

// Consumer is an organisation's application.
type Consumer struct {
	Name          string         `yaml:"name" json:"name"`
	Organisation  string         `yaml:"organisation" json:"organisation,omitempty"`
	Contact       string         `yaml:"contact" json:"contact,omitempty"`
	Subscriptions []Subscription `yaml:"subscriptions" json:"subscriptions,omitempty"`
	// Certificates are paths to PEM client certificates bound to the consumer (mtls).
	Certificates []string `yaml:"certificates" json:"certificates,omitempty"`
	// JWT binds tokens to the consumer: a token of Issuer whose subject (sub, or client_id
	// when present) is Subject is the consumer's.
	JWT  []JWTBinding `yaml:"jwt" json:"jwt,omitempty"`
	line int
}

// Subscription is a consumer's right to call an API within a plan's quota.
type Subscription struct {
	API  string `yaml:"api" json:"api"`
	Plan string `yaml:"plan" json:"plan"`
}

// JWTBinding names a token subject of an issuer.
type JWTBinding struct {
	Issuer  string `yaml:"issuer" json:"issuer"`
	Subject string `yaml:"subject" json:"subject"`
}

// Issuer is an identity provider whose tokens the gateway accepts: its JWKS is fetched,
// cached and refreshed (a kid it does not know triggers a refresh, at most every 10 s).
type Issuer struct {
	Issuer   string `yaml:"issuer" json:"issuer"`
	JWKS     string `yaml:"jwks" json:"jwks"`
	Audience string `yaml:"audience" json:"audience,omitempty"`
	line     int
}

// Line is where the entry starts in its file (0: not from a file).
func (a API) Line() int      { return a.line }
func (p Plan) Line() int     { return p.line }
func (c Consumer) Line() int { return c.line }

// Duration is a time.Duration written as Go writes it ("30s", "1m30s").
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (such as 500ms, 30s, 2m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration (such as 500ms, 30s, 2m)", b)
	}
	*d = Duration(v)
	return nil
}

// Size is a number of bytes, written as a number or with a unit: 512KiB, 10MiB, 1GiB (or
// kB, MB, GB in powers of ten).
type Size int64

var sizeUnits = map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}

// lineRE reads the line yaml.v3 puts at the head of its errors.
var lineRE = regexp.MustCompile(`^line (\d+): `)

var sizeRE = regexp.MustCompile(`^\s*([0-9]+)\s*([A-Za-z]*)\s*$`)

// ParseSize reads a Size.
func ParseSize(s string) (Size, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (such as 1048576, 512KiB, 10MiB)", s)
	}
	unit, ok := sizeUnits[strings.ToUpper(m[2])]
	n, err := strconv.ParseInt(m[1], 10, 64)
	if !ok || err != nil || n > (1<<50)/unit {
		return 0, fmt.Errorf("%q is not a size (such as 1048576, 512KiB, 10MiB)", s)
	}
	return Size(n * unit), nil
}

func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*s = v
	return nil
}

// Defaults of an API.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultRetries          = 1
	DefaultMaxRequestBytes  = 10 << 20
	DefaultMaxResponseBytes = 50 << 20
	DefaultHealthInterval   = 10 * time.Second
)

// WithDefaults returns a with its defaults filled in.
func (a API) WithDefaults() API {
	if a.Balance == "" {
		a.Balance = "round_robin"
	}
	if a.Timeout == 0 {
		a.Timeout = Duration(DefaultTimeout)
	}
	if a.Retries == nil {
		r := DefaultRetries
		a.Retries = &r
	}
	if a.MaxRequestBytes == 0 {
		a.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if a.MaxResponseBytes == 0 {
		a.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if a.Health != nil {
		h := *a.Health
		if h.Interval == 0 {
			h.Interval = Duration(DefaultHealthInterval)
		}
		if h.Unhealthy == 0 {
			h.Unhealthy = 2
		}
		if h.Healthy == 0 {
			h.Healthy = 1
		}
		a.Health = &h
	}
	return a
}

// UnmarshalYAML keeps each entry's line (unknown keys were refused by Parse, before).
func (a *API) UnmarshalYAML(n *yaml.Node) error {
	type plain API
	if err := n.Decode((*plain)(a)); err != nil {
		return err
	}
	a.line = n.Line
	return nil
}

func (p *Plan) UnmarshalYAML(n *yaml.Node) error {
	type plain Plan
	if err := n.Decode((*plain)(p)); err != nil {
		return err
	}
	p.line = n.Line
	return nil
}

func (c *Consumer) UnmarshalYAML(n *yaml.Node) error {
	type plain Consumer
	if err := n.Decode((*plain)(c)); err != nil {
		return err
	}
	c.line = n.Line
	return nil
}

func (i *Issuer) UnmarshalYAML(n *yaml.Node) error {
	type plain Issuer
	if err := n.Decode((*plain)(i)); err != nil {
		return err
	}
	i.line = n.Line
	return nil
}

// knownKeys refuses, with its line, every key of n that no field of t (by its yaml tag)
// declares, at every depth. yaml.v3's KnownFields does not reach into custom unmarshalers,
// which the entries have (to keep their lines), hence this walk over the node and the type.
func knownKeys(n *yaml.Node, t reflect.Type, where string) Problems {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var ps Problems
	switch {
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, c := range n.Content {
			ps = append(ps, knownKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", where, i))...)
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				fields[tag] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for name := range fields {
					names = append(names, name)
				}
				slices.Sort(names)
				ps = append(ps, Problem{k.Line, strings.TrimPrefix(where+"."+k.Value, "."), "unknown key (known: " + strings.Join(names, ", ") + ")"})
				continue
			}
			ps = append(ps, knownKeys(n.Content[i+1], ft, strings.TrimPrefix(where+"."+k.Value, "."))...)
		}
	}
	return ps
}

// Problem is one thing wrong in the section, at a line of the file (0 when it did not come
// from a file).
type Problem struct {
	Line    int
	Where   string // the entry and field: "apis[population].upstreams[1]"
	Message string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Where, p.Message)
	}
	return p.Where + ": " + p.Message
}

// Problems is every problem found; as an error it lists them.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Parse reads the gateway section from a YAML node (the value of the `gateway:` key), with
// read returning the files it names. It returns the section and every problem of it; nothing
// is checked against the database here.
func Parse(n *yaml.Node, read func(path string) ([]byte, error)) (*Gateway, Docs, Problems) {
	if n == nil || n.Kind != yaml.MappingNode {
		line := 0
		if n != nil {
			line = n.Line
		}
		return nil, nil, Problems{{Line: line, Where: "gateway", Message: "want a mapping: apis, plans, consumers, jwt_issuers"}}
	}
	if ps := knownKeys(n, reflect.TypeFor[Gateway](), ""); len(ps) > 0 {
		return nil, nil, ps
	}
	var g Gateway
	if err := n.Decode(&g); err != nil {
		line, msg := n.Line, strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
		if m := lineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		return nil, nil, Problems{{Line: line, Where: "gateway", Message: msg}}
	}
	docs := Docs{}
	ps := g.Check()
	for _, a := range g.APIs {
		path := a.OpenAPI
		if a.Kind == SOAP {
			path = a.WSDL
		}
		if path == "" {
			continue
		}
		b, err := read(path)
		if err != nil {
			ps = append(ps, Problem{a.line, "apis[" + a.Name + "]." + map[bool]string{true: "wsdl", false: "openapi"}[a.Kind == SOAP], err.Error()})
			continue
		}
		docs[a.Name] = b
	}
	return &g, docs, ps
}

// Docs are the APIs' descriptions (OpenAPI or WSDL text) by API name.
type Docs map[string][]byte

// ParseFile reads a whole file holding a `gateway:` key (tests and tools).
func ParseFile(raw []byte, read func(string) ([]byte, error)) (*Gateway, Docs, Problems) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, Problems{{Line: 1, Where: "file", Message: err.Error()}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, Problems{{Line: 1, Where: "file", Message: "want a mapping with a gateway key"}}
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "gateway" {
			return Parse(m.Content[i+1], read)
		}
	}
	return nil, nil, Problems{{Line: 1, Where: "file", Message: "no gateway key"}}
}

var nameRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName says whether s can name an API, a plan or a consumer: lower-case letters,
// digits and hyphens, at most 63 characters (it appears in URLs and metrics labels).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Check returns every problem of the section as written: names, kinds, URLs, references
// between entries. Paths to files are checked by Parse.
func (g *Gateway) Check() Problems {
	var ps Problems
	bad := func(line int, where, format string, args ...any) {
		ps = append(ps, Problem{line, where, fmt.Sprintf(format, args...)})
	}
	apis := map[string]API{}
	for i, a := range g.APIs {
		where := fmt.Sprintf("apis[%d]", i)
		if a.Name != "" {
			where = "apis[" + a.Name + "]"
		}
		for _, p := range a.CheckAPI() {
			bad(a.line, where+p.Where, "%s", p.Message)
		}
		if _, dup := apis[a.Name]; dup && a.Name != "" {
			bad(a.line, where+".name", "declared twice")
		}
		apis[a.Name] = a
	}
	plans := map[string]bool{}
	for i, p := range g.Plans {
		where := fmt.Sprintf("plans[%d]", i)
		switch {
		case !ValidName(p.Name):
			bad(p.line, where+".name", "%q: lower-case letters, digits and hyphens, at most 63", p.Name)
		case plans[p.Name]:
			bad(p.line, "plans["+p.Name+"].name", "declared twice")
		}
		if p.Quota.PerSecond < 0 || p.Quota.PerDay < 0 {
			bad(p.line, where+".quota", "a quota is a number of calls, 0 or more (0: no limit)")
		}
		plans[p.Name] = true
	}
	issuers := map[string]bool{}
	for i, is := range g.Issuers {
		where := fmt.Sprintf("jwt_issuers[%d]", i)
		if u, err := url.Parse(is.Issuer); err != nil || u.Scheme != "https" && !loopbackHTTP(u) || u.Host == "" {
			bad(is.line, where+".issuer", "%q: an https URL", is.Issuer)
		}
		if u, err := url.Parse(is.JWKS); err != nil || u.Scheme != "https" && !loopbackHTTP(u) || u.Host == "" {
			bad(is.line, where+".jwks", "%q: an https URL (the issuer's JSON Web Key Set)", is.JWKS)
		}
		if issuers[is.Issuer] {
			bad(is.line, where+".issuer", "declared twice")
		}
		issuers[is.Issuer] = true
	}
	consumers := map[string]bool{}
	for i, c := range g.Consumers {
		where := fmt.Sprintf("consumers[%d]", i)
		if c.Name != "" {
			where = "consumers[" + c.Name + "]"
		}
		switch {
		case !ValidName(c.Name):
			bad(c.line, where+".name", "%q: lower-case letters, digits and hyphens, at most 63", c.Name)
		case consumers[c.Name]:
			bad(c.line, where+".name", "declared twice")
		}
		consumers[c.Name] = true
		subs := map[string]bool{}
		for j, s := range c.Subscriptions {
			sw := fmt.Sprintf("%s.subscriptions[%d]", where, j)
			if _, ok := apis[s.API]; !ok {
				bad(c.line, sw+".api", "%q: no such API in this file", s.API)
			}
			if !plans[s.Plan] {
				bad(c.line, sw+".plan", "%q: no such plan in this file", s.Plan)
			}
			if subs[s.API] {
				bad(c.line, sw+".api", "%q: subscribed twice", s.API)
			}
			subs[s.API] = true
		}
		for j, b := range c.JWT {
			if !issuers[b.Issuer] {
				bad(c.line, fmt.Sprintf("%s.jwt[%d].issuer", where, j), "%q: not among jwt_issuers", b.Issuer)
			}
			if b.Subject == "" {
				bad(c.line, fmt.Sprintf("%s.jwt[%d].subject", where, j), "required")
			}
		}
	}
	return ps
}

// CheckAPI returns the problems of one API; Where is relative to the API (".upstreams[1]").
func (a API) CheckAPI() Problems {
	var ps Problems
	bad := func(where, format string, args ...any) {
		ps = append(ps, Problem{a.line, where, fmt.Sprintf(format, args...)})
	}
	if !ValidName(a.Name) {
		bad(".name", "%q: lower-case letters, digits and hyphens, at most 63", a.Name)
	}
	switch a.Kind {
	case REST:
		if a.WSDL != "" {
			bad(".wsdl", "a REST API is described by openapi, not wsdl")
		}
	case SOAP:
		if a.OpenAPI != "" {
			bad(".openapi", "a SOAP API is described by wsdl, not openapi")
		}
	default:
		bad(".kind", "%q: rest or soap", a.Kind)
	}
	if len(a.Upstreams) == 0 {
		bad(".upstreams", "at least one upstream URL")
	}
	seen := map[string]bool{}
	for i, s := range a.Upstreams {
		u, err := url.Parse(s)
		switch {
		case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http" && u.Scheme != SelfScheme:
			bad(fmt.Sprintf(".upstreams[%d]", i), "%q: an http or https URL, or socle://interconnect/PATH", s)
		case u.Scheme == SelfScheme && u.Host != SelfHost:
			bad(fmt.Sprintf(".upstreams[%d]", i), "%q: socle://interconnect/PATH is the only upstream of scheme socle", s)
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			bad(fmt.Sprintf(".upstreams[%d]", i), "%q: no query, fragment or credentials in an upstream URL", s)
		case seen[s]:
			bad(fmt.Sprintf(".upstreams[%d]", i), "%q: listed twice", s)
		}
		seen[s] = true
	}
	if len(a.Auth) == 0 {
		bad(".auth", "at least one of key, jwt, mtls")
	}
	for i, m := range a.Auth {
		if m != AuthKey && m != AuthJWT && m != AuthMTLS {
			bad(fmt.Sprintf(".auth[%d]", i), "%q: key, jwt or mtls", m)
		}
	}
	switch a.Balance {
	case "", "round_robin", "least_requests":
	default:
		bad(".balance", "%q: round_robin or least_requests", a.Balance)
	}
	if a.Health != nil && (!strings.HasPrefix(a.Health.Path, "/") || a.Health.Unhealthy < 0 || a.Health.Healthy < 0) {
		bad(".health", "a path starting with /, and counts of 0 or more")
	}
	if a.Retries != nil && (*a.Retries < 0 || *a.Retries > 5) {
		bad(".retries", "%d: from 0 to 5", *a.Retries)
	}
	if a.MaxRequestBytes < 0 || a.MaxResponseBytes < 0 {
		bad(".max_request_bytes", "a size of 0 or more")
	}
	for _, r := range []struct {
		where string
		rules HeaderRules
	}{{".headers.request", a.Headers.Request}, {".headers.response", a.Headers.Response}} {
		for k, v := range r.rules.Set {
			if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
				bad(r.where+".set", "%q: not a header a gateway may set", k)
			}
		}
		for _, k := range r.rules.Remove {
			if !validHeaderName(k) {
				bad(r.where+".remove", "%q: not a header name", k)
			}
		}
	}
	if c := a.CORS; c != nil {
		if len(c.Origins) == 0 {
			bad(".cors.origins", "at least one origin, or \"*\"")
		}
		for i, o := range c.Origins {
			if o == "*" {
				if c.Credentials {
					bad(fmt.Sprintf(".cors.origins[%d]", i), "\"*\" cannot go with credentials (Fetch standard, CORS protocol)")
				}
				continue
			}
			u, err := url.Parse(o)
			if err != nil || u.Host == "" || u.Path != "" || u.Scheme != "https" && u.Scheme != "http" {
				bad(fmt.Sprintf(".cors.origins[%d]", i), "%q: an origin, such as https://app.example.be", o)
			}
		}
		for i, m := range c.Methods {
			if !validHeaderName(m) || strings.ToUpper(m) != m {
				bad(fmt.Sprintf(".cors.methods[%d]", i), "%q: a method in capitals", m)
			}
		}
	}
	return ps
}

// Reserved are headers the gateway owns: rules may not set or remove them.
var reserved = []string{"Authorization", "X-Api-Key", "Host", "Content-Length", "Transfer-Encoding", "Connection",
	"Traceparent", "X-Request-Id", "Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Ratelimit-Policy", "Retry-After"}

func validHeaderName(k string) bool {
	if k == "" || slices.Contains(reserved, textproto.CanonicalMIMEHeaderKey(k)) {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func loopbackHTTP(u *url.URL) bool {
	h := u.Hostname()
	return u.Scheme == "http" && (h == "127.0.0.1" || h == "::1" || h == "localhost")
}

// Idempotent says whether a request with this method may be sent again (RFC 9110 §9.2.2).
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
