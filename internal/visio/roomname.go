package visio

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxRoomRunes is the longest room name, once written as it is in URLs.
const MaxRoomRunes = 64

var roomPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// reserved are the names of the service's own pages.
var reserved = map[string]bool{"ws": true, "static": true, "stats": true, "api": true, "whip": true, "whep": true, "sessions": true}

// Why a name typed for a room gives none (RoomSlug).
var (
	ErrRoomEmpty    = errors.New("no letter or digit to make a room name of")
	ErrRoomTooLong  = fmt.Errorf("a room name has at most %d characters once written for URLs", MaxRoomRunes)
	ErrRoomReserved = errors.New("this name is the service's own")
)

// RoomNameError says why a name typed for a room gives none, and the name as far as it was
// written (for a message that shows it).
type RoomNameError struct {
	Slug string
	Err  error
}

func (e *RoomNameError) Error() string { return fmt.Sprintf("room name %q: %v", e.Slug, e.Err) }
func (e *RoomNameError) Unwrap() error { return e.Err }

// fold takes accents off (canonical decomposition, then the combining marks removed:
// Unicode UAX #15) and compatibility forms to their plain letters (NFKD: "ﬁ" is "fi", the
// Kelvin sign a K).
var fold = transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)))

// ligatures are the letters that have no decomposition but a usual spelling in plain
// letters, French ones first ("cœur" is "coeur", not "cur").
var ligatures = strings.NewReplacer("œ", "oe", "Œ", "oe", "æ", "ae", "Æ", "ae", "ß", "ss", "ẞ", "ss",
	"ø", "o", "Ø", "o", "đ", "d", "Đ", "d", "ł", "l", "Ł", "l", "ı", "i")

// RoomSlug writes a room name as people type it the way it is in URLs: lower case (Jitsi
// compares room names in lower case), accents folded, and every run of anything else than
// a letter a-z, a digit or "_" one hyphen; hyphens at either end, and "_" at the start, are
// trimmed. "Réunion préfecture" is "reunion-prefecture". A name that gives nothing, one over
// MaxRoomRunes, or one of the service's own pages is refused with a *RoomNameError: never
// replaced by another.
func RoomSlug(typed string) (string, error) {
	folded, _, err := transform.String(fold, ligatures.Replace(typed))
	if err != nil { // not UTF-8 text: every byte that is not is a separator below
		folded = typed
	}
	folded = strings.ToLower(folded)
	var b strings.Builder
	gap := false
	for _, c := range folded {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
			if gap && b.Len() > 0 {
				b.WriteByte('-')
			}
			gap = false
			b.WriteRune(c)
			continue
		}
		gap = true
	}
	slug := strings.TrimLeft(b.String(), "_-")
	switch {
	case slug == "":
		return "", &RoomNameError{Err: ErrRoomEmpty}
	case utf8.RuneCountInString(slug) > MaxRoomRunes:
		return "", &RoomNameError{Slug: slug, Err: ErrRoomTooLong}
	case reserved[slug]:
		return "", &RoomNameError{Slug: slug, Err: ErrRoomReserved}
	}
	return slug, nil
}

// RoomName reads a room name as programs write it (the socket, WHIP, the APIs): already its
// own slug, in any case (Jitsi compares room names in lower case). A name as people type it
// is slugged by the pages (RoomSlug), which show where it leads; a program's "Salle !" is
// refused rather than taken for another room.
func RoomName(s string) (string, bool) {
	slug, err := RoomSlug(s)
	return slug, err == nil && slug == strings.ToLower(s) && roomPattern.MatchString(slug)
}

// roomKeyAsTyped is RoomKey for a path as people type it in the address bar: each part
// slugged ("/visio/Réunion préfecture" is reunion-prefecture's page).
func roomKeyAsTyped(path string) (string, bool) {
	parts := strings.Split(path, "/")
	if len(parts) > 2 {
		return "", false
	}
	for i, p := range parts {
		slug, err := RoomSlug(p)
		if err != nil {
			return "", false
		}
		parts[i] = slug
	}
	return RoomKey(strings.Join(parts, "/"))
}
