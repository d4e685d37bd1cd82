package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"socle/internal/emergency/geo"
	"socle/internal/emergency/pdaau"
	"socle/internal/platform/csvfile"
	"socle/internal/platform/pki"
)

// File is the document `socle apply -f` reads. Paths in it are relative to the file.
type File struct {
	Operators []OperatorEntry `yaml:"operators"`
	PSAPs     []PSAPEntry     `yaml:"psaps"`
	Communes  string          `yaml:"communes"`
	PDAAU     []string        `yaml:"pdaau"`
	// Numbering lists CSV files of the numbering plan: prefix,operator,kind.
	Numbering []string `yaml:"numbering"`
	// Others are the keys of other services' parts of the file (`socle apply` hands each
	// its own); a directory file on its own has none.
	Others map[string]yaml.Node `yaml:",inline"`
}

// Keys are the top-level keys of the directory's part of the file `socle apply` reads.
var Keys = []string{"operators", "psaps", "communes", "pdaau", "numbering"}

// OperatorEntry declares an operator.
type OperatorEntry struct {
	ID           string   `yaml:"id"`
	Name         string   `yaml:"name"`
	MCCMNC       []string `yaml:"mcc_mnc"`
	Certificates []string `yaml:"certificates"`
	// LocationEndpoint is the operator's HELD server (RFC 5985), asked where a caller is
	// when socle has no fresh AML fix; LocationCA verifies it (default: socle's CA).
	LocationEndpoint string `yaml:"location_endpoint"`
	LocationCA       string `yaml:"location_ca"`
	// TNAAUDepartements are the départements whose routing tables the CCED authorised the
	// operator to fetch ("*": every one). TNAAUWebhook is told of each publication among
	// them; it is verified like the location server, with LocationCA.
	TNAAUDepartements []string `yaml:"tnaau_departements"`
	TNAAUWebhook      string   `yaml:"tnaau_webhook"`
	line              int
}

// PSAPEntry declares an emergency centre.
type PSAPEntry struct {
	ID            string   `yaml:"id"`
	Name          string   `yaml:"name"`
	RoutingNumber string   `yaml:"routing_number"`
	Endpoint      string   `yaml:"endpoint"`
	CA            string   `yaml:"ca"`
	Certificates  []string `yaml:"certificates"`
	line          int
}

// UnmarshalYAML keeps the entry's line for error messages and refuses unknown keys.
func (e *OperatorEntry) UnmarshalYAML(n *yaml.Node) error {
	type plain OperatorEntry
	if err := decodeStrict(n, (*plain)(e)); err != nil {
		return err
	}
	e.line = n.Line
	return nil
}

// UnmarshalYAML keeps the entry's line for error messages and refuses unknown keys.
func (e *PSAPEntry) UnmarshalYAML(n *yaml.Node) error {
	type plain PSAPEntry
	if err := decodeStrict(n, (*plain)(e)); err != nil {
		return err
	}
	e.line = n.Line
	return nil
}

