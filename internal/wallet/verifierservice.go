package wallet

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"socle/internal/platform/pki"
	"socle/internal/platform/problem"
	"socle/internal/wallet/statuslist"
	"socle/internal/wallet/verifier"
)

// The verifier's paths: the partner API on the interconnect (published on the gateway as the
// API verification), the request objects and response endpoint for wallets on the web.
const (
	pathVerifierAPI       = partnerPrefix + "verifier/v1/requests"
	pathVerifierRequests  = "/wallet/verifier/requests/"
	pathVerifierResponses = "/wallet/verifier/responses/"
)

const (
	// requestLifetime is how long a wallet has to fetch and answer a request: a person
	// scanning a QR code and consenting (HAIP 1.0 leaves it to the verifier; short limits
	// what a leaked request URI is worth).
	requestLifetime = 5 * time.Minute
	// requestRetention is how long a request's row, and its result if never read, is kept.
	requestRetention = time.Hour
	// maxWait bounds a long-poll of the partner API.
	maxWait = 30 * time.Second
)

// verifierState is the verifier's key, the roots it trusts, and its checkers.
type verifierState struct {
	key   crypto.Signer
	keyFP string
	ca    *pki.CA
	v     *verifier.Verifier
}

// startVerifier loads the verifier's signing key (SOCLE_WALLET_VERIFIER_KEY, or made from the
// development CA under <data-dir>/pki/ when missing, as the issuer's is), the CA that issues
// relying parties' access certificates (SOCLE_WALLET_VERIFIER_CA, or socle's development CA),
// and the issuers it trusts: the root of socle's own issuer chain, socle's development CA, and
// SOCLE_WALLET_VERIFIER_TRUST.
func (w *Wallet) startVerifier() error {
	dir := filepath.Join(w.dataDir, "pki")
	keyFile := w.cfg.VerifierKey
	if keyFile == "" {
		if _, err := pki.EnsureIssued(dir, "wallet-verifier", pki.Request{Name: "socle wallet verifier",
			Organization: "socle (development)", Usage: pki.Signing}); err != nil {
			return fmt.Errorf("wallet: verifier key: %w", err)
		}
		keyFile = filepath.Join(dir, "wallet-verifier.key")
	}
	key, err := loadSigningKey(keyFile)
	if err != nil {
		return fmt.Errorf("wallet: verifier key: %w", err)
	}
	caDir := w.cfg.VerifierCA
	if caDir == "" {
		caDir = dir
	}
	ca, err := pki.LoadCA(caDir)
	if err != nil {
		return fmt.Errorf("wallet: verifier: the CA that issues relying parties' certificates: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("wallet: verifier key: %w", err)
	}
	sum := sha256.Sum256(spki)
	roots := x509.NewCertPool()
	if chain := w.signer().chain; len(chain) > 0 {
		roots.AddCert(chain[len(chain)-1]) // socle's own credentials
	}
	if dev, err := pki.LoadCertificates(filepath.Join(dir, "ca.crt")); err == nil && len(dev) > 0 {
		roots.AddCert(dev[0])
	}
	if w.cfg.VerifierTrust != "" {
		b, err := os.ReadFile(w.cfg.VerifierTrust)
		if err != nil {
			return fmt.Errorf("wallet: SOCLE_WALLET_VERIFIER_TRUST: %w", err)
		}
		certs, err := pki.ParseCertificates(b)
		if err != nil || len(certs) == 0 {
			return fmt.Errorf("wallet: SOCLE_WALLET_VERIFIER_TRUST %s: no PEM certificates (%v)", w.cfg.VerifierTrust, err)
		}
		for _, c := range certs {
			roots.AddCert(c)
		}
	}
	checker, err := w.statusChecker(&http.Client{Transport: &http.Transport{TLSClientConfig: w.tlsRoots, ForceAttemptHTTP2: true}}, roots)
	if err != nil {
		return err
	}
	w.verifier = &verifierState{key: key, keyFP: hex.EncodeToString(sum[:]), ca: ca,
		v: &verifier.Verifier{Roots: roots, Status: checker}}
	return nil
}

// statusChecker checks credentials' status lists, fetched with client. Status List Tokens
// are signed with the issuer's x5c (HAIP 1.0): their chain must lead to the same roots.
func (w *Wallet) statusChecker(client *http.Client, roots *x509.CertPool) (*statuslist.Checker, error) {
	return statuslist.NewChecker(statuslist.CheckerOptions{
		Client: client,
		Keys:   statuslist.X5CResolver(roots, nil),
		// A relying party wants today's status: a revocation reaches it within ten seconds
		// whatever ttl the list says (draft-ietf-oauth-status-list §13.7 leaves it to the
		// verifier's policy).
		MaxTTL: 10 * time.Second,
	})
}

// loadSigningKey reads an ECDSA P-256 private key (PEM, SEC 1 or PKCS #8): HAIP's ES256.
func loadSigningKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	var k any
	if k, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
		if k, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: an ECDSA P-256 key is needed (ES256, HAIP 1.0)", file)
	}
	return ec, nil
}

