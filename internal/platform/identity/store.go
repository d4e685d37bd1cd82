package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// AddUser creates an enabled account with no grants.
func (s *Store) AddUser(ctx context.Context, email, name, password string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("identity: add %s: the name is empty", email)
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	u := &User{Email: email, Name: name}
	err = s.pool.QueryRow(ctx, `INSERT INTO identity.users (email, name, password_hash, created_at)
		VALUES ($1, $2, $3, $4) RETURNING id, created_at`, email, name, hash, s.now()).Scan(&u.ID, &u.CreatedAt)
	if isUniqueViolation(err) {
		return nil, fmt.Errorf("identity: add %s: %w", email, ErrUserExists)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: add %s: %w", email, err)
	}
	s.logger.Info("user added", "user_id", u.ID, "email", email)
	return u, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// SetPassword replaces a user's password and ends their sessions.
func (s *Store) SetPassword(ctx context.Context, email, password string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.updateUser(ctx, email, "password changed", `UPDATE identity.users SET password_hash = $2 WHERE email = $1 RETURNING id`, hash)
}

// SetDisabled disables (or enables again) an account; disabling ends its sessions.
func (s *Store) SetDisabled(ctx context.Context, email string, disabled bool) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	what := "user enabled"
	if disabled {
		what = "user disabled"
	}
	return s.updateUser(ctx, email, what, `UPDATE identity.users SET disabled = $2 WHERE email = $1 RETURNING id`, disabled)
}

// updateUser runs an update of one user by email and ends that user's sessions, in one
// transaction.
func (s *Store) updateUser(ctx context.Context, email, what, sql string, arg any) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, sql, email, arg).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM identity.sessions WHERE user_id = $1`, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("identity: %s: %w", email, ErrUnknownUser)
	}
	if err != nil {
		return fmt.Errorf("identity: %s: %w", email, err)
	}
	s.logger.Info(what, "email", email)
	return nil
}

// Grant gives a user a role on a scope. Granting what is already granted changes nothing.
func (s *Store) Grant(ctx context.Context, email, role, scope string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	scope, err = CheckGrant(role, scope)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO identity.grants (user_id, role, scope)
		SELECT id, $2, $3 FROM identity.users WHERE email = $1
		ON CONFLICT DO NOTHING`, email, role, scope)
	if err != nil {
		return fmt.Errorf("identity: grant %s %s to %s: %w", role, scope, email, err)
	}
	if tag.RowsAffected() == 0 {
		if err := s.mustExist(ctx, email); err != nil {
			return err
		}
		return nil
	}
	s.logger.Info("role granted", "email", email, "role", role, "scope", scope)
	return nil
}

// Revoke takes a role on a scope from a user. It takes effect at the user's next request.
func (s *Store) Revoke(ctx context.Context, email, role, scope string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	scope, err = CheckGrant(role, scope)
	if err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM identity.grants g USING identity.users u
		WHERE g.user_id = u.id AND u.email = $1 AND g.role = $2 AND g.scope = $3`, email, role, scope)
	if err != nil {
		return fmt.Errorf("identity: revoke %s %s from %s: %w", role, scope, email, err)
	}
	if tag.RowsAffected() == 0 {
		if err := s.mustExist(ctx, email); err != nil {
			return err
		}
		return fmt.Errorf("identity: %s has no role %s on scope %s: %w", email, role, scope, ErrNoGrant)
	}
	s.logger.Info("role revoked", "email", email, "role", role, "scope", scope)
	return nil
}

func (s *Store) mustExist(ctx context.Context, email string) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM identity.users WHERE email = $1)`, email).Scan(&exists); err != nil {
		return fmt.Errorf("identity: %s: %w", email, err)
	}
	if !exists {
		return fmt.Errorf("identity: %s: %w", email, ErrUnknownUser)
	}
	return nil
}

// selectUsers reads users with their grants; the caller appends WHERE and ORDER BY.
const selectUsers = `SELECT u.id, u.email, u.name, u.disabled, u.created_at,
		coalesce(array_agg(g.role ORDER BY g.role, g.scope) FILTER (WHERE g.role IS NOT NULL), '{}'),
		coalesce(array_agg(g.scope ORDER BY g.role, g.scope) FILTER (WHERE g.role IS NOT NULL), '{}')
	FROM identity.users u LEFT JOIN identity.grants g ON g.user_id = u.id `

func scanUser(row pgx.Row) (*User, error) {
	var u User
	var roles, scopes []string
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Disabled, &u.CreatedAt, &roles, &scopes); err != nil {
		return nil, err
	}
	for i := range roles {
		u.Grants = append(u.Grants, Grant{Role: roles[i], Scope: scopes[i]})
	}
	return &u, nil
}

// Users lists every account with its grants, by email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, selectUsers+`GROUP BY u.id ORDER BY u.email`)
	if err != nil {
		return nil, fmt.Errorf("identity: users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("identity: users: %w", err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: users: %w", err)
	}
	return out, nil
}

// UserByEmail returns the account of an address (ErrUnknownUser when there is none).
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, selectUsers+`WHERE u.email = $1 GROUP BY u.id`, email))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("identity: %s: %w", email, ErrUnknownUser)
	}
	return u, err
}

func (s *Store) userByID(ctx context.Context, id int64) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, selectUsers+`WHERE u.id = $1 GROUP BY u.id`, id))
}

// Authenticate checks an email and password. An unknown email and a wrong password give the
// same error, ErrBadCredentials, after the same work (one argon2id computation); a disabled
// account gives ErrDisabled, and only once the password is right.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	email, err := NormalizeEmail(email)
	if err != nil || len(password) > MaxPasswordBytes {
		VerifyPassword(dummyHash(), password[:min(len(password), MaxPasswordBytes)])
		return nil, ErrBadCredentials
	}
	var id int64
	var hash string // empty for an account that signs in through an OpenID provider
	err = s.pool.QueryRow(ctx, `SELECT id, coalesce(password_hash, '') FROM identity.users WHERE email = $1`, email).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && hash == "" {
		VerifyPassword(dummyHash(), password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate: %w", err)
	}
	ok, err := VerifyPassword(hash, password)
	if err != nil {
		s.logger.Error("unreadable password hash", "user_id", id, "error", err)
		return nil, ErrBadCredentials
	}
	if !ok {
		return nil, ErrBadCredentials
	}
	u, err := s.userByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("identity: authenticate: %w", err)
	}
	if u.Disabled {
		return nil, ErrDisabled
	}
	if outdated(hash) {
		if h, err := HashPassword(password); err == nil {
			if _, err := s.pool.Exec(ctx, `UPDATE identity.users SET password_hash = $2 WHERE id = $1 AND password_hash = $3`, id, h, hash); err != nil {
				s.logger.Warn("rehash password", "user_id", id, "error", err)
			}
		}
	}
	return u, nil
}
