package wallet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/wallet/documents"
	"socle/internal/wallet/mdoc"
	"socle/internal/wallet/oauth"
	"socle/internal/wallet/sdjwt"
	"socle/internal/wallet/sources"
	"socle/internal/web"
)

// The authorisation server and the credential endpoint (OpenID4VCI 1.0, HAIP 1.0).

// authServer is the oauth package's server on the wallet's shared state, made at first use:
// its issuer identifier is the public address, known once the listeners are bound.
type authServer struct {
	once sync.Once
	srv  *oauth.Server
	err  error
}

func (w *Wallet) oauth() (*oauth.Server, error) {
	w.auth.once.Do(func() {
		st := stateStore{w.pool}
		dpop, err := oauth.NewDPoPVerifier(oauth.DPoPConfig{Replay: st})
		if err != nil {
			w.auth.err = err
			return
		}
		w.auth.srv, w.auth.err = oauth.NewServer(oauth.ServerConfig{Issuer: w.publicURL(), Scopes: scopes(),
			CredentialConfigurationIDs: scopes(), Clients: st, DPoP: dpop,
			PAR: st, Codes: st, PreAuth: st, Tokens: st, CNonces: st})
		if w.auth.err == nil && w.providers != nil {
			w.attestation, w.auth.err = oauth.NewAttestationVerifier(oauth.AttestationConfig{Audience: w.publicURL(),
				Providers: w.providers, Replay: st})
		}
	})
	return w.auth.srv, w.auth.err
}

// oauthError answers an OAuth error (RFC 6749 §5.2, RFC 9449 §7.1).
func oauthError(rw http.ResponseWriter, err error) {
	var oe *oauth.Error
	var de *oauth.DPoPError
	switch {
	case errors.As(err, &de):
		rw.Header().Set("WWW-Authenticate", de.WWWAuthenticate())
		if de.Nonce != "" {
			rw.Header().Set("DPoP-Nonce", de.Nonce)
		}
		writeJSON(rw, http.StatusUnauthorized, de)
	case errors.As(err, &oe):
		if oe.Nonce != "" {
			rw.Header().Set("DPoP-Nonce", oe.Nonce)
		}
		status := oe.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		writeJSON(rw, status, oe)
	default:
		writeJSON(rw, http.StatusInternalServerError, map[string]string{"error": "server_error"})
	}
}

// formEndpoint serves an endpoint of the authorisation server that takes a form: fn answers
// with a body and its status, or an OAuth error.
func (w *Wallet) formEndpoint(rw http.ResponseWriter, r *http.Request, fn func(*oauth.Server) (any, int, error)) {
	srv, err := w.oauth()
	if err != nil {
		oauthError(rw, err)
		return
	}
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(rw, &oauth.Error{Code: oauth.CodeInvalidRequest, Description: "the body is not a form of at most 64 KiB"})
		return
	}
	body, status, err := fn(srv)
	if err != nil {
		oauthError(rw, err)
		return
	}
	writeJSON(rw, status, body)
}

// token is the token endpoint (RFC 6749 §3.2, OpenID4VCI 1.0 §6): both grants, DPoP-bound.
func (w *Wallet) token(rw http.ResponseWriter, r *http.Request) {
	w.formEndpoint(rw, r, func(srv *oauth.Server) (any, int, error) {
		client, err := w.authenticateClient(r.Context(), r)
		if err != nil {
			return nil, 0, err
		}
		if client != "" {
			r.PostForm.Set("client_id", client)
		}
		resp, err := srv.TokenEndpoint(r.Context(), r.Header, w.publicURL()+pathToken, r.PostForm)
		return resp, http.StatusOK, err
	})
}

// nonce is the nonce endpoint (OpenID4VCI 1.0 §7).
func (w *Wallet) nonce(rw http.ResponseWriter, r *http.Request) {
	srv, err := w.oauth()
	if err == nil {
		var n *oauth.NonceResponse
		if n, err = srv.NewCNonce(r.Context()); err == nil {
			writeJSON(rw, http.StatusOK, n)
			return
		}
	}
	oauthError(rw, err)
}

// par is the pushed authorisation request endpoint (RFC 9126). A wallet is a registered client
// (wallet.clients), whose redirect URIs it must use, authenticated by its provider's
// attestation or, as a public client, by its client_id alone (attestation.go).
func (w *Wallet) par(rw http.ResponseWriter, r *http.Request) {
	w.formEndpoint(rw, r, func(srv *oauth.Server) (any, int, error) {
		client, err := w.authenticateClient(r.Context(), r)
		if err != nil {
			return nil, 0, err
		}
		if r.PostForm.Get("client_id") == "" {
			r.PostForm.Set("client_id", client)
		}
		resp, err := srv.Push(r.Context(), client, r.PostForm)
		return resp, http.StatusCreated, err
	})
}