// decodeStrict decodes a node refusing unknown keys: yaml.v3's KnownFields does not reach
// into custom unmarshalers, so re-encode the node and decode it with a strict decoder.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// Line numbers in err are relative to the entry: point at the entry instead.
		return fmt.Errorf("line %d: %s", n.Line, strings.TrimPrefix(trimYAMLLine(err.Error()), "yaml: "))
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line \d+: `)

// yamlError is a YAML error naming the file and its line. yaml.v3 names none for a problem
// on the first line (it counts lines from 0, and 0 means "unknown" to it), nor for bytes
// that are not text: name those here.
func yamlError(name string, raw []byte, err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if yamlLine.MatchString(msg) {
		return fmt.Sprintf("%s: %s", name, msg)
	}
	return fmt.Sprintf("%s:%d: %s", name, firstNonText(raw), msg)
}

// firstNonText is the line of the first character YAML refuses (not UTF-8, or a control
// character: YAML 1.2 §5.1), or 1 when there is none.
func firstNonText(raw []byte) int {
	line := 1
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 || !(r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
			r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff) {
			return line
		}
		if r == '\n' {
			line++
		}
		i += n
	}
	return 1
}

func trimYAMLLine(s string) string { return yamlLine.ReplaceAllString(s, "") }

var (
	idPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	mccmncPattern  = regexp.MustCompile(`^[0-9]{3}-[0-9]{2,3}$`)
	routingPattern = regexp.MustCompile(`^[0-9]{10}$`)
)

// Errors lists every problem found in a file, each naming where it is.
type Errors []string

func (e Errors) Error() string { return strings.Join(e, "\n") }

// Report says what Apply changed.
type Report struct {
	Operators, PSAPs, Certificates, Communes, PDAAURows, NumberBlocks int // rows created or changed
}

func (r Report) String() string {
	if r == (Report{}) {
		return "apply: nothing changed (the database already matches the file)"
	}
	return fmt.Sprintf("apply: changed %d operators, %d PSAPs, %d certificates, %d communes, %d PDAAU rows, %d number blocks",
		r.Operators, r.PSAPs, r.Certificates, r.Communes, r.PDAAURows, r.NumberBlocks)
}

type cert struct {
	fingerprint, subject, pem string
	notAfter                  time.Time
}

type pdaauRow struct {
	insee, number, routing string
	where                  string
}

type plan struct {
	name      string // the file's base name, for messages
	file      File
	opCerts   map[string][]cert
	psapCerts map[string][]cert
	psapCA    map[string]string
	communes  []geo.Commune
	rows      []pdaauRow
	opLocCA   map[string]string
	blocks    []blockRow
}

type blockRow struct {
	prefix, operator, kind, where string
}

// ApplyFile reads, validates and applies a directory file in one transaction: either every
// entry is applied or, on any error, nothing is. Applying the same file twice changes
// nothing the second time.
func ApplyFile(ctx context.Context, pool *pgxpool.Pool, path string) (Report, error) {
	p, fileErrs, err := readPlan(path)
	if err != nil {
		return Report{}, err
	}
	var rep Report
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		rep, err = p.apply(ctx, tx, fileErrs)
		return err
	})
	return rep, err
}

// Change is a directory file prepared for `socle apply`, which applies it with the other
// services' parts of the file, in one transaction (service.Change).
type Change struct{ p *plan }

// Prepare reads the directory's part of the file at path (raw: its bytes; the other
// services' keys are theirs) and the files it names, and returns the errors found in them;
// the Change is nil when the document is not of the expected shape.
func Prepare(path string, raw []byte) (*Change, Errors) {
	dir := filepath.Dir(path)
	p, errs := parsePlan(filepath.Base(path), raw, func(rel string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, rel))
	}, time.Now())
	if p == nil {
		return nil, errs
	}
	return &Change{p: p}, errs
}

// Apply checks the directory against the database and writes it in tx. The file's own
// errors were Prepare's: a file with some is not applied.
func (c *Change) Apply(ctx context.Context, tx pgx.Tx) (string, []string, error) {
	rep, err := c.p.apply(ctx, tx, nil)
	var list Errors
	if errors.As(err, &list) {
		return "", list, nil
	}
	if err != nil {
		return "", nil, err
	}
	return rep.String(), nil, nil
}

// apply checks p against the database and writes it in tx, or returns every error at once:
// fileErrs, those of the file, and those against the database.
func (p *plan) apply(ctx context.Context, tx pgx.Tx, fileErrs Errors) (Report, error) {
	// One apply at a time: validation against the database must see a stable directory.
	if _, err := tx.Exec(ctx, `LOCK TABLE emergency.operators, emergency.psaps, emergency.certificates, emergency.communes, emergency.pdaau, emergency.number_blocks IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return Report{}, fmt.Errorf("apply: %w", err)
	}
	dbErrs, err := p.checkAgainstDatabase(ctx, tx, p.name)
	if err != nil {
		return Report{}, err
	}
	if all := append(fileErrs, dbErrs...); len(all) > 0 {
		return Report{}, all
	}
	rep, err := p.write(ctx, tx)
	var tableErrs Errors
	if errors.As(err, &tableErrs) {
		return Report{}, tableErrs
	}
	if err != nil {
		return Report{}, fmt.Errorf("apply: %w", err)
	}
	if rep != (Report{}) {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
			return Report{}, fmt.Errorf("apply: %w", err)
		}
	}
	return rep, nil
}

