package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwe"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"

	"socle/internal/platform/pki"
	"socle/internal/wallet/sdjwt"
	"socle/internal/wallet/statuslist"
)

const pidVCT = "urn:eudi:pid:1"

// statuses is a status checker over a map: index -> status.
type statuses map[int]statuslist.Status

func (s statuses) Status(_ context.Context, ref statuslist.Reference) (statuslist.Status, error) {
	st, ok := s[ref.Idx]
	if !ok {
		return 0, statuslist.ErrIndexOutOfRange
	}
	return st, nil
}

// world is an issuer under a CA, a holder key, and a verifier trusting that CA.
type world struct {
	ca      *pki.CA
	issuer  *sdjwt.Issuer
	holder  *ecdsa.PrivateKey
	status  statuses
	v       *Verifier
	signer  Signer
	now     time.Time
	revoked int
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ca, err := pki.NewCA("test CA", time.Hour*24)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(pki.Request{Name: "test issuer", Usage: pki.Signing})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := iss.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	w := &world{ca: ca, holder: holder, status: statuses{0: statuslist.Valid, 1: statuslist.Invalid}, now: time.Now()}
	w.issuer = &sdjwt.Issuer{Key: pair.PrivateKey.(*ecdsa.PrivateKey), Alg: "ES256", Chain: []*x509.Certificate{iss.Cert, ca.Cert}}
	w.v = &Verifier{Roots: roots, Status: w.status}
	rp, err := ca.Issue(pki.Request{Name: "Banque de démonstration", Organization: "Banque de démonstration", Usage: pki.Signing})
	if err != nil {
		t.Fatal(err)
	}
	rpPair, _ := rp.TLSCertificate()
	w.signer = Signer{Key: rpPair.PrivateKey.(*ecdsa.PrivateKey), Chain: []*x509.Certificate{rp.Cert, ca.Cert}}
	return w
}

