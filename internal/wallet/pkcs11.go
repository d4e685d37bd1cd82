//go:build cgo

package wallet

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"github.com/ThalesGroup/crypto11"
)

// pkcs11Token is a PKCS#11 token, through crypto11 (which needs cgo: without it,
// pkcs11_nocgo.go says so).
type pkcs11Token struct{ ctx *crypto11.Context }

// openHSM logs in to the token the settings name. The PIN is the token's user PIN: it is
// never logged nor put in an error.
func openHSM(cfg Config) (token, error) {
	if _, err := os.Stat(cfg.PKCS11Module); err != nil {
		return nil, fmt.Errorf("wallet: SOCLE_WALLET_PKCS11_MODULE: %w", err)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.PKCS11Module, TokenLabel: cfg.PKCS11Token, Pin: cfg.PKCS11PIN})
	if err != nil {
		msg := err.Error()
		if cfg.PKCS11PIN != "" {
			msg = strings.ReplaceAll(msg, cfg.PKCS11PIN, "***")
		}
		return nil, fmt.Errorf("wallet: PKCS#11 token %q of %s: %s", cfg.PKCS11Token, cfg.PKCS11Module, msg)
	}
	return pkcs11Token{ctx}, nil
}

// find is the key pair of label, nil if the token has none.
func (t pkcs11Token) find(label string) (crypto.Signer, error) {
	// FindKeyPairs, not FindKeyPair, which makes "none" an error like any other.
	ss, err := t.ctx.FindKeyPairs(nil, []byte(label))
	if len(ss) == 0 || err != nil {
		return nil, err
	}
	return ss[0], nil
}

// generate makes a P-256 key pair of label in the token; its private half never leaves it.
func (t pkcs11Token) generate(label string) (crypto.Signer, error) {
	id := make([]byte, 16)
	rand.Read(id)
	return t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P256())
}

func (t pkcs11Token) close() error { return t.ctx.Close() }
