// Package schema holds the emergency service's PostgreSQL schema steps.
package schema

import (
	"embed"

	"socle/internal/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the emergency service's schema steps.
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("emergency", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}