// pid issues a PID with status index idx.
func (w *world) pid(t testing.TB, idx int) *sdjwt.SDJWT {
	t.Helper()
	s, err := w.issuer.IssueVC(sdjwt.VC{
		VCT: pidVCT, Issuer: "https://socle.test", IssuedAt: w.now.Add(-time.Hour), Expiry: w.now.Add(24 * time.Hour),
		HolderKey: w.holder.Public(), Status: &sdjwt.StatusListRef{Index: idx, URI: "https://socle.test/wallet/status/1"},
		Claims: map[string]any{"given_name": "Sophie", "family_name": "Lambert", "birthdate": "1985-03-14",
			"nationalities": []any{"BE"}, "address": map[string]any{"locality": "Namur", "postal_code": "5000"}},
		Disclosable: []sdjwt.Path{{"given_name"}, {"family_name"}, {"birthdate"}, {"nationalities"}, {"address"},
			{"address", "locality"}, {"address", "postal_code"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := sdjwt.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const familyAndBirth = `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},
 "claims":[{"path":["family_name"]},{"path":["birthdate"]}]}]}`

func mustQuery(t testing.TB, s string) *Query {
	t.Helper()
	q, err := ParseQuery([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func (w *world) present(t testing.TB, cred *sdjwt.SDJWT, aud, nonce string, paths ...sdjwt.Path) string {
	t.Helper()
	p, err := cred.Present(sdjwt.KeyBinding{Key: w.holder, Alg: "ES256", Audience: aud, Nonce: nonce}, paths...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (w *world) expect(q *Query) Expect {
	return Expect{Query: q, ClientID: w.signer.ClientID(), Nonce: "n-0123456789abcdef"}
}

func TestAPresentationDisclosesExactlyWhatWasAsked(t *testing.T) {
	w := newWorld(t)
	q := mustQuery(t, familyAndBirth)
	exp := w.expect(q)
	// The holder shows one claim more than asked: the relying party must not see it.
	p := w.present(t, w.pid(t, 0), exp.ClientID, exp.Nonce, sdjwt.Path{"family_name"}, sdjwt.Path{"birthdate"}, sdjwt.Path{"given_name"})
	res, err := w.v.Verify(t.Context(), &Response{VPToken: map[string][]string{"pid": {p}}}, exp)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Credentials["pid"]
	if len(got) != 1 || got[0].VCT != pidVCT || got[0].Issuer != "https://socle.test" || got[0].Status != "VALID" ||
		!reflect.DeepEqual(got[0].Claims, map[string]any{"family_name": "Lambert", "birthdate": "1985-03-14"}) ||
		len(got[0].Disclosed) != 2 {
		t.Fatalf("%+v", got)
	}
}

func TestEachRefusal(t *testing.T) {
	w := newWorld(t)
	q := mustQuery(t, familyAndBirth)
	exp := w.expect(q)
	pid := w.pid(t, 0)
	fb := []sdjwt.Path{{"family_name"}, {"birthdate"}}
	good := w.present(t, pid, exp.ClientID, exp.Nonce, fb...)
	tampered := func() string {
		// A disclosure whose value was changed no longer hashes to a digest the issuer signed.
		parts := strings.Split(good, "~")
		d, _ := base64.RawURLEncoding.DecodeString(parts[1])
		d = []byte(strings.Replace(strings.Replace(string(d), "Lambert", "Lembert", 1), "1985-03-14", "1995-03-14", 1))
		parts[1] = base64.RawURLEncoding.EncodeToString(d)
		return strings.Join(parts, "~")
	}()
	noKB := func() string { s, _ := pid.Select(fb...); return s.String() }()
	other := newWorld(t) // another CA: an issuer not trusted
	otherPID := other.pid(t, 0)
	other.holder = w.holder
	for name, c := range map[string]struct {
		vp   map[string][]string
		code string
		want string
	}{
		"wrong nonce":      {map[string][]string{"pid": {w.present(t, pid, exp.ClientID, "another-nonce-123456", fb...)}}, InvalidRequest, "nonce"},
		"wrong audience":   {map[string][]string{"pid": {w.present(t, pid, "x509_hash:someone-else", exp.Nonce, fb...)}}, InvalidRequest, "aud"},
		"revoked":          {map[string][]string{"pid": {w.present(t, w.pid(t, 1), exp.ClientID, exp.Nonce, fb...)}}, AccessDenied, "INVALID"},
		"tampered":         {map[string][]string{"pid": {tampered}}, InvalidRequest, "not referenced"},
		"no key binding":   {map[string][]string{"pid": {noKB}}, InvalidRequest, "key binding"},
		"claim withheld":   {map[string][]string{"pid": {w.present(t, pid, exp.ClientID, exp.Nonce, sdjwt.Path{"family_name"})}}, InvalidRequest, "birthdate"},
		"unknown query id": {map[string][]string{"other": {good}}, InvalidRequest, "no credential query"},
		"untrusted issuer": {map[string][]string{"pid": {w.present(t, otherPID, exp.ClientID, exp.Nonce, fb...)}}, InvalidRequest, "x5c"},
		"two, one asked":   {map[string][]string{"pid": {good, good}}, InvalidRequest, "multiple"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := w.v.Verify(t.Context(), &Response{VPToken: c.vp}, exp)
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code || !strings.Contains(e.Description, c.want) {
				t.Fatalf("%v, want %s with %q", err, c.code, c.want)
			}
		})
	}
	t.Run("stale key binding", func(t *testing.T) {
		p, _ := pid.Present(sdjwt.KeyBinding{Key: w.holder, Alg: "ES256", Audience: exp.ClientID, Nonce: exp.Nonce,
			IssuedAt: time.Now().Add(-time.Hour)}, fb...)
		if _, err := w.v.Verify(t.Context(), &Response{VPToken: map[string][]string{"pid": {p}}}, exp); err == nil {
			t.Fatal("an hour-old key binding accepted")
		}
	})
	t.Run("wallet error", func(t *testing.T) {
		_, err := w.v.Verify(t.Context(), &Response{Error: "access_denied", ErrorDescription: "the user said no"}, exp)
		var e *Error
		if !errors.As(err, &e) || e.Code != "access_denied" {
			t.Fatal(err)
		}
	})
}

func TestCredentialSetsAndClaimSets(t *testing.T) {
	w := newWorld(t)
	q := mustQuery(t, `{"credentials":[
	 {"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},
	  "claims":[{"id":"a","path":["address","postal_code"]},{"id":"n","path":["nationalities",null],"values":["BE","NL"]},{"id":"g","path":["given_name"]}],
	  "claim_sets":[["a","g"],["n"]]},
	 {"id":"mdl","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:mdl:1"]}}],
	 "credential_sets":[{"options":[["mdl"],["pid"]]}]}`)
	exp := w.expect(q)
	// Only nationalities shown: the first claim set fails, the second holds.
	p := w.present(t, w.pid(t, 0), exp.ClientID, exp.Nonce, sdjwt.Path{"nationalities"})
	res, err := w.v.Verify(t.Context(), &Response{VPToken: map[string][]string{"pid": {p}}}, exp)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Credentials["pid"][0]; !reflect.DeepEqual(c.Claims, map[string]any{"nationalities": []any{"BE"}}) ||
		!reflect.DeepEqual(c.Disclosed, []ClaimPath{{"nationalities", 0}}) {
		t.Fatalf("%+v", c)
	}
	// The first set, when shown, wins; the nationalities shown beside it stay hidden.
	p = w.present(t, w.pid(t, 0), exp.ClientID, exp.Nonce, sdjwt.Path{"nationalities"}, sdjwt.Path{"address"},
		sdjwt.Path{"address", "postal_code"}, sdjwt.Path{"given_name"})
	res, err = w.v.Verify(t.Context(), &Response{VPToken: map[string][]string{"pid": {p}}}, exp)
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Credentials["pid"][0]; !reflect.DeepEqual(c.Claims, map[string]any{"address": map[string]any{"postal_code": "5000"}, "given_name": "Sophie"}) {
		t.Fatalf("%+v", c)
	}
	// A value not among those asked does not match.
	q2 := mustQuery(t, `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},
	  "claims":[{"path":["nationalities",null],"values":["FR"]}]}]}`)
	if _, err := w.v.Verify(t.Context(), &Response{VPToken: map[string][]string{"pid": {p}}}, Expect{Query: q2, ClientID: exp.ClientID, Nonce: exp.Nonce}); err == nil {
		t.Fatal("BE accepted for FR")
	}
	// Nothing answered for a required credential set.
	if err := q.Satisfied(map[string]bool{}); err == nil {
		t.Fatal("an empty answer satisfies a required set")
	}
}

func TestParseQueryRefusesWithPathAndReason(t *testing.T) {
	for q, want := range map[string]string{
		`[]`:                 "must be an object",
		`{}`:                 "credentials: required",
		`{"credentials":[]}`: "credentials: must not be empty",
		`{"credentials":[{"id":"a b","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}]}`:                                                           "credentials[0].id",
		`{"credentials":[{"id":"a","format":"mso_mdoc","meta":{"doctype_value":"x"}}]}`:                                                             "credentials[0].format",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt"}]}`:                                                                                         "credentials[0].meta: required",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":[]}}]}`:                                                                "credentials[0].meta.vct_values: must not be empty",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":[]}]}]}`:                                      "credentials[0].claims[0].path: must not be empty",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a",-1]}]}]}`:                                "credentials[0].claims[0].path[1]",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a"],"values":[1.5]}]}]}`:                    "claims[0].values[0]",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"path":["a"]}],"claim_sets":[["a"]]}]}`:              "claims[0].id: required when claim_sets",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claims":[{"id":"c","path":["a"]}],"claim_sets":[["d"]]}]}`:     "claim_sets[0][0]",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}},{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}]}`: "credentials[1].id",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]}}],"credential_sets":[{"options":[["b"]]}]}`:                     "credential_sets[0].options[0][0]",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"claimsets":[]}]}`:                                              "credentials[0].claimsets: unknown member",
		`{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["x"]},"require_cryptographic_holder_binding":false}]}`:                "holder binding",
	} {
		_, err := ParseQuery([]byte(q))
		var e *QueryError
		if !errors.As(err, &e) || !strings.Contains(e.Error(), want) {
			t.Errorf("%s: %v, want %q", q, err, want)
		}
	}
}

