package wallet

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"socle/internal/gateway/registrysim"
	"socle/internal/platform/identity"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/sources"
)

// withRegisters gives the site's wallet the simulated registers, behind a stand-in for the
// gateway that publishes them at /apis/NAME/ (the gateway itself is proved by its tests and
// by the Node holder's, end to end).
func (s *issuerSite) withRegisters(t *testing.T) {
	reg := registrysim.Handler(registrysim.NewRegistry(0, 0))
	paths := strings.NewReplacer("/apis/population", "/population", "/apis/etat-civil", "/civil-status", "/apis/permis-de-conduire", "/driving-licences")
	gw := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		r.URL.Path = paths.Replace(r.URL.Path)
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		if rec.Code >= 400 {
			rec.Header().Set("X-Socle-Error-Origin", "upstream")
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.WriteHeader(rec.Code)
		rw.Write(rec.Body.Bytes())
	}))
	t.Cleanup(gw.Close)
	s.w.src = &sources.Client{Base: gw.URL, Key: "k", Population: "population", CivilStatus: "etat-civil", DrivingLicences: "permis-de-conduire",
		HTTP: gw.Client()}
}

// citizen adds an account linked to nrn, signed in: its user id and session cookie.
func (s *issuerSite) citizen(t *testing.T, email, nrn string) (int64, *http.Cookie) {
	u, err := s.w.people.AddUser(t.Context(), email, email, "correct horse battery staple 42")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.w.citizens.link(t.Context(), u.ID, nrn); err != nil {
		t.Fatal(err)
	}
	token, _, err := s.w.people.Login(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID, &http.Cookie{Name: identity.CookieName, Value: token}
}

func (s *issuerSite) page(t *testing.T, path string, cookie *http.Cookie) string {
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.srv.URL+path, nil)
	req.AddCookie(cookie)
	res, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", path, res.Status, b)
	}
	return string(b)
}

// The citizen's page lists the driving licence of one who holds one, offers it as the
// credential of its configuration, and does not list one for a child, who holds none.
func TestTheDrivingLicenceIsListedWhenTheCitizenHoldsOne(t *testing.T) {
	s := newIssuerSite(t)
	s.withRegisters(t)
	_, thomas := s.citizen(t, "thomas.renard@demo.socle.test", registrysim.NRNThomasRenard)
	html := s.page(t, "/wallet/?lang=en", thomas)
	for _, want := range []string{`id="doc-driving-licence"`, "Driving licence", "AM, A2, A, B, BE", "/wallet/offers/new/driving_licence_dc_sd_jwt",
		"/wallet/offers/new/driving_licence_mso_mdoc", "Driving licence (mdoc, ISO/IEC 18013-5)", `id="doc-pid"`} {
		if !strings.Contains(html, want) {
			t.Errorf("Thomas's page has no %q", want)
		}
	}
	_, emma := s.citizen(t, "emma.renard@demo.socle.test", registrysim.NRNEmmaRenard)
	html = s.page(t, "/wallet/", emma)
	if strings.Contains(html, "doc-driving-licence") || strings.Contains(html, "driving_licence_") || !strings.Contains(html, `id="doc-pid"`) {
		t.Errorf("Emma's page lists a driving licence, or not her identity:\n%s", html)
	}
}

// The credential's document is the licence the central file holds now; none for whom it
// holds none.
func TestTheDrivingLicenceDocumentIsReadLive(t *testing.T) {
	s := newIssuerSite(t)
	s.withRegisters(t)
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	d, err := s.w.document(t.Context(), s.uid, documents.DrivingLicence, now)
	if err != nil || d.VCT != s.srv.URL+"/wallet/vct/driving-licence" || d.Claims["document_number"] != "9204513287" ||
		d.Claims["family_name"] != "Lambert" || len(d.Claims["driving_privileges"].([]any)) != 2 {
		t.Fatalf("Sophie's licence: %+v %v", d, err)
	}
	emma, _ := s.citizen(t, "emma.renard@demo.socle.test", registrysim.NRNEmmaRenard)
	if _, err := s.w.document(t.Context(), emma, documents.DrivingLicence, now); !errors.Is(err, sources.ErrNotFound) {
		t.Fatalf("Emma's licence: %v, want none", err)
	}
}

// Every configuration has its name in both languages: the offer's page and the consent page
// title the documents by it.
func TestEveryConfigurationIsNamed(t *testing.T) {
	var keys []string
	for _, c := range configurations {
		keys = append(keys, "conf."+c.id)
	}
	for _, m := range messages.Missing(keys) {
		t.Error(m)
	}
}
