package gatewaybench

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

// minBody is the least a person's answer weighs: a check that every path brought it whole.
const minBody = 900

// person is the upstream's answer, about 1 KB of JSON: what a public register returns.
type person struct {
	ID          string   `json:"id"`
	GivenName   string   `json:"given_name"`
	FamilyName  string   `json:"family_name"`
	BirthDate   string   `json:"birth_date"`
	BirthPlace  string   `json:"birth_place"`
	Nationality string   `json:"nationality"`
	Address     address  `json:"address"`
	Email       string   `json:"email"`
	Phone       string   `json:"phone"`
	Documents   []doc    `json:"documents"`
	Notes       []string `json:"notes"`
	UpdatedAt   string   `json:"updated_at"`
}

type address struct {
	Street     string `json:"street"`
	PostalCode string `json:"postal_code"`
	City       string `json:"city"`
	Commune    string `json:"commune"`
	Country    string `json:"country"`
}

type doc struct {
	Kind      string `json:"kind"`
	Number    string `json:"number"`
	IssuedBy  string `json:"issued_by"`
	IssuedOn  string `json:"issued_on"`
	ExpiresOn string `json:"expires_on"`
}

// personTail is a person's JSON after its id, the same for every id: the upstream's own
// cost per request stays small, so that what the paths add stands out.
var personTail = func() []byte {
	b, err := json.Marshal(person{
		GivenName: "Marianne", FamilyName: "Durand-Lefèvre", BirthDate: "1984-03-17", BirthPlace: "Lyon 3e Arrondissement",
		Nationality: "FRA", Email: "marianne.durand-lefevre@example.fr", Phone: "+33 4 72 00 00 00",
		Address: address{Street: "12 rue de la République, bâtiment B, 3e étage", PostalCode: "69002",
			City: "Lyon", Commune: "69382", Country: "FR"},
		Documents: []doc{
			{Kind: "identity_card", Number: "X4RTBPFW4", IssuedBy: "Préfecture du Rhône", IssuedOn: "2021-06-02", ExpiresOn: "2031-06-01"},
			{Kind: "passport", Number: "19AB12345", IssuedBy: "Préfecture du Rhône", IssuedOn: "2019-09-12", ExpiresOn: "2029-09-11"},
			{Kind: "driving_licence", Number: "840317123456", IssuedBy: "ANTS", IssuedOn: "2016-01-20", ExpiresOn: "2031-01-19"},
		},
		Notes: []string{
			"Synthetic record for the gateway benchmark: no real person.",
			"Address checked against the national address base on 2026-11-02.",
			"Contact preferences: email first, then phone during office hours.",
		},
		UpdatedAt: "2026-11-02T09:14:07+01:00",
	})
	if err != nil {
		panic(err)
	}
	return b[len(`{"id":""`):] // from the comma after the empty id
}()

// upstreamHandler answers GET /v1/persons/{id} with the person's JSON.
func upstreamHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/persons/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			http.Error(w, "the id is a number", http.StatusBadRequest)
			return
		}
		body := make([]byte, 0, len(personTail)+len(id)+10)
		body = append(append(append(body, `{"id":"`...), id...), '"')
		body = append(body, personTail...)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	return mux
}

// httpServer serves h over TLS with HTTP/1.1 only, on every hop of every path alike, on ln.
// It returns a function that stops it.
func httpServer(ln net.Listener, cert tls.Certificate, h http.Handler) func() {
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // handshakes cut short when a phase ends
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("gatewaybench: %v", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}
}
