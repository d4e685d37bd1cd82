package web

import (
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
)

// KeysUsed finds the message keys a package's pages and code name: what pattern matches (its
// submatches joined) in every file of each fsys and in the named files.
func KeysUsed(pattern *regexp.Regexp, fsyss []fs.FS, files ...string) ([]string, error) {
	keys := map[string]bool{}
	read := func(b []byte) {
		for _, m := range pattern.FindAllStringSubmatch(string(b), -1) {
			keys[strings.Join(m[1:], "")] = true
		}
	}
	for _, fsys := range fsyss {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			read(b)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		read(b)
	}
	out := make([]string, 0, len(keys))
	for k := range keys {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Missing lists what a catalog lacks: the keys it has in one language only, and the keys of
// used it has no words for.
func (c Catalog) Missing(used []string) []string {
	var out []string
	for _, pair := range [][2]string{{"fr", "en"}, {"en", "fr"}} {
		for key := range c[pair[0]] {
			if c[pair[1]][key] == "" {
				out = append(out, key+" has no "+pair[1]+" words")
			}
		}
	}
	for _, key := range used {
		if c["fr"][key] == "" || c["en"][key] == "" {
			out = append(out, key+" is used but lacks words")
		}
	}
	slices.Sort(out)
	return out
}
