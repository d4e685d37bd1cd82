package collab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// poll is a poll as stored.
type poll struct {
	ID, Title, Description, Place, VisioRoom string
	OwnerID                                  int64
	OwnerEmail, OwnerName                    string
	Deadline                                 time.Time
	MaxPerSlot                               int
	OneVote, Anonymous                       bool
	OutsidersSee                             string
	ClosedAt                                 *time.Time
	ChosenSlot                               *int64
	Sequence                                 int
	CreatedAt                                time.Time
	Slots                                    []slot
}

// participant is one who answers: an agent (UserID) or an outsider (by a link).
type participant struct {
	ID         int64
	UserID     *int64
	Name       string
	Email      string
	AnsweredAt *time.Time
	Answers    map[int64]string // slot → yes, maybe, no
}

func (p participant) Outsider() bool { return p.UserID == nil }

type comment struct {
	Author    string
	Body      string
	CreatedAt time.Time
}

var (
	errNoPoll       = errors.New("collab: no such poll")
	errClosed       = errors.New("collab: the poll is closed")
	errDeadline     = errors.New("collab: the poll's deadline has passed")
	errSlotFull     = errors.New("collab: the slot is full")
	errOneVote      = errors.New("collab: one yes per person")
	errUnknownSlot  = errors.New("collab: no such slot in the poll")
	errNotInvited   = errors.New("collab: not invited to the poll")
	errUnknownAgent = errors.New("collab: no socle account has this address")
)

// slotError says which slot an answer could not take.
type slotError struct {
	Slot int64
	Err  error
}

func (e *slotError) Error() string { return fmt.Sprintf("slot %d: %v", e.Slot, e.Err) }
func (e *slotError) Unwrap() error { return e.Err }

type pollStore struct{ pool *pgxpool.Pool }

// randomWord is n random bytes in lower-case base32 (URL- and room-name-safe).
func randomWord(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// outsiderLink is an outsider's personal link, said once to the creator.
type outsiderLink struct {
	Name, Email, Token string
}

// create stores the poll, its slots, its agents (ids already looked up) and its outsiders,
// whose tokens it returns (only their hashes are kept).
func (s pollStore) create(ctx context.Context, p *poll, agents []agentInvitee, outsiders []invitee) ([]outsiderLink, error) {
	p.ID = randomWord(10)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("create poll: %w", err)
	}
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `INSERT INTO collab.polls (id, owner_id, owner_email, owner_name, title, description, place,
		visio_room, deadline, max_per_slot, one_vote, anonymous, outsiders_see)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID, p.OwnerID, p.OwnerEmail, p.OwnerName, p.Title, p.Description, p.Place, p.VisioRoom, p.Deadline,
		p.MaxPerSlot, p.OneVote, p.Anonymous, p.OutsidersSee)
	if err != nil {
		return nil, fmt.Errorf("create poll: %w", err)
	}
	for i := range p.Slots {
		sl := &p.Slots[i]
		var start, end *time.Time
		var day *string
		if sl.Day != "" {
			day = &sl.Day
		} else {
			start, end = &sl.Start, &sl.End
		}
		if err := tx.QueryRow(ctx, `INSERT INTO collab.poll_slots (poll_id, position, starts_at, ends_at, zone, day)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, p.ID, i, start, end, sl.Zone, day).Scan(&sl.ID); err != nil {
			return nil, fmt.Errorf("create poll slot: %w", err)
		}
	}
	// The creator answers too, as an agent.
	agents = append([]agentInvitee{{ID: p.OwnerID, Email: p.OwnerEmail, Name: p.OwnerName}}, agents...)
	for _, a := range agents {
		if _, err := tx.Exec(ctx, `INSERT INTO collab.poll_participants (poll_id, user_id, name, email)
			VALUES ($1, $2, $3, $4) ON CONFLICT (poll_id, user_id) DO NOTHING`, p.ID, a.ID, a.Name, a.Email); err != nil {
			return nil, fmt.Errorf("invite agent: %w", err)
		}
	}
	var links []outsiderLink
	for _, o := range outsiders {
		tok := randomWord(20)
		if _, err := tx.Exec(ctx, `INSERT INTO collab.poll_participants (poll_id, token_hash, name, email)
			VALUES ($1, $2, $3, $4)`, p.ID, tokenHash(tok), o.Name, o.Email); err != nil {
			return nil, fmt.Errorf("invite outsider: %w", err)
		}
		links = append(links, outsiderLink{Name: o.Name, Email: o.Email, Token: tok})
	}
	return links, tx.Commit(ctx)
}

