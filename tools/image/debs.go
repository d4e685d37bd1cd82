package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// deb is one Debian package fetched for the base layer.
type deb struct {
	Name    string
	Version string
	File    string // the .deb in the cache
	Control []byte // its control file, as dpkg-deb prints it
}

// fetchDebs brings the candidate versions of names (name or name:arch) into cacheDir with
// `apt-get download`, reusing a file already there when its SHA-256 is the one apt expects.
// An empty or stale package list (a fresh machine, or a list older than the mirror) makes
// apt fail: as root, `apt-get update` runs once and the download is tried again.
func fetchDebs(cacheDir string, names []string) ([]deb, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("deb cache: %w", err)
	}
	debs, err := fetchDebsOnce(cacheDir, names)
	if err != nil && os.Geteuid() == 0 {
		if out, uerr := exec.Command("apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
			return nil, fmt.Errorf("%w; apt-get update: %v: %s", err, uerr, out)
		}
		debs, err = fetchDebsOnce(cacheDir, names)
	}
	return debs, err
}

func fetchDebsOnce(cacheDir string, names []string) ([]deb, error) {
	// --print-uris says which file apt would fetch and its hash, without fetching it; it
	// leaves out the files already in its directory, so it runs in an empty one.
	empty, err := os.MkdirTemp("", "socle-apt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(empty)
	cmd := exec.Command("apt-get", append([]string{"download", "--print-uris"}, names...)...)
	cmd.Dir = empty
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apt-get download --print-uris %s: %w%s", strings.Join(names, " "), err, stderrOf(err))
	}
	type want struct{ file, sha string }
	byName := map[string]want{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// 'URI' FILE SIZE SHA256:HEX
		f := strings.Fields(sc.Text())
		if len(f) != 4 || !strings.HasPrefix(f[3], "SHA256:") {
			return nil, fmt.Errorf("apt-get download --print-uris: unexpected line %q", sc.Text())
		}
		// Files are named package_version_arch.deb (Debian Policy §4.8 names no more; apt
		// prints them in its own order).
		pkg, _, _ := strings.Cut(f[1], "_")
		byName[pkg] = want{file: f[1], sha: strings.ToLower(strings.TrimPrefix(f[3], "SHA256:"))}
	}
	wants := make([]want, len(names))
	for i, n := range names {
		pkg, _, _ := strings.Cut(n, ":")
		w, ok := byName[pkg]
		if !ok {
			return nil, fmt.Errorf("apt-get download --print-uris: no file for %s", n)
		}
		wants[i] = w
	}
	var missing []string
	for i, w := range wants {
		if sum, err := sha256File(filepath.Join(cacheDir, w.file)); err != nil || sum != w.sha {
			missing = append(missing, names[i])
		}
	}
	if len(missing) > 0 {
		cmd := exec.Command("apt-get", append([]string{"download", "-qq"}, missing...)...)
		cmd.Dir = cacheDir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("apt-get download %s: %w: %s", strings.Join(missing, " "), err, out)
		}
	}
	debs := make([]deb, len(wants))
	for i, w := range wants {
		path := filepath.Join(cacheDir, w.file)
		sum, err := sha256File(path)
		if err != nil {
			return nil, err
		}
		if sum != w.sha {
			return nil, fmt.Errorf("%s: SHA-256 %s, apt expects %s", path, sum, w.sha)
		}
		control, err := exec.Command("dpkg-deb", "--info", path, "control").Output()
		if err != nil {
			return nil, fmt.Errorf("dpkg-deb --info %s: %w%s", path, err, stderrOf(err))
		}
		d := deb{File: path, Control: control,
			Name: controlField(control, "Package"), Version: controlField(control, "Version")}
		if d.Name == "" || d.Version == "" {
			return nil, fmt.Errorf("%s: no Package or Version in its control file", path)
		}
		debs[i] = d
	}
	return debs, nil
}

// extract unpacks a .deb's files into dir (dpkg-deb -x: no maintainer scripts run).
func (d deb) extract(dir string) error {
	if out, err := exec.Command("dpkg-deb", "-x", d.File, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", d.File, err, out)
	}
	return nil
}

// controlField reads one field of a Debian control file (Debian Policy §5.1: "Field: value",
// continuation lines start with a space).
func controlField(control []byte, name string) string {
	for _, line := range strings.Split(string(control), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, " ") && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

// hostArch is the machine's Debian architecture: the image is built for it.
func hostArch() (string, error) {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		return "", fmt.Errorf("dpkg --print-architecture: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
