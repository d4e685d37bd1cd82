// Package schema holds the emergency service's PostgreSQL schema steps.
package schema

import (
	"embed"

	"socle/internal/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DirectoryChannel is the PostgreSQL NOTIFY channel signalled, in the same transaction, by
// whatever changes the directory (socle apply, an import, a PDAAU version taking effect):
// NOTIFY rather than the bus because the signal must commit with the change, and the writer
// may be another process.
const DirectoryChannel = "socle_emergency_directory"

// Migrations are the emergency service's schema steps.
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("emergency", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}
