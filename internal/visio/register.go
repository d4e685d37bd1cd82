package visio

import (
	"github.com/nats-io/nats.go"

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
		Commands: []service.Command{benchCommands()},
		New: func(c service.Config, env service.Env) (service.Service, error) {
			return New(*c.(*Config), Deps{Logger: env.Logger, Registry: env.Metrics, Identity: env.Identity, Pool: env.Pool,
				DataDir: env.DataDir, Bus: busConn(env)})
		},
	})
}

// busConn is the NATS connection of the bus, if socle has one.
func busConn(env service.Env) *nats.Conn {
	if env.Bus == nil {
		return nil
	}
	return env.Bus.Conn
}