// consent is an authorisation request the signed-in citizen is asked to approve.
type consent struct {
	Request oauth.AuthorizationRequest `json:"request"`
	UserID  int64                      `json:"user_id"`
}

type consentPage struct {
	Key       string
	ClientID  string
	Documents []string
}

// authorize is the authorisation endpoint (RFC 9126 §4): the pushed request, for the signed-in
// citizen, who approves it or not.
func (w *Wallet) authorize(rw http.ResponseWriter, r *http.Request) error {
	srv, err := w.oauth()
	if err != nil {
		return err
	}
	u, _ := identity.UserFrom(r.Context())
	if _, err := w.citizens.nrn(r.Context(), u.ID); err != nil {
		return web.Errorf(http.StatusForbidden, "no-national-number", messages.Text("error"), messages.Text("err.nocitizen"))
	}
	req, err := srv.Authorization(r.Context(), r.URL.Query())
	if err != nil {
		var oe *oauth.Error
		if errors.As(err, &oe) {
			return web.Errorf(http.StatusBadRequest, oe.Code, messages.Text("authorize.error"), web.Text{FR: oe.Description, EN: oe.Description})
		}
		return err
	}
	// The pushed request was used once; the citizen's answer is tied to it by a key of its own.
	key := randomToken(24)
	if err := (stateStore{w.pool}).save(r.Context(), "consent", oauth.Hash(key), consent{Request: *req, UserID: u.ID}, time.Now().Add(10*time.Minute)); err != nil {
		return err
	}
	lang := web.Lang(r)
	var docs []string
	for _, id := range requested(req) {
		if _, ok := configurationOf(id); ok {
			docs = append(docs, messages.T(lang, "conf."+id))
		}
	}
	rw.Header().Set("Cache-Control", "no-store")
	w.render(rw, r, http.StatusOK, "authorize.html", "authorize.title", consentPage{Key: key, ClientID: req.ClientID, Documents: docs})
	return nil
}

// requested are the configurations an authorisation request asks for.
func requested(req *oauth.AuthorizationRequest) []string {
	var ids []string
	for _, d := range req.AuthorizationDetails {
		ids = append(ids, d.CredentialConfigurationID)
	}
	for _, s := range req.Scope {
		if _, ok := configurationOf(s); ok && !slices.Contains(ids, s) {
			ids = append(ids, s)
		}
	}
	return ids
}

// approve takes the citizen's answer, and sends the wallet back with a code, or with
// access_denied (RFC 6749 §4.1.2.1).
func (w *Wallet) approve(rw http.ResponseWriter, r *http.Request) error {
	srv, err := w.oauth()
	if err != nil {
		return err
	}
	u, _ := identity.UserFrom(r.Context())
	var c consent
	ok, err := (stateStore{w.pool}).take(r.Context(), "consent", oauth.Hash(r.PostFormValue("consent")), &c)
	if err != nil {
		return err
	}
	if !ok || c.UserID != u.ID {
		return web.Errorf(http.StatusBadRequest, "consent-expired", messages.Text("authorize.error"), messages.Text("authorize.expired"))
	}
	if r.PostFormValue("decision") != "approve" {
		http.Redirect(rw, r, c.Request.RedirectURI+separator(c.Request.RedirectURI)+"error=access_denied&state="+url.QueryEscape(c.Request.State), http.StatusSeeOther)
		return nil
	}
	code, err := srv.IssueCode(r.Context(), c.Request, strconv.FormatInt(u.ID, 10))
	if err != nil {
		return err
	}
	w.logger.Info("wallet: authorisation granted", "user", u.ID, "client", c.Request.ClientID)
	http.Redirect(rw, r, c.Request.RedirectURI+separator(c.Request.RedirectURI)+"code="+url.QueryEscape(code)+"&state="+url.QueryEscape(c.Request.State)+
		"&iss="+url.QueryEscape(w.publicURL()), http.StatusSeeOther) // iss: RFC 9207
	return nil
}

// separator is what joins a query to a redirect URI that may have one (RFC 6749 §3.1.2).
func separator(uri string) string {
	if strings.Contains(uri, "?") {
		return "&"
	}
	return "?"
}

