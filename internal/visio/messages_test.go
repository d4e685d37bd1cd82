package visio

import (
	"io/fs"
	"regexp"
	"testing"
)

// Every key the pages and the meeting script use has words in French and in English.
func TestEveryMessageIsInFrenchAndEnglish(t *testing.T) {
	uses := regexp.MustCompile(`call \$?\.T "([a-z.-]+)"|M\['([a-z.-]+)'\]|status\('([a-z.-]+)'`)
	keys := map[string]bool{}
	for _, fsys := range []fs.FS{templateFiles, staticFiles} {
		fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := fs.ReadFile(fsys, path)
			for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
				keys[m[1]+m[2]+m[3]] = true
			}
			return nil
		})
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys found: the pattern no longer matches the pages", len(keys))
	}
	for key := range keys {
		for _, lang := range []string{"fr", "en"} {
			if messages[lang][key] == "" {
				t.Errorf("%q has no %s words", key, lang)
			}
		}
	}
}
