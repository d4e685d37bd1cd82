package sources

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"testing"

	"socle/internal/gateway/registrysim"
)

// gateway stands for the API gateway in front of the simulated registers: the published
// paths, a key, and X-Socle-Error-Origin as docs/gateway.md has them. (The gateway's own
// tests prove the gateway; these prove the wallet's reading of what it publishes.)
func gateway(t *testing.T) *Client {
	reg := registrysim.Handler(registrysim.NewRegistry(0, 0))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strings.NewReplacer("/apis/population", "/population", "/apis/etat-civil", "/civil-status",
				"/apis/permis-de-conduire", "/driving-licences").Replace(pr.In.URL.Path)
		},
		Transport: handlerTransport{reg},
		ModifyResponse: func(res *http.Response) error {
			if res.StatusCode >= 400 {
				res.Header.Set("X-Socle-Error-Origin", "upstream")
			}
			return nil
		},
	}
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "la-cle" {
			w.Header().Set("X-Socle-Error-Origin", "gateway")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(401)
			w.Write([]byte(`{"detail":"the API key is unknown, expired or revoked"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return &Client{Base: s.URL, Key: "la-cle", Population: "population", CivilStatus: "etat-civil", DrivingLicences: "permis-de-conduire",
		HTTP: s.Client()}
}

// handlerTransport serves requests with a handler, in-process.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func TestACitizenIsReadFromThePopulationRegister(t *testing.T) {
	c := gateway(t)
	p, err := c.Person(context.Background(), registrysim.NRNSophieLambert)
	if err != nil || p.FamilyName != "Lambert" || p.GivenNames[0] != "Sophie" || p.BirthDate != "1985-03-14" ||
		p.Address.Municipality != "Namur" || p.CivilStatus != "married" || p.Nationality != "BE" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := c.Person(context.Background(), "85031412696"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown number: %v", err)
	}
}

func TestCertificatesAreReadFromTheCivilStatusRegister(t *testing.T) {
	c := gateway(t)
	ctx := context.Background()
	b, err := c.BirthCertificate(ctx, registrysim.NRNEmmaRenard)
	if err != nil || b.BirthDate != "2015-09-08" || b.BirthPlace.Municipality != "Namur" || b.Father == nil ||
		b.Father.NRN != registrysim.NRNThomasRenard || b.Mother == nil || b.Mother.NRN != registrysim.NRNSophieLambert {
		t.Fatalf("Emma's birth: %+v %v", b, err)
	}
	ms, err := c.MarriageCertificates(ctx, registrysim.NRNSophieLambert)
	if err != nil || len(ms) != 1 || ms[0].Date != "2012-06-16" || len(ms[0].Spouses) != 2 {
		t.Fatalf("Sophie's marriage: %+v %v", ms, err)
	}
	if ms, err := c.MarriageCertificates(ctx, registrysim.NRNLottePeeters); err != nil || len(ms) != 0 {
		t.Fatalf("Lotte has never married: %+v %v", ms, err)
	}
	if _, err := c.BirthCertificate(ctx, "85031412696"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown number: %v", err)
	}
}

func TestAGatewayRefusalSaysItIsTheGateways(t *testing.T) {
	c := gateway(t)
	c.Key = "une-autre"
	_, err := c.Person(context.Background(), registrysim.NRNSophieLambert)
	if err == nil || err.Error() != "population: 401 from the gateway: the API key is unknown, expired or revoked" {
		t.Fatalf("%v", err)
	}
}
