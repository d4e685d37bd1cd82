package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The base is what a distroless image holds, taken from Debian's own packages: the C library
// that socle links against (it is built with cgo so that the wallet can load a PKCS#11
// module), the C++ runtime such modules are commonly written against, the CA certificates,
// the time zones, the files that say which Debian this is, and the packages' licences. No
// shell, no package manager, no tools.
//
// Each package says which of its files the image keeps; usr/share/doc/<package>/copyright is
// kept for every package (the licences of what is redistributed).
type basePackage struct {
	name string
	why  string
	keep func(name string) bool
}

// multiarch is Debian's directory name for the machine's libraries (amd64 only for now).
const multiarch = "x86_64-linux-gnu"

var basePackages = []basePackage{
	{name: "libc6", why: "the C library and dynamic loader that socle (cgo) and PKCS#11 modules link against",
		keep: func(n string) bool {
			// The shared objects and the loader; not the debugging and profiling helpers,
			// the gconv modules (iconv), the locales, the tools.
			if n == "lib64/ld-linux-x86-64.so.2" {
				return true
			}
			dir, file := path.Split(n)
			if dir != "lib/"+multiarch+"/" || !strings.Contains(file, ".so") {
				return false
			}
			for _, drop := range []string{"libmemusage", "libpcprofile", "libc_malloc_debug", "libthread_db"} {
				if strings.HasPrefix(file, drop) {
					return false
				}
			}
			return true
		}},
	{name: "libgcc-s1", why: "the unwinder, for PKCS#11 modules in C++ (and glibc's thread cancellation)",
		keep: func(n string) bool { return strings.HasPrefix(n, "lib/"+multiarch+"/libgcc_s.so") }},
	{name: "libstdc++6", why: "the C++ runtime of PKCS#11 modules written in C++ (SoftHSM's, most vendors')",
		keep: func(n string) bool { return strings.HasPrefix(n, "usr/lib/"+multiarch+"/libstdc++.so") }},
	{name: "gcc-12-base", why: "the licence of libgcc-s1 and libstdc++6 (their doc directories point to it)",
		keep: func(string) bool { return false }},
	{name: "ca-certificates", why: "Mozilla's CA certificates: the bundle /etc/ssl/certs/ca-certificates.crt is made from them",
		keep: func(string) bool { return false }},
	{name: "tzdata", why: "the time zones (time.LoadLocation), less the leap-second and POSIX duplicates",
		keep: func(n string) bool {
			rest, ok := strings.CutPrefix(n, "usr/share/zoneinfo/")
			if !ok {
				return false
			}
			top, _, _ := strings.Cut(rest, "/")
			switch top {
			case "right", "posix", "localtime", "leapseconds", "leap-seconds.list", "tzdata.zi":
				return false
			}
			return true
		}},
	{name: "base-files", why: "/etc/os-release and /etc/debian_version: how scanners know which Debian's advisories apply",
		keep: func(n string) bool {
			return n == "etc/os-release" || n == "usr/lib/os-release" || n == "etc/debian_version"
		}},
}

// caBundle is where Go (crypto/x509's root_linux.go, first of its list), OpenSSL and curl on
// Debian look for the CA certificates.
const caBundle = "etc/ssl/certs/ca-certificates.crt"

// baseTree extracts the packages and keeps what each says, plus the CA bundle made from
// ca-certificates' certificates as its update-ca-certificates would (sorted by file name,
// each checked to parse), the packages' status for scanners, and the account files.
func baseTree(debs []deb, work string) (tree, error) {
	t := tree{}
	for i, d := range debs {
		p := basePackages[i]
		if d.Name != p.name {
			return nil, fmt.Errorf("base: fetched %s where %s was asked", d.Name, p.name)
		}
		dir := filepath.Join(work, p.name)
		if err := d.extract(dir); err != nil {
			return nil, err
		}
		err := filepath.WalkDir(dir, func(full string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			name, _ := filepath.Rel(dir, full)
			name = filepath.ToSlash(name)
			docDir := "usr/share/doc/" + p.name
			if p.keep(name) || name == docDir+"/copyright" || name == docDir && e.Type()&fs.ModeSymlink != 0 {
				return t.copyFrom(dir, name)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("base: %s: %w", p.name, err)
		}
		if p.name == "ca-certificates" {
			b, err := bundle(filepath.Join(dir, "usr/share/ca-certificates/mozilla"))
			if err != nil {
				return nil, err
			}
			t.file(caBundle, 0o644, b)
		}
		// A status file per package, as distroless writes them, so that image scanners
		// (Trivy, Grype) find the packages and their versions without a dpkg database.
		t.file("var/lib/dpkg/status.d/"+p.name, 0o644, statusOf(d.Control))
	}
	for _, need := range []string{"lib64/ld-linux-x86-64.so.2", "lib/" + multiarch + "/libc.so.6", caBundle, "usr/share/zoneinfo/Europe/Paris", "etc/os-release"} {
		if _, ok := t[need]; !ok {
			return nil, fmt.Errorf("base: %s is missing from the packages", need)
		}
	}
	// The accounts: root, and socle's user (uid 65532, the distroless "nonroot" number) whose
	// group is root's, 0: OpenShift runs the process as an arbitrary uid in group 0, so what
	// socle must write is group 0's and group-writable, and any uid works the same.
	t.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\n"+
		"socle:x:65532:0:socle:/var/lib/socle:/sbin/nologin\n"))
	t.file("etc/group", 0o644, []byte("root:x:0:\n"))
	// Host names from /etc/hosts first, then DNS: what glibc and Go's resolver do without the
	// file, said explicitly.
	t.file("etc/nsswitch.conf", 0o644, []byte("passwd: files\ngroup: files\nhosts: files dns\n"))
	return t, nil
}

// bundle concatenates the PEM certificates in dir, sorted by file name, refusing any file that
// is not exactly one parseable certificate.
func bundle(dir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		block, rest := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("ca-certificates: %s: not one PEM certificate", f)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("ca-certificates: %s: %w", f, err)
		}
		out.Write(pem.EncodeToMemory(block))
	}
	if len(files) < 50 {
		return nil, fmt.Errorf("ca-certificates: only %d certificates in %s", len(files), dir)
	}
	return out.Bytes(), nil
}

// statusOf is a package's control file with the status line dpkg would add once installed.
func statusOf(control []byte) []byte {
	c := bytes.TrimRight(control, "\n")
	var out bytes.Buffer
	for i, line := range bytes.Split(c, []byte("\n")) {
		out.Write(line)
		out.WriteByte('\n')
		if i == 0 {
			out.WriteString("Status: install ok installed\n")
		}
	}
	return out.Bytes()
}
