package collab

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// releaseChannel is where a replica that wants an upload's lock asks its holder, wherever it
// runs, to let go (tusd's requestRelease): the payload is the upload's id.
const releaseChannel = "socle_collab_tus_release"

// pgLocker is tusd's handler.Locker on PostgreSQL, so that replicas sharing the database and
// the storage volume never write one upload at once. tusd ships only in-process and file
// lockers; a lock here is a session-level advisory lock (pg_try_advisory_lock) held on a
// connection of its own pool for as long as the upload is locked: the lock goes with the
// connection if the process dies. A replica that finds the lock taken asks the holder to
// release it through NOTIFY; each replica LISTENs and calls the holder's requestRelease, after
// which tusd ends its PATCH, saves what it received and unlocks.
type pgLocker struct {
	pool   *pgxpool.Pool // the locks' own connections, so that held locks never starve queries
	logger *slog.Logger
	retry  time.Duration

	mu   sync.Mutex
	held map[string]func() // upload id → its holder's requestRelease, for locks held here
}

var _ tusd.Locker = (*pgLocker)(nil)

// newPGLocker opens the locks' pool, a copy of base's configuration limited to max
// connections (one per upload written at once, plus the listener).
func newPGLocker(ctx context.Context, base *pgxpool.Pool, max int32, logger *slog.Logger) (*pgLocker, error) {
	cfg := base.Config().Copy()
	cfg.MaxConns = max + 1
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("transfers: the locks' pool: %w", err)
	}
	return &pgLocker{pool: pool, logger: logger, retry: 100 * time.Millisecond, held: map[string]func(){}}, nil
}

// listen relays release requests to the holders in this process until ctx ends.
func (l *pgLocker) listen(ctx context.Context, ready chan<- error) {
	conn, err := l.pool.Acquire(ctx)
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN "+releaseChannel)
	}
	ready <- err
	if err != nil {
		if conn != nil {
			conn.Release()
		}
		return
	}
	defer func() {
		// The connection is LISTENing: close it rather than give it back to the pool.
		conn.Conn().Close(context.Background())
		conn.Release()
	}()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.logger.Error("transfers: lock release listener stopped", "error", err)
			}
			return
		}
		l.mu.Lock()
		release := l.held[n.Payload]
		l.mu.Unlock()
		if release != nil {
			release()
		}
	}
}

func (l *pgLocker) close() { l.pool.Close() }

// lockKey maps an upload id onto the 64-bit key space of advisory locks. The ids are random,
// so the first 8 bytes of their SHA-256 collide with negligible probability.
func lockKey(id string) int64 {
	sum := sha256.Sum256([]byte("socle-collab-tus:" + id))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func (l *pgLocker) NewLock(id string) (tusd.Lock, error) {
	return &pgLock{l: l, id: id, key: lockKey(id)}, nil
}

type pgLock struct {
	l    *pgLocker
	id   string
	key  int64
	conn *pgxpool.Conn // while locked
}

// Lock takes the advisory lock, asking its holder to release it and retrying until ctx ends
// (tusd's AcquireLockTimeout), then answers tusd.ErrLockTimeout.
func (k *pgLock) Lock(ctx context.Context, requestRelease func()) error {
	conn, err := k.l.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return tusd.ErrLockTimeout
		}
		return fmt.Errorf("transfers: lock %s: %w", k.id, err)
	}
	asked := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", k.key).Scan(&ok); err != nil {
			conn.Release()
			if ctx.Err() != nil {
				return tusd.ErrLockTimeout
			}
			return fmt.Errorf("transfers: lock %s: %w", k.id, err)
		}
		if ok {
			k.conn = conn
			k.l.mu.Lock()
			k.l.held[k.id] = requestRelease
			k.l.mu.Unlock()
			return nil
		}
		if !asked {
			if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", releaseChannel, k.id); err != nil && ctx.Err() == nil {
				k.l.logger.Warn("transfers: asking for a lock's release", "upload", k.id, "error", err)
			}
			asked = true
		}
		select {
		case <-ctx.Done():
			conn.Release()
			return tusd.ErrLockTimeout
		case <-time.After(k.l.retry):
		}
	}
}

// Unlock releases the advisory lock and gives its connection back.
func (k *pgLock) Unlock() error {
	if k.conn == nil {
		return errors.New("transfers: unlock of an upload not locked")
	}
	k.l.mu.Lock()
	delete(k.l.held, k.id)
	k.l.mu.Unlock()
	conn := k.conn
	k.conn = nil
	// A context of its own: tusd unlocks after the request's context has ended.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var released bool
	err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", k.key).Scan(&released)
	if err != nil || !released {
		// The session's lock state is unknown: end the session, which drops its locks.
		conn.Conn().Close(ctx)
		conn.Release()
		if err == nil {
			err = errors.New("not held by this session")
		}
		return fmt.Errorf("transfers: unlock %s: %w", k.id, err)
	}
	conn.Release()
	return nil
}
