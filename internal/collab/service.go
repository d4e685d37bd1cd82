// Package collab is the agents' collaboration tools (seed 003): meeting polls that reveal
// nothing to outsiders (Pégase, polls.go) and large-file transfer with download tracking
// (Melanissimo, transfers.go). Only authenticated agents create polls and send files;
// outsiders answer or download by personal links. Mail goes through the platform's relay
// (service.Env.Mail).
package collab

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/mail"
	"socle/internal/platform/service"
)

// Config is collab's configuration table.
type Config struct {
	Transfers TransferConfig // transfers.go
	Relay     RelayConfig    // relay.go
}

// Register declares collab's settings.
func (c *Config) Register(s *config.Set) {
	c.Transfers.register(s)
	c.Relay.register(s)
}

// Collab is the collab service.
type Collab struct {
	cfg       Config
	pool      *pgxpool.Pool
	logger    *slog.Logger
	people    *identity.Store
	mail      mail.Sender
	publicURL func() string
	dataDir   string
	stop      []func()

	pp        *pollPages // the meeting polls (polls.go)
	transfers *transfers // transfers.go
	relay     *relay     // the SMTP relay, when SOCLE_COLLAB_SMTP_ADDR is set (relay.go)
}

// New builds the service; Start makes it serve.
func New(cfg Config, env service.Env) (*Collab, error) {
	c := &Collab{cfg: cfg, pool: env.Pool, logger: env.Logger, people: env.Identity, mail: env.Mail,
		publicURL: env.PublicURL, dataDir: env.DataDir}
	var err error
	if c.transfers, err = c.newTransfers(env.Demo); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Collab) Name() string { return "collab" }

// Start starts each tool's scheduled work.
func (c *Collab) Start(ctx context.Context) error {
	c.startPolls(ctx)
	stop, err := c.transfers.start(ctx)
	if err != nil {
		return err
	}
	c.stop = append(c.stop, stop)
	if stop, err = c.startRelay(); err != nil {
		return err
	}
	c.stop = append(c.stop, stop)
	return nil
}

// Stop stops what Start started.
func (c *Collab) Stop(ctx context.Context) error {
	for _, stop := range c.stop {
		stop()
	}
	c.stop = nil
	return nil
}

func (c *Collab) Ready(ctx context.Context) error { return c.pool.Ping(ctx) }

// Routes mounts each tool's pages and APIs.
func (c *Collab) Routes(webMux, icMux *http.ServeMux) {
	c.pollRoutes(webMux)
	c.transferRoutes(webMux, icMux)
}