// readPlan reads the file at path and the files it names (relative to it), and parses them
// with parsePlan; err is for a file that cannot be read at all.
func readPlan(path string) (*plan, Errors, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("apply: %w", err)
	}
	c, errs := Prepare(path, raw)
	if c == nil {
		return nil, nil, errs
	}
	for k, n := range c.p.file.Others {
		errs = append(errs, fmt.Sprintf("%s:%d: unknown key %q", c.p.name, n.Line, k))
	}
	return c.p, errs, nil
}

// parsePlan parses and validates everything that can be checked without the database: the
// document raw, named name in messages, and the files it names, got from read; certificates
// are judged at now. It returns the valid part of the file and the errors of the rest (a
// nil plan: the document is not YAML of the expected shape). It writes nothing anywhere,
// so that bad input can change nothing, and it is what the fuzz target exercises.
func parsePlan(name string, raw []byte, read func(rel string) ([]byte, error), now time.Time) (*plan, Errors) {
	p := &plan{name: name, opCerts: map[string][]cert{}, psapCerts: map[string][]cert{}, psapCA: map[string]string{}, opLocCA: map[string]string{}}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p.file); err != nil && !errors.Is(err, io.EOF) {
		return nil, Errors{yamlError(name, raw, err)}
	}
	var errs Errors
	bad := func(line int, what, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("%s:%d: %s: %s", name, line, what, fmt.Sprintf(format, args...)))
	}
	seenFP := map[string]string{}
	loadCerts := func(line int, what string, paths []string) []cert {
		var out []cert
		for i, cp := range paths {
			certs, err := readCertificates(read, cp)
			if err != nil {
				bad(line, what, "certificates[%d]: %v", i, err)
				continue
			}
			for _, c := range certs {
				if prev, dup := seenFP[c.fingerprint]; dup {
					bad(line, what, "certificates[%d] %q: the same certificate is already given to %s", i, cp, prev)
					continue
				}
				if now.After(c.notAfter) {
					bad(line, what, "certificates[%d] %q: expired on %s", i, cp, c.notAfter.Format(time.DateOnly))
					continue
				}
				seenFP[c.fingerprint] = what
				out = append(out, c)
			}
		}
		return out
	}

	// entry checks what operators and PSAPs have in common: an id unique among its kind,
	// and a name.
	ids := map[string]bool{}
	entry := func(line int, kind string, i int, id, name string) string {
		what := fmt.Sprintf("%s[%d] (id %q)", kind, i, id)
		switch {
		case !idPattern.MatchString(id):
			bad(line, what, "id must be lower-case letters, digits and dashes, at most 63")
		case ids[kind+":"+id]:
			bad(line, what, "id is used twice")
		}
		ids[kind+":"+id] = true
		if strings.TrimSpace(name) == "" {
			bad(line, what, "name is required")
		}
		return what
	}
	networks := map[string]string{}
	for i, o := range p.file.Operators {
		what := entry(o.line, "operators", i, o.ID, o.Name)
		if len(o.MCCMNC) == 0 {
			bad(o.line, what, "mcc_mnc needs at least one network, such as 208-01")
		}
		for j, n := range o.MCCMNC {
			if !mccmncPattern.MatchString(n) {
				bad(o.line, what, "mcc_mnc[%d] %q: want MCC-MNC such as 208-01 (3 digits, dash, 2 or 3 digits)", j, n)
			} else if prev, dup := networks[n]; dup {
				bad(o.line, what, "mcc_mnc[%d] %q: already run by operator %q", j, n, prev)
			} else {
				networks[n] = o.ID
			}
		}
		if len(o.Certificates) == 0 {
			bad(o.line, what, "certificates needs at least one PEM file: operators authenticate by client certificate")
		}
		p.opCerts[o.ID] = loadCerts(o.line, what, o.Certificates)
		if o.LocationEndpoint != "" {
			if u, err := url.Parse(o.LocationEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
				bad(o.line, what, "location_endpoint %q: want an absolute https:// URL", o.LocationEndpoint)
			}
		}
		for j, d := range o.TNAAUDepartements {
			if d != "*" && !geo.ValidDepartement(d) {
				bad(o.line, what, "tnaau_departements[%d] %q: want a département code (01, 2A, 971...) or *", j, d)
			}
		}
		if o.TNAAUWebhook != "" {
			if u, err := url.Parse(o.TNAAUWebhook); err != nil || u.Scheme != "https" || u.Host == "" {
				bad(o.line, what, "tnaau_webhook %q: want an absolute https:// URL", o.TNAAUWebhook)
			}
		}
		if o.LocationCA != "" {
			if b, err := readCA(read, o.LocationCA); err != nil {
				bad(o.line, what, "location_ca: %v", err)
			} else {
				p.opLocCA[o.ID] = string(b)
			}
		}
	}

	routing := map[string]string{}
	for i, ps := range p.file.PSAPs {
		what := entry(ps.line, "psaps", i, ps.ID, ps.Name)
		if !routingPattern.MatchString(ps.RoutingNumber) {
			bad(ps.line, what, "routing_number %q: want the centre's 10-digit number", ps.RoutingNumber)
		} else if prev, dup := routing[ps.RoutingNumber]; dup {
			bad(ps.line, what, "routing_number %q: already the number of %q", ps.RoutingNumber, prev)
		} else {
			routing[ps.RoutingNumber] = ps.ID
		}
		if u, err := url.Parse(ps.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
			bad(ps.line, what, "endpoint %q: want an absolute https:// URL", ps.Endpoint)
		}
		if ps.CA != "" {
			if b, err := readCA(read, ps.CA); err != nil {
				bad(ps.line, what, "ca: %v", err)
			} else {
				p.psapCA[ps.ID] = string(b)
			}
		}
		p.psapCerts[ps.ID] = loadCerts(ps.line, what, ps.Certificates)
	}

	if p.file.Communes != "" {
		b, err := read(p.file.Communes)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: communes: %v", name, err))
		} else {
			p.communes, err = geo.ParseCommunes(bytes.NewReader(b))
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", p.file.Communes, err))
			}
		}
	}

	seenPrefix := map[string]string{}
	for _, csvPath := range p.file.Numbering {
		blocks, blockErrs := readNumbering(read, csvPath)
		errs = append(errs, blockErrs...)
		for _, b := range blocks {
			if prev, dup := seenPrefix[b.prefix]; dup {
				errs = append(errs, fmt.Sprintf("%s: prefix %s: duplicate block (first at %s)", b.where, b.prefix, prev))
				continue
			}
			seenPrefix[b.prefix] = b.where
			p.blocks = append(p.blocks, b)
		}
	}

	for _, csvPath := range p.file.PDAAU {
		rows, rowErrs := readPDAAU(read, csvPath)
		errs = append(errs, rowErrs...)
		p.rows = append(p.rows, rows...)
	}
	return p, errs
}

