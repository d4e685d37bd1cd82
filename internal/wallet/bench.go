package wallet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"socle/internal/platform/identity"
	"socle/internal/platform/pki"
	"socle/internal/platform/server"
	"socle/internal/platform/service"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/sdjwt"
	"socle/internal/wallet/sources"
	"socle/internal/wallet/verifier"
)

// `socle bench wallet`: issuance through the credential endpoint, against the bare signing of
// the same SD-JWT VCs with the same key, in one run; and presentations verified per second.

func benchCommand() service.Command {
	return service.Command{Name: "bench", Subcommands: []service.Command{{
		Name: "wallet", Summary: "credentials issued per second through the credential endpoint, against bare SD-JWT VC signing",
		Synopsis: "[flags]", Example: "socle bench wallet -holders 400", Database: true, Bench: true, Run: runBench,
		Description: `
Measures the wallet's issuance on loopback, on the bench's scratch database: -holders wallets,
-concurrency at a time, each redeeming a pre-authorised offer of a PID (token endpoint with
its transaction code and DPoP), asking for a c_nonce, and sending its proof of possession to
the credential endpoint (DPoP-bound token), which reads the person from a population register
on loopback, signs the SD-JWT VC with the issuer's key, and records it at a random index of
the status list. In the same run, with the same key and the same payloads: the service's
issuance function alone (signing and recording, no HTTP), and the bare signing (sdjwt, no
HTTP, no database). With -softhsm, the issuer's key is in a SoftHSM2 token made for the run
(PKCS#11), as an HSM would hold it. Prints credentials per second, p50 and p99 of each, and the ratios to
bare signing; then presentations verified per second by the OpenID4VP verifier (each
credential presented with a KB-JWT in a direct_post response: x5c to socle's CA, the status
list, the DCQL query).`}}}
}

func runBench(ctx context.Context, args []string, env service.CommandEnv) error {
	fs := env.Flags()
	holders := fs.Int("holders", 300, "wallets, one credential each, per phase")
	conc := fs.Int("concurrency", 8, "wallets served at a time")
	hsm := fs.Bool("softhsm", false, "the issuer's key in a SoftHSM2 token made for the run (PKCS#11), not in a file")
	if err := env.Parse(args); err != nil {
		return err
	}
	if *holders < 1 || *holders > 100000 || *conc < 1 || *conc > 256 {
		return service.Usagef("-holders from 1 to 100000, -concurrency from 1 to 256")
	}
	pkiDir := filepath.Join(env.DataDir(), "pki")
	if _, err := pki.Init(pkiDir); err != nil {
		return err
	}
	// The wallet serves over TLS, as it does in production, with a certificate of socle's
	// development CA: the status lists the verifier fetches are https, as the draft requires.
	if _, err := pki.EnsureIssued(pkiDir, "bench-wallet", pki.Request{Name: "localhost", Usage: pki.Server,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		return err
	}
	serverTLS, err := server.ServerTLS(filepath.Join(pkiDir, "bench-wallet.crt"), filepath.Join(pkiDir, "bench-wallet.key"))
	if err != nil {
		return err
	}
	roots, err := pki.LoadPool(filepath.Join(pkiDir, "ca.crt"))
	if err != nil {
		return err
	}
	pool, err := env.OpenDB(ctx, int32(*conc)+4)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "https://" + ln.Addr().String()
	cfg := Config{Population: "population", CivilStatus: "etat-civil", Authority: "socle bench"}
	keyIn := "a file"
	if *hsm {
		if err := softHSMToken(ctx, filepath.Join(env.DataDir(), "softhsm"), &cfg); err != nil {
			return err
		}
		keyIn = "a SoftHSM2 token, PKCS#11"
	}
	w, err := New(cfg, service.Env{Pool: pool,
		Logger: env.Logger(), Identity: identity.New(pool, env.Logger()), DataDir: env.DataDir(), PublicURL: func() string { return base }})
	if err != nil {
		return err
	}
	if err := w.Start(ctx); err != nil {
		return err
	}
	defer w.Stop(context.Background())
	mux := http.NewServeMux()
	w.Routes(mux, http.NewServeMux())
	// The population register, on loopback: its answer is the same work for the wallet
	// whatever the register's own speed, which is the gateway's bench's.
	mux.HandleFunc("GET /apis/population/v1/persons/{nrn}", servePerson)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(ln, serverTLS))
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2,
		TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	w.src = &sources.Client{Base: base, Key: "bench", Population: "population", CivilStatus: "etat-civil", HTTP: client}

	b := &walletBench{w: w, base: base, client: client}
	fmt.Fprintf(env.Stderr(), "preparing %d holders...\n", *holders)
	hs, err := b.holders(ctx, *holders, 0)
	if err != nil {
		return err
	}
	measure(ctx, hs, *conc, b.bare) // a warm-up: the first signatures pay for the key's and the runtime's start
	bare := measure(ctx, hs, *conc, b.bare)
	direct := measure(ctx, hs, *conc, b.issueDirect)
	endpoint := measure(ctx, hs, *conc, b.endpoint)
	for _, f := range []figures{bare, direct, endpoint} {
		if f.err != nil {
			return f.err
		}
	}
	pres, err := b.presentations(hs)
	if err != nil {
		return err
	}
	verified := measure(ctx, pres, *conc, b.verify)
	if verified.err != nil {
		return verified.err
	}
	out := env.Stdout()
	fmt.Fprintf(out, "socle bench wallet: %d holders, %d at a time, one PID each, ES256 (issuer key %s, in %s)\n\n", *holders, *conc, w.signer().kid, keyIn)
	fmt.Fprintf(out, "%-44s %12s %10s %10s\n", "path", "credentials/s", "p50", "p99")
	for _, r := range []struct {
		name string
		f    figures
	}{{"bare signing (sdjwt, no HTTP, no database)", bare}, {"issuance function (signing + record)", direct},
		{"credential endpoint (token, nonce, credential)", endpoint}} {
		fmt.Fprintf(out, "%-44s %12.0f %10s %10s\n", r.name, r.f.rate(), r.f.p(0.50).Round(time.Microsecond), r.f.p(0.99).Round(time.Microsecond))
	}
	fmt.Fprintf(out, "\nratio: the credential endpoint issues at %.1f %% of bare signing's rate (bare signing %.1f× as fast), p99 %.1f× bare's;\n",
		100*endpoint.rate()/bare.rate(), bare.rate()/endpoint.rate(), ratio(endpoint.p(0.99), bare.p(0.99)))
	fmt.Fprintf(out, "       the issuance function at %.1f %% (%.1f×), p99 %.1f×\n",
		100*direct.rate()/bare.rate(), bare.rate()/direct.rate(), ratio(direct.p(0.99), bare.p(0.99)))
	fmt.Fprintf(out, "presentations verified: %.0f/s, p99 %s (OpenID4VP verifier: direct_post read, SD-JWT VC, KB-JWT, x5c, status list, DCQL)\n\n", verified.rate(), verified.p(0.99).Round(time.Microsecond))
	return nil
}

