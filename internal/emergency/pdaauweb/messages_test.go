package pdaauweb

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every word of the pages is in French and in English: both catalogs have the same keys, and
// every key the templates and the handlers use is in them.
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
	uses := regexp.MustCompile(`call \$?\.T "([a-z.-]+)"|"((?:err|done|when|where|problems|version|draft|open|rows|dep)\.[a-z.-]+)"`)
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
	b, err := os.ReadFile("pdaauweb.go")
	if err != nil {
		t.Fatal(err)
	}
	read(b)
	if len(keys) < 40 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	for key := range keys {
		if strings.HasSuffix(key, ".html") { // a template's name
			continue
		}
		if messages["fr"][key] == "" {
			t.Errorf("%q is used but has no words", key)
		}
	}
}
