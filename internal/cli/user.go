package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"socle/internal/platform/config"
	"socle/internal/platform/identity"
	"socle/internal/platform/service"
)

func init() {
	register(command{name: "user", summary: "manage the agents who sign in to the web pages (add, grant, revoke, list...)", run: runUser})
}

// stdin is a variable so that tests can feed a password.
var stdin io.Reader = os.Stdin

// userUsage lists the roles every registered service defines.
func userUsage() string {
	var b strings.Builder
	b.WriteString(`Usage: socle user add EMAIL --name NAME --password-file FILE|-
       socle user password EMAIL --password-file FILE|-
       socle user grant EMAIL ROLE SCOPE
       socle user revoke EMAIL ROLE SCOPE
       socle user disable EMAIL
       socle user enable EMAIL
       socle user totp EMAIL
       socle user token --email EMAIL [--name NAME] [--days N] [--revoke]
       socle user list

Roles:
`)
	for _, r := range identity.Roles() {
		fmt.Fprintf(&b, "  %-16s %s\n", r.Name, r.Description)
	}
	b.WriteString(`Scope: what the role applies to (a département code such as 75, 2A or 971 for the PDAAU
roles), or * for all of them (quote it: '*').
socle user <subcommand> -h shows the flags.`)
	return b.String()
}

// userCommand is one subcommand of socle user: its positional arguments and what it does.
type userCommand struct {
	args        []string // names of the positional arguments
	description string
	password    bool // takes --password-file
	name        bool // takes --name
	// flags declares the subcommand's own flags, when it has some.
	flags func(fs *flag.FlagSet, o *userOptions)
	run   func(ctx context.Context, s *identity.Store, args []string, o userOptions) error
}

type userOptions struct {
	// token's flags
	email    string
	days     int
	revoke   bool
	name     string
	password string
}

