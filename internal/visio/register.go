package visio

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"socle/internal/platform/database"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func init() {
	service.Register(service.Definition{
		Name:       "visio",
		Order:      20,
		NewConfig:  func() service.Config { return &Config{} },
		Migrations: []database.Migrations{Migrations()},
		Home: web.Home{
			Title: web.Text{FR: "Webconférence de l'État", EN: "Web conference of the State"},
			Summary: web.Text{
				FR: "Salles de réunion par leur nom : les agents les ouvrent, les invités entrent sur invitation ; audio, vidéo, partage d'écran, discussion et notes partagées, sans rien installer.",
				EN: "Meeting rooms by name: agents open them, guests enter on invitation; audio, video, screen sharing, chat and shared notes, with nothing to install.",
			},
			Links: []web.Link{{Path: "/visio/", Text: web.Text{FR: "Ouvrir ou rejoindre une salle", EN: "Open or join a room"}}},
		},
		New: func(c service.Config, env service.Env) (service.Service, error) {
			return New(*c.(*Config), Deps{Logger: env.Logger, Registry: env.Metrics, Identity: env.Identity, Pool: env.Pool,
				DataDir: env.DataDir})
		},
	})
}

// keyFile returns the base64 key kept in path, creating it (32 random bytes, readable by its
// owner only) the first time.
func keyFile(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("visio invitation key: %w", err)
	}
	return key, nil
}
