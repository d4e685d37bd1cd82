package main

import (
	"archive/tar"
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The same tree gives the same bytes whatever the order it was filled in (Go's maps iterate
// in a random order), parents come before children, and nothing of the build machine (time,
// owner names) leaks in.
func TestTarballDependsOnlyOnItsContent(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	fill := func(order []string) tree {
		tr := tree{}
		for _, n := range order {
			tr.file(n, 0o644, []byte("content of "+n))
		}
		tr.dir("var/lib/socle", 0o775, 65532, 0)
		return tr
	}
	names := []string{"usr/bin/socle", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "a/b/c/d"}
	a, err := fill(names).tarball(mtime)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fill([]string{names[3], names[1], names[0], names[2]}).tarball(mtime)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two tarballs of the same tree differ")
	}
	r := tar.NewReader(bytes.NewReader(a))
	var got []string
	seen := map[string]bool{}
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if parent := filepath.Dir(name); parent != "." && !seen[parent] {
			t.Errorf("%s comes before its directory %s", name, parent)
		}
		seen[name] = true
		got = append(got, name)
		if !h.ModTime.Equal(mtime) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v, owner names %q %q", name, h.ModTime, h.Uname, h.Gname)
		}
		if name == "var/lib/socle" && (h.Uid != 65532 || h.Gid != 0 || h.Mode != 0o775) {
			t.Errorf("data directory: %d:%d %o", h.Uid, h.Gid, h.Mode)
		}
	}
	want := "a a/b a/b/c a/b/c/d etc etc/passwd etc/ssl etc/ssl/certs etc/ssl/certs/ca-certificates.crt usr usr/bin usr/bin/socle var var/lib var/lib/socle"
	if strings.Join(got, " ") != want {
		t.Errorf("entries:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, err := (tree{"../etc/passwd": entry{typ: tar.TypeReg}}).tarball(mtime); err == nil {
		t.Error("a path out of the root was accepted")
	}
}

func TestBundleTakesOnlyCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle(dir); err == nil || !strings.Contains(err.Error(), "broken.crt") {
		t.Fatalf("a broken certificate: %v", err)
	}
}

func TestControlField(t *testing.T) {
	c := []byte("Package: libc6\nVersion: 2.36-9+deb12u14\nDescription: GNU C Library\n Version: not a field\n")
	if v := controlField(c, "Version"); v != "2.36-9+deb12u14" {
		t.Errorf("Version = %q", v)
	}
	if v := controlField(c, "Depends"); v != "" {
		t.Errorf("Depends = %q", v)
	}
	if s := string(statusOf(c)); !strings.HasPrefix(s, "Package: libc6\nStatus: install ok installed\nVersion:") {
		t.Errorf("status:\n%s", s)
	}
}

// Two builds from the same binary, packages and time give the same image digest: what a
// registry stores can be rebuilt and compared.
func TestImageIsReproducible(t *testing.T) {
	for _, tool := range []string{"apt-get", "dpkg-deb", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the base is made from Debian packages", tool)
		}
	}
	if arch, err := hostArch(); err != nil || arch != "amd64" {
		t.Skipf("the base is made for amd64, not %q (%v)", arch, err)
	}
	self, err := os.Executable() // an ELF file, as socle's binary is
	if err != nil {
		t.Fatal(err)
	}
	o := options{binary: self, debCache: defaultDebCache(), version: "repro", created: 1700000000}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var digests []string
	for range 2 {
		img, err := build(o, log)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of the same inputs: %s and %s", digests[0], digests[1])
	}
	t.Logf("image digest %s, twice", digests[0])
}
