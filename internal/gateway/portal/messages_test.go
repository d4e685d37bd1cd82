package portal

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Every word of the portal is in French and in English, and every key the templates and the
// handlers name has its words.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	for key := range messages["fr"] {
		if messages["en"][key] == "" {
			t.Errorf("%q has no English", key)
		}
	}
	for key := range messages["en"] {
		if messages["fr"][key] == "" {
			t.Errorf("%q has no French", key)
		}
	}
	uses := regexp.MustCompile(`T "([a-z0-9._-]+)"|"((?:err|done|usage|stats|overlap|nav|catalogue|guide|apps|manage|edit)\.[a-z0-9._-]+)"`)
	keys := map[string]bool{}
	read := func(b []byte) {
		for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]+m[2]] = true
		}
	}
	fs.WalkDir(templateFiles, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(templateFiles, path)
			read(b)
		}
		return err
	})
	sources, _ := filepath.Glob("*.go")
	for _, name := range sources {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		read(b)
	}
	// The keys made from a value: auth methods, statuses, sources, periods, origins.
	for _, k := range []string{"auth.key", "auth.jwt", "auth.mtls", "status.pending", "status.approved", "status.refused",
		"source.file", "source.portal", "period.24h", "period.7d", "period.30d", "origin.gateway", "origin.network", "origin.upstream"} {
		keys[k] = true
	}
	if len(keys) < 150 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	for key := range keys {
		if filepath.Ext(key) == ".html" || key[len(key)-1] == '.' {
			continue
		}
		if messages["fr"][key] == "" {
			t.Errorf("%q is used but has no words", key)
		}
	}
}
