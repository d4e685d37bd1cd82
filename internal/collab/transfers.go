package collab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"

	"socle/internal/platform/config"
	"socle/internal/web"
)

// TransferConfig is the large-file transfers' part of collab's configuration.
type TransferConfig struct {
	StorageDir     string
	MaxSize        int64
	maxSizeMB      int
	QuotaMB        int
	ExpiryDays     int
	AbandonAfter   time.Duration
	Retention      time.Duration
	CleanupEvery   time.Duration
	Clamd          string
	TrustedProxies []string
	MaxLocks       int
}

func (c *TransferConfig) register(s *config.Set) {
	s.String(&c.StorageDir, "collab-storage-dir", "", "where the transfers' files are kept (tusd's file store; replicas share it): empty, <data-dir>/transfers")
	s.Int(&c.maxSizeMB, "collab-transfer-max-mb", 2048, 1, 1<<20, "the largest file of a transfer, in MiB")
	s.Int(&c.QuotaMB, "collab-transfer-quota-mb", 10240, 1, 1<<24, "an agent's quota, in MiB: files being uploaded and files kept, together")
	s.Int(&c.ExpiryDays, "collab-transfer-expiry-days", 7, 1, 30, "a transfer's default lifetime, in days (at most 30, what a sender may choose)")
	s.Duration(&c.AbandonAfter, "collab-transfer-abandon-after", 24*time.Hour, "an upload not finished after this long is deleted")
	s.Duration(&c.Retention, "collab-transfer-retention", 90*24*time.Hour, "how long the record of an expired transfer (recipients' addresses, downloads) is kept")
	s.Duration(&c.CleanupEvery, "collab-transfer-cleanup-every", 10*time.Minute, "how often expired and abandoned files are deleted")
	s.String(&c.Clamd, "collab-clamd", defaultClamd, "clamav-daemon's socket, unix:/path or tcp:host:port, through which each finished file is scanned; off: no scan (the demo without clamd)")
	s.List(&c.TrustedProxies, "collab-trusted-proxies", "", "proxies (CIDR) whose X-Forwarded-For gives a downloader's network")
	s.Int(&c.MaxLocks, "collab-transfer-max-uploads", 64, 1, 10000, "uploads written at once by this process (each holds a database connection for its lock)")
	s.Check(func() error {
		c.MaxSize = int64(c.maxSizeMB) << 20
		if c.Clamd != "off" {
			if _, err := parseClamdAddr(c.Clamd); err != nil {
				return fmt.Errorf("SOCLE_COLLAB_CLAMD: %w", err)
			}
		}
		for _, p := range c.TrustedProxies {
			if _, err := netip.ParsePrefix(p); err != nil {
				return fmt.Errorf("SOCLE_COLLAB_TRUSTED_PROXIES: %w", err)
			}
		}
		return nil
	})
}

// withDefaults fills what a Config built in code (tests) leaves empty.
func (c TransferConfig) withDefaults() TransferConfig {
	if c.MaxSize == 0 {
		c.MaxSize = 2 << 30
	}
	if c.QuotaMB == 0 {
		c.QuotaMB = 10240
	}
	if c.ExpiryDays == 0 {
		c.ExpiryDays = 7
	}
	if c.AbandonAfter == 0 {
		c.AbandonAfter = 24 * time.Hour
	}
	if c.Retention == 0 {
		c.Retention = 90 * 24 * time.Hour
	}
	if c.CleanupEvery == 0 {
		c.CleanupEvery = 10 * time.Minute
	}
	if c.Clamd == "" {
		c.Clamd = "off"
	}
	if c.MaxLocks == 0 {
		c.MaxLocks = 64
	}
	return c
}

const maxExpiryDays = 30

// defaultClamd is Debian's clamav-daemon socket.
const defaultClamd = "unix:/run/clamav/clamd.ctl"

// transfers is the Melanissimo part of the service.
type transfers struct {
	cfg     TransferConfig
	pool    *pgxpool.Pool
	logger  *slog.Logger
	store   filestore.FileStore
	locker  *pgLocker
	tus     *tusd.Handler
	scanner *clamd // nil: no scan
	proxies []netip.Prefix
	now     func() time.Time
	c       *Collab // its mail, public address and people
	site    *web.Site
	assets  *web.Assets
}

