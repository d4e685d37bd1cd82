// Package database opens socle's PostgreSQL pool, runs each service's embedded migrations,
// and can create and run a private PostgreSQL cluster when no database is configured.
package database

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Open connects a pool to url and checks that the server answers.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can echo the URL, password included: keep only our own words.
		return nil, fmt.Errorf("database: SOCLE_DATABASE_URL is not a valid PostgreSQL URL")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	// Keep a quarter of the pool open even when idle: an emergency burst after a quiet spell
	// must not wait for PostgreSQL to start backends (a few milliseconds each) one by one.
	cfg.MinConns = max(1, cfg.MaxConns/4)
	cfg.ConnConfig.RuntimeParams["application_name"] = "socle"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}