// readCertificates reads the PEM certificates of the file rel.
func readCertificates(read func(string) ([]byte, error), rel string) ([]cert, error) {
	b, err := read(rel)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	out := make([]cert, len(certs))
	for i, c := range certs {
		out[i] = cert{
			fingerprint: pki.Fingerprint(c),
			subject:     c.Subject.String(),
			notAfter:    c.NotAfter,
			pem:         string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		}
	}
	return out, nil
}

// readCA reads the file rel, which must hold PEM certificates: a CA to verify a server with.
func readCA(read func(string) ([]byte, error), rel string) ([]byte, error) {
	if _, err := readCertificates(read, rel); err != nil {
		return nil, err
	}
	return read(rel)
}

var prefixPattern = regexp.MustCompile(`^[0-9]{2,15}$`)

// readNumbering reads numbering-plan blocks: prefix (E.164 digits, country code first, such
// as 33612), operator id, kind (mobile or fixed).
func readNumbering(read func(string) ([]byte, error), rel string) ([]blockRow, Errors) {
	var rows []blockRow
	errs := readCSV(read, rel, "prefix,operator,kind", func(where string, rec []string) []string {
		b := blockRow{prefix: rec[0], operator: rec[1], kind: rec[2], where: where}
		var bad []string
		if !prefixPattern.MatchString(b.prefix) {
			bad = append(bad, fmt.Sprintf("prefix %q: want 2 to 15 digits of an E.164 number, country code first (33612)", b.prefix))
		}
		if b.kind != "mobile" && b.kind != "fixed" {
			bad = append(bad, fmt.Sprintf("kind %q: want mobile or fixed", b.kind))
		}
		rows = append(rows, b)
		return bad
	})
	return rows, errs
}

