package database_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The expand/contract rule (docs/operations-upgrades.md): a step not marked contract must
// leave every table, column and constraint the previous release reads or writes as that
// release expects it, since the previous release keeps running on it during a rolling
// upgrade and after a rollback. contractFindings lists what in a step would break that.
//
// It reads SQL, not a parse tree: PostgreSQL's grammar is not available as a Go module
// without cgo (pg_query_go links libpg_query), and the few statements that matter here are
// recognised well enough by their first words once comments, strings and function bodies
// are set aside. What it misses is caught by the upgrade test, which runs the previous
// release on the current schema (internal/cli/upgrade_test.go).

// allowedFindings are the findings of released steps that keep the rule, each with why. A
// step is never edited once released: a justified exception stays here for good.
var allowedFindings = map[string]string{
	"internal/emergency/schema/migrations/0009_aml_no_location.sql: DROP CONSTRAINT aml_messages_status_check": "replaced in the same step by a wider CHECK (one more status): " +
		"every row the previous release writes still passes it",
	"internal/emergency/schema/migrations/0009_aml_no_location.sql: ADD CONSTRAINT aml_messages_status_check on emergency.aml_messages": "the wider CHECK that replaces the one dropped just before",
	"internal/platform/identity/migrations/0002_oidc_totp.sql: ADD CONSTRAINT users_oidc_pair on identity.users": "only on the two columns this step adds, NULL together in every row " +
		"the previous release writes",
	"internal/platform/identity/migrations/0002_oidc_totp.sql: ADD CONSTRAINT users_can_sign_in on identity.users": "password_hash was NOT NULL until this step: every row " +
		"the previous release writes has one",
	"internal/emergency/schema/migrations/0013_pdaau_one_open.sql: UNIQUE INDEX pdaau_versions_one_open on emergency.pdaau_versions": "released before the rule: " +
		"a release before 0013 that opened a second draft of a département would get a unique violation, shown to the editor as an error; under the rule " +
		"this step would be marked contract",
}

func TestEveryStepNotMarkedContractOnlyExpandsTheSchema(t *testing.T) {
	root := repoRoot(t)
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".sql") && filepath.Base(filepath.Dir(p)) == "migrations" {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no migrations/*.sql under %s", root)
	}
	used := map[string]bool{}
	dirs := map[string]bool{}
	contracts := 0
	for _, p := range files {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		dirs[filepath.Dir(rel)] = true
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sql := string(b)
		for i, line := range strings.Split(sql, "\n") {
			if i > 0 && strings.TrimSpace(line) == "-- socle:contract" {
				t.Errorf("%s:%d: the contract mark counts only on the first line", rel, i+1)
			}
		}
		if first, _, _ := strings.Cut(sql, "\n"); strings.TrimSpace(first) == "-- socle:contract" {
			contracts++
			continue // a contract step may do anything: the releases before it refuse to start
		}
		for _, f := range contractFindings(sql) {
			key := rel + ": " + f
			if _, ok := allowedFindings[key]; ok {
				used[key] = true
				continue
			}
			t.Errorf("%s: %s contracts the schema: the previous release, still running on it during an upgrade "+
				"or after a rollback, would break. Make it an expand step (see docs/operations-upgrades.md), or, "+
				"once no supported release uses what it changes, a step of its own whose first line is -- socle:contract", rel, f)
		}
	}
	for key := range allowedFindings {
		if !used[key] {
			t.Errorf("allowedFindings: %q matches nothing any more: remove it", key)
		}
	}
	t.Logf("%d steps in %d folders, %d marked contract, %d justified exceptions", len(files), len(dirs), contracts, len(allowedFindings))
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// The checker itself: what must be found, and what must not.
func TestContractFindings(t *testing.T) {
	for sql, want := range map[string][]string{
		`ALTER TABLE s.t DROP COLUMN a`:                                             {"DROP COLUMN a on s.t"},
		`alter table s.t drop a, add column b int`:                                  {"DROP COLUMN a on s.t"},
		`ALTER TABLE s.t RENAME COLUMN a TO b`:                                      {"RENAME on s.t"},
		`ALTER TABLE s.t RENAME TO u`:                                               {"RENAME on s.t"},
		`ALTER TABLE s.t ALTER COLUMN a TYPE bigint`:                                {"ALTER COLUMN a TYPE on s.t"},
		`ALTER TABLE s.t ALTER a SET DATA TYPE bigint`:                              {"ALTER COLUMN a TYPE on s.t"},
		`ALTER TABLE s.t ALTER COLUMN a SET NOT NULL`:                               {"SET NOT NULL a on s.t"},
		`ALTER TABLE s.t ALTER COLUMN a DROP DEFAULT`:                               {"DROP DEFAULT a on s.t"},
		`ALTER TABLE s.t ADD COLUMN a text NOT NULL`:                                {"NOT NULL column without default a on s.t"},
		`ALTER TABLE s.t ADD CONSTRAINT c CHECK (a > 0)`:                            {"ADD CONSTRAINT c on s.t"},
		`ALTER TABLE s.t ADD UNIQUE (a)`:                                            {"ADD CONSTRAINT UNIQUE on s.t"},
		`ALTER TABLE s.t DROP CONSTRAINT c`:                                         {"DROP CONSTRAINT c"},
		`ALTER INDEX s.i RENAME TO j`:                                               {"RENAME of INDEX s.i"},
		`DROP TABLE s.t`:                                                            {"DROP TABLE s.t"},
		`DROP INDEX IF EXISTS s.i`:                                                  {"DROP INDEX s.i"},
		`DROP FUNCTION s.f()`:                                                       {"DROP FUNCTION s.f"},
		`CREATE UNIQUE INDEX i ON s.t (a)`:                                          {"UNIQUE INDEX i on s.t"},
		"DO $$ BEGIN DROP TABLE s.t; END $$":                                        {"DROP TABLE s.t"},
		`ALTER TABLE s.t ADD COLUMN a text`:                                         nil,
		`ALTER TABLE s.t ADD COLUMN a int NOT NULL DEFAULT 0`:                       nil,
		`ALTER TABLE s.t ADD COLUMN a text NOT NULL GENERATED ALWAYS AS (b) STORED`: nil,
		`ALTER TABLE s.t ALTER COLUMN a DROP NOT NULL`:                              nil,
		`ALTER TABLE s.t ADD COLUMN k uuid; CREATE UNIQUE INDEX i ON s.t (k)`:       nil,
		`CREATE TABLE s.n (a int); ALTER TABLE s.n ADD FOREIGN KEY (a) REFERENCES s.t; CREATE UNIQUE INDEX i ON s.n (a); DROP TABLE s.n`: nil,
		"-- the retention is a DROP TABLE of whole days\nCREATE TABLE s.n (a int)":                                                       nil,
		"/* DROP TABLE s.t */ SELECT 'ALTER TABLE s.t DROP COLUMN a'":                                                                    nil,
		"CREATE FUNCTION s.purge() RETURNS void LANGUAGE plpgsql AS $f$ BEGIN EXECUTE 'x'; DROP TABLE s.old; END $f$":                    nil,
	} {
		if got := contractFindings(sql); !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %q\n want %q", sql, got, want)
		}
	}
}

