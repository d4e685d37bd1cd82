package portal

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"testing"

	"socle/internal/web"
)

// Every word of the portal is in French and in English, and every key the templates and the
// handlers name has its words.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	uses := regexp.MustCompile(`T "([a-z0-9._-]+)"|"((?:err|done|usage|stats|overlap|nav|catalogue|guide|apps|manage|edit)\.[a-z0-9._-]+)"`)
	sources, _ := filepath.Glob("*.go")
	keys, err := web.KeysUsed(uses, []fs.FS{templateFiles}, sources...)
	if err != nil {
		t.Fatal(err)
	}
	// The keys made from a value: auth methods, statuses, sources, periods, origins.
	keys = append(keys, "auth.key", "auth.jwt", "auth.mtls", "status.pending", "status.approved", "status.refused",
		"source.file", "source.portal", "period.24h", "period.7d", "period.30d", "origin.gateway", "origin.network", "origin.upstream")
	if len(keys) < 150 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	var used []string
	for _, key := range keys {
		if filepath.Ext(key) != ".html" && key[len(key)-1] != '.' {
			used = append(used, key)
		}
	}
	for _, m := range messages.Missing(used) {
		t.Error(m)
	}
}
