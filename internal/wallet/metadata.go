package wallet

import (
	"encoding/json"
	"net/http"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"socle/internal/wallet/documents"
)

// The configurations of the credentials the wallet issues (OpenID4VCI 1.0 §12.2.4): one per
// kind of document and format, all bound to a key of the holder's wallet. Every kind is an
// SD-JWT VC; the driving licence is an mdoc too, the format of ISO/IEC 18013-5's mDL readers.
var configurations = []struct{ id, kind, format string }{
	{"pid_dc_sd_jwt", documents.PID, formatSDJWT},
	{"birth_certificate_dc_sd_jwt", documents.Birth, formatSDJWT},
	{"marriage_certificate_dc_sd_jwt", documents.Marriage, formatSDJWT},
	{"driving_licence_dc_sd_jwt", documents.DrivingLicence, formatSDJWT},
	{"driving_licence_mso_mdoc", documents.DrivingLicence, formatMDoc},
}

// Credential formats (OpenID4VCI 1.0 Appendix A).
const (
	formatSDJWT = "dc+sd-jwt"
	formatMDoc  = "mso_mdoc"
)

func configurationOf(id string) (kind string, ok bool) {
	for _, c := range configurations {
		if c.id == id {
			return c.kind, true
		}
	}
	return "", false
}

// configurationFor is the SD-JWT VC configuration of a kind of document.
func configurationFor(kind string) string { return configurationIn(kind, formatSDJWT) }

// configurationIn is the configuration of a kind of document in a format.
func configurationIn(kind, format string) string {
	for _, c := range configurations {
		if c.kind == kind && c.format == format {
			return c.id
		}
	}
	return ""
}

// formatOf is a configuration's format.
func formatOf(id string) string {
	for _, c := range configurations {
		if c.id == id {
			return c.format
		}
	}
	return ""
}

// Paths of the wallet's protocol endpoints, under the public URL.
const (
	pathToken        = "/wallet/oauth/token"
	pathPAR          = "/wallet/oauth/par"
	pathAuthorize    = "/wallet/oauth/authorize"
	pathNonce        = "/wallet/nonce"
	pathCredential   = "/wallet/credential"
	pathNotification = "/wallet/notification"
	pathStatus       = "/wallet/status/"
)

// issuerMetadata is the Credential Issuer Metadata (OpenID4VCI 1.0 §12.2), served at
// /.well-known/openid-credential-issuer. It changes only with the public address: it is
// made at the first request, once the listeners are bound, and kept.
func (w *Wallet) issuerMetadata(rw http.ResponseWriter, r *http.Request) {
	w.metadataOnce.Do(func() { w.metadata = w.makeIssuerMetadata() })
	writeJSON(rw, http.StatusOK, w.metadata)
}

func (w *Wallet) makeIssuerMetadata() map[string]any {
	base := w.publicURL()
	confs := map[string]any{}
	for _, c := range configurations {
		d := exampleDocument(w.issuer(), c.kind)
		md := documents.Metadata(d)
		var claims []map[string]any
		for _, cl := range md.Claims {
			claims = append(claims, map[string]any{"path": cl.Path, "display": cl.Display})
		}
		conf := map[string]any{
			"format": c.format,
			"scope":  c.id,
			"proof_types_supported": map[string]any{
				"jwt": map[string]any{"proof_signing_alg_values_supported": []string{"ES256"}},
			},
			"credential_metadata": map[string]any{"display": md.Display, "claims": claims},
		}
		if c.format == formatMDoc {
			// Appendix A.2.2: the doctype; the device key as a COSE_Key; COSE algorithm
			// identifiers (-7, ES256); claims by namespace and element (Appendix B.2).
			docType, nameSpaces, _ := d.MDoc()
			conf["doctype"] = docType
			conf["cryptographic_binding_methods_supported"] = []string{"cose_key"}
			conf["credential_signing_alg_values_supported"] = []int{-7}
			for _, cl := range claims {
				for ns := range nameSpaces {
					cl["path"] = append([]any{ns}, cl["path"].([]any)...)
				}
			}
		} else {
			conf["vct"] = d.VCT
			conf["cryptographic_binding_methods_supported"] = []string{"jwk"}
			conf["credential_signing_alg_values_supported"] = []string{"ES256"}
		}
		confs[c.id] = conf
	}
	return map[string]any{
		"credential_issuer":                   base,
		"authorization_servers":               []string{base},
		"credential_endpoint":                 base + pathCredential,
		"nonce_endpoint":                      base + pathNonce,
		"notification_endpoint":               base + pathNotification,
		"batch_credential_issuance":           map[string]any{"batch_size": maxBatch},
		"display":                             []map[string]string{{"name": "socle — Portefeuille numérique", "locale": "fr-BE"}, {"name": "socle — Digital wallet", "locale": "en"}},
		"credential_configurations_supported": confs,
	}
}

