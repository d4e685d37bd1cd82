package database

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Follower keeps some state in step with a NOTIFY channel. It listens on a connection of its
// own, not one of pool's (a listener holds its connection for good, and several would starve a
// small pool), then calls ready — which loads the state the notifications keep current, so that
// nothing committed while it was not listening is missed — and notified for each
// notification's payload.
type Follower struct {
	pool     *pgxpool.Pool
	channel  string
	logger   *slog.Logger
	ready    func(context.Context) error
	notified func(ctx context.Context, payload string) error
	conn     *pgx.Conn // listening, once Start or Run has connected

	mu  sync.Mutex
	ran bool // Run has taken conn over, and closes it when it returns
}

// NewFollower returns a follower of channel; Start or Run connects it.
func NewFollower(pool *pgxpool.Pool, channel string, logger *slog.Logger,
	ready func(context.Context) error, notified func(ctx context.Context, payload string) error) *Follower {
	return &Follower{pool: pool, channel: channel, logger: logger, ready: ready, notified: notified}
}

// Start connects, listens and calls ready once: when it returns nil, the state is loaded and
// every later change will reach Run. A service calls it before serving, so that the state is
// loaded once, not again when Run begins.
func (f *Follower) Start(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, f.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("database: follow %s: connect: %w", f.channel, err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return fmt.Errorf("database: follow %s: listen: %w", f.channel, err)
	}
	// Listening before loading: a change committed in between is both loaded and notified.
	if err := f.ready(ctx); err != nil {
		conn.Close(context.Background())
		return err
	}
	f.conn = conn
	return nil
}

// Run passes notifications to notified until ctx ends. Without a connection (Start was not
// called, or the connection was lost), it starts again — reloading through ready — retrying
// every 2 s.
func (f *Follower) Run(ctx context.Context) {
	f.mu.Lock()
	f.ran = true
	f.mu.Unlock()
	defer func() {
		if f.conn != nil {
			f.conn.Close(context.Background())
		}
	}()
	for ctx.Err() == nil {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		f.logger.Warn("database: following interrupted, retrying", "channel", f.channel, "error", err)
		if f.conn != nil {
			f.conn.Close(context.Background())
			f.conn = nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// Close closes the connection Start opened when Run never took it over — a service whose start
// failed after Start. Once Run has begun, Run closes it when it returns, and Close does nothing.
func (f *Follower) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ran && f.conn != nil {
		f.conn.Close(context.Background())
		f.conn = nil
	}
}

func (f *Follower) follow(ctx context.Context) error {
	if f.conn == nil {
		if err := f.Start(ctx); err != nil {
			return err
		}
	}
	for {
		n, err := f.conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if err := f.notified(ctx, n.Payload); err != nil {
			return err
		}
	}
}
