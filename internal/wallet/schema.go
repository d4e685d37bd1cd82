package wallet

import (
	"embed"

	"socle/internal/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the wallet's schema, "wallet".
func Migrations() database.Migrations {
	m, err := database.LoadMigrations("wallet", migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded files: a broken name is a build error in disguise
	}
	return m
}
