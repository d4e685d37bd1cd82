package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/gatewaybench"
	"socle/internal/gateway/registrysim"
	"socle/internal/gateway/spec"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
)

// Roles of the gateway. Anyone signed in may register applications and subscribe them; an
// API's owner approves its subscriptions and edits it; an administrator does both for every
// API and manages plans.
const (
	RoleOwner = "gateway.owner"
	RoleAdmin = "gateway.admin"
)

var roles = []identity.Role{
	{Name: RoleOwner, Description: "edits an API of the gateway and approves its subscriptions (scope: the API's name, or *)",
		Scope: func(s string) (string, error) {
			if !spec.ValidName(s) {
				return "", fmt.Errorf("%q is not an API name", s)
			}
			return s, nil
		}},
	{Name: RoleAdmin, Description: "manages every API, plan and consumer of the gateway"},
}

func commands() []service.Command {
	return []service.Command{
		{Name: "gateway", Summary: "manage the API gateway's consumers",
			Description: "Manages the API gateway's consumers from scripts; the developer portal (/portal/) does the same for people.",
			Subcommands: []service.Command{{
				Name: "key", Summary: "issue, replace or revoke a consumer's API key",
				Synopsis: "issue|revoke --consumer NAME [flags]", Database: true, Run: runKey,
				Example: "socle gateway key issue --consumer commune-de-namur --label batch",
				Description: `
issue prints a new API key of the consumer on standard output, alone on its line, for a
script to keep: it is shown this once, and only its SHA-256 is stored. With --replace ID the
key of that id keeps working for --overlap more (default: SOCLE_GATEWAY_KEY_OVERLAP, 7 days),
so that the new key can be put in place without an outage. revoke --id ID stops a key at
once. Calls carry the key as "Authorization: Bearer KEY" or "X-API-Key: KEY".`}}},
		{Name: "sim", Subcommands: []service.Command{registrysim.Command()}},
		{Name: "bench", Subcommands: []service.Command{gatewaybench.Command()}},
	}
}

func runKey(ctx context.Context, args []string, env service.CommandEnv) error {
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	fs := env.Flags()
	consumer := fs.String("consumer", "", "the consumer (application) the key is for")
	label := fs.String("label", "", "a word saying where the key is used (issue)")
	replace := fs.String("replace", "", "id of the key the new one replaces (issue)")
	overlap := fs.Duration("overlap", 7*24*time.Hour, "how long the replaced key keeps working (issue --replace)")
	id := fs.String("id", "", "id of the key to revoke (revoke)")
	if err := env.Parse(args); err != nil {
		return err
	}
	switch {
	case action != "issue" && action != "revoke":
		return service.Usagef("want issue or revoke: socle gateway key issue --consumer NAME")
	case *consumer == "":
		return service.Usagef("--consumer NAME is required")
	case action == "revoke" && *id == "":
		return service.Usagef("--id ID is required: the key to revoke")
	}
	pool, err := env.OpenDB(ctx, 2)
	if err != nil {
		return err
	}
	if action == "revoke" {
		if err := catalog.RevokeKey(ctx, pool, *consumer, *id); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr(), "key %s of %s revoked\n", *id, *consumer)
		return nil
	}
	text, k, err := catalog.IssueKey(ctx, pool, *consumer, *label, "socle gateway key", *replace, *overlap)
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout(), text)
	fmt.Fprintf(env.Stderr(), "key %s of %s: shown this once, keep it now\n", k.ID, *consumer)
	return nil
}
