package pdaau

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"

	"socle/internal/emergency/geo"
	"socle/internal/platform/csvfile"
)

// Header is the header line of a PDAAU CSV file.
var Header = []string{"insee", "number", "routing_number"}

// MaxRows bounds an uploaded table: the largest département has under 1,000 communes, times
// twelve numbers.
const MaxRows = 50_000

// ParseCSV reads a département's PDAAU as CSV (Header, then one row per commune and
// number). Problems of structure come back with their line; rows are checked by Validate.
func ParseCSV(in io.Reader) ([]Row, Problems) {
	var rows []Row
	var ps Problems
	err := csvfile.Read(io.LimitReader(in, 16<<20), Header, func(line int, rec []string) {
		if len(rows) == MaxRows {
			if len(ps) == 0 || ps[len(ps)-1].Code != CodeFile {
				ps = append(ps, Problem{Line: line, Code: CodeFile, Value: fmt.Sprintf("more than %d rows", MaxRows)})
			}
			return
		}
		rows = append(rows, Row{INSEE: rec[0], Number: rec[1], RoutingNumber: rec[2], Line: line})
	}, func(e *csvfile.Error) {
		ps = append(ps, fileProblem(e))
	})
	if ce, ok := err.(*csvfile.Error); ok {
		ps = append(ps, fileProblem(ce))
	}
	return rows, ps
}

// fileProblem is a fault of the file's structure as a problem the pages word in their
// language.
func fileProblem(e *csvfile.Error) Problem {
	switch e.Kind {
	case csvfile.KindEmpty:
		return Problem{Line: e.Line, Code: CodeEmptyFile}
	case csvfile.KindHeader:
		return Problem{Line: e.Line, Code: CodeHeader}
	case csvfile.KindWidth:
		return Problem{Line: e.Line, Code: CodeWidth, Value: strconv.Itoa(e.Got)}
	}
	return Problem{Line: e.Line, Code: CodeFile, Value: e.Reason}
}

// Reference is what rows are checked against: the communes loaded (code → département is
// the code's prefix) and the PSAPs' routing numbers.
type Reference struct {
	Communes map[string]string // code → name
	PSAPs    map[string]string // routing number → PSAP id
}

// LoadReference reads the communes and PSAPs as q (a pool or a transaction) sees them.
func LoadReference(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (Reference, error) {
	ref := Reference{Communes: map[string]string{}, PSAPs: map[string]string{}}
	var k, v string
	rows, _ := q.Query(ctx, `SELECT code, name FROM emergency.communes`)
	if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { ref.Communes[k] = v; return nil }); err != nil {
		return ref, fmt.Errorf("pdaau: communes: %w", err)
	}
	rows, _ = q.Query(ctx, `SELECT routing_number, id FROM emergency.psaps`)
	if _, err := pgx.ForEachRow(rows, []any{&k, &v}, func() error { ref.PSAPs[k] = v; return nil }); err != nil {
		return ref, fmt.Errorf("pdaau: psaps: %w", err)
	}
	return ref, nil
}

var (
	routingPattern = regexp.MustCompile(`^[0-9]{10}$`)
)

// MaxProblems is how many problems Validate lists: past it, the file is wrong throughout and
// more would not help.
const MaxProblems = 1000

// Validate checks a département's whole table: every row (commune code well formed, known,
// in the département; a routed short number; a 10-digit routing number some PSAP has; no
// duplicate) and the table (every commune of the département has a row for every number).
// It returns every problem, up to MaxProblems, in line order then missing routes.
func Validate(dep string, rows []Row, ref Reference) Problems {
	var ps Problems
	add := func(p Problem) {
		if len(ps) < MaxProblems {
			ps = append(ps, p)
		}
	}
	type key struct{ insee, number string }
	seen := make(map[key]int, len(rows))
	for _, r := range rows {
		// A row's problem names its commune and number as well as its line: a table edited
		// in a page has no lines, and its problems are placed by commune and number.
		at := func(field, code, value string) Problem {
			return Problem{Line: r.Line, Field: field, Code: code, Value: value, INSEE: r.INSEE, Number: r.Number}
		}
		switch {
		case !geo.ValidINSEE(r.INSEE):
			add(at("insee", CodeMalformedINSEE, r.INSEE))
		case ref.Communes[r.INSEE] == "":
			add(at("insee", CodeUnknownCommune, r.INSEE))
		case r.Departement() != dep:
			add(at("insee", CodeOtherDepartement, dep))
		}
		if !IsShortNumber(r.Number) {
			add(at("number", CodeUnknownNumber, r.Number))
		}
		switch {
		case !routingPattern.MatchString(r.RoutingNumber):
			add(at("routing_number", CodeMalformedRouting, r.RoutingNumber))
		case ref.PSAPs[r.RoutingNumber] == "":
			add(at("routing_number", CodeUnknownPSAP, r.RoutingNumber))
		}
		k := key{r.INSEE, r.Number}
		if first, dup := seen[k]; dup {
			p := at("", CodeDuplicate, "")
			p.Other = first
			add(p)
		} else {
			seen[k] = r.Line
		}
	}
	var communes []string
	for code := range ref.Communes {
		if (Row{INSEE: code}).Departement() == dep {
			communes = append(communes, code)
		}
	}
	if len(communes) == 0 {
		add(Problem{Code: CodeNoCommunes, Value: dep})
	}
	sort.Strings(communes)
	for _, c := range communes {
		for _, n := range ShortNumbers {
			if _, ok := seen[key{c, n}]; !ok {
				add(Problem{Code: CodeMissingRoute, INSEE: c, Number: n})
			}
		}
	}
	return ps
}