// contractFindings returns what in sql would break a release that predates it.
func contractFindings(sql string) []string {
	var found []string
	created := map[string]bool{} // tables and indexes this step creates
	added := map[string]bool{}   // table.column this step adds
	for _, stmt := range strings.Split(stripSQL(sql), ";") {
		stmt = strings.Join(strings.Fields(stmt), " ")
		if m := createTable.FindStringSubmatch(stmt); m != nil {
			created[name(m[1])] = true
		}
		if m := createIndex.FindStringSubmatch(stmt); m != nil {
			created[name(m[2])] = true
			table := name(m[3])
			if m[1] != "" && !created[table] && !allAdded(added, table, m[4]) {
				found = append(found, "UNIQUE INDEX "+name(m[2])+" on "+table)
			}
		}
		if m := dropObject.FindStringSubmatch(stmt); m != nil && !created[name(m[2])] {
			found = append(found, "DROP "+strings.ToUpper(strings.Join(strings.Fields(m[1]), " "))+" "+name(m[2]))
		}
		m := alterTable.FindStringSubmatch(stmt)
		if m == nil {
			if r := renameOther.FindStringSubmatch(stmt); r != nil {
				found = append(found, "RENAME of "+strings.ToUpper(r[1])+" "+name(r[2]))
			}
			continue
		}
		table := name(m[1])
		if created[table] {
			continue // unknown to the previous release
		}
		for _, action := range topLevel(m[2]) {
			u := strings.ToUpper(action)
			f := strings.Fields(action)
			switch {
			case strings.HasPrefix(u, "RENAME") || strings.HasPrefix(u, "SET SCHEMA"):
				found = append(found, "RENAME on "+table)
			case strings.HasPrefix(u, "DROP CONSTRAINT"):
				found = append(found, "DROP CONSTRAINT "+name(last(f, "EXISTS", 2)))
			case strings.HasPrefix(u, "DROP "):
				found = append(found, "DROP COLUMN "+name(columnName(f[1:]))+" on "+table)
			case strings.HasPrefix(u, "ALTER "):
				col := name(columnName(f[1:]))
				switch {
				case regexp.MustCompile(`\bTYPE\b`).MatchString(u):
					found = append(found, "ALTER COLUMN "+col+" TYPE on "+table)
				case strings.Contains(u, "SET NOT NULL"):
					found = append(found, "SET NOT NULL "+col+" on "+table)
				case strings.Contains(u, "DROP DEFAULT"):
					found = append(found, "DROP DEFAULT "+col+" on "+table)
				}
			case addConstraint.MatchString(u):
				c := f[1]
				if strings.EqualFold(c, "CONSTRAINT") {
					c = name(f[2])
				} else {
					c = strings.ToUpper(c)
				}
				found = append(found, "ADD CONSTRAINT "+c+" on "+table)
			case strings.HasPrefix(u, "ADD "):
				col := name(columnName(f[1:]))
				added[table+"."+col] = true
				if strings.Contains(u, "NOT NULL") && !strings.Contains(u, "DEFAULT") && !strings.Contains(u, "GENERATED") {
					found = append(found, "NOT NULL column without default "+col+" on "+table)
				}
			}
		}
	}
	return found
}