// walletJWT is what a wallet does for direct_post.jwt (§8.3): read the request object's
// client_metadata, encrypt its answer to the jwks key with ECDH-ES.
func walletJWT(t testing.TB, requestObject []byte, payload map[string]any) string {
	t.Helper()
	msg, err := jws.Parse(requestObject)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ClientMetadata struct {
			JWKS json.RawMessage `json:"jwks"`
		} `json:"client_metadata"`
	}
	json.Unmarshal(msg.Payload(), &claims)
	set, err := jwk.Parse(claims.ClientMetadata.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := set.Key(0)
	b, _ := json.Marshal(payload)
	enc, err := jwe.Encrypt(b, jwe.WithKey(jwa.ECDH_ES(), key), jwe.WithContentEncryption(jwa.A128GCM()))
	if err != nil {
		t.Fatal(err)
	}
	return string(enc)
}

func TestRequestObjectAndEncryptedResponse(t *testing.T) {
	w := newWorld(t)
	key, err := NewEncryptionKey()
	if err != nil {
		t.Fatal(err)
	}
	r := Request{ResponseURI: "https://socle.test/wallet/verifier/responses/1", ResponseMode: ModeDirectPostJWT,
		Nonce: "n-0123456789abcdef", State: "s1", Query: json.RawMessage(familyAndBirth), EncryptionKey: key,
		IssuedAt: time.Now(), Expires: time.Now().Add(5 * time.Minute)}
	obj, err := w.signer.Sign(r)
	if err != nil {
		t.Fatal(err)
	}
	// What a wallet checks: typ, the signature by the x5c leaf, the client_id its hash.
	msg, err := jws.Parse(obj)
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	typ, _ := h.Type()
	chain, _ := h.X509CertChain()
	der, _ := chain.Get(0)
	raw, _ := base64.StdEncoding.DecodeString(string(der))
	leaf, err := x509.ParseCertificate(raw)
	if err != nil || typ != RequestType {
		t.Fatal(err, typ)
	}
	if _, err := jws.Verify(obj, jws.WithKey(jwa.ES256(), leaf.PublicKey)); err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	json.Unmarshal(msg.Payload(), &claims)
	if claims["client_id"] != ClientID(leaf) || !strings.HasPrefix(ClientID(leaf), "x509_hash:") || claims["response_mode"] != ModeDirectPostJWT ||
		claims["response_type"] != "vp_token" || claims["nonce"] != r.Nonce {
		t.Fatalf("%v", claims)
	}
	exp := Expect{Query: mustQuery(t, familyAndBirth), ClientID: ClientID(leaf), Nonce: r.Nonce}
	p := w.present(t, w.pid(t, 0), exp.ClientID, exp.Nonce, sdjwt.Path{"family_name"}, sdjwt.Path{"birthdate"})
	form := url.Values{"response": {walletJWT(t, obj, map[string]any{"vp_token": map[string]any{"pid": []string{p}}, "state": "s1"})}}
	resp, err := ParseResponse(form, ModeDirectPostJWT, key)
	if err != nil || resp.State != "s1" {
		t.Fatal(err)
	}
	if _, err := w.v.Verify(t.Context(), resp, exp); err != nil {
		t.Fatal(err)
	}
	// Another request's key cannot read it; a plain answer where encryption was asked is refused.
	other, _ := NewEncryptionKey()
	if _, err := ParseResponse(form, ModeDirectPostJWT, other); err == nil {
		t.Fatal("decrypted with another key")
	}
	plain := url.Values{"vp_token": {`{"pid":["` + p + `"]}`}, "state": {"s1"}}
	if _, err := ParseResponse(plain, ModeDirectPostJWT, key); err == nil {
		t.Fatal("a plain answer accepted for direct_post.jwt")
	}
	if resp, err := ParseResponse(plain, ModeDirectPost, nil); err != nil || resp.VPToken["pid"][0] != p {
		t.Fatal(err)
	}
}

func TestParseResponseRefusals(t *testing.T) {
	for _, form := range []url.Values{
		{},
		{"vp_token": {`[]`}},
		{"vp_token": {`{"pid":"x"}`}},
		{"vp_token": {`{"pid":[]}`}},
		{"vp_token": {`{"pid":[1]}`}},
		{"vp_token": {`not json`}},
		{"vp_token": {`{"pid":["a"]}`}, "error": {"access_denied"}},
		{"vp_token": {`{"pid":["a"]}`, `{"pid":["b"]}`}},
	} {
		_, err := ParseResponse(form, ModeDirectPost, nil)
		var e *Error
		if !errors.As(err, &e) || e.Code != InvalidRequest {
			t.Errorf("%v: %v", form, err)
		}
	}
}