// credentialRequest is the credential endpoint's body (OpenID4VCI 1.0 §8.2).
type credentialRequest struct {
	CredentialIdentifier      string `json:"credential_identifier"`
	CredentialConfigurationID string `json:"credential_configuration_id"`
	Proofs                    *struct {
		JWT []string `json:"jwt"`
	} `json:"proofs"`
	Proof json.RawMessage `json:"proof"` // drafts' single proof: refused with a clear message
}

// credentialError answers the credential endpoint's errors (§8.3.1.2).
func credentialError(rw http.ResponseWriter, code, description string) {
	writeJSON(rw, http.StatusBadRequest, map[string]string{"error": code, "error_description": description})
}

// credential is the credential endpoint: for a DPoP-bound token, one SD-JWT VC per proof of
// possession (batch issuance: one per key of the wallet).
func (w *Wallet) credential(rw http.ResponseWriter, r *http.Request) {
	srv, err := w.oauth()
	if err != nil {
		oauthError(rw, err)
		return
	}
	tok, _, err := srv.Protect(r.Context(), r.Header, http.MethodPost, w.publicURL()+pathCredential)
	if err != nil {
		oauthError(rw, err)
		return
	}
	var req credentialRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 256<<10))
	if err := dec.Decode(&req); err != nil {
		credentialError(rw, "invalid_credential_request", "the body is not the JSON object of OpenID4VCI 1.0 §8.2")
		return
	}
	conf := req.CredentialConfigurationID
	if req.CredentialIdentifier != "" {
		conf = req.CredentialIdentifier // socle's identifiers are the configurations' ids
	}
	kind, ok := configurationOf(conf)
	switch {
	case req.CredentialIdentifier != "" && req.CredentialConfigurationID != "":
		credentialError(rw, "invalid_credential_request", "credential_identifier and credential_configuration_id exclude each other")
		return
	case !ok && req.CredentialIdentifier != "":
		credentialError(rw, "unknown_credential_identifier", fmt.Sprintf("%q is not a credential identifier of this token", req.CredentialIdentifier))
		return
	case !ok:
		credentialError(rw, "unknown_credential_configuration", fmt.Sprintf("%q is not among the issuer's credential configurations", conf))
		return
	case !granted(tok, conf):
		credentialError(rw, "invalid_credential_request", fmt.Sprintf("the access token does not grant %s", conf))
		return
	case len(req.Proof) > 0:
		credentialError(rw, "invalid_proof", "send proofs as {\"proofs\": {\"jwt\": [...]}} (OpenID4VCI 1.0 §8.2)")
		return
	case req.Proofs == nil || len(req.Proofs.JWT) == 0:
		credentialError(rw, "invalid_proof", "proofs.jwt is required: the credential is bound to the wallet's key")
		return
	case len(req.Proofs.JWT) > maxBatch:
		credentialError(rw, "invalid_credential_request", fmt.Sprintf("at most %d proofs, one credential each", maxBatch))
		return
	}
	now := time.Now()
	var proofs []proof
	nonces := map[string]bool{}
	for _, raw := range req.Proofs.JWT {
		p, err := checkProof(raw, w.publicURL(), now)
		if err != nil {
			code := "invalid_proof"
			if errors.Is(err, errInvalidNonce) {
				code = "invalid_nonce"
			}
			credentialError(rw, code, err.Error())
			return
		}
		proofs = append(proofs, p)
		nonces[p.nonce] = true
	}
	// Each c_nonce is good once: a batch shares one, redeemed for all its proofs.
	for n := range nonces {
		if ok, err := srv.RedeemCNonce(r.Context(), n); err != nil || !ok {
			credentialError(rw, "invalid_nonce", "the proofs' nonce is not one the nonce endpoint gave, or it was used or expired: ask for a new one")
			return
		}
	}
	userID, err := strconv.ParseInt(tok.Subject, 10, 64)
	if err != nil {
		credentialError(rw, "credential_request_denied", "the token names no citizen")
		return
	}
	doc, err := w.document(r.Context(), userID, kind, now)
	if err != nil {
		w.logger.Warn("wallet: document for a credential", "user", userID, "kind", kind, "error", err)
		credentialError(rw, "credential_request_denied", "the authentic sources hold no such document for this citizen")
		return
	}
	credentials, notification, err := w.issue(r.Context(), userID, conf, doc, proofs, now)
	if err != nil {
		w.logger.Error("wallet: issue", "error", err)
		writeJSON(rw, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	w.logger.Info("wallet: credentials issued", "user", userID, "configuration", conf, "count", len(credentials))
	writeJSON(rw, http.StatusOK, map[string]any{"credentials": credentials, "notification_id": notification})
}

// granted says whether an access token grants a configuration.
func granted(t *oauth.AccessToken, conf string) bool {
	for _, d := range t.AuthorizationDetails {
		if d.CredentialConfigurationID == conf {
			return true
		}
	}
	return slices.Contains(t.Scope, conf)
}

// document reads a citizen's document of kind from the authentic sources, now.
func (w *Wallet) document(ctx context.Context, userID int64, kind string, now time.Time) (documents.Document, error) {
	nrn, err := w.citizens.nrn(ctx, userID)
	if err != nil {
		return documents.Document{}, err
	}
	src, err := w.sources()
	if err != nil {
		return documents.Document{}, err
	}
	is := w.issuer()
	switch kind {
	case documents.PID:
		p, err := src.Person(ctx, nrn)
		if err != nil {
			return documents.Document{}, err
		}
		return is.NewPID(p, now)
	case documents.Birth:
		b, err := src.BirthCertificate(ctx, nrn)
		if err != nil {
			return documents.Document{}, err
		}
		return is.NewBirth(b), nil
	case documents.Marriage:
		ms, err := src.MarriageCertificates(ctx, nrn)
		if err != nil {
			return documents.Document{}, err
		}
		if len(ms) == 0 {
			return documents.Document{}, sources.ErrNotFound
		}
		return is.NewMarriage(ms[len(ms)-1]), nil
	case documents.DrivingLicence:
		l, err := src.DrivingLicence(ctx, nrn)
		if err != nil {
			return documents.Document{}, err
		}
		return is.NewDrivingLicence(l, now)
	}
	return documents.Document{}, fmt.Errorf("no document of kind %q", kind)
}

// issue signs one SD-JWT VC of doc per proof, each bound to its proof's key and at its own
// index of the status list, and records them.
func (w *Wallet) issue(ctx context.Context, userID int64, conf string, doc documents.Document, proofs []proof, now time.Time) ([]map[string]string, string, error) {
	sg := w.signer()
	is := sdjwt.Issuer{Key: sg.priv, Alg: "ES256", KeyID: sg.kid, Chain: sg.chain, Decoys: 2}
	var out []map[string]string
	notification := ""
	typ := doc.VCT // what the credential says it is: its vct, or an mdoc's doctype
	if formatOf(conf) == formatMDoc {
		typ, _, _ = doc.MDoc()
	}
	for _, p := range proofs {
		jkt, err := oauth.Thumbprint(p.jwk)
		if err != nil {
			return nil, "", err
		}
		rec, err := issuedStore{w.pool}.record(ctx, issuedCredential{UserID: userID, Configuration: conf, VCT: typ,
			ExpiresAt: now.Add(doc.Validity)}, jkt, sg.kid)
		if err != nil {
			return nil, "", err
		}
		if notification == "" {
			notification = rec.NotificationID
		}
		var cred string
		if formatOf(conf) == formatMDoc {
			cred, err = w.issueMDoc(sg, doc, p.key, mdoc.StatusRef{Index: rec.StatusIndex, URI: w.statusURI(rec.StatusList)}, now)
		} else {
			cred, err = is.IssueVC(sdjwt.VC{VCT: doc.VCT, Issuer: w.publicURL(), IssuedAt: now, Expiry: now.Add(doc.Validity),
				HolderKey: p.key, Status: &sdjwt.StatusListRef{Index: rec.StatusIndex, URI: w.statusURI(rec.StatusList)},
				Claims: doc.Claims, Disclosable: doc.Disclosable})
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, map[string]string{"credential": cred})
	}
	return out, notification, nil
}

// notification is the notification endpoint (OpenID4VCI 1.0 §11).
func (w *Wallet) notification(rw http.ResponseWriter, r *http.Request) {
	srv, err := w.oauth()
	if err != nil {
		oauthError(rw, err)
		return
	}
	if _, _, err := srv.Protect(r.Context(), r.Header, http.MethodPost, w.publicURL()+pathNotification); err != nil {
		oauthError(rw, err)
		return
	}
	var n struct {
		NotificationID string `json:"notification_id"`
		Event          string `json:"event"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<10)).Decode(&n); err != nil ||
		!slices.Contains([]string{"credential_accepted", "credential_failure", "credential_deleted"}, n.Event) {
		credentialError(rw, "invalid_notification_request", "want {notification_id, event: credential_accepted|credential_failure|credential_deleted}")
		return
	}
	if err := (issuedStore{w.pool}).notify(r.Context(), n.NotificationID, n.Event); err != nil {
		credentialError(rw, "invalid_notification_id", "no credential of this notification_id")
		return
	}
	rw.WriteHeader(http.StatusNoContent)
}
