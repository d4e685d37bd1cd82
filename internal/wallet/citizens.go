package wallet

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoCitizen is an account that stands for no person of the national register.
var ErrNoCitizen = errors.New("no national register number for this account")

// citizens is wallet.citizens: which account is which person.
type citizens struct{ pool *pgxpool.Pool }

// nrn is the national register number of an account.
func (c citizens) nrn(ctx context.Context, userID int64) (string, error) {
	var nrn string
	err := c.pool.QueryRow(ctx, `SELECT nrn FROM wallet.citizens WHERE user_id = $1`, userID).Scan(&nrn)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNoCitizen
	}
	if err != nil {
		return "", fmt.Errorf("wallet: citizen: %w", err)
	}
	return nrn, nil
}

// link says that an account stands for the person of nrn; an account linked already keeps
// its number.
func (c citizens) link(ctx context.Context, userID int64, nrn string) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO wallet.citizens (user_id, nrn) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`, userID, nrn)
	if err != nil {
		return fmt.Errorf("wallet: link %s: %w", nrn, err)
	}
	return nil
}
