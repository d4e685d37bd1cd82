package gateway

import (
	"socle/internal/platform/database"
	"socle/internal/platform/service"
	"socle/internal/web"
)

func init() {
	service.Register(service.Definition{
		Name:       "gateway",
		Order:      30,
		NewConfig:  func() service.Config { return &Config{} },
		Migrations: []database.Migrations{Migrations()},
		Roles:      roles,
		Home: web.Home{
			Title: web.Text{FR: "Passerelle d'API et plateforme de services", EN: "API gateway and service platform"},
			Summary: web.Text{
				FR: "Les administrations publient leurs services web REST et SOAP une fois ; les applications des autres les consomment avec une clé, un jeton ou un certificat, dans les quotas de leur formule.",
				EN: "Public bodies publish their REST and SOAP web services once; other bodies' applications consume them with a key, a token or a certificate, within their plan's quotas.",
			},
			Links: []web.Link{{Path: "/portal/", Text: web.Text{FR: "Portail des développeurs : catalogue, documentation, clés, statistiques",
				EN: "Developer portal: catalogue, documentation, keys, analytics"}}},
		},
		Commands: commands(),
		Apply:    applyPart,
		Demo:     runDemo,
		New: func(c service.Config, env service.Env) (service.Service, error) {
			return New(*c.(*Config), env)
		},
	})
}