// softHSMToken makes a SoftHSM2 token under dir for the run, and points cfg at it: the
// issuer's key is made in it when the wallet starts.
func softHSMToken(ctx context.Context, dir string, cfg *Config) error {
	module := ""
	for _, p := range []string{os.Getenv("SOFTHSM2_MODULE"), "/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); p != "" && err == nil {
			module = p
			break
		}
	}
	if module == "" {
		return errors.New("-softhsm: SoftHSM2 is not installed (apt-get install softhsm2; make deps does it), or set SOFTHSM2_MODULE")
	}
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		return err
	}
	// The module reads its configuration from the environment when it is loaded.
	os.Setenv("SOFTHSM2_CONF", conf)
	pin := randomToken(12)
	if out, err := exec.CommandContext(ctx, "softhsm2-util", "--init-token", "--free", "--label", "socle-bench", "--pin", pin,
		"--so-pin", randomToken(12)).CombinedOutput(); err != nil {
		return fmt.Errorf("-softhsm: softhsm2-util: %v: %s", err, out)
	}
	cfg.PKCS11Module, cfg.PKCS11Token, cfg.PKCS11PIN, cfg.PKCS11Key = module, "socle-bench", pin, "socle-wallet-issuer"
	return nil
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(max(b, 1)) }

// servePerson is the population register's answer for a holder of the bench.
func servePerson(rw http.ResponseWriter, r *http.Request) {
	p := examplePeople.person
	p.NRN, p.GivenNames, p.FamilyName = r.PathValue("nrn"), []string{"Camille"}, "Banc"
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(p)
}

// walletBench is the bench's wallet and its client.
type walletBench struct {
	w      *Wallet
	base   string
	client *http.Client
	issued sync.Map // holder index → credential, from the endpoint's phase

	verifierOnce sync.Once
	verifier     *verifier.Verifier
	verifierErr  error
	query        *verifier.Query
}

