package wallet

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"socle/internal/wallet/statuslist"
)

// The status list's Token (Token Status List, §5.1, §8): built from wallet.issued on demand,
// so that every replica serves the same list, and signed again only when a revocation changed
// it or the token nears its expiry.
const (
	statusTTL      = time.Minute // how long a verifier may keep the list: a revocation reaches it within that
	statusValidity = 24 * time.Hour
)

type statusCache struct {
	mu      sync.Mutex
	key     [32]byte
	token   []byte
	expires time.Time
}

func (w *Wallet) statusURI(list int) string {
	return w.publicURL() + pathStatus + strconv.Itoa(list)
}

// serveStatus serves a status list's token.
func (w *Wallet) serveStatus(rw http.ResponseWriter, r *http.Request) {
	list, err := strconv.Atoi(r.PathValue("list"))
	if err != nil || list != statusList {
		http.NotFound(rw, r)
		return
	}
	size, revoked, err := issuedStore{w.pool}.revokedIndexes(r.Context(), list)
	if err != nil {
		w.logger.Error("wallet: status list", "error", err)
		http.Error(rw, "status list unavailable", http.StatusServiceUnavailable)
		return
	}
	slices.Sort(revoked)
	// The token is signed by the current key: a rotation signs it again.
	sg := w.signer()
	h := sha256.New()
	h.Write([]byte(sg.kid))
	binary.Write(h, binary.BigEndian, int64(size))
	for _, i := range revoked {
		binary.Write(h, binary.BigEndian, int64(i))
	}
	var key [32]byte
	copy(key[:], h.Sum(nil))
	now := time.Now()
	c := &w.status
	c.mu.Lock()
	defer c.mu.Unlock()
	if key != c.key || now.Add(statusTTL).After(c.expires) {
		l, err := statuslist.NewList(1, size)
		for _, i := range revoked {
			if err == nil {
				err = l.Set(i, statuslist.Invalid)
			}
		}
		var tok []byte
		if err == nil {
			t := statuslist.Token{Subject: w.statusURI(list), IssuedAt: now, Expiry: now.Add(statusValidity), TTL: statusTTL, List: l}
			tok, err = t.Sign(statuslist.Signer{Alg: sg.alg, Key: sg.priv, KeyID: sg.kid, Certs: sg.chain})
		}
		if err != nil {
			w.logger.Error("wallet: status list", "error", err)
			http.Error(rw, "status list unavailable", http.StatusInternalServerError)
			return
		}
		c.key, c.token, c.expires = key, tok, now.Add(statusValidity)
	}
	rw.Header().Set("Content-Type", statuslist.MediaType)
	rw.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(statusTTL.Seconds())))
	rw.Header().Set("Access-Control-Allow-Origin", "*") // verifiers' pages may read it (§8.1)
	rw.Write(c.token)
}