// newTransfers prepares the transfers; in the demo, without clamd at the default socket, files
// are not scanned (said in the log), so that `make run` works without clamav-daemon.
func (c *Collab) newTransfers(demo bool) (*transfers, error) {
	cfg := c.cfg.Transfers.withDefaults()
	if cfg.StorageDir == "" {
		cfg.StorageDir = filepath.Join(c.dataDir, "transfers")
	}
	if err := os.MkdirAll(cfg.StorageDir, 0o750); err != nil {
		return nil, fmt.Errorf("transfers: storage: %w", err)
	}
	t := &transfers{cfg: cfg, pool: c.pool, logger: c.logger.With("tool", "transfers"),
		store: filestore.New(cfg.StorageDir), now: time.Now, c: c}
	if demo && cfg.Clamd == defaultClamd {
		if _, err := os.Stat(strings.TrimPrefix(defaultClamd, "unix:")); err != nil {
			cfg.Clamd = "off"
		}
	}
	if cfg.Clamd != "off" {
		s, err := parseClamdAddr(cfg.Clamd)
		if err != nil {
			return nil, err
		}
		t.scanner = &s
	} else {
		t.logger.Warn("transfers: files are not scanned for viruses (SOCLE_COLLAB_CLAMD=off)")
	}
	for _, p := range cfg.TrustedProxies {
		pr, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, err
		}
		t.proxies = append(t.proxies, pr.Masked())
	}
	return t, nil
}

// start opens the locks' pool, its listener and tusd's handler, and the cleanup job.
func (t *transfers) start(ctx context.Context) (stop func(), err error) {
	t.locker, err = newPGLocker(ctx, t.pool, int32(t.cfg.MaxLocks), t.logger)
	if err != nil {
		return nil, err
	}
	composer := tusd.NewStoreComposer()
	t.store.UseIn(composer)
	composer.UseLocker(t.locker)
	t.tus, err = tusd.NewHandler(tusd.Config{
		StoreComposer:             composer,
		MaxSize:                   t.cfg.MaxSize,
		BasePath:                  "/transfers/files/",
		DisableConcatenation:      true,
		Cors:                      &tusd.CorsConfig{Disable: true}, // same-origin pages and scripts only
		PreUploadCreateCallback:   t.preCreate,
		PreFinishResponseCallback: t.preFinish,
		PreUploadTerminateCallback: func(h tusd.HookEvent) (tusd.HTTPResponse, error) {
			_, err := t.pool.Exec(h.Context, `UPDATE collab.transfer_files SET state = 'abandoned', deleted_at = $2
				WHERE upload_id = $1 AND state = 'uploading'`, h.Upload.ID, t.now())
			return tusd.HTTPResponse{}, err
		},
		Logger:             tusLogger(t.logger),
		AcquireLockTimeout: 20 * time.Second,
	})
	if err != nil {
		t.locker.close()
		return nil, fmt.Errorf("transfers: tus handler: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	ready := make(chan error, 1)
	done := make(chan struct{}, 2)
	go func() { t.locker.listen(lctx, ready); done <- struct{}{} }()
	if err := <-ready; err != nil {
		cancel()
		t.locker.close()
		return nil, fmt.Errorf("transfers: lock listener: %w", err)
	}
	go func() { t.cleanupLoop(lctx); done <- struct{}{} }()
	return func() {
		cancel()
		<-done
		<-done
		t.locker.close()
	}, nil
}

func (t *transfers) cleanupLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.CleanupEvery)
	defer tick.Stop()
	for {
		if _, err := t.cleanup(ctx); err != nil && ctx.Err() == nil {
			t.logger.Error("transfers: cleanup", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newToken returns a random token (256 bits, URL-safe) and its SHA-256, which is what is stored.
func newToken() (string, []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, hashToken(tok)
}

func hashToken(tok string) []byte {
	s := sha256.Sum256([]byte(tok))
	return s[:]
}

// newUploadID is the name of an upload in the store and in its tus URL: 128 random bits.
func newUploadID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// validUploadID is what newUploadID makes; anything else in a URL is not an upload.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

var errNotFound = errors.New("transfers: not found")

// clientNetwork is the network a request comes from, as kept in the download records: the
// peer's address, or — when the peer is a trusted proxy — the rightmost address of
// X-Forwarded-For that is not one of them, truncated to /24 (IPv4) or /48 (IPv6): an address
// is personal data, a network is what the sender needs to tell "inside" from "outside".
func clientNetwork(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	ap, err := netip.ParseAddrPort(remoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = ap.Addr()
	} else if addr, err = netip.ParseAddr(remoteAddr); err != nil {
		return "unknown"
	}
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	if isTrusted(addr) {
		var hops []string
		for _, h := range xff {
			hops = append(hops, strings.Split(h, ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a forged or broken hop: stop at the last proxy we trust
			}
			addr = a
			if !isTrusted(a) {
				break
			}
		}
	}
	addr = addr.Unmap().WithZone("")
	bits := 24
	if addr.Is6() {
		bits = 48
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return "unknown"
	}
	return p.String()
}