// benchHolder is a wallet of the bench: its key (DPoP and the credential's), and the offer
// its citizen made.
type benchHolder struct {
	i      int
	userID int64
	key    *ecdsa.PrivateKey
	jwk    jwk.Key
	code   string
	tx     string
	doc    documents.Document
}

// holders links n citizens (user ids from first+1) and makes each an offer of a PID.
func (b *walletBench) holders(ctx context.Context, n int, first int64) ([]benchHolder, error) {
	hs := make([]benchHolder, n)
	for i := range hs {
		h := &hs[i]
		h.i, h.userID = i, first+int64(i)+1
		nrn := fmt.Sprintf("%011d", 70000000000+h.userID)
		if err := b.w.citizens.link(ctx, h.userID, nrn); err != nil {
			return nil, err
		}
		of, tx, err := b.w.newOffer(ctx, h.userID, []string{"pid_dc_sd_jwt"})
		if err != nil {
			return nil, err
		}
		h.code, h.tx = of.Code, tx
		h.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		h.jwk, _ = jwk.Import(h.key.Public())
		p := examplePeople.person
		p.NRN, p.GivenNames, p.FamilyName = nrn, []string{"Camille"}, "Banc"
		if h.doc, err = b.w.issuer().NewPID(p, time.Now()); err != nil {
			return nil, err
		}
	}
	return hs, nil
}

// bare signs the holder's SD-JWT VC as issue does, without recording it: the baseline.
func (b *walletBench) bare(_ context.Context, h benchHolder) error {
	sg := b.w.signer()
	is := sdjwt.Issuer{Key: sg.priv, Alg: "ES256", KeyID: sg.kid, Chain: sg.chain, Decoys: 2}
	now := time.Now()
	_, err := is.IssueVC(sdjwt.VC{VCT: h.doc.VCT, Issuer: b.base, IssuedAt: now, Expiry: now.Add(h.doc.Validity),
		HolderKey: h.key.Public(), Status: &sdjwt.StatusListRef{Index: h.i, URI: b.w.statusURI(statusList)},
		Claims: h.doc.Claims, Disclosable: h.doc.Disclosable})
	return err
}

// issueDirect is the service's issuance function: signing and recording.
func (b *walletBench) issueDirect(ctx context.Context, h benchHolder) error {
	_, _, err := b.w.issue(ctx, h.userID, "pid_dc_sd_jwt", h.doc, []proof{{key: h.key.Public(), jwk: h.jwk}}, time.Now())
	return err
}

// endpoint is a wallet's requests for its credential (OpenID4VCI 1.0 §6, §7, §8).
func (b *walletBench) endpoint(ctx context.Context, h benchHolder) error {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:pre-authorized_code"}, "pre-authorized_code": {h.code}, "tx_code": {h.tx}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := b.post(ctx, pathToken, "application/x-www-form-urlencoded", form.Encode(), h, "", &tok); err != nil {
		return err
	}
	var n struct {
		CNonce string `json:"c_nonce"`
	}
	if err := b.post(ctx, pathNonce, "", "", h, "", &n); err != nil {
		return err
	}
	hdr := jws.NewHeaders()
	hdr.Set(jws.TypeKey, proofType)
	hdr.Set(jws.JWKKey, h.jwk)
	claims, _ := jwt.NewBuilder().Audience([]string{b.base}).IssuedAt(time.Now()).Claim("nonce", n.CNonce).Build()
	pr, err := jwt.Sign(claims, jwt.WithKey(jwa.ES256(), h.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"credential_configuration_id": "pid_dc_sd_jwt", "proofs": map[string]any{"jwt": []string{string(pr)}}})
	var res struct {
		Credentials []struct {
			Credential string `json:"credential"`
		} `json:"credentials"`
	}
	if err := b.post(ctx, pathCredential, "application/json", string(body), h, tok.AccessToken, &res); err != nil {
		return err
	}
	if len(res.Credentials) != 1 {
		return fmt.Errorf("wallet bench: %d credentials, want 1", len(res.Credentials))
	}
	b.issued.Store(h.i, res.Credentials[0].Credential)
	return nil
}

