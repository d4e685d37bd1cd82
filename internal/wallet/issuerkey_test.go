package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"socle/internal/platform/config"
	"socle/internal/platform/pki"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/sdjwt"
)

// issueOne issues a PID to the site's citizen, bound to a fresh wallet key, as the credential
// endpoint does once the proof is checked.
func (s *issuerSite) issueOne(t *testing.T) string {
	t.Helper()
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hj, _ := jwk.Import(holder.Public())
	creds, _, err := s.w.issue(t.Context(), s.uid, "pid_dc_sd_jwt", exampleDocument(s.w.issuer(), documents.PID),
		[]proof{{key: holder.Public(), jwk: hj}}, time.Now())
	if err != nil || len(creds) != 1 {
		t.Fatalf("issue: %v %v", err, creds)
	}
	return creds[0]["credential"]
}

// published is the issuer's JWKS, as a verifier reads it from /.well-known/jwt-vc-issuer.
func (s *issuerSite) published(t *testing.T) jwk.Set {
	t.Helper()
	res, err := s.srv.Client().Get(s.srv.URL + "/.well-known/jwt-vc-issuer")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var md struct {
		Issuer string          `json:"issuer"`
		JWKS   json.RawMessage `json:"jwks"`
	}
	if err := json.NewDecoder(res.Body).Decode(&md); err != nil || md.Issuer != s.srv.URL {
		t.Fatalf("jwt-vc-issuer: %v %v", err, md)
	}
	set, err := jwk.Parse(md.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// verifyByMetadata verifies a credential as a verifier that trusts the issuer's JWKS does,
// and returns its kid.
func verifyByMetadata(t *testing.T, set jwk.Set, cred string) (string, error) {
	t.Helper()
	kid := ""
	v := &sdjwt.Verifier{IssuerKey: func(_ context.Context, info sdjwt.IssuerKeyInfo) (any, error) {
		kid = info.KeyID
		if k, ok := set.LookupKeyID(info.KeyID); ok {
			return k, nil
		}
		return nil, fmt.Errorf("kid %q is not published", info.KeyID)
	}}
	_, _, err := v.VerifyVC(t.Context(), cred, sdjwt.Expect{})
	return kid, err
}

// x5cKid is the kid a credential's x5c leaf makes.
func x5cKid(t *testing.T, cred string) string {
	t.Helper()
	var kid string
	v := &sdjwt.Verifier{IssuerKey: func(_ context.Context, info sdjwt.IssuerKeyInfo) (any, error) {
		k, _, err := publicKey(info.Chain)
		kid = k
		if err != nil {
			return nil, err
		}
		return info.Chain[0].PublicKey, nil
	}}
	if _, _, err := v.VerifyVC(t.Context(), cred, sdjwt.Expect{}); err != nil {
		t.Fatalf("by its x5c: %v", err)
	}
	return kid
}

func TestARotatedKeyStaysPublishedUntilItsLastCredentialExpires(t *testing.T) {
	s := newIssuerSite(t)
	old := s.issueOne(t)
	oldKid, err := verifyByMetadata(t, s.published(t), old)
	if err != nil || oldKid == "" || x5cKid(t, old) != oldKid {
		t.Fatalf("before the rotation: %q %v", oldKid, err)
	}

	// A second replica, on the same database and data directory, signing with the same key.
	other := &keyring{pool: s.w.pool, dataDir: s.w.dataDir, logger: slog.New(slog.DiscardHandler)}
	if err := other.start(t.Context()); err != nil || other.current.Load().kid != oldKid {
		t.Fatalf("the other replica: %v", err)
	}

	nk, err := s.w.keys.rotate(t.Context(), "", "")
	if err != nil || nk.kid == oldKid {
		t.Fatalf("rotate: %v", err)
	}
	set := s.published(t)
	if set.Len() != 2 {
		t.Fatalf("after the rotation, %d keys published, want the new and the old", set.Len())
	}
	if kid, err := verifyByMetadata(t, set, old); err != nil || kid != oldKid {
		t.Fatalf("the credential issued before the rotation: %q %v", kid, err)
	}
	fresh := s.issueOne(t)
	if kid, err := verifyByMetadata(t, set, fresh); err != nil || kid != nk.kid || x5cKid(t, fresh) != nk.kid {
		t.Fatalf("a credential issued after: %q %v, want kid %s", kid, err, nk.kid)
	}
	// The other replica reads the rotation at its next reload; a restart with the first
	// key's settings does not turn back to it.
	if err := other.reload(t.Context()); err != nil || other.current.Load().kid != nk.kid {
		t.Fatalf("the other replica after reload: %v", err)
	}
	if err := other.start(t.Context()); err != nil || other.current.Load().kid != nk.kid {
		t.Fatalf("the other replica restarted: %v", err)
	}
	// The status list is signed by the current key.
	res, err := s.srv.Client().Get(s.srv.URL + "/wallet/status/1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if sg := s.w.signer(); sg.kid != nk.kid {
		t.Fatalf("signing with %s", sg.kid)
	}
	if kid := statusKid(t, s.w); kid != nk.kid {
		t.Fatalf("the status list is signed by %q", kid)
	}

	// Once the old key's credentials have expired, and its last status list token too, it
	// is published no more.
	s.w.pool.Exec(t.Context(), `UPDATE wallet.issued SET expires_at = now() - interval '1 second' WHERE kid = $1`, oldKid)
	if err := s.w.keys.reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.published(t).Len() != 2 {
		t.Fatal("the old key left while a status list token it signed may be cached")
	}
	s.w.pool.Exec(t.Context(), `UPDATE wallet.issuer_keys SET retired_at = now() - interval '25 hours' WHERE kid = $1`, oldKid)
	if err := s.w.keys.reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	set = s.published(t)
	if _, ok := set.LookupKeyID(oldKid); ok || set.Len() != 1 {
		t.Fatalf("the old key is still published: %d keys", set.Len())
	}
	if _, err := verifyByMetadata(t, set, old); err == nil {
		t.Fatal("an expired key's credential verified")
	}
}

// statusKid is the kid of the status list token the wallet serves.
func statusKid(t *testing.T, w *Wallet) string {
	t.Helper()
	w.status.mu.Lock()
	tok := string(w.status.token)
	w.status.mu.Unlock()
	head, _, _ := strings.Cut(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(head)
	var hdr struct{ Kid string }
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatalf("status list token %q: %v", tok, err)
	}
	return hdr.Kid
}

func TestARotationToAKnownKeyIsRefused(t *testing.T) {
	s := newIssuerSite(t)
	dir := filepath.Join(s.w.dataDir, "pki")
	err := func() error {
		_, err := s.w.keys.rotate(t.Context(), filepath.Join(dir, "wallet-issuer.crt"), filepath.Join(dir, "wallet-issuer.key"))
		return err
	}()
	if err == nil {
		t.Fatal("rotating to the current key was taken")
	}
	if _, err := s.w.keys.rotate(t.Context(), filepath.Join(dir, "server.crt"), filepath.Join(dir, "wallet-issuer.key")); err == nil {
		t.Fatal("a certificate of another key was taken")
	}
}

func TestTheTokenSettingsGoTogether(t *testing.T) {
	for env, want := range map[string]string{
		"SOCLE_WALLET_PKCS11_MODULE=/x.so SOCLE_WALLET_PKCS11_TOKEN=":                                 "needs SOCLE_WALLET_PKCS11_TOKEN",
		"SOCLE_WALLET_PKCS11_MODULE=/x.so SOCLE_WALLET_PKCS11_TOKEN=t SOCLE_WALLET_ISSUER_KEY=k.pem":  "the key is in the PKCS#11 token",
		"SOCLE_WALLET_ISSUER_CERT=c.pem":                                                              "go together",
		"SOCLE_WALLET_PKCS11_MODULE=/x.so SOCLE_WALLET_PKCS11_TOKEN=t SOCLE_WALLET_ISSUER_CERT=c.pem": "",
	} {
		vars := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		set := config.New()
		var c Config
		c.Register(set)
		err := set.LoadEnv(func(k string) string { return vars[k] })
		if err == nil {
			err = set.Validate()
		}
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
}

func TestAnExpiredCredentialsRecordGoesAfterTheGraceAndFreesItsIndexOnlyThen(t *testing.T) {
	s := newIssuerSite(t)
	s.issueOne(t)
	s.issueOne(t) // unexpired: it stays whatever happens
	var id string
	var index int
	var exp time.Time
	if err := s.w.pool.QueryRow(t.Context(), `SELECT id, status_index, expires_at FROM wallet.issued ORDER BY issued_at LIMIT 1`).Scan(&id, &index, &exp); err != nil {
		t.Fatal(err)
	}
	s.w.pool.Exec(t.Context(), `UPDATE wallet.issued SET expires_at = $2 WHERE id = $1`, id, time.Now().Add(-time.Hour))
	exp = time.Now().Add(-time.Hour)
	taken := func() bool {
		_, err := s.w.pool.Exec(t.Context(), `INSERT INTO wallet.issued (id, user_id, nrn, configuration, vct, holder_jkt, status_list, status_index,
			expires_at, notification_id) VALUES (gen_random_uuid(), $1, '85031412401', 'pid_dc_sd_jwt', 'x', 'x', 1, $2, now(), 'probe')`, s.uid, index)
		if err == nil {
			s.w.pool.Exec(t.Context(), `DELETE FROM wallet.issued WHERE notification_id = 'probe'`)
		}
		return err != nil
	}
	store := issuedStore{s.w.pool}
	// Expired, within the grace: kept, its index still taken.
	for _, now := range []time.Time{exp.Add(time.Minute), exp.Add(issuedGrace - time.Minute)} {
		if n, err := store.purge(t.Context(), now); err != nil || n != 0 {
			t.Fatalf("at %s: %d purged, %v", now, n, err)
		}
		if !taken() {
			t.Fatalf("at %s the index %d of an expired credential in its grace was given again", now, index)
		}
	}
	// Past the grace: gone, and its index free.
	if n, err := store.purge(t.Context(), exp.Add(issuedGrace+time.Minute)); err != nil || n != 1 {
		t.Fatalf("past the grace: %d purged, %v", n, err)
	}
	var left int
	s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.issued WHERE id = $1`, id).Scan(&left)
	if left != 0 || taken() {
		t.Fatalf("the record is still there (%d) or its index taken", left)
	}
	if cs, _ := store.ofUser(t.Context(), s.uid); len(cs) != 1 {
		t.Fatalf("the unexpired credential's record went too: %d left", len(cs))
	}
}

func TestANewKeyInTheSettingsBecomesCurrentAndOldSettingsDoNotTurnBack(t *testing.T) {
	s := newIssuerSite(t)
	first := s.w.signer().kid
	// An operator's pair (here from the same CA), given by SOCLE_WALLET_ISSUER_CERT/_KEY to
	// one replica.
	ca, err := pki.LoadCA(filepath.Join(s.w.dataDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue(issuerRequest())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := pair.Save(dir, "issuer"); err != nil {
		t.Fatal(err)
	}
	k := &keyring{pool: s.w.pool, dataDir: s.w.dataDir, logger: slog.New(slog.DiscardHandler),
		cfg: Config{IssuerCert: filepath.Join(dir, "issuer.crt"), IssuerKey: filepath.Join(dir, "issuer.key")}}
	if err := k.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := k.current.Load().kid
	if second == first {
		t.Fatal("the new pair of the settings did not become current")
	}
	// The replica still on the default settings follows at its reload, and restarting it
	// does not turn back to the first key.
	for _, step := range []func(context.Context) error{s.w.keys.reload, s.w.keys.start} {
		if err := step(t.Context()); err != nil || s.w.signer().kid != second {
			t.Fatalf("signing with %s, want %s (%v)", s.w.signer().kid, second, err)
		}
	}
	if s.published(t).Len() != 2 {
		t.Fatal("the first key is not published any more")
	}
}