var userCommands = map[string]userCommand{
	"add": {args: []string{"EMAIL"}, password: true, name: true, description: `
Creates an account, enabled, with no role: grant roles with socle user grant. The password
is read from FILE (its first line), or from standard input with --password-file - ; it is
never taken on the command line, where other users of the machine could see it. It must
have at least 12 characters.`,
		run: func(ctx context.Context, s *identity.Store, a []string, o userOptions) error {
			u, err := s.AddUser(ctx, a[0], o.name, o.password)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: %s (%s) added, id %d, no roles yet\n", u.Email, u.Name, u.ID)
			return nil
		}},
	"password": {args: []string{"EMAIL"}, password: true, description: `
Replaces the password of an account and ends its sessions. The password is read as for
socle user add.`,
		run: func(ctx context.Context, s *identity.Store, a []string, o userOptions) error {
			if err := s.SetPassword(ctx, a[0], o.password); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: password of %s changed, sessions ended\n", a[0])
			return nil
		}},
	"grant": {args: []string{"EMAIL", "ROLE", "SCOPE"}, description: `
Gives an account a role on a scope: a département code (75, 2A, 971) or * for every
département. Granting what is already granted changes nothing.`,
		run: func(ctx context.Context, s *identity.Store, a []string, _ userOptions) error {
			if err := s.Grant(ctx, a[0], a[1], a[2]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: %s may act as %s on %s\n", a[0], a[1], a[2])
			return nil
		}},
	"revoke": {args: []string{"EMAIL", "ROLE", "SCOPE"}, description: `
Takes a role on a scope from an account; it takes effect at the account's next request.`,
		run: func(ctx context.Context, s *identity.Store, a []string, _ userOptions) error {
			if err := s.Revoke(ctx, a[0], a[1], a[2]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: %s no longer acts as %s on %s\n", a[0], a[1], a[2])
			return nil
		}},
	"disable": {args: []string{"EMAIL"}, description: `
Disables an account: it can no longer sign in, and its sessions end. Its roles are kept.`,
		run: func(ctx context.Context, s *identity.Store, a []string, _ userOptions) error {
			if err := s.SetDisabled(ctx, a[0], true); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: %s disabled, sessions ended\n", a[0])
			return nil
		}},
	"enable": {args: []string{"EMAIL"}, description: `
Enables a disabled account again, with the roles it had.`,
		run: func(ctx context.Context, s *identity.Store, a []string, _ userOptions) error {
			if err := s.SetDisabled(ctx, a[0], false); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: %s enabled\n", a[0])
			return nil
		}},
	"totp": {args: []string{"EMAIL"}, description: `
Gives an account a new second-factor key (TOTP, RFC 6238) and prints it as an otpauth:// URI
to add to the person's authenticator app (FreeOTP, Aegis...; oathtool --totp -b reads its
secret). The old key stops working and the account's sessions end: this is for someone who
lost their phone. Administrators without a key pair one at their next sign-in.`,
		run: func(ctx context.Context, s *identity.Store, a []string, _ userOptions) error {
			uri, err := s.SetTOTP(ctx, a[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "user: new second-factor key of %s, sessions ended; give this to its owner only:\n%s\n", a[0], uri)
			return nil
		}},
	"token": {description: `
Makes a personal access token for the account of --email, and prints it once: scripts and
other tools send it as Authorization: Bearer TOKEN to act as that person on socle's APIs (the
transfers' tus endpoint, say). Only its SHA-256 is kept. --name says what it is for; it is
good for --days days. With --revoke, revokes the account's tokens of that name (all of them
without --name) instead.`,
		flags: func(fs *flag.FlagSet, o *userOptions) {
			fs.StringVar(&o.email, "email", "", "the account's email (required)")
			fs.StringVar(&o.name, "name", "", "what the token is for (default: \"socle user token\" and the date)")
			fs.IntVar(&o.days, "days", 90, "how many days the token is good for, 1 to 366")
			fs.BoolVar(&o.revoke, "revoke", false, "revoke the account's tokens of --name (every one without it)")
		},
		run: func(ctx context.Context, s *identity.Store, _ []string, o userOptions) error {
			if o.email == "" {
				return usagef("--email is required: the account the token acts for")
			}
			if o.days < 1 || o.days > 366 {
				return usagef("--days %d: from 1 to 366", o.days)
			}
			u, err := s.UserByEmail(ctx, o.email)
			if err != nil {
				return err
			}
			if o.revoke {
				n, err := s.RevokeTokens(ctx, u.ID, o.name)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "user: %d token(s) of %s revoked\n", n, o.email)
				return nil
			}
			if o.name == "" {
				o.name = "socle user token " + time.Now().UTC().Format("2006-01-02 15:04")
			}
			token, err := s.NewToken(ctx, u.ID, o.name, time.Duration(o.days)*24*time.Hour)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, token)
			return nil
		}},
	"list": {description: `
Lists every account: email, name, whether it is enabled, and its roles as ROLE:SCOPE.`,
		run: func(ctx context.Context, s *identity.Store, _ []string, _ userOptions) error {
			users, err := s.Users(ctx)
			if err != nil {
				return err
			}
			if len(users) == 0 {
				fmt.Fprintln(stdout, "user: no accounts; create one with socle user add")
				return nil
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "EMAIL\tNAME\tSTATUS\tROLES")
			for _, u := range users {
				status := "enabled"
				if u.Disabled {
					status = "disabled"
				}
				var roles []string
				for _, g := range u.Grants {
					roles = append(roles, g.Role+":"+g.Scope)
				}
				if len(roles) == 0 {
					roles = []string{"-"}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Name, status, strings.Join(roles, " "))
			}
			return tw.Flush()
		}},
}

func runUser(ctx context.Context, args []string) error {
	if len(args) == 0 || isHelp(args) {
		fmt.Fprintln(stderr, userUsage())
		if len(args) == 0 {
			return usagef("want a subcommand: add, password, grant, revoke, disable, enable, totp, token or list")
		}
		return flag.ErrHelp
	}
	sub, uc := args[0], userCommands[args[0]]
	if uc.run == nil {
		fmt.Fprintln(stderr, userUsage())
		return usagef("unknown subcommand %q: want add, password, grant, revoke, disable, enable, totp, token or list", sub)
	}
	var b base
	set := config.New()
	b.register(set)
	synopsis := strings.Join(uc.args, " ")
	if uc.name {
		synopsis += " --name NAME"
	}
	if uc.password {
		synopsis += " --password-file FILE|-"
	}
	fs := flags("user "+sub, strings.TrimSpace(synopsis+" [flags]"), uc.description)
	var o userOptions
	var passwordFile string
	if uc.name {
		fs.StringVar(&o.name, "name", "", "the person's name, as shown on the pages (required)")
	}
	if uc.password {
		fs.StringVar(&passwordFile, "password-file", "", "file whose first line is the password, or - to read it from standard input (required)")
	}
	if uc.flags != nil {
		uc.flags(fs, &o)
	}
	pos, err := parseInterspersed(fs, set, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != len(uc.args) {
		if len(uc.args) == 0 {
			return usagef("user %s takes no arguments, got %q", sub, pos)
		}
		return usagef("socle user %s wants %s, got %d arguments", sub, strings.Join(uc.args, " "), len(pos))
	}
	if err := checkUserArgs(uc.args, pos); err != nil {
		return err
	}
	if uc.name && strings.TrimSpace(o.name) == "" {
		return usagef("--name is required: the person's name, such as --name 'Camille Martin'")
	}
	if uc.password {
		if passwordFile == "" {
			return usagef("--password-file is required: a file whose first line is the password, or - for standard input")
		}
		o.password, err = readPassword(passwordFile)
		if err != nil {
			return err
		}
		if err := identity.CheckPasswordPolicy(o.password); err != nil {
			return usagef("--password-file %s: %v", passwordFile, strings.TrimPrefix(err.Error(), "identity: "))
		}
	}
	log := newLogger(b.LogLevel, b.LogFormat)
	d, err := b.openDB(ctx, log, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := migrate(ctx, d.Pool, log); err != nil {
		return err
	}
	return uc.run(ctx, identity.New(d.Pool, log), pos, o)
}

// parseInterspersed parses flags placed before, between or after the positional arguments
// (socle user add EMAIL --name N) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, set *config.Set, args []string) ([]string, error) {
	if err := parse(fs, set, args); err != nil {
		return nil, err
	}
	var pos []string
	for fs.NArg() > 0 {
		rest := fs.Args()
		pos = append(pos, rest[0])
		if err := fs.Parse(rest[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, service.UsageError{Err: err}
		}
	}
	return pos, nil
}

// checkUserArgs names the first bad positional argument before anything is opened.
func checkUserArgs(names, values []string) error {
	var role string
	for i, name := range names {
		v := values[i]
		switch name {
		case "EMAIL":
			if _, err := identity.NormalizeEmail(v); err != nil {
				return usagef("EMAIL %q is not an address such as agent@example.gouv.fr", v)
			}
		case "ROLE":
			if !slices.ContainsFunc(identity.Roles(), func(r identity.Role) bool { return r.Name == v }) {
				var names []string
				for _, r := range identity.Roles() {
					names = append(names, r.Name)
				}
				return usagef("ROLE %q is not one of %s", v, strings.Join(names, ", "))
			}
			role = v
		case "SCOPE":
			if _, err := identity.CheckGrant(role, v); err != nil {
				return usagef("%s", strings.TrimPrefix(err.Error(), "identity: "))
			}
		}
	}
	return nil
}

// readPassword reads the first line of file, or of standard input for "-".
func readPassword(file string) (string, error) {
	r := stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", usagef("--password-file: %v", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, identity.MaxPasswordBytes+2)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("--password-file %s: %w", file, err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usagef("--password-file %s: no password in it (the first line is empty)", file)
	}
	return line, nil
}
