package gateway

import (
	"embed"

	"socle/internal/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the gateway's schema, "gateway".
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("gateway", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}
