package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"socle/internal/gateway/soap"
	"socle/internal/platform/problem"
	"socle/internal/platform/server"
	"socle/internal/platform/xmlsafe"
)

// soapService is a SOAP API's description: its operations, and its WSDL text.
type soapService struct {
	desc *soap.Description
	doc  []byte
}

// newSOAPService reads a WSDL; a SOAP API without one is served too, its calls classified
// by their envelope only.
func newSOAPService(doc []byte) (*soapService, error) {
	if len(doc) == 0 {
		return &soapService{}, nil
	}
	d, err := soap.ParseWSDL(doc)
	if err != nil {
		return &soapService{}, err
	}
	return &soapService{desc: d, doc: doc}, nil
}

// soapCall is what the gateway knows of a SOAP call.
type soapCall struct {
	version soap.Version
}

// threats bound what a SOAP request may hold before it is parsed at all: the "XML threat
// protection" of gateways. MaxSize is the API's max_request_bytes.
var threats = xmlsafe.Limits{MaxDepth: 64, MaxElements: 10000, MaxAttributes: 64, MaxNameLength: 256,
	MaxTextLength: 1 << 20, MaxAttrValueLength: 8192}

// readSOAP reads a SOAP request whole (it is bounded by the API's limit), screens it, and
// names its operation; it answers a refused one with a SOAP fault.
func (g *Gateway) readSOAP(w http.ResponseWriter, r *http.Request, c *call) bool {
	c.soap.version = soap.V11
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/soap+xml") {
		c.soap.version = soap.V12
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		g.refuse(w, r, c, http.StatusRequestEntityTooLarge, "request-too-large",
			fmt.Sprintf("the request body is larger than the %d bytes this API accepts", tooBig.Limit))
		return false
	}
	if err != nil {
		c.origin, c.reason, c.status = OriginNetwork, "client went away", 499
		return false
	}
	limits := threats
	limits.MaxSize = int(c.route.api.MaxRequestBytes)
	if err := limits.Check(body); err != nil {
		c.origin, c.reason = OriginGateway, "xml-threat"
		w.Header().Set("X-Socle-Error-Origin", OriginGateway)
		g.fault(w, r, c, soap.Sender, 0, "xml-threat", "the request was refused by the XML threat protection: "+err.Error())
		return false
	}
	req, err := soap.ReadRequest(r, body, c.route.soap.desc)
	if err != nil {
		c.origin, c.reason = OriginGateway, "not-soap"
		w.Header().Set("X-Socle-Error-Origin", OriginGateway)
		g.fault(w, r, c, soap.CodeOf(err), 0, "soap-request", err.Error())
		return false
	}
	c.soap.version = req.Version
	if req.Operation != nil {
		c.operation = req.Operation.Name
	} else {
		c.operation = req.Action
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return true
}

// writeSOAPFault answers a call to a SOAP API the gateway refuses: a fault in the call's SOAP
// version, with the HTTP status that says why (401, 403, 429...) so that HTTP-aware clients
// and proxies understand it too.
func writeSOAPFault(w http.ResponseWriter, r *http.Request, c *call, status int, typ, why string) {
	code := soap.Sender
	if status >= 500 {
		code = soap.Receiver
	}
	v := c.soap.version
	if v == "" {
		v = soap.V11
		if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/soap+xml") {
			v = soap.V12
		}
	}
	b := soap.MarshalFault(v, soap.Fault{Code: code, Reason: why, Type: problem.TypePrefix + typ, RequestID: server.RequestID(r.Context())})
	ct := "text/xml; charset=utf-8"
	if v == soap.V12 {
		ct = "application/soap+xml; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(b)
}

// fault writes a SOAP fault with the status of the SOAP HTTP bindings (status 0), or the
// one given.
func (g *Gateway) fault(w http.ResponseWriter, r *http.Request, c *call, code soap.Code, status int, typ, why string) {
	f := soap.Fault{Code: code, Reason: why, Type: problem.TypePrefix + typ, RequestID: server.RequestID(r.Context())}
	if status == 0 {
		soap.WriteFault(w, c.soap.version, f)
		return
	}
	writeSOAPFault(w, r, c, status, typ, why)
}

// serveWSDL serves a SOAP API's WSDL with the gateway's address in its ports.
func (g *Gateway) serveWSDL(w http.ResponseWriter, r *http.Request, route *apiRoute) {
	if route.soap == nil || route.soap.desc == nil {
		problem.Write(w, r, problem.New("no-wsdl", http.StatusNotFound, "No WSDL", "this API was published without a WSDL"))
		return
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	doc, err := route.soap.desc.RewriteAddresses(route.soap.doc, scheme+"://"+r.Host+"/apis/"+route.api.Name)
	if err != nil {
		problem.Write(w, r, problem.Internal())
		g.logger.Error("gateway: WSDL", "api", route.api.Name, "error", err)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Write(doc)
}

// detectFault looks at the first bytes of a response for a SOAP fault, leaving them to be
// read.
func detectFault(br *bufio.Reader) (bool, string) {
	b, _ := br.Peek(br.Size())
	return soap.DetectFault(b)
}

// copyBuffers are the proxy's copy buffers, 32 KiB as net/http/httputil's own.
var copyBuffers = sync.Pool{New: func() any { return make([]byte, 32<<10) }}
