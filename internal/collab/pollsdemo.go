package collab

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"socle/internal/platform/identity"
	"socle/internal/platform/service"
	"socle/internal/web"
)

// demoPollAgents are the polls' demo agents (their passwords in the demo accounts' file).
var demoPollAgents = []struct{ email, name string }{
	{"claire.martin@demo.socle.test", "Claire Martin (démo)"},
	{"bruno.dupont@demo.socle.test", "Bruno Dupont (démo)"},
}

// pollDemo creates the demo agents and, once, an open poll of Claire Martin's to which Bruno
// Dupont is invited, with an outsider, whose personal link is logged.
func pollDemo(ctx context.Context, _ service.Config, env service.Env) (func(), error) {
	accounts := filepath.Join(env.DataDir, identity.DemoAccountsFile)
	var users []*identity.User
	for _, a := range demoPollAgents {
		if err := env.Identity.DemoAccount(ctx, accounts, a.email, a.name); err != nil {
			return nil, err
		}
		u, err := env.Identity.UserByEmail(ctx, a.email)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	var n int
	if err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM collab.polls WHERE owner_id = $1`, users[0].ID).Scan(&n); err != nil {
		return nil, fmt.Errorf("demo poll: %w", err)
	}
	if n > 0 {
		return func() {}, nil
	}
	now := time.Now().In(web.Paris)
	day := func(d int) time.Time {
		t := now.AddDate(0, 0, d)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, web.Paris)
	}
	p := &poll{OwnerID: users[0].ID, OwnerEmail: users[0].Email, OwnerName: users[0].Name,
		Title: "Réunion de service — bilan du trimestre", Description: "Bilan des dossiers en cours et calendrier du prochain trimestre.",
		Place: "Salle 2.04", Deadline: day(6).Add(18 * time.Hour).UTC(), OutsidersSee: "own",
		Slots: []slot{
			{Start: day(8).Add(10 * time.Hour).UTC(), End: day(8).Add(11*time.Hour + 30*time.Minute).UTC(), Zone: "Europe/Paris"},
			{Start: day(9).Add(14 * time.Hour).UTC(), End: day(9).Add(15*time.Hour + 30*time.Minute).UTC(), Zone: "Europe/Paris"},
			{Day: day(10).Format(time.DateOnly)},
		}}
	p.VisioRoom = roomFor(p.Title, randomWord(5))
	links, err := pollStore{env.Pool}.create(ctx, p, []agentInvitee{{ID: users[1].ID, Email: users[1].Email, Name: users[1].Name}},
		[]invitee{{Name: "Léa Garnier", Email: "lea.garnier@example.org"}})
	if err != nil {
		return nil, fmt.Errorf("demo poll: %w", err)
	}
	base := ""
	if env.PublicURL != nil {
		base = env.PublicURL() // empty if the listeners are not bound yet: the path alone
	}
	env.Logger.Info("collab: demo poll", "poll", p.ID, "outsider_link", base+"/polls/"+p.ID+"/p/"+links[0].Token)
	return func() {}, nil
}