func readPDAAU(read func(string) ([]byte, error), rel string) ([]pdaauRow, Errors) {
	b, err := read(rel)
	if err != nil {
		return nil, Errors{fmt.Sprintf("pdaau: %v", err)}
	}
	return parsePDAAU(bytes.NewReader(b), rel)
}

// parsePDAAU reads PDAAU rows; shown names the file in errors. The rows are checked with
// the rest of the directory, in checkAgainstDatabase, by pdaau.Validate.
func parsePDAAU(in io.Reader, shown string) ([]pdaauRow, Errors) {
	var rows []pdaauRow
	errs := parseCSV(in, shown, strings.Join(pdaau.Header, ","), func(where string, rec []string) []string {
		rows = append(rows, pdaauRow{insee: rec[0], number: rec[1], routing: rec[2], where: where})
		return nil
	})
	return rows, errs
}

// readCSV reads the file rel and parses it with parseCSV.
func readCSV(read func(string) ([]byte, error), rel, header string, row func(where string, rec []string) []string) Errors {
	b, err := read(rel)
	if err != nil {
		return Errors{fmt.Sprintf("%s: %v", rel, err)}
	}
	return parseCSV(bytes.NewReader(b), rel, header, row)
}

// parseCSV reads a CSV file with csvfile, handing each record to row with its file:line;
// every error is prefixed with that place.
func parseCSV(in io.Reader, shown, header string, row func(where string, rec []string) []string) Errors {
	var errs Errors
	where := func(line int) string { return fmt.Sprintf("%s:%d", shown, line) }
	err := csvfile.Read(in, strings.Split(header, ","), func(line int, rec []string) {
		for _, e := range row(where(line), rec) {
			errs = append(errs, where(line)+": "+e)
		}
	}, func(e *csvfile.Error) {
		errs = append(errs, where(e.Line)+": "+e.Reason)
	})
	var ce *csvfile.Error
	if errors.As(err, &ce) {
		errs = append(errs, where(ce.Line)+": "+ce.Reason)
	}
	return errs
}