// relyingParty returns the signer of a partner's request objects: its access certificate,
// issued once by socle's CA for the verifier's key with the organisation in the subject, and
// kept; a new one when the key, the organisation or the validity changed.
func (w *Wallet) relyingParty(ctx context.Context, p Partner) (verifier.Signer, error) {
	vs := w.verifier
	org := p.Organisation
	if org == "" {
		org = p.Consumer
	}
	var der []byte
	err := w.pool.QueryRow(ctx, `SELECT certificate FROM wallet.verifier_parties
		WHERE consumer = $1 AND organisation = $2 AND key_fingerprint = $3 AND not_after > now() + interval '1 day'`,
		p.Consumer, org, vs.keyFP).Scan(&der)
	if errors.Is(err, pgx.ErrNoRows) {
		csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, vs.key)
		if err != nil {
			return verifier.Signer{}, fmt.Errorf("wallet: relying party %s: %w", p.Consumer, err)
		}
		csr, err := x509.ParseCertificateRequest(csrDER)
		if err != nil {
			return verifier.Signer{}, err
		}
		cert, _, err := vs.ca.SignCSR(csr, pki.Request{Name: org, Organization: org, Units: []string{"relying party " + p.Consumer}})
		if err != nil {
			return verifier.Signer{}, fmt.Errorf("wallet: relying party %s: %w", p.Consumer, err)
		}
		der = cert.Raw
		if _, err := w.pool.Exec(ctx, `INSERT INTO wallet.verifier_parties (consumer, organisation, key_fingerprint, certificate, not_after)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (consumer) DO UPDATE SET organisation = $2, key_fingerprint = $3,
			certificate = $4, not_after = $5, created_at = now()`, p.Consumer, org, vs.keyFP, der, cert.NotAfter); err != nil {
			return verifier.Signer{}, fmt.Errorf("wallet: relying party %s: %w", p.Consumer, err)
		}
	} else if err != nil {
		return verifier.Signer{}, fmt.Errorf("wallet: relying party %s: %w", p.Consumer, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return verifier.Signer{}, fmt.Errorf("wallet: relying party %s: %w", p.Consumer, err)
	}
	return verifier.Signer{Key: vs.key, Chain: []*x509.Certificate{leaf, vs.ca.Cert}}, nil
}

// presentationRequest is a request as stored.
type presentationRequest struct {
	ID, Consumer, Nonce, State, Mode, Status string
	Query                                    json.RawMessage
	Key                                      []byte
	Result                                   json.RawMessage
	ResultRead                               bool
	CreatedAt, ExpiresAt                     time.Time
}

func (w *Wallet) loadRequest(ctx context.Context, id string) (*presentationRequest, error) {
	r := &presentationRequest{}
	err := w.pool.QueryRow(ctx, `SELECT id, consumer, nonce, state, mode,
		CASE WHEN status = 'pending' AND expires_at <= now() THEN 'expired' ELSE status END,
		query, ephemeral_key, result, result_read, created_at, expires_at
		FROM wallet.presentation_requests WHERE id = $1`, id).
		Scan(&r.ID, &r.Consumer, &r.Nonce, &r.State, &r.Mode, &r.Status, &r.Query, &r.Key, &r.Result, &r.ResultRead, &r.CreatedAt, &r.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: presentation request: %w", err)
	}
	return r, nil
}