type agentInvitee struct {
	ID          int64
	Email, Name string
}

const pollColumns = `id, owner_id, owner_email, owner_name, title, description, place, visio_room, deadline,
	max_per_slot, one_vote, anonymous, outsiders_see, closed_at, chosen_slot, sequence, created_at`

func scanPoll(row pgx.Row) (*poll, error) {
	var p poll
	err := row.Scan(&p.ID, &p.OwnerID, &p.OwnerEmail, &p.OwnerName, &p.Title, &p.Description, &p.Place, &p.VisioRoom,
		&p.Deadline, &p.MaxPerSlot, &p.OneVote, &p.Anonymous, &p.OutsidersSee, &p.ClosedAt, &p.ChosenSlot, &p.Sequence, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoPoll
	}
	return &p, err
}

// get reads a poll and its slots.
func (s pollStore) get(ctx context.Context, id string) (*poll, error) {
	p, err := scanPoll(s.pool.QueryRow(ctx, `SELECT `+pollColumns+` FROM collab.polls WHERE id = $1`, id))
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT id, starts_at, ends_at, zone, to_char(day, 'YYYY-MM-DD')
		FROM collab.poll_slots WHERE poll_id = $1 ORDER BY position`, id)
	if err != nil {
		return nil, fmt.Errorf("poll slots: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sl slot
		var start, end *time.Time
		var day *string
		if err := rows.Scan(&sl.ID, &start, &end, &sl.Zone, &day); err != nil {
			return nil, err
		}
		if day != nil {
			sl.Day = *day
		} else {
			sl.Start, sl.End = start.UTC(), end.UTC()
		}
		p.Slots = append(p.Slots, sl)
	}
	return p, rows.Err()
}

// participants reads the poll's participants and their answers, the creator first.
func (s pollStore) participants(ctx context.Context, pollID string) ([]participant, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.id, p.user_id, p.name, p.email, p.answered_at, a.slot_id, a.answer
		FROM collab.poll_participants p LEFT JOIN collab.poll_answers a ON a.participant_id = p.id
		WHERE p.poll_id = $1 ORDER BY p.id, a.slot_id`, pollID)
	if err != nil {
		return nil, fmt.Errorf("poll participants: %w", err)
	}
	defer rows.Close()
	var out []participant
	for rows.Next() {
		var p participant
		var slotID *int64
		var answer *string
		if err := rows.Scan(&p.ID, &p.UserID, &p.Name, &p.Email, &p.AnsweredAt, &slotID, &answer); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != p.ID {
			p.Answers = map[int64]string{}
			out = append(out, p)
		}
		if slotID != nil {
			out[len(out)-1].Answers[*slotID] = *answer
		}
	}
	return out, rows.Err()
}

// agentParticipant is the agent's place in the poll; errNotInvited if none.
func (s pollStore) agentParticipant(ctx context.Context, pollID string, userID int64) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM collab.poll_participants WHERE poll_id = $1 AND user_id = $2`, pollID, userID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errNotInvited
	}
	return id, err
}

// byToken finds the outsider of a personal link.
func (s pollStore) byToken(ctx context.Context, token string) (pollID string, participantID int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT poll_id, id FROM collab.poll_participants WHERE token_hash = $1`, tokenHash(token)).Scan(&pollID, &participantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, errNoPoll
	}
	return pollID, participantID, err
}

