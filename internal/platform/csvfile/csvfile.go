// Package csvfile reads the CSV files people give socle (PDAAU tables, numbering plans):
// a fixed header line, then records whose fields are trimmed, each handed over with its line
// number so that every error can name the line.
package csvfile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error is a fault in the file's structure, at a line. Kind says which, for the pages that
// word it in their language; Reason words it in English.
type Error struct {
	Line   int
	Kind   Kind
	Reason string
	// Want is the header expected; Got the number of fields found (KindWidth).
	Want []string
	Got  int
}

// Kind is a kind of structural fault.
type Kind int

// Kinds of faults.
const (
	KindSyntax Kind = iota // not CSV: an unclosed quote, a stray one...
	KindEmpty              // no header line
	KindHeader             // another header
	KindWidth              // a record with another number of fields
)

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Read checks the header line (a byte-order mark is allowed, as spreadsheets write one) and
// hands each record, fields trimmed, to row with its line number. A record of the wrong
// width is reported through bad and skipped; an unreadable file stops the reading and
// returns an *Error. Separators are commas, or semicolons when the header uses them (what
// spreadsheets write in French locales).
func Read(in io.Reader, header []string, row func(line int, rec []string), bad func(*Error)) error {
	br := newPeekReader(in)
	r := csv.NewReader(br)
	if br.firstLineHas(';') && !br.firstLineHas(',') {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	for first := true; ; first = false {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			if first {
				return &Error{Line: 1, Kind: KindEmpty, Want: header, Reason: "empty file: want the header " + strings.Join(header, ",")}
			}
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return &Error{Line: pe.StartLine, Reason: pe.Err.Error()}
			}
			return &Error{Line: 0, Reason: err.Error()}
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if first {
			rec[0] = strings.TrimSpace(strings.TrimPrefix(rec[0], "\ufeff"))
			if strings.Join(rec, ",") != strings.Join(header, ",") {
				return &Error{Line: line, Kind: KindHeader, Want: header, Reason: "header must be " + strings.Join(header, ",")}
			}
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line, as spreadsheets leave at the end
		}
		if len(rec) != len(header) {
			bad(&Error{Line: line, Kind: KindWidth, Want: header, Got: len(rec),
				Reason: fmt.Sprintf("want %d fields (%s), got %d", len(header), strings.Join(header, ","), len(rec))})
			continue
		}
		row(line, rec)
	}
}