func badRequest(rw http.ResponseWriter, r *http.Request, field, reason string) {
	problem.Write(rw, r, problem.New("invalid-request", http.StatusBadRequest, "Invalid request", reason).
		With(problem.FieldError{Field: field, Reason: reason}))
}

// createRequest is POST /wallet/partners/verifier/v1/requests: a relying party asks for a
// presentation with a DCQL query. The answer carries the URI to show as a QR code or link.
func (w *Wallet) createRequest(rw http.ResponseWriter, r *http.Request, p Partner) {
	var body struct {
		DCQL         json.RawMessage `json:"dcql_query"`
		ResponseMode string          `json:"response_mode"`
	}
	d := json.NewDecoder(io.LimitReader(r.Body, 128<<10))
	d.DisallowUnknownFields()
	if err := d.Decode(&body); err != nil {
		badRequest(rw, r, "body", "a JSON object {dcql_query, response_mode?}: "+err.Error())
		return
	}
	if len(body.DCQL) == 0 {
		badRequest(rw, r, "dcql_query", "required: a DCQL query (OpenID4VP 1.0 §6)")
		return
	}
	if _, err := verifier.ParseQuery(body.DCQL); err != nil {
		var qe *verifier.QueryError
		field := "dcql_query"
		reason := err.Error()
		if errors.As(err, &qe) {
			if qe.Path != "" {
				field += "." + qe.Path
			}
			reason = qe.Reason
		}
		badRequest(rw, r, field, reason)
		return
	}
	mode := body.ResponseMode
	if mode == "" {
		mode = verifier.ModeDirectPostJWT // HAIP 1.0: encrypted responses
	}
	if mode != verifier.ModeDirectPost && mode != verifier.ModeDirectPostJWT {
		badRequest(rw, r, "response_mode", "direct_post or direct_post.jwt (OpenID4VP 1.0 §8.2, §8.3)")
		return
	}
	signer, err := w.relyingParty(r.Context(), p)
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		problem.Write(rw, r, problem.New("unavailable", http.StatusServiceUnavailable, "Verifier unavailable", "try again later"))
		return
	}
	var keyBytes []byte
	if mode == verifier.ModeDirectPostJWT {
		k, err := verifier.NewEncryptionKey()
		if err != nil {
			problem.Write(rw, r, problem.New("unavailable", http.StatusServiceUnavailable, "Verifier unavailable", err.Error()))
			return
		}
		keyBytes = k.Bytes()
	}
	id, nonce, state := randomToken(18), randomToken(24), randomToken(18)
	expires := time.Now().Add(requestLifetime).Truncate(time.Second)
	// The query is stored compact, as validated; the wallet receives it as it was sent.
	if _, err := w.pool.Exec(r.Context(), `INSERT INTO wallet.presentation_requests (id, consumer, query, nonce, state, mode, ephemeral_key, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, p.Consumer, string(body.DCQL), nonce, state, mode, keyBytes, expires); err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		problem.Write(rw, r, problem.New("unavailable", http.StatusServiceUnavailable, "Verifier unavailable", "try again later"))
		return
	}
	w.logger.Info("wallet: presentation request", "consumer", p.Consumer, "id", id, "mode", mode)
	writeJSON(rw, http.StatusCreated, map[string]any{
		"id":          id,
		"client_id":   signer.ClientID(),
		"request_uri": verifier.URI(signer.ClientID(), w.publicURL()+pathVerifierRequests+id, false),
		"expires_at":  expires.UTC().Format(time.RFC3339),
		"status":      "pending",
	})
}

// readRequest is GET /wallet/partners/verifier/v1/requests/{id}[?wait=N]: the request's status
// and, once answered, its result — to the consumer that made it only, once: the disclosed
// claims are dropped when read.
func (w *Wallet) readRequest(rw http.ResponseWriter, r *http.Request, p Partner) {
	id := r.PathValue("id")
	wait := time.Duration(0)
	if s := r.URL.Query().Get("wait"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			badRequest(rw, r, "wait", "seconds to wait for an answer, a non-negative integer")
			return
		}
		wait = min(time.Duration(n)*time.Second, maxWait)
	}
	deadline := time.Now().Add(wait)
	var pr *presentationRequest
	var err error
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		pr, err = w.loadRequest(r.Context(), id)
		if err != nil {
			w.logger.Error("wallet: verifier", "error", err)
			problem.Write(rw, r, problem.New("unavailable", http.StatusServiceUnavailable, "Verifier unavailable", "try again later"))
			return
		}
		if pr == nil || pr.Consumer != p.Consumer {
			// Another consumer's request is as absent as one that never was.
			problem.Write(rw, r, problem.New("no-such-request", http.StatusNotFound, "No such request",
				"no presentation request of yours has this id (they are kept an hour)"))
			return
		}
		if pr.Status != "pending" || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
	out := map[string]any{"id": pr.ID, "status": pr.Status, "expires_at": pr.ExpiresAt.UTC().Format(time.RFC3339)}
	switch {
	case pr.Status == "accepted" && pr.ResultRead:
		out["result_read"] = true
	case pr.Status == "accepted" || pr.Status == "refused":
		var res any
		json.Unmarshal(pr.Result, &res)
		out["result"] = res
		if pr.Status == "accepted" {
			// Personal data leaves socle once: the claims go to the relying party and are
			// forgotten here.
			if _, err := w.pool.Exec(r.Context(), `UPDATE wallet.presentation_requests SET result = NULL, result_read = true WHERE id = $1`, pr.ID); err != nil {
				w.logger.Error("wallet: verifier", "error", err)
				problem.Write(rw, r, problem.New("unavailable", http.StatusServiceUnavailable, "Verifier unavailable", "try again later"))
				return
			}
		}
	}
	writeJSON(rw, http.StatusOK, out)
}

// requestObject is GET or POST /wallet/verifier/requests/{id}: the signed request object, for
// a wallet (RFC 9101 §5.2; OpenID4VP 1.0 §5.10 for POST, whose wallet_nonce comes back in it).
func (w *Wallet) requestObject(rw http.ResponseWriter, r *http.Request) {
	pr, err := w.loadRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if pr == nil || pr.Status != "pending" {
		oid4vpError(rw, http.StatusNotFound, verifier.InvalidRequest, "no pending presentation request at this address: expired or answered")
		return
	}
	walletNonce := ""
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, "a form-encoded body (§5.10)")
			return
		}
		walletNonce = r.PostForm.Get("wallet_nonce")
	}
	signer, err := w.relyingParty(r.Context(), Partner{Consumer: pr.Consumer, Organisation: w.partyOrganisation(r.Context(), pr.Consumer)})
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	req := verifier.Request{ResponseURI: w.publicURL() + pathVerifierResponses + pr.ID, ResponseMode: pr.Mode,
		Nonce: pr.Nonce, State: pr.State, Query: pr.Query, IssuedAt: time.Now(), Expires: pr.ExpiresAt, WalletNonce: walletNonce}
	if len(pr.Key) > 0 {
		if req.EncryptionKey, err = ecdh.P256().NewPrivateKey(pr.Key); err != nil {
			w.logger.Error("wallet: verifier: stored key", "error", err)
			http.Error(rw, "unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	obj, err := signer.Sign(req)
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Write(obj)
}

// partyOrganisation is the organisation a consumer's certificate names, as stored.
func (w *Wallet) partyOrganisation(ctx context.Context, consumer string) string {
	var org string
	w.pool.QueryRow(ctx, `SELECT organisation FROM wallet.verifier_parties WHERE consumer = $1`, consumer).Scan(&org)
	return org
}

// oid4vpError answers a wallet with an OAuth error (OpenID4VP 1.0 §8.2, RFC 6749 §5.2).
func oid4vpError(rw http.ResponseWriter, status int, code, description string) {
	writeJSON(rw, status, map[string]string{"error": code, "error_description": description})
}

// response is POST /wallet/verifier/responses/{id}: the wallet's answer (direct_post,
// OpenID4VP 1.0 §8.2, or direct_post.jwt, §8.3). It is verified, and the request is
// answered, once: the first answer whose state is the request's wins, accepted or refused.
func (w *Wallet) response(rw http.ResponseWriter, r *http.Request) {
	pr, err := w.loadRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if pr == nil || pr.Status != "pending" {
		oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, "this request is not awaiting an answer: expired or already answered")
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 512<<10)
	if err := r.ParseForm(); err != nil {
		oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, "a form-encoded body (§8.2)")
		return
	}
	var key *ecdh.PrivateKey
	if len(pr.Key) > 0 {
		if key, err = ecdh.P256().NewPrivateKey(pr.Key); err != nil {
			http.Error(rw, "unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	resp, err := verifier.ParseResponse(r.PostForm, pr.Mode, key)
	if err != nil {
		// Not yet read: anyone could post garbage here, it does not consume the request.
		oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, err.Error())
		return
	}
	// §8.2: the state must be the request's; an answer to another request does not count.
	if resp.State != pr.State {
		oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, "state is not this request's")
		return
	}
	query, err := verifier.ParseQuery(pr.Query)
	if err != nil {
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	signer, err := w.relyingParty(r.Context(), Partner{Consumer: pr.Consumer, Organisation: w.partyOrganisation(r.Context(), pr.Consumer)})
	if err != nil {
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	result, verr := w.verifier.v.Verify(r.Context(), resp, verifier.Expect{Query: query, ClientID: signer.ClientID(), Nonce: pr.Nonce})
	status := "accepted"
	var stored any = result
	if verr != nil {
		status = "refused"
		var e *verifier.Error
		if !errors.As(verr, &e) {
			e = &verifier.Error{Code: verifier.InvalidRequest, Description: verr.Error()}
		}
		stored = map[string]string{"error": e.Code, "error_description": e.Description}
	}
	b, _ := json.Marshal(stored)
	tag, err := w.pool.Exec(r.Context(), `UPDATE wallet.presentation_requests SET status = $2, result = $3, ephemeral_key = NULL, answered_at = now()
		WHERE id = $1 AND status = 'pending' AND expires_at > now()`, pr.ID, status, b)
	if err != nil {
		w.logger.Error("wallet: verifier", "error", err)
		http.Error(rw, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if tag.RowsAffected() == 0 {
		oid4vpError(rw, http.StatusBadRequest, verifier.InvalidRequest, "this request was answered already")
		return
	}
	w.logger.Info("wallet: presentation answered", "consumer", pr.Consumer, "id", pr.ID, "status", status)
	if verr != nil {
		var e *verifier.Error
		errors.As(verr, &e)
		code, desc := verifier.InvalidRequest, verr.Error()
		if e != nil {
			code, desc = e.Code, e.Description
		}
		oid4vpError(rw, http.StatusBadRequest, code, desc)
		return
	}
	writeJSON(rw, http.StatusOK, map[string]any{})
}

// purgeVerifier forgets requests an hour after they were made, results and all.
func (w *Wallet) purgeVerifier(ctx context.Context) error {
	_, err := w.pool.Exec(ctx, `DELETE FROM wallet.presentation_requests WHERE created_at < now() - $1::interval`,
		fmt.Sprintf("%d seconds", int(requestRetention.Seconds())))
	return err
}

// verifierRoutes mounts the verifier: the partner API on the interconnect, the request
// objects and the response endpoint on the web, for wallets (no cookie: cross-origin allowed).
func (w *Wallet) verifierRoutes(webMux, interconnect *http.ServeMux) {
	w.verifierPartnerRoutes(interconnect)
	webMux.HandleFunc("GET "+pathVerifierRequests+"{id}", w.requestObject)
	webMux.HandleFunc("POST "+pathVerifierRequests+"{id}", w.requestObject)
	webMux.HandleFunc("POST "+pathVerifierResponses+"{id}", w.response)
	if w.people != nil {
		w.people.AllowCrossOrigin(pathVerifierRequests)
		w.people.AllowCrossOrigin(pathVerifierResponses)
	}
}

// verifierPartnerRoutes mounts the partner API, for relying parties through the gateway.
func (w *Wallet) verifierPartnerRoutes(interconnect *http.ServeMux) {
	interconnect.Handle("POST "+pathVerifierAPI, w.partner(w.createRequest))
	interconnect.Handle("GET "+pathVerifierAPI+"/{id}", w.partner(w.readRequest))
}

// verifierClientID is the x509_hash client_id of a DER certificate.
func verifierClientID(der []byte) string {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return verifier.ClientID(c)
}