// checkAgainstDatabase validates what depends on rows outside the file: networks and
// certificates held by other organisations, communes and PSAPs that PDAAU rows name.
func (p *plan) checkAgainstDatabase(ctx context.Context, tx pgx.Tx, path string) (Errors, error) {
	name := filepath.Base(path)
	var errs Errors
	var fileIDs []string
	for _, o := range p.file.Operators {
		fileIDs = append(fileIDs, o.ID)
	}
	for _, o := range p.file.Operators {
		rows, _ := tx.Query(ctx, `SELECT id, n FROM emergency.operators, unnest(mcc_mnc) n WHERE n = ANY($1) AND id <> ALL($2)`, o.MCCMNC, fileIDs)
		var id, n string
		_, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			errs = append(errs, fmt.Sprintf("%s:%d: operators (id %q): mcc_mnc %q is already run by operator %q", name, o.line, o.ID, n, id))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	checkCerts := func(line int, what, col, id string, cs []cert) error {
		for _, c := range cs {
			var owner string
			err := tx.QueryRow(ctx, `SELECT coalesce(operator_id, psap_id) FROM emergency.certificates
				WHERE fingerprint = $1 AND coalesce(`+col+`, '') <> $2`, c.fingerprint, id).Scan(&owner)
			if err == nil {
				errs = append(errs, fmt.Sprintf("%s:%d: %s: certificate %q already belongs to %q", name, line, what, c.subject, owner))
			} else if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		return nil
	}
	for _, o := range p.file.Operators {
		if err := checkCerts(o.line, fmt.Sprintf("operators (id %q)", o.ID), "operator_id", o.ID, p.opCerts[o.ID]); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	for _, ps := range p.file.PSAPs {
		if err := checkCerts(ps.line, fmt.Sprintf("psaps (id %q)", ps.ID), "psap_id", ps.ID, p.psapCerts[ps.ID]); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		var other string
		err := tx.QueryRow(ctx, `SELECT id FROM emergency.psaps WHERE routing_number = $1 AND id <> $2`, ps.RoutingNumber, ps.ID).Scan(&other)
		if err == nil {
			errs = append(errs, fmt.Sprintf("%s:%d: psaps (id %q): routing_number %q is already the number of %q", name, ps.line, ps.ID, ps.RoutingNumber, other))
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	if len(p.blocks) > 0 {
		ops := map[string]bool{}
		for _, o := range p.file.Operators {
			ops[o.ID] = true
		}
		rows, _ := tx.Query(ctx, `SELECT id FROM emergency.operators`)
		inDB, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		for _, id := range inDB {
			ops[id] = true
		}
		for _, b := range p.blocks {
			if !ops[b.operator] {
				errs = append(errs, fmt.Sprintf("%s: operator %q: no such operator", b.where, b.operator))
			}
		}
	}
	if len(p.rows) > 0 {
		pErrs, err := p.checkPDAAU(ctx, tx)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		errs = append(errs, pErrs...)
	}
	return errs, nil
}

// checkPDAAU validates each département's rows with pdaau.Validate, against the communes and
// PSAPs the directory will hold once the file is applied.
func (p *plan) checkPDAAU(ctx context.Context, tx pgx.Tx) (Errors, error) {
	ref, err := pdaau.LoadReference(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, c := range p.communes {
		ref.Communes[c.Code] = c.Name
	}
	inFile := map[string]bool{}
	for _, ps := range p.file.PSAPs {
		inFile[ps.ID] = true
	}
	for n, id := range ref.PSAPs {
		if inFile[id] {
			delete(ref.PSAPs, n) // the file may give it another number
		}
	}
	for _, ps := range p.file.PSAPs {
		ref.PSAPs[ps.RoutingNumber] = ps.ID
	}
	byDep := map[string][]pdaau.Row{}
	var deps []string
	for i, r := range p.rows {
		row := pdaau.Row{INSEE: r.insee, Number: r.number, RoutingNumber: r.routing, Line: i + 1}
		d := row.Departement()
		if byDep[d] == nil {
			deps = append(deps, d)
		}
		byDep[d] = append(byDep[d], row)
	}
	sort.Strings(deps)
	var errs Errors
	for _, d := range deps {
		errs = append(errs, p.pdaauErrors(pdaau.Validate(d, byDep[d], ref))...)
	}
	return errs, nil
}

// pdaauErrors words pdaau problems as apply's errors, naming each row's file:line (a
// problem's Line is the row's index in p.rows, plus one).
func (p *plan) pdaauErrors(problems pdaau.Problems) Errors {
	var errs Errors
	for _, pr := range problems {
		where := p.name
		if pr.Line > 0 {
			where = p.rows[pr.Line-1].where
		}
		msg := pr.Message("en")
		if pr.Code == pdaau.CodeDuplicate {
			msg = fmt.Sprintf("commune %s and number %s already appear at %s", pr.INSEE, pr.Number, p.rows[pr.Other-1].where)
		}
		errs = append(errs, where+": "+msg)
	}
	return errs
}

func psapIDs(ps []PSAPEntry) []string {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func (p *plan) write(ctx context.Context, tx pgx.Tx) (Report, error) {
	var rep Report
	count := func(n *int, sql string, args ...any) error {
		tag, err := tx.Exec(ctx, sql, args...)
		*n += int(tag.RowsAffected())
		return err
	}
	for _, o := range p.file.Operators {
		nets := append([]string(nil), o.MCCMNC...)
		sort.Strings(nets)
		var endpoint, ca, webhook *string
		if o.LocationEndpoint != "" {
			endpoint = &o.LocationEndpoint
		}
		if o.TNAAUWebhook != "" {
			webhook = &o.TNAAUWebhook
		}
		deps := append([]string{}, o.TNAAUDepartements...)
		sort.Strings(deps)
		if v, ok := p.opLocCA[o.ID]; ok {
			ca = &v
		}
		if err := count(&rep.Operators, `INSERT INTO emergency.operators (id, name, mcc_mnc, location_endpoint, location_ca_pem,
				tnaau_departements, tnaau_webhook)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, mcc_mnc = EXCLUDED.mcc_mnc,
				location_endpoint = EXCLUDED.location_endpoint, location_ca_pem = EXCLUDED.location_ca_pem,
				tnaau_departements = EXCLUDED.tnaau_departements, tnaau_webhook = EXCLUDED.tnaau_webhook, updated_at = now()
			WHERE (operators.name, operators.mcc_mnc, operators.location_endpoint, operators.location_ca_pem,
					operators.tnaau_departements, operators.tnaau_webhook)
				IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.mcc_mnc, EXCLUDED.location_endpoint, EXCLUDED.location_ca_pem,
					EXCLUDED.tnaau_departements, EXCLUDED.tnaau_webhook)`,
			o.ID, o.Name, nets, endpoint, ca, deps, webhook); err != nil {
			return rep, err
		}
		if err := p.writeCerts(ctx, tx, &rep, "operator_id", o.ID, p.opCerts[o.ID]); err != nil {
			return rep, err
		}
	}
	for _, ps := range p.file.PSAPs {
		var ca *string
		if v, ok := p.psapCA[ps.ID]; ok {
			ca = &v
		}
		if err := count(&rep.PSAPs, `INSERT INTO emergency.psaps (id, name, routing_number, endpoint, ca_pem) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, routing_number = EXCLUDED.routing_number,
				endpoint = EXCLUDED.endpoint, ca_pem = EXCLUDED.ca_pem, updated_at = now()
			WHERE (psaps.name, psaps.routing_number, psaps.endpoint, psaps.ca_pem)
				IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.routing_number, EXCLUDED.endpoint, EXCLUDED.ca_pem)`,
			ps.ID, ps.Name, ps.RoutingNumber, ps.Endpoint, ca); err != nil {
			return rep, err
		}
		if err := p.writeCerts(ctx, tx, &rep, "psap_id", ps.ID, p.psapCerts[ps.ID]); err != nil {
			return rep, err
		}
	}
	for _, c := range p.communes {
		geom, err := json.Marshal(toCoordinates(c.Geometry))
		if err != nil {
			return rep, err
		}
		if err := count(&rep.Communes, `INSERT INTO emergency.communes (code, name, geometry) VALUES ($1, $2, $3)
			ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, geometry = EXCLUDED.geometry
			WHERE (communes.name, communes.geometry) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.geometry)`,
			c.Code, c.Name, geom); err != nil {
			return rep, err
		}
	}
	for _, b := range p.blocks {
		if err := count(&rep.NumberBlocks, `INSERT INTO emergency.number_blocks (prefix, operator_id, kind) VALUES ($1, $2, $3)
			ON CONFLICT (prefix) DO UPDATE SET operator_id = EXCLUDED.operator_id, kind = EXCLUDED.kind
			WHERE (number_blocks.operator_id, number_blocks.kind) IS DISTINCT FROM (EXCLUDED.operator_id, EXCLUDED.kind)`,
			b.prefix, b.operator, b.kind); err != nil {
			return rep, err
		}
	}
	if len(p.rows) > 0 {
		// Each département's rows become its PDAAU in effect, through the same versions and
		// validation rules as the web workflow. Line is the row's index, to name its file:line.
		rows := make([]pdaau.Row, len(p.rows))
		for i, r := range p.rows {
			rows[i] = pdaau.Row{INSEE: r.insee, Number: r.number, RoutingNumber: r.routing, Line: i + 1}
		}
		n, problems, err := pdaau.ApplyTx(ctx, tx, rows, "socle apply", "socle apply: "+p.name)
		if err != nil {
			return rep, err
		}
		if len(problems) > 0 {
			return rep, p.pdaauErrors(problems)
		}
		rep.PDAAURows = n
	}
	return rep, nil
}

// writeCerts makes the organisation's certificate set exactly the file's.
func (p *plan) writeCerts(ctx context.Context, tx pgx.Tx, rep *Report, col, id string, cs []cert) error {
	fps := []string{}
	for _, c := range cs {
		fps = append(fps, c.fingerprint)
		tag, err := tx.Exec(ctx, `INSERT INTO emergency.certificates (fingerprint, `+col+`, subject, not_after, pem)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (fingerprint) DO NOTHING`,
			c.fingerprint, id, c.subject, c.notAfter, c.pem)
		if err != nil {
			return err
		}
		rep.Certificates += int(tag.RowsAffected())
	}
	tag, err := tx.Exec(ctx, `DELETE FROM emergency.certificates WHERE `+col+` = $1 AND fingerprint <> ALL($2)`, id, fps)
	rep.Certificates += int(tag.RowsAffected())
	return err
}
