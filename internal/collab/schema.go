package collab

import (
	"embed"

	"socle/internal/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are collab's schema, "collab": 0001 the polls', 0002 the transfers'.
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("collab", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}
