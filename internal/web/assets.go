package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Assets serves a service's embedded files (scripts, stylesheets) under a prefix, each named
// by its checksum: Path gives name?v=<checksum>, which browsers may keep for good (a new file
// is a new address); the bare name, which a script's relative import uses, is revalidated
// with its checksum as ETag.
type Assets struct {
	prefix string
	files  map[string]asset
}

type asset struct {
	body []byte
	sum  string
	kind string
}

// NewAssets reads every file of fsys, to be served under prefix ("/visio/static/").
func NewAssets(fsys fs.FS, prefix string) *Assets {
	a := &Assets{prefix: prefix, files: map[string]asset{}}
	fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		kind := mime.TypeByExtension(path.Ext(name))
		if kind == "" {
			kind = "application/octet-stream"
		}
		a.files[name] = asset{body: b, sum: hex.EncodeToString(sum[:8]), kind: kind}
		return nil
	})
	return a
}

// Path is the address of file name, with its checksum; name itself when there is no such file
// (a broken page is then seen at once).
func (a *Assets) Path(name string) string {
	f, ok := a.files[name]
	if !ok {
		return a.prefix + name
	}
	return a.prefix + name + "?v=" + f.sum
}

// ServeHTTP serves the file the path names, below the prefix.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, ok := a.files[strings.TrimPrefix(r.URL.Path, a.prefix)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.kind)
	h.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == f.sum {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+f.sum+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
