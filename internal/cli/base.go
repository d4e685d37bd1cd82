package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"socle/internal/platform/config"
	"socle/internal/platform/database"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
	_ "socle/internal/services" // every service registers itself
)

// base is what every command that touches the database needs.
type base struct {
	DataDir      string
	DatabaseURL  string
	PostgresUser string
	LogLevel     string
	LogFormat    string
	// BackupDir and ArchiveTimeout: the private cluster's WAL archiving (backup.go).
	BackupDir      string
	ArchiveTimeout time.Duration
}

func (b *base) register(s *config.Set) {
	s.String(&b.DataDir, "data-dir", "./var", "where socle keeps its state: private database, PKI, demo files")
	s.Secret(&b.DatabaseURL, "database-url",
		"PostgreSQL URL (postgres://user:pass@host:5432/db); empty: a private cluster under <data-dir>/postgres")
	s.String(&b.PostgresUser, "postgres-user", "socle",
		"system user that owns the private cluster when socle runs as root (created if missing)")
	s.String(&b.BackupDir, "backup-dir", "",
		"where base backups and the private cluster's archived WAL go (docs/operations-backup.md); empty: no WAL archiving")
	s.Duration(&b.ArchiveTimeout, "backup-archive-timeout", time.Minute,
		"archive the WAL at least this often while anything changes: at most this much is lost with the machine")
	s.Check(func() error {
		if b.ArchiveTimeout < time.Second {
			return fmt.Errorf("SOCLE_BACKUP_ARCHIVE_TIMEOUT: %s: want 1s or more", b.ArchiveTimeout)
		}
		return nil
	})
	s.Enum(&b.LogLevel, "log-level", "info", []string{"debug", "info", "warn", "error"}, "log level")
	s.Enum(&b.LogFormat, "log-format", "text", []string{"text", "json"}, "log format")
}

func (b *base) pkiDir() string { return filepath.Join(b.DataDir, "pki") }

// ensureDataDir creates the data directory before anything is put in it. Mode 0711: others
// may traverse it but not list it, so that the private cluster's system user reaches its own
// directory inside while the PKI and demo files stay private.
func (b *base) ensureDataDir() error {
	if err := os.MkdirAll(b.DataDir, 0o711); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

// database is an open pool, and the private cluster behind it if socle runs one.
type db struct {
	*pgxpool.Pool
	cluster *database.Cluster
}

func (d *db) embedded() bool { return d.cluster != nil }

func (d *db) Close() {
	d.Pool.Close()
	if d.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.cluster.Stop(ctx); err != nil {
			slog.Error("stop private postgres", "error", err)
		}
	}
}

// openDB connects to SOCLE_DATABASE_URL, or starts (or adopts) the private cluster.
func (b *base) openDB(ctx context.Context, log *slog.Logger, maxConns int32) (*db, error) {
	url := b.DatabaseURL
	var cl *database.Cluster
	if url == "" {
		if err := b.ensureDataDir(); err != nil {
			return nil, err
		}
		cl = &database.Cluster{Root: filepath.Join(b.DataDir, "postgres"), SystemUser: b.PostgresUser, Logger: log}
		if b.BackupDir != "" {
			a, err := b.archive()
			if err != nil {
				return nil, err
			}
			cl.Archive = a
		}
		if err := cl.Start(ctx); err != nil {
			return nil, err
		}
		url = cl.URL("postgres")
		if err := ensureDatabase(ctx, url, "socle"); err != nil {
			cl.Stop(ctx)
			return nil, err
		}
		url = cl.URL("socle")
	}
	pool, err := database.Open(ctx, url, maxConns)
	if err != nil {
		if cl != nil {
			cl.Stop(ctx)
		}
		return nil, err
	}
	return &db{Pool: pool, cluster: cl}, nil
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	pool, err := database.Open(ctx, adminURL, 1)
	if err != nil {
		return err
	}
	defer pool.Close()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if !exists {
		if _, err := pool.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("database: create %s: %w", name, err)
		}
	}
	return nil
}

// allMigrations lists every schema: the platform's first, then each registered service's.
func allMigrations() []database.Migrations {
	all := []database.Migrations{identity.Migrations()}
	for _, d := range service.All() {
		all = append(all, d.Migrations...)
	}
	return all
}

// migrate applies what is pending and says so, then checks, as checkSchema does, that no
// newer release contracted the schema past this binary.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	for _, m := range allMigrations() {
		n, err := database.Apply(ctx, pool, m, release())
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("schema migrated", "schema", m.Schema, "steps", n, "version", len(m.Steps))
		}
	}
	return checkSchema(ctx, pool, log)
}

// checkSchema refuses to go on when a schema is behind, or when a newer release contracted
// it; it goes on, and says so, when a newer release only expanded it (a rollback, or the
// old replicas of a rolling upgrade).
func checkSchema(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	for _, m := range allMigrations() {
		st, err := database.ReadStatus(ctx, pool, m)
		if err != nil {
			return err
		}
		if err := st.Runnable(); err != nil {
			return err
		}
		if len(st.Ahead) > 0 {
			last := st.Ahead[len(st.Ahead)-1]
			log.Warn("a newer release expanded this schema; running on it", "schema", m.Schema,
				"known", st.Known, "applied", st.Applied, "by", last.AppliedBy)
		}
	}
	return nil
}