// maxBatch is the most credentials of one configuration a request may ask for (one per key
// of the wallet: a fresh one per presentation keeps verifiers from linking them).
const maxBatch = 10

// authorizationServerMetadata is RFC 8414's metadata of the wallet's authorisation server,
// as HAIP 1.0 asks for it: PAR required, PKCE S256, DPoP ES256, and the pre-authorised code.
func (w *Wallet) authorizationServerMetadata(rw http.ResponseWriter, r *http.Request) {
	base := w.publicURL()
	writeJSON(rw, http.StatusOK, map[string]any{
		"issuer":                                          base,
		"authorization_endpoint":                          base + pathAuthorize,
		"token_endpoint":                                  base + pathToken,
		"pushed_authorization_request_endpoint":           base + pathPAR,
		"require_pushed_authorization_requests":           true,
		"response_types_supported":                        []string{"code"},
		"grant_types_supported":                           []string{"authorization_code", "urn:ietf:params:oauth:grant-type:pre-authorized_code"},
		"code_challenge_methods_supported":                []string{"S256"},
		"dpop_signing_alg_values_supported":               []string{"ES256"},
		"token_endpoint_auth_methods_supported":           w.authMethods(),
		"pre-authorized_grant_anonymous_access_supported": true,
		"authorization_details_types_supported":           []string{"openid_credential"},
		"scopes_supported":                                scopes(),
	})
}

func scopes() []string {
	var s []string
	for _, c := range configurations {
		s = append(s, c.id)
	}
	return s
}

// jwtVCIssuerMetadata is SD-JWT VC's issuer metadata (draft-ietf-oauth-sd-jwt-vc-26 §5):
// the issuer's public keys, for verifiers that do not use the x5c chain.
func (w *Wallet) jwtVCIssuerMetadata(rw http.ResponseWriter, r *http.Request) {
	// Every key a verifier may meet: the current one, and the retired ones while what they
	// signed is valid (issuerkey.go), each by its kid.
	set := jwk.NewSet()
	for _, k := range *w.keys.published.Load() {
		set.AddKey(k)
	}
	writeJSON(rw, http.StatusOK, map[string]any{"issuer": w.publicURL(), "jwks": set})
}

// typeMetadata serves the Type Metadata of socle's own types, at their vct.
func (w *Wallet) typeMetadata(rw http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	if kind == documents.PID || configurationFor(kind) == "" {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "max-age=3600")
	rw.Write(documents.Metadata(exampleDocument(w.issuer(), kind)).JSON())
}

// exampleDocument is a document of kind with every claim, for the metadata that list them.
func exampleDocument(is documents.Issuer, kind string) documents.Document {
	switch kind {
	case documents.Birth:
		return is.NewBirth(examplePeople.birth)
	case documents.Marriage:
		return is.NewMarriage(examplePeople.marriage)
	case documents.DrivingLicence:
		d, _ := is.NewDrivingLicence(examplePeople.licence, examplePeople.now)
		return d
	}
	d, _ := is.NewPID(examplePeople.person, examplePeople.now)
	return d
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.WriteHeader(status)
	enc := json.NewEncoder(rw)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
