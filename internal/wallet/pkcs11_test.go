//go:build cgo

package wallet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"

	"socle/internal/platform/pki"
	"socle/internal/wallet/sdjwt"
)

// softHSM is the module of Debian's softhsm2, which `make deps` installs.
func softHSM(t *testing.T) string {
	for _, p := range []string{os.Getenv("SOFTHSM2_MODULE"), "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	// Not a skip: the PKCS#11 path would go untested without anyone noticing.
	t.Fatal("SoftHSM2 is not installed (apt-get install softhsm2; make deps does it), or set SOFTHSM2_MODULE to libsofthsm2.so")
	return ""
}

// initToken makes a SoftHSM token socle-test (user PIN 4321) in a directory of its own,
// which SOFTHSM2_CONF names for the test.
func initToken(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "socle-test", "--pin", "4321", "--so-pin", "87654321").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
}

func TestTheIssuerKeyInAPKCS11Token(t *testing.T) {
	module := softHSM(t)
	initToken(t)
	hsm, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: "socle-test", Pin: "4321"})
	if err != nil {
		t.Fatal(err)
	}
	defer hsm.Close()
	key, err := hsm.GenerateECDSAKeyPairWithLabel([]byte("k1"), []byte("issuer"), elliptic.P256())
	if err != nil {
		t.Fatal(err)
	}

	data := t.TempDir()
	if _, err := pki.Init(data + "/pki"); err != nil {
		t.Fatal(err)
	}
	s := newIssuerSiteWith(t, Config{PKCS11Module: module, PKCS11Token: "socle-test", PKCS11PIN: "4321", PKCS11Key: "issuer"}, data)
	if _, err := os.Stat(filepath.Join(data, "pki", "wallet-issuer.key")); err == nil {
		t.Fatal("a key file was made: the key is the token's")
	}
	cred := s.issueOne(t)
	// Signed in the token: its x5c leaf, issued by socle's CA, is the token's key...
	roots, err := pki.LoadPool(filepath.Join(data, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	v := &sdjwt.Verifier{IssuerKey: sdjwt.X5CKeyFunc(roots, time.Now)}
	if _, _, err := v.VerifyVC(t.Context(), cred, sdjwt.Expect{}); err != nil {
		t.Fatalf("by x5c to socle's CA: %v", err)
	}
	kid := x5cKid(t, cred)
	if got := s.w.signer().chain[0].PublicKey.(*ecdsa.PublicKey); !got.Equal(key.Public()) || s.w.signer().kid != kid {
		t.Fatal("the certificate is not the token's key's")
	}
	// ...and the metadata publish it.
	if k, err := verifyByMetadata(t, s.published(t), cred); err != nil || k != kid {
		t.Fatalf("by the metadata: %q %v", k, err)
	}
	// A restart (or another replica starting) keeps the key and its certificate: no new kid.
	if err := s.w.keys.start(t.Context()); err != nil || s.w.signer().kid != kid {
		t.Fatalf("restarted: signing with %s, want %s (%v)", s.w.signer().kid, kid, err)
	}
	var keys int
	s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.issuer_keys`).Scan(&keys)
	if keys != 1 {
		t.Fatalf("%d keys in the registry after a restart, want 1", keys)
	}
	// Two replicas starting at once each have the CA certify the key: the second's
	// certificate does not rotate.
	chain, err := s.w.keys.certify(key, "")
	if err != nil {
		t.Fatal(err)
	}
	twin, err := newSigner(key, chain)
	if err != nil || twin.kid == kid {
		t.Fatalf("%v", err)
	}
	if err := s.w.keys.register(t.Context(), twin, sourcePKCS11, "issuer", false); err != nil {
		t.Fatal(err)
	}
	s.w.pool.QueryRow(t.Context(), `SELECT count(*) FROM wallet.issuer_keys`).Scan(&keys)
	if keys != 1 {
		t.Fatalf("%d keys in the registry after a twin start, want 1", keys)
	}

	// A rotation makes a new key in the token, which signs from then on.
	nk, err := s.w.keys.rotate(t.Context(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var label string
	s.w.pool.QueryRow(t.Context(), `SELECT ref FROM wallet.issuer_keys WHERE kid = $1 AND source = 'pkcs11'`, nk.kid).Scan(&label)
	if inToken, err := hsm.FindKeyPair(nil, []byte(label)); err != nil || inToken == nil ||
		!inToken.Public().(*ecdsa.PublicKey).Equal(nk.chain[0].PublicKey) || !strings.HasPrefix(label, "issuer-") {
		t.Fatalf("the new key %q is not in the token: %v", label, err)
	}
	fresh := s.issueOne(t)
	set := s.published(t)
	if k, err := verifyByMetadata(t, set, fresh); err != nil || k != nk.kid || k == kid {
		t.Fatalf("after the rotation: %q %v", k, err)
	}
	if k, err := verifyByMetadata(t, set, cred); err != nil || k != kid {
		t.Fatalf("the credential of the first key after the rotation: %q %v", k, err)
	}
}

func TestAMissingModuleIsNamedAndThePINIsNot(t *testing.T) {
	_, err := openHSM(Config{PKCS11Module: "/nowhere/libpkcs11.so", PKCS11Token: "t", PKCS11PIN: "s3cret", PKCS11Key: "k"})
	if err == nil || !strings.Contains(err.Error(), "/nowhere/libpkcs11.so") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a missing module: %v", err)
	}
	// A wrong PIN: refused by the token, and not repeated.
	module := softHSM(t)
	initToken(t)
	_, err = openHSM(Config{PKCS11Module: module, PKCS11Token: "socle-test", PKCS11PIN: "99999999", PKCS11Key: "k"})
	if err == nil || strings.Contains(err.Error(), "99999999") {
		t.Errorf("a wrong PIN: %v", err)
	}
}

func TestTheIssuerKeyIsMadeInTheTokenWhenMissing(t *testing.T) {
	module := softHSM(t)
	initToken(t)
	s := newIssuerSiteWith(t, Config{PKCS11Module: module, PKCS11Token: "socle-test", PKCS11PIN: "4321", PKCS11Key: "made-here"}, "")
	hsm, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: "socle-test", Pin: "4321"})
	if err != nil {
		t.Fatal(err)
	}
	defer hsm.Close()
	key, err := hsm.FindKeyPair(nil, []byte("made-here"))
	if err != nil || !key.Public().(*ecdsa.PublicKey).Equal(s.w.signer().chain[0].PublicKey) {
		t.Fatalf("the key signing is not the token's made-here: %v", err)
	}
	if _, err := verifyByMetadata(t, s.published(t), s.issueOne(t)); err != nil {
		t.Fatal(err)
	}
}