var (
	createTable   = regexp.MustCompile(`(?i)^CREATE (?:UNLOGGED |TEMP |TEMPORARY )?TABLE (?:IF NOT EXISTS )?([\w."]+)`)
	createIndex   = regexp.MustCompile(`(?i)^CREATE (UNIQUE )?INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?([\w."]+) ON (?:ONLY )?([\w."]+)(?: USING \w+)? ?\((.*?)\)`)
	dropObject    = regexp.MustCompile(`(?i)\bDROP (TABLE|VIEW|MATERIALIZED VIEW|SCHEMA|FUNCTION|PROCEDURE|TYPE|DOMAIN|SEQUENCE|INDEX|TRIGGER) (?:CONCURRENTLY )?(?:IF EXISTS )?([\w."]+)`)
	alterTable    = regexp.MustCompile(`(?i)^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([\w."]+) (.*)$`)
	renameOther   = regexp.MustCompile(`(?i)^ALTER (INDEX|SCHEMA|TYPE|VIEW|MATERIALIZED VIEW|SEQUENCE|FUNCTION|PROCEDURE|DOMAIN) (?:IF EXISTS )?([\w."]+).* RENAME\b`)
	addConstraint = regexp.MustCompile(`^ADD (CONSTRAINT|CHECK|UNIQUE|FOREIGN KEY|PRIMARY KEY|EXCLUDE)\b`)
)

// allAdded says whether every column of an index's list was added by this step: a unique
// index on them cannot refuse a row of the previous release, which leaves them NULL.
func allAdded(added map[string]bool, table, cols string) bool {
	for _, c := range strings.Split(cols, ",") {
		if !added[table+"."+name(strings.TrimSpace(c))] {
			return false
		}
	}
	return true
}

// columnName skips COLUMN and IF [NOT] EXISTS before a column's name.
func columnName(f []string) string {
	for _, w := range f {
		switch strings.ToUpper(w) {
		case "COLUMN", "IF", "NOT", "EXISTS":
			continue
		}
		return w
	}
	return ""
}

// last returns the word after the keyword kw if present, else f[i].
func last(f []string, kw string, i int) string {
	for j, w := range f {
		if strings.EqualFold(w, kw) && j+1 < len(f) {
			return f[j+1]
		}
	}
	if i < len(f) {
		return f[i]
	}
	return ""
}

func name(s string) string { return strings.ToLower(strings.ReplaceAll(s, `"`, "")) }

// topLevel splits ALTER TABLE's actions at the commas outside parentheses.
func topLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

var dollarTag = regexp.MustCompile(`^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$`)

// stripSQL blanks comments, string literals and the bodies of functions (what they do
// happens when called, not when the step runs), and keeps the body of a DO block, which
// runs with the step.
func stripSQL(sql string) string {
	var b strings.Builder
	stmt := 0 // where the current statement begins in b
	for i := 0; i < len(sql); {
		switch {
		case strings.HasPrefix(sql[i:], "--"):
			end := strings.IndexByte(sql[i:], '\n')
			if end < 0 {
				return b.String()
			}
			i += end
		case strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 4
			b.WriteByte(' ')
		case sql[i] == '\'':
			j := i + 1
			for j < len(sql) && (sql[j] != '\'' || strings.HasPrefix(sql[j:], "''")) {
				if sql[j] == '\'' {
					j++
				}
				j++
			}
			b.WriteString("''")
			i = j + 1
		case sql[i] == '$' && dollarTag.MatchString(sql[i:]):
			tag := dollarTag.FindString(sql[i:])
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				end = len(sql) - i - len(tag)
			}
			body := sql[i+len(tag) : i+len(tag)+end]
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(b.String()[stmt:])), "DO") {
				b.WriteString(" " + stripSQL(body) + " ")
			} else {
				b.WriteString(" $$ ")
			}
			i += len(tag) + end + len(tag)
		case sql[i] == ';':
			b.WriteByte(';')
			stmt = b.Len()
			i++
		default:
			b.WriteByte(sql[i])
			i++
		}
	}
	return b.String()
}
