package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
)

// DemoAccountsFile is the name, under the data directory, of the file that lists the demo
// accounts and their passwords (readable by its owner only).
const DemoAccountsFile = "demo-accounts.txt"

// DemoAccount creates a demo account with its grants, once: an account that exists already
// is left as it is. Its password is random, appended to the file at path with the e-mail,
// and never logged; an administrator also gets a second-factor key, appended as an
// otpauth:// URI (oathtool --totp -b <secret> shows its codes). The platform and each service
// create their own.
func (s *Store) DemoAccount(ctx context.Context, path, email, name string, grants ...Grant) error {
	return s.demoAccount(ctx, path, email, name, "", grants)
}

// DemoAccountNoted is DemoAccount with a note at the end of the account's line of the file,
// a word such as nrn=85031412401 that says who the account stands for.
func (s *Store) DemoAccountNoted(ctx context.Context, path, email, name, note string, grants ...Grant) error {
	return s.demoAccount(ctx, path, email, name, " "+note, grants)
}

func (s *Store) demoAccount(ctx context.Context, path, email, name, note string, grants []Grant) error {
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	_, err := s.AddUser(ctx, email, name, password)
	if errors.Is(err, ErrUserExists) {
		return nil
	} else if err != nil {
		return fmt.Errorf("demo account %s: %w", email, err)
	}
	for _, g := range grants {
		if err := s.Grant(ctx, email, g.Role, g.Scope); err != nil {
			return fmt.Errorf("demo account %s: %w", email, err)
		}
	}
	var totp string
	if slices.Contains(grants, Grant{RoleAdmin, AllScopes}) {
		if totp, err = s.SetTOTP(ctx, email); err != nil {
			return fmt.Errorf("demo account %s: %w", email, err)
		}
		totp = " " + totp
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("demo account %s: %w", email, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		fmt.Fprintln(f, "# Comptes de démonstration de socle / socle demo accounts: e-mail password [second-factor key] [note]")
	}
	if _, err := fmt.Fprintf(f, "%s %s%s%s\n", email, password, totp, note); err != nil {
		return fmt.Errorf("demo account %s: %w", email, err)
	}
	return nil
}
