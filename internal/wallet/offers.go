package wallet

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/jackc/pgx/v5"

	"socle/internal/platform/identity"
	"socle/internal/wallet/oauth"
	"socle/internal/web"
)

// txCodeLength is the transaction code's number of digits (OpenID4VCI 1.0 §4.1.1: the
// issuer says its length and input mode to the wallet).
const txCodeLength = 6

// offer is a credential offer as stored.
type offer struct {
	ID             string
	UserID         int64
	Configurations []string
	Code           string
	ExpiresAt      time.Time
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newOffer makes an offer of configurations to a citizen: a pre-authorised grant of the
// authorisation server, with a numeric transaction code for the citizen to read, and the
// offer that carries the grant's code. The transaction code is returned, and kept only as its
// hash, with the grant.
func (w *Wallet) newOffer(ctx context.Context, userID int64, configurations []string) (offer, string, error) {
	srv, err := w.oauth()
	if err != nil {
		return offer{}, "", err
	}
	pre, err := srv.NewPreAuthorizedCode(ctx, oauth.PreAuthorizedOffer{Subject: strconv.FormatInt(userID, 10),
		CredentialConfigurationIDs: configurations,
		TxCode: &oauth.TxCode{InputMode: oauth.TxCodeNumeric, Length: txCodeLength,
			Description: "Code affiché sur la page de socle / Code shown on socle's page"}})
	if err != nil {
		return offer{}, "", err
	}
	of := offer{ID: randomToken(16), UserID: userID, Configurations: configurations, Code: pre.Code, ExpiresAt: pre.ExpiresAt}
	_, err = w.pool.Exec(ctx, `INSERT INTO wallet.offers (id, user_id, configurations, code, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		of.ID, userID, configurations, of.Code, of.ExpiresAt)
	if err != nil {
		return offer{}, "", fmt.Errorf("wallet: offer: %w", err)
	}
	return of, pre.TxCode, nil
}

// offerByID reads an offer by its reference, while it may be redeemed.
func (w *Wallet) offerByID(ctx context.Context, id string) (offer, error) {
	var of offer
	err := w.pool.QueryRow(ctx, `SELECT id, user_id, configurations, code, expires_at FROM wallet.offers WHERE id = $1 AND expires_at > now()`, id).
		Scan(&of.ID, &of.UserID, &of.Configurations, &of.Code, &of.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return offer{}, errNoOffer
	}
	return of, err
}

var errNoOffer = errors.New("no such offer")

// document is the Credential Offer object (OpenID4VCI 1.0 §4.1.1).
func (w *Wallet) offerDocument(of offer) map[string]any {
	return map[string]any{
		"credential_issuer":            w.publicURL(),
		"credential_configuration_ids": of.Configurations,
		"grants": map[string]any{
			"urn:ietf:params:oauth:grant-type:pre-authorized_code": map[string]any{
				"pre-authorized_code": of.Code,
				"tx_code": map[string]any{"input_mode": oauth.TxCodeNumeric, "length": txCodeLength,
					"description": "Code affiché sur la page de socle / Code shown on socle's page"},
			},
		},
	}
}

// offerURIs are the two ways of handing an offer to a wallet (§4.1): by reference, short
// enough for a QR code, and by value, for a link on the same device.
func (w *Wallet) offerURIs(of offer) (byReference, byValue string) {
	byReference = "openid-credential-offer://?credential_offer_uri=" + url.QueryEscape(w.publicURL()+"/wallet/offers/"+of.ID)
	doc, _ := json.Marshal(w.offerDocument(of))
	byValue = "openid-credential-offer://?credential_offer=" + url.QueryEscape(string(doc))
	return
}

// serveOffer is the offer by reference (§4.1.3): anyone with the reference reads it, while it
// may be redeemed.
func (w *Wallet) serveOffer(rw http.ResponseWriter, r *http.Request) {
	of, err := w.offerByID(r.Context(), r.PathValue("id"))
	if err != nil {
		writeJSON(rw, http.StatusNotFound, map[string]string{"error": "invalid_request", "error_description": "no such offer, or it expired or was used"})
		return
	}
	writeJSON(rw, http.StatusOK, w.offerDocument(of))
}

type offerPage struct {
	Title       string
	ByReference string
	ByValue     template.URL // a scheme html/template would not pass: made here, trusted as such
	QR          template.URL
	TxCode      string
	ExpiresAt   time.Time
}

// makeOffer offers the citizen one of their documents, and shows the offer: a QR code for a
// phone, a link for a wallet on this device, and the transaction code.
func (w *Wallet) makeOffer(rw http.ResponseWriter, r *http.Request) error {
	u, _ := identity.UserFrom(r.Context())
	conf := r.PathValue("configuration")
	_, ok := configurationOf(conf)
	if !ok {
		return web.NotFound()
	}
	if _, err := w.citizens.nrn(r.Context(), u.ID); err != nil {
		return web.Errorf(http.StatusForbidden, "no-national-number", messages.Text("error"), messages.Text("err.nocitizen"))
	}
	of, tx, err := w.newOffer(r.Context(), u.ID, []string{conf})
	if err != nil {
		return err
	}
	byRef, byValue := w.offerURIs(of)
	img, err := qrPNG(byRef)
	if err != nil {
		return err
	}
	w.logger.Info("wallet: offer made", "user", u.ID, "configuration", conf)
	rw.Header().Set("Cache-Control", "no-store")
	w.render(rw, r, http.StatusCreated, "offer.html", "offer.title", offerPage{Title: messages.T(web.Lang(r), "conf."+conf),
		ByReference: byRef, ByValue: template.URL(byValue), QR: template.URL(img), TxCode: tx, ExpiresAt: of.ExpiresAt})
	return nil
}

// qrPNG is a QR code of text, as a data: URL.
func qrPNG(text string) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	if code, err = barcode.Scale(code, 320, 320); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, code); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes()), nil
}
