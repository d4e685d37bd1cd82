//go:build !cgo

package wallet

import "errors"

// openHSM: a socle built without cgo cannot load a PKCS#11 module.
func openHSM(cfg Config) (token, error) {
	return nil, errors.New("wallet: SOCLE_WALLET_PKCS11_MODULE: this socle was built without cgo (CGO_ENABLED=0), which PKCS#11 needs")
}
