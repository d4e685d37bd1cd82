// Package opsim is a reference operator location server: it answers HELD location requests
// (RFC 5985) as an operator's would — the serving cell's area for mobile numbers, the line's
// civic address for fixed ones — with configurable delay and errors. Operators without their
// own server test against it, and so do socle's tests. `socle sim operator` runs it.
package opsim

import (
	"crypto/rand"
	"hash/fnv"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"socle/internal/emergency/held"
	"socle/internal/emergency/pidflo"
)

// Sim is the simulator's handler.
type Sim struct {
	// Mobile decides whether a number (E.164 digits) is a mobile line; default: French
	// mobile ranges, +33 6 and +33 7.
	Mobile func(number string) bool
	// Unknown decides whether a number is one the server knows nothing of (it answers
	// locationUnknown, RFC 5985 §4.3.2); default: +33 9999 numbers, which no French operator
	// is assigned.
	Unknown func(number string) bool

	delay     atomic.Int64
	errCode   atomic.Value // string
	reference atomic.Value // string: "" by value, else the host of the URIs given
	requests  atomic.Int64
	mu        sync.Mutex
	asked     map[string]int
	refs      map[string]reference // by URI path
}

// reference is a location URI given out: whose location it is, until when.
type reference struct {
	device  string
	expires time.Time
}

// ReferenceLifetime is how long a location URI the simulator gives stays valid.
const ReferenceLifetime = 10 * time.Minute

// New returns a simulator.
func New() *Sim { return &Sim{asked: map[string]int{}, refs: map[string]reference{}} }

// SetByReference makes the simulator answer location requests by reference, as a LIS may
// (RFC 5985 §6.2.1): a locationUriSet with one https URI, which a HELD dereference request
// (RFC 6753 §3) to that URI answers with the location until it expires. The URI is on host,
// or on the host the request came to when host is empty. SetByReference(false, "") answers
// by value again.
func (s *Sim) SetByReference(byReference bool, host string) {
	if !byReference {
		s.reference.Store("")
		return
	}
	s.reference.Store("ref:" + host)
}

// SetDelay makes every answer wait d.
func (s *Sim) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// SetError makes every answer a HELD error with code (empty: answer normally).
func (s *Sim) SetError(code string) { s.errCode.Store(code) }

// Asked is how many requests came for a number.
func (s *Sim) Asked(number string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asked[number]
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(b []byte) {
		w.Header().Set("Content-Type", held.MediaType)
		w.Write(b)
	}
	// RFC 5985 §8: a HELD client MUST send an Accept header naming application/held+xml. The
	// simulator holds socle's client to it, as a strict LIS would.
	if !strings.Contains(r.Header.Get("Accept"), held.MediaType) {
		reply(held.EncodeError(&held.Error{Code: held.RequestError, Message: "Accept must include " + held.MediaType}))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, held.MaxSize+1))
	s.mu.Lock()
	ref, isRef := s.refs[r.URL.Path]
	s.mu.Unlock()
	var req held.Request
	var herr *held.Error
	if isRef {
		// A dereference (RFC 6753 §3): the URI names the target.
		if req, herr = held.ParseDereferenceRequest(body); herr == nil {
			if time.Now().After(ref.expires) {
				herr = &held.Error{Code: held.LocationUnknown, Message: "this location URI has expired"}
			}
			req.Device = ref.device
		}
	} else {
		req, herr = held.ParseRequest(body)
	}
	if herr != nil { // in a 200, as every HELD error (RFC 5985 §8)
		reply(held.EncodeError(herr))
		return
	}
	if mode, _ := s.reference.Load().(string); mode != "" && !isRef {
		host, _ := strings.CutPrefix(mode, "ref:")
		if host == "" {
			host = r.Host
		}
		path := "/loc/" + rand.Text()
		exp := time.Now().Add(ReferenceLifetime)
		s.mu.Lock()
		if len(s.refs) >= 1024 { // a long run forgets the URIs that expired
			maps.DeleteFunc(s.refs, func(_ string, r reference) bool { return time.Now().After(r.expires) })
		}
		s.refs[path] = reference{device: req.Device, expires: exp}
		s.mu.Unlock()
		reply(held.EncodeReference([]string{"https://" + host + path}, exp))
		return
	}
	number := strings.TrimPrefix(req.Device, "tel:+")
	s.requests.Add(1)
	s.mu.Lock()
	s.asked[number]++
	s.mu.Unlock()
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if code, _ := s.errCode.Load().(string); code != "" {
		reply(held.EncodeError(&held.Error{Code: code, Message: "simulated error"}))
		return
	}
	unknown := s.Unknown
	if unknown == nil {
		unknown = func(n string) bool { return strings.HasPrefix(n, "339999") }
	}
	if unknown(number) {
		reply(held.EncodeError(&held.Error{Code: held.LocationUnknown, Message: "no such subscriber"}))
		return
	}
	mobile := s.Mobile
	if mobile == nil {
		mobile = func(n string) bool { return strings.HasPrefix(n, "336") || strings.HasPrefix(n, "337") }
	}
	h := fnv.New32a()
	h.Write([]byte(number))
	x := float64(h.Sum32()%1000) / 1000 // a stable place per number
	doc := pidflo.Document{Entity: req.Device, Timestamp: time.Now().UTC().Truncate(time.Second)}
	if mobile(number) {
		// A cell's area around Paris, as a serving-cell answer would give.
		doc.Locations = []pidflo.Location{{Shape: pidflo.Circle{Lat: 48.82 + 0.08*x, Lon: 2.25 + 0.15*x, Radius: 800},
			Confidence: 68, Method: "Cell"}}
	} else {
		doc.Locations = []pidflo.Location{{Civic: &pidflo.Civic{Country: "FR", A1: "Île-de-France", A3: "Paris",
			A6: "Rue de Rivoli", HNO: string(rune('1' + int(x*9))), PC: "75001"}, Method: "Wiremap"}}
	}
	out, err := held.EncodeResponse(doc)
	if err != nil {
		reply(held.EncodeError(&held.Error{Code: held.GeneralLisError, Message: err.Error()}))
		return
	}
	reply(out)
}
