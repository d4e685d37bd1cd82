package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entry is one file, directory or symbolic link of a layer.
type entry struct {
	typ      byte // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	mode     int64
	uid, gid int
	data     []byte
	link     string
}

// tree is the content of one layer, by path relative to the root ("etc/passwd").
type tree map[string]entry

func (t tree) file(name string, mode int64, data []byte) {
	t[name] = entry{typ: tar.TypeReg, mode: mode, data: data}
}

func (t tree) dir(name string, mode int64, uid, gid int) {
	t[name] = entry{typ: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

// copyFrom adds the regular file or symbolic link at root/name, owned by root, with its mode
// less the write bits of group and others (nothing in the base is writable but by root).
func (t tree) copyFrom(root, name string) error {
	p := filepath.Join(root, name)
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := os.Readlink(p)
		if err != nil {
			return err
		}
		t[name] = entry{typ: tar.TypeSymlink, mode: 0o777, link: link}
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		t.file(name, int64(fi.Mode().Perm()&^0o022), b)
	default:
		return fmt.Errorf("%s: neither a file nor a symbolic link", p)
	}
	return nil
}

// tarball writes the tree as a tar stream that depends on nothing but its content: entries
// sorted by name, each parent directory before what it holds, one modification time, numeric
// owners without names. The same inputs give the same bytes, hence the same layer digest.
func (t tree) tarball(mtime time.Time) ([]byte, error) {
	// Parent directories that were not given explicitly: root-owned, 0755.
	for name := range t {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := t[d]; !ok {
				t.dir(d, 0o755, 0, 0)
			}
		}
	}
	names := make([]string, 0, len(t))
	for name := range t {
		if name == "" || name == "." || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
			return nil, fmt.Errorf("layer: bad path %q", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, name := range names {
		e := t[name]
		h := &tar.Header{Typeflag: e.typ, Name: name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			ModTime: mtime, Format: tar.FormatPAX}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeReg:
			h.Size = int64(len(e.data))
		case tar.TypeSymlink:
			h.Linkname = e.link
		}
		if err := w.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := w.Write(e.data); err != nil {
				return nil, err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
