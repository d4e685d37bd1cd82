package wallet

import (
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"time"

	"socle/internal/wallet/documents"
	"socle/internal/wallet/mdoc"
)

// issueMDoc signs doc with sg, the key issue holds for the whole batch, as an mdoc (ISO/IEC 18013-5) whose device key is the holder's, with
// the issuer's key and certificate chain and the credential's entry in the status list: the
// credential of format mso_mdoc, base64url-encoded (OpenID4VCI 1.0 Appendix A.2.4).
func (w *Wallet) issueMDoc(sg *signer, doc documents.Document, holder crypto.PublicKey, status mdoc.StatusRef, now time.Time) (string, error) {
	docType, nameSpaces, err := doc.MDoc()
	if err != nil {
		return "", err
	}
	key, ok := holder.(*ecdsa.PublicKey) // the proofs are ES256: a P-256 key
	if !ok {
		return "", fmt.Errorf("wallet: an mdoc's device key must be ECDSA, not %T", holder)
	}
	b, err := mdoc.Issuer{Key: sg.priv, Chain: sg.chain}.Issue(mdoc.Document{DocType: docType, NameSpaces: nameSpaces,
		DeviceKey: key, Signed: now, ValidUntil: now.Add(doc.Validity), Status: &status})
	if err != nil {
		return "", err
	}
	return mdoc.Encode(b), nil
}
