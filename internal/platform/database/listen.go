package database

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Watch follows a NOTIFY channel until ctx ends. It listens on a connection of its own, not
// one of pool's (a listener holds its connection for good, and several would starve a small
// pool), then calls ready — which loads the state the notifications keep current, so that
// nothing committed while it was not listening is missed — and notified for each
// notification's payload. After any error it reconnects 2 s later and starts over.
func Watch(ctx context.Context, pool *pgxpool.Pool, channel string, logger *slog.Logger,
	ready func(context.Context) error, notified func(ctx context.Context, payload string) error) {
	for ctx.Err() == nil {
		err := listen(ctx, pool, channel, ready, notified)
		if ctx.Err() != nil {
			return
		}
		logger.Warn("database: watch interrupted, retrying", "channel", channel, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func listen(ctx context.Context, pool *pgxpool.Pool, channel string,
	ready func(context.Context) error, notified func(context.Context, string) error) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Listening before loading: a change committed in between is both loaded and notified.
	if err := ready(ctx); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if err := notified(ctx, n.Payload); err != nil {
			return err
		}
	}
}