// answer records a participant's answers, all or none. The poll's row is locked so that two
// people answering at once cannot both take a slot's last place.
func (s pollStore) answer(ctx context.Context, pollID string, participantID int64, answers map[int64]string, name, email *string, now time.Time) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	defer tx.Rollback(ctx)
	var deadline time.Time
	var closed *time.Time
	var maxPerSlot int
	var oneVote bool
	err = tx.QueryRow(ctx, `SELECT deadline, closed_at, max_per_slot, one_vote FROM collab.polls WHERE id = $1 FOR UPDATE`, pollID).
		Scan(&deadline, &closed, &maxPerSlot, &oneVote)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoPoll
	}
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if closed != nil {
		return errClosed
	}
	if !now.Before(deadline) {
		return errDeadline
	}
	yes := 0
	for slotID, a := range answers {
		var taken int
		var ok bool
		err := tx.QueryRow(ctx, `SELECT true, (SELECT count(*) FROM collab.poll_answers
			WHERE slot_id = $2 AND answer = 'yes' AND participant_id <> $3)
			FROM collab.poll_slots WHERE poll_id = $1 AND id = $2`, pollID, slotID, participantID).Scan(&ok, &taken)
		if errors.Is(err, pgx.ErrNoRows) {
			return &slotError{slotID, errUnknownSlot}
		}
		if err != nil {
			return fmt.Errorf("answer: %w", err)
		}
		if a == "yes" {
			yes++
			if maxPerSlot > 0 && taken >= maxPerSlot {
				return &slotError{slotID, errSlotFull}
			}
		}
	}
	if oneVote && yes > 1 {
		return errOneVote
	}
	if _, err := tx.Exec(ctx, `DELETE FROM collab.poll_answers WHERE participant_id = $1`, participantID); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	for slotID, a := range answers {
		if _, err := tx.Exec(ctx, `INSERT INTO collab.poll_answers (participant_id, slot_id, answer) VALUES ($1, $2, $3)`,
			participantID, slotID, a); err != nil {
			return fmt.Errorf("answer: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE collab.poll_participants SET answered_at = $2,
		name = COALESCE($3, name), email = COALESCE($4, email) WHERE id = $1`, participantID, now, name, email); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	return tx.Commit(ctx)
}

// close closes the poll on one of its slots and raises its SEQUENCE; false if it was closed
// already (a second click sends no second invitation).
func (s pollStore) close(ctx context.Context, pollID string, slotID int64, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE collab.polls SET closed_at = $3, chosen_slot = $2, sequence = sequence + 1
		WHERE id = $1 AND closed_at IS NULL AND EXISTS (SELECT 1 FROM collab.poll_slots WHERE poll_id = $1 AND id = $2)`,
		pollID, slotID, now)
	if err != nil {
		return false, fmt.Errorf("close poll: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s pollStore) addComment(ctx context.Context, pollID string, participantID *int64, body string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO collab.poll_comments (poll_id, participant_id, body) VALUES ($1, $2, $3)`, pollID, participantID, body)
	if err != nil {
		return fmt.Errorf("comment: %w", err)
	}
	return nil
}

// comments reads the poll's comments with their authors' names (the creator's when none).
func (s pollStore) comments(ctx context.Context, pollID string) ([]comment, error) {
	rows, err := s.pool.Query(ctx, `SELECT COALESCE(NULLIF(pp.name, ''), pp.email, p.owner_name), c.body, c.created_at
		FROM collab.poll_comments c JOIN collab.polls p ON p.id = c.poll_id
		LEFT JOIN collab.poll_participants pp ON pp.id = c.participant_id
		WHERE c.poll_id = $1 ORDER BY c.created_at, c.id`, pollID)
	if err != nil {
		return nil, fmt.Errorf("comments: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (comment, error) {
		var c comment
		return c, r.Scan(&c.Author, &c.Body, &c.CreatedAt)
	})
}

// mine lists the polls the agent created or is invited to, the newest first.
func (s pollStore) mine(ctx context.Context, userID int64) ([]poll, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pollColumns+` FROM collab.polls p WHERE EXISTS (SELECT 1
		FROM collab.poll_participants pp WHERE pp.poll_id = p.id AND pp.user_id = $1) ORDER BY created_at DESC LIMIT 200`, userID)
	if err != nil {
		return nil, fmt.Errorf("my polls: %w", err)
	}
	defer rows.Close()
	var out []poll
	for rows.Next() {
		p, err := scanPoll(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// claimReminders marks as reminded the open polls whose deadline falls before horizon and
// returns them: each replica running the job claims different polls (SKIP LOCKED), and a
// poll is claimed once, ever.
func (s pollStore) claimReminders(ctx context.Context, now, horizon time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE collab.polls SET reminded_at = $1 WHERE id IN (
		SELECT id FROM collab.polls WHERE reminded_at IS NULL AND closed_at IS NULL AND deadline > $1 AND deadline <= $2
		FOR UPDATE SKIP LOCKED) RETURNING id`, now, horizon)
	if err != nil {
		return nil, fmt.Errorf("claim reminders: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// purge deletes the polls whose deadline (or closing) is older than keep: their participants'
// names and addresses go with them.
func (s pollStore) purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM collab.polls WHERE GREATEST(deadline, COALESCE(closed_at, deadline)) < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge polls: %w", err)
	}
	return tag.RowsAffected(), nil
}