// post sends a wallet's request with its DPoP proof (RFC 9449 §4.2; ath with a token, §7.1).
func (b *walletBench) post(ctx context.Context, path, contentType, body string, h benchHolder, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hdr := jws.NewHeaders()
	hdr.Set(jws.TypeKey, "dpop+jwt")
	hdr.Set(jws.JWKKey, h.jwk)
	bld := jwt.NewBuilder().JwtID(uuid.NewString()).IssuedAt(time.Now()).Claim("htm", http.MethodPost).Claim("htu", b.base+path)
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		bld.Claim("ath", base64.RawURLEncoding.EncodeToString(sum[:]))
		req.Header.Set("Authorization", "DPoP "+token)
	}
	claims, _ := bld.Build()
	proof, err := jwt.Sign(claims, jwt.WithKey(jwa.ES256(), h.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return err
	}
	req.Header.Set("DPoP", string(proof))
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("wallet bench: %s: %d %s", path, res.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// benchPresentation is a credential of the endpoint's phase presented by its holder.
type benchPresentation struct {
	i     int
	sdjwt string
	nonce string
}

// presentations has each holder present its credential, disclosing its names, with a
// KB-JWT for a verifier's nonce (SD-JWT §4.3): made before the verifier's phase is timed.
func (b *walletBench) presentations(hs []benchHolder) ([]benchPresentation, error) {
	var ps []benchPresentation
	for _, h := range hs {
		c, ok := b.issued.Load(h.i)
		if !ok {
			return nil, fmt.Errorf("wallet bench: holder %d has no credential", h.i)
		}
		s, err := sdjwt.Parse(c.(string))
		if err != nil {
			return nil, err
		}
		nonce := randomToken(16)
		p, err := s.Present(sdjwt.KeyBinding{Key: h.key, Alg: "ES256", Audience: benchVerifierID, Nonce: nonce},
			sdjwt.Path{"given_name"}, sdjwt.Path{"family_name"})
		if err != nil {
			return nil, err
		}
		ps = append(ps, benchPresentation{i: h.i, sdjwt: p, nonce: nonce})
	}
	return ps, nil
}

const benchVerifierID = "x509_san_dns:verifier.bench.socle.test"

// benchQuery is the relying party's DCQL query (OpenID4VP 1.0 §6): the PID's names.
const benchQuery = `{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:1"]},
	"claims":[{"path":["given_name"]},{"path":["family_name"]}]}]}`

// verify verifies a presentation as the verifier's response endpoint does (verifierservice.go):
// the direct_post form read, then the SD-JWT VC, its KB-JWT for the client_id and the nonce,
// the x5c chain to socle's CA, the credential's status in the status list (fetched from the
// wallet on loopback, then cached as the verifier caches it), and the DCQL query.
func (b *walletBench) verify(ctx context.Context, p benchPresentation) error {
	b.verifierOnce.Do(func() {
		roots := x509.NewCertPool()
		sg := b.w.signer()
		roots.AddCert(sg.chain[len(sg.chain)-1])
		checker, err := b.w.statusChecker(b.client, roots)
		if err == nil {
			b.query, err = verifier.ParseQuery([]byte(benchQuery))
		}
		b.verifier, b.verifierErr = &verifier.Verifier{Roots: roots, Status: checker}, err
	})
	if b.verifierErr != nil {
		return b.verifierErr
	}
	vp, _ := json.Marshal(map[string][]string{"pid": {p.sdjwt}})
	r, err := verifier.ParseResponse(url.Values{"vp_token": {string(vp)}}, verifier.ModeDirectPost, nil)
	if err != nil {
		return err
	}
	res, err := b.verifier.Verify(ctx, r, verifier.Expect{Query: b.query, ClientID: benchVerifierID, Nonce: p.nonce})
	if err != nil {
		return err
	}
	if c := res.Credentials["pid"]; len(c) != 1 || c[0].Claims["family_name"] != "Banc" {
		return fmt.Errorf("wallet bench: presentation %d: disclosed %v", p.i, res.Credentials)
	}
	return nil
}

// figures are one phase's: how many, in how long, and each one's latency.
type figures struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
	err     error
}

func (f figures) rate() float64 { return float64(f.n) / f.elapsed.Seconds() }

func (f figures) p(q float64) time.Duration {
	if len(f.lat) == 0 {
		return 0
	}
	return f.lat[min(len(f.lat)-1, int(q*float64(len(f.lat))))]
}

// measure runs op on every item, conc at a time; the first error stops the phase.
func measure[T any](ctx context.Context, items []T, conc int, op func(context.Context, T) error) figures {
	lat := make([]time.Duration, len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) {
					return
				}
				t0 := time.Now()
				if err := op(ctx, items[i]); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(len(items)))
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	f := figures{n: len(items), elapsed: time.Since(start), lat: lat, err: first}
	slices.Sort(f.lat)
	return f
}
