package collab

import (
	"socle/internal/platform/database"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func init() {
	service.Register(service.Definition{
		Name:       "collab",
		Order:      50,
		NewConfig:  func() service.Config { return &Config{} },
		Migrations: []database.Migrations{Migrations()},
		Demo:       pollDemo,                                  // the polls' demo agents and an open poll (pollsdemo.go)
		Commands:   []service.Command{transferBenchCommand()}, // transferbench.go
		Home: web.Home{
			Title: web.Text{FR: "Outils collaboratifs des agents", EN: "Collaboration tools for agents"},
			Summary: web.Text{
				FR: "Sondages de réunion qui ne révèlent rien aux personnes extérieures (Pégase), et envoi de fichiers volumineux, jusqu'à 2 Go, avec le suivi des téléchargements (Melanissimo).",
				EN: "Meeting polls that reveal nothing to outsiders (Pégase), and large-file transfer, up to 2 GB, with download tracking (Melanissimo).",
			},
			Links: []web.Link{
				{Path: "/polls/", Text: web.Text{FR: "Sondages de réunion — connexion requise", EN: "Meeting polls — sign-in required"}},
				{Path: "/transfers/", Text: web.Text{FR: "Envoi de fichiers volumineux — connexion requise", EN: "Large-file transfer — sign-in required"}},
			},
		},
		New: func(c service.Config, env service.Env) (service.Service, error) {
			return New(*c.(*Config), env)
		},
	})
}
