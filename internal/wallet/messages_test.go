package wallet

import (
	"io/fs"
	"regexp"
	"testing"
)

// Every word of the wallet's pages is in French and in English, and every key the templates
// name has its words.
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
	uses := regexp.MustCompile(`T "([a-z0-9._-]+)"`)
	fs.WalkDir(templateFiles, ".", func(path string, d fs.DirEntry, err error) error {
		if d.IsDir() {
			return nil
		}
		b, _ := fs.ReadFile(templateFiles, path)
		for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
			if messages["fr"][m[1]] == "" {
				t.Errorf("%s names %q, which has no words", path, m[1])
			}
		}
		return nil
	})
}
