package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"socle/internal/platform/database/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// TestImage builds the OCI image as `make image` does (tools/image, from a socle binary built
// here), reads it back from its OCI layout with nothing but the standard library and the
// image spec, checks what the runtime's rules need (a numeric non-root user, writes only in
// volumes, no shell), then runs it: its layers unpacked into a root directory, socle started
// there with chroot as an arbitrary uid that /etc/passwd does not know, in group 0 (what
// OpenShift's restricted-v2 does), against a PostgreSQL on loopback, until /readyz says 200.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("the image is linux/amd64; this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the image's base is made from Debian packages", tool)
		}
	}
	dir := t.TempDir()
	start := time.Now()
	bin := filepath.Join(dir, "socle")
	run(t, ".", []string{"CGO_ENABLED=1"}, "go", "build", "-trimpath",
		"-ldflags", "-X socle/internal/cli.version=image-test -s -w", "-o", bin, ".")
	built := time.Now()
	layoutDir, tarPath := filepath.Join(dir, "layout"), filepath.Join(dir, "socle-image.tar")
	out := run(t, "../../tools/image", nil, "go", "run", ".", "-binary", bin, "-layout", layoutDir, "-tar", tarPath,
		"-version", "image-test", "-revision", "0123456789abcdef", "-created", "1700000000")
	t.Logf("socle built in %s, image in %s: %s", built.Sub(start).Round(time.Millisecond),
		time.Since(built).Round(time.Millisecond), strings.TrimSpace(out))

	checks := time.Now()
	img := readLayout(t, layoutDir)
	cfg := img.config.Config

	// The tarball for docker/podman load is the same image.
	var archive []struct {
		Config   string
		RepoTags []string
	}
	if err := json.Unmarshal(tarMember(t, tarPath, "manifest.json"), &archive); err != nil {
		t.Fatal(err)
	}
	if len(archive) != 1 || archive[0].Config != img.manifest.Config.Digest || !slices.Equal(archive[0].RepoTags, []string{"socle:image-test"}) {
		t.Errorf("tarball's manifest.json %+v: want config %s tagged socle:image-test", archive, img.manifest.Config.Digest)
	}

	// A numeric user that is not root: Kubernetes' runAsNonRoot checks it without /etc/passwd.
	user, group, _ := strings.Cut(cfg.User, ":")
	if n, err := strconv.Atoi(user); err != nil || n == 0 {
		t.Errorf("User %q: want a numeric uid other than 0", cfg.User)
	}
	if group != "" && group != "0" {
		t.Errorf("User %q: the group, if any, must be 0, OpenShift's", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/bin/socle"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("Entrypoint %q Cmd %q", cfg.Entrypoint, cfg.Cmd)
	}
	volumes := slices.Sorted(maps.Keys(cfg.Volumes))
	inVolume := func(p string) bool {
		p = path.Clean("/" + p)
		for _, v := range volumes {
			if p == v || strings.HasPrefix(p, v+"/") {
				return true
			}
		}
		return false
	}
	env := map[string]string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if !inVolume(env["SOCLE_DATA_DIR"]) || !inVolume(cfg.WorkingDir) {
		t.Errorf("SOCLE_DATA_DIR %q and WorkingDir %q must be in a volume (%q)", env["SOCLE_DATA_DIR"], cfg.WorkingDir, volumes)
	}
	// Ports above 1023: binding them needs no capability (restricted drops them all).
	for _, name := range []string{"SOCLE_WEB_ADDR", "SOCLE_INTERCONNECT_ADDR", "SOCLE_OPS_ADDR"} {
		_, port, _ := strings.Cut(env[name], ":")
		if p, err := strconv.Atoi(port); err != nil || p < 1024 {
			t.Errorf("%s=%q: want a port above 1023", name, env[name])
		}
		if _, ok := cfg.ExposedPorts[port+"/tcp"]; !ok {
			t.Errorf("%s's port %s is not exposed (%v)", name, port, cfg.ExposedPorts)
		}
	}
	for k, want := range map[string]string{"org.opencontainers.image.title": "socle", "org.opencontainers.image.version": "image-test",
		"org.opencontainers.image.revision": "0123456789abcdef", "org.opencontainers.image.created": "2023-11-14T22:13:20Z"} {
		if cfg.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], want)
		}
	}

	// What the layers hold.
	files := map[string]*tar.Header{}
	for _, l := range img.layers {
		for _, h := range l.entries {
			files[strings.TrimSuffix(path.Clean(h.Name), "/")] = h
		}
	}
	for name, h := range files {
		mode := h.FileInfo().Mode()
		if mode&fs.ModeSymlink != 0 {
			continue
		}
		// Only a volume may be writable by the process, whichever uid it gets.
		if (mode.Perm()&0o022 != 0 || h.Uid != 0) && !inVolume(name) {
			t.Errorf("%s (%v, %d:%d) is writable by others than root outside the volumes", name, mode, h.Uid, h.Gid)
		}
		if mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
			t.Errorf("%s is setuid or setgid", name)
		}
		// No shell, no tools: the only programs are socle and the dynamic loader.
		if mode.IsRegular() && mode.Perm()&0o111 != 0 && name != "usr/bin/socle" && !strings.Contains(path.Base(name), ".so") {
			t.Errorf("%s is executable: the image holds no program but socle", name)
		}
	}
	for _, shell := range []string{"bin/sh", "usr/bin/sh", "bin/bash", "bin/dash", "bin/busybox", "usr/bin/apt-get", "usr/bin/dpkg"} {
		if _, ok := files[shell]; ok {
			t.Errorf("%s is in the image", shell)
		}
	}
	if h, ok := files["usr/bin/socle"]; !ok || h.Mode&0o111 == 0 {
		t.Error("no executable /usr/bin/socle")
	}
	if h, ok := files["etc/ssl/certs/ca-certificates.crt"]; !ok || h.Size == 0 {
		t.Error("no CA bundle at /etc/ssl/certs/ca-certificates.crt")
	}

	// Sizes. The base (everything but socle) is what this image adds: 8 MiB compressed is a
	// little over twice what it is (3.6 MiB), room for Debian's updates but not for libc6 kept
	// whole (2.7 MiB compressed as Debian ships it) plus another library stack. socle's layer
	// holds the binary and its data directory, nothing else.
	var compressed, uncompressed int64
	for _, l := range img.layers {
		compressed += l.desc.Size
		uncompressed += l.uncompressed
	}
	binSize := fileSize(t, bin)
	if base := img.layers[0].desc.Size; base > 8<<20 {
		t.Errorf("base layer: %.1f MiB compressed, over 8 MiB", float64(base)/(1<<20))
	}
	if app := img.layers[len(img.layers)-1]; app.uncompressed > binSize+16<<10 {
		t.Errorf("socle's layer: %d bytes for a binary of %d", app.uncompressed, binSize)
	}
	t.Logf("image: %d layers, %.1f MiB compressed (base %.1f), %.1f MiB uncompressed; socle binary %.1f MiB",
		len(img.layers), float64(compressed)/(1<<20), float64(img.layers[0].desc.Size)/(1<<20),
		float64(uncompressed)/(1<<20), float64(binSize)/(1<<20))

	// Run it.
	if os.Geteuid() != 0 {
		t.Skip("running the image needs root (chroot, an arbitrary uid): skipped, the checks of its layout passed")
	}
	root := filepath.Join(dir, "rootfs")
	unpack(t, img, root)
	if n := countCerts(t, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); n < 100 {
		t.Errorf("CA bundle: %d certificates", n)
	}
	uid := uint32(100000 + rand.IntN(1<<30))
	passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(passwd), fmt.Sprintf(":%d:", uid)) {
		t.Fatalf("uid %d is in /etc/passwd", uid)
	}
	t.Logf("layout read, checked and unpacked in %s", time.Since(checks).Round(time.Millisecond))
	c := container{root: root, uid: uid, env: cfg.Env, workdir: cfg.WorkingDir, entrypoint: cfg.Entrypoint, cmd: cfg.Cmd}
	runStart := time.Now()
	if out, err := c.command(nil, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "socle image-test ") {
		t.Fatalf("socle version as uid %d: %v: %s", uid, err, out)
	}
	// PKCS#11 modules are often C++: the image's loader must find their runtime without the
	// ld.so.cache that ldconfig would have made.
	ld := c.command(nil, "--list", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
	ld.Path, ld.Args[0] = "/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"
	if out, err := ld.CombinedOutput(); err != nil || strings.Contains(string(out), "not found") || !strings.Contains(string(out), "libgcc_s.so.1 =>") {
		t.Errorf("ld.so --list libstdc++.so.6 in the image: %v:\n%s", err, out)
	}

	// Without SOCLE_DATABASE_URL socle would run its private cluster, whose server is not in
	// the image: it says so and stops.
	if out, err := c.command(nil).CombinedOutput(); err == nil || !strings.Contains(string(out), "SOCLE_DATABASE_URL") {
		t.Errorf("socle serve without SOCLE_DATABASE_URL in the image: %v:\n%s", err, out)
	}

	// socle serve against an external PostgreSQL, every service, as the Deployment runs it;
	// the wallet's issuer key in a PKCS#11 token when SoftHSM2 is installed (make deps).
	hsmEnv, hsmTokens := softHSM(t, root, uid)
	url := dbtest.NewURL(t)
	logPath := filepath.Join(dir, "serve.log")
	logs, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	serve := c.command(append([]string{"SOCLE_DATABASE_URL=" + url, "SOCLE_MIGRATE=always", "SOCLE_LOG_LEVEL=warn",
		"SOCLE_WEB_ADDR=127.0.0.1:0", "SOCLE_INTERCONNECT_ADDR=127.0.0.1:0", "SOCLE_OPS_ADDR=127.0.0.1:0"}, hsmEnv...))
	serve.Stdout, serve.Stderr = logs, logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		if serve.ProcessState == nil {
			serve.Process.Kill()
			<-exited
		}
	}()
	failed := func(format string, args ...any) {
		t.Helper()
		b, _ := os.ReadFile(logPath)
		t.Fatalf(format+"\nsocle's log:\n%s", append(args, b)...)
	}
	dataDir := filepath.Join(root, env["SOCLE_DATA_DIR"])
	var bound map[string]string
	deadline := time.Now().Add(90 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dataDir, "listeners.json"))
		if err == nil && json.Unmarshal(b, &bound) == nil && bound["ops"] != "" {
			break
		}
		select {
		case err := <-exited:
			failed("socle serve exited before listening: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			failed("socle serve did not say where it listens")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The ops listener's certificate is the development PKI's, made in the volume at start.
	cas := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dataDir, "pki", "ca.crt"))
	if err != nil || !cas.AppendCertsFromPEM(caPEM) {
		failed("the development CA in the data directory: %v", err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas}}}
	var status int
	for status != http.StatusOK {
		if resp, err := client.Get("https://" + bound["ops"] + "/readyz"); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			failed("/readyz: %d", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ready := time.Since(runStart)
	serve.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			failed("socle serve after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		failed("socle serve did not stop within 60 s of SIGTERM")
	}
	t.Logf("in the image as uid %d gid 0: socle version, then socle serve ready (/readyz 200) %s after start",
		uid, ready.Round(time.Millisecond))
	if hsmTokens != "" {
		// The wallet made its issuer key in the token through the module it loaded (dlopen).
		// SoftHSM keeps each object as a file; token.object is the token's own, made by
		// softhsm2-util: the key pair is two more.
		objects, _ := filepath.Glob(filepath.Join(hsmTokens, "*", "*.object"))
		objects = slices.DeleteFunc(objects, func(p string) bool { return filepath.Base(p) == "token.object" })
		logged, _ := os.ReadFile(logPath)
		if len(objects) < 2 || !strings.Contains(string(logged), "making it") {
			failed("no key made in the PKCS#11 token (%d objects)", len(objects))
		}
		t.Logf("PKCS#11 in the image: SoftHSM2's module loaded, the wallet's issuer key pair made in its token (%d objects)", len(objects))
	}

	// What the process wrote: only in the volumes, and as its uid in group 0.
	var written []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(root, p)
		if name == "." {
			return nil
		}
		name = filepath.ToSlash(name)
		h, known := files[name]
		info, err := e.Info()
		if err != nil {
			return err
		}
		if known {
			switch {
			case info.IsDir():
				return nil
			case info.Mode()&fs.ModeSymlink != 0:
				if target, _ := os.Readlink(p); target == h.Linkname {
					return nil
				}
			case info.Size() == h.Size && info.ModTime().Equal(h.ModTime):
				return nil
			}
		}
		st := info.Sys().(*syscall.Stat_t)
		if !inVolume(name) {
			t.Errorf("%s was written outside the volumes", name)
		} else if st.Uid != uid || st.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want %d:0", name, st.Uid, st.Gid, uid)
		}
		written = append(written, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) == 0 {
		t.Error("socle wrote nothing: the check of where it writes checked nothing")
	}
	t.Logf("socle wrote %d files and directories, all under %q: %s", len(written), volumes, strings.Join(written, " "))
}

// softHSM puts SoftHSM2's PKCS#11 module in the image's volume, with the libraries it needs
// that the image does not have (OpenSSL's libcrypto), and a token for uid, as an operator
// mounts a vendor's module: it returns the settings that make the wallet use it, and the
// tokens' directory on this side of the chroot. Without SoftHSM2, nothing.
func softHSM(t *testing.T, root string, uid uint32) (env []string, tokens string) {
	t.Helper()
	module := ""
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
		}
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil || module == "" {
		t.Log("SoftHSM2 is not installed (make deps installs it): socle serve runs with key files, not PKCS#11")
		return nil, ""
	}
	const inImage = "/var/lib/socle/hsm"
	dir := filepath.Join(root, inImage)
	tokens = filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile := func(from string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(from)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(module)
	// ldd: "libcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x...)"; what the image
	// lacks comes with the module.
	out, err := exec.Command("ldd", module).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", module, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "=>" {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "lib/x86_64-linux-gnu", f[0])); err == nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "usr/lib/x86_64-linux-gnu", f[0])); err == nil {
			continue
		}
		copyFile(f[2])
	}
	conf := func(tokenDir string) string {
		return "directories.tokendir = " + tokenDir + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "softhsm2.conf"), []byte(conf(inImage+"/tokens")), 0o644); err != nil {
		t.Fatal(err)
	}
	hostConf := filepath.Join(t.TempDir(), "softhsm2.conf")
	if err := os.WriteFile(hostConf, []byte(conf(tokens)), 0o644); err != nil {
		t.Fatal(err)
	}
	init := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "socle-image", "--pin", "4321", "--so-pin", "87654321")
	init.Env = append(os.Environ(), "SOFTHSM2_CONF="+hostConf)
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(uid), 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"SOFTHSM2_CONF=" + inImage + "/softhsm2.conf", "LD_LIBRARY_PATH=" + inImage,
		"SOCLE_WALLET_PKCS11_MODULE=" + inImage + "/" + filepath.Base(module),
		"SOCLE_WALLET_PKCS11_TOKEN=socle-image", "SOCLE_WALLET_PKCS11_PIN=4321"}, tokens
}

// container runs the image's programs in root as uid, group 0, no supplementary group, with
// the image's environment only: what a runtime does, less the namespaces. The root has no
// /proc, /dev or /sys (a runtime mounts them): socle must start without them, and does.
type container struct {
	root            string
	uid             uint32
	env, entrypoint []string
	cmd             []string // the arguments when none are given
	workdir         string
}

func (c container) command(env []string, args ...string) *exec.Cmd {
	if len(args) == 0 {
		args = c.cmd
	}
	cmd := exec.Command(c.entrypoint[0], append(slices.Clone(c.entrypoint[1:]), args...)...)
	cmd.Env = append(slices.Clone(c.env), env...)
	cmd.Dir = c.workdir // after the chroot
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: c.root,
		Credential: &syscall.Credential{Uid: c.uid, Gid: 0, Groups: []uint32{}}}
	return cmd
}

// image is an OCI image read from a layout directory (OCI image layout spec 1.1: index.json,
// blobs/<alg>/<hex>), every blob checked against its digest and size.
type image struct {
	manifest struct {
		MediaType string
		Config    descriptor
		Layers    []descriptor
	}
	config struct {
		Architecture, OS string
		Config           struct {
			User                  string
			Env, Entrypoint, Cmd  []string
			WorkingDir            string
			ExposedPorts, Volumes map[string]struct{}
			Labels                map[string]string
		}
		RootFS struct {
			Type    string
			DiffIDs []string `json:"diff_ids"`
		}
	}
	layers []layer
}

type descriptor struct {
	MediaType   string
	Digest      string
	Size        int64
	Annotations map[string]string
}

type layer struct {
	desc         descriptor
	data         []byte // as stored: gzip
	entries      []*tar.Header
	uncompressed int64
}

func readLayout(t *testing.T, dir string) *image {
	t.Helper()
	var index struct {
		SchemaVersion int
		Manifests     []descriptor
	}
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &index); err != nil || index.SchemaVersion != 2 || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v: %s", err, b)
	}
	m := index.Manifests[0]
	if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.Annotations["org.opencontainers.image.ref.name"] != "image-test" {
		t.Errorf("index.json's manifest: %+v", m)
	}
	img := &image{}
	if err := json.Unmarshal(blob(t, dir, m), &img.manifest); err != nil {
		t.Fatal(err)
	}
	if img.manifest.Config.MediaType != "application/vnd.oci.image.config.v1+json" {
		t.Errorf("config media type %q", img.manifest.Config.MediaType)
	}
	if err := json.Unmarshal(blob(t, dir, img.manifest.Config), &img.config); err != nil {
		t.Fatal(err)
	}
	if img.config.OS != "linux" || img.config.Architecture != "amd64" || img.config.RootFS.Type != "layers" ||
		len(img.config.RootFS.DiffIDs) != len(img.manifest.Layers) || len(img.manifest.Layers) < 2 {
		t.Fatalf("config: %s/%s, rootfs %+v for %d layers", img.config.OS, img.config.Architecture, img.config.RootFS, len(img.manifest.Layers))
	}
	for i, d := range img.manifest.Layers {
		if d.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer %d: media type %q", i, d.MediaType)
		}
		l := layer{desc: d, data: blob(t, dir, d)}
		zr, err := gzip.NewReader(bytes.NewReader(l.data))
		if err != nil {
			t.Fatal(err)
		}
		// The diff ID is the digest of the uncompressed tar (image spec, config.md).
		h, n := sha256.New(), &counter{}
		tr := tar.NewReader(io.TeeReader(zr, io.MultiWriter(h, n)))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			l.entries = append(l.entries, hdr)
		}
		io.Copy(io.MultiWriter(h, n), zr) // the tar's trailing padding
		l.uncompressed = n.n
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != img.config.RootFS.DiffIDs[i] {
			t.Errorf("layer %d: diff ID %s, config says %s", i, got, img.config.RootFS.DiffIDs[i])
		}
		img.layers = append(img.layers, l)
	}
	return img
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func blob(t *testing.T, dir string, d descriptor) []byte {
	t.Helper()
	alg, hexDigest, _ := strings.Cut(d.Digest, ":")
	if alg != "sha256" || len(hexDigest) != 64 {
		t.Fatalf("digest %q", d.Digest)
	}
	b, err := os.ReadFile(filepath.Join(dir, "blobs", alg, hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexDigest || int64(len(b)) != d.Size {
		t.Fatalf("blob %s: %d bytes, digest %x; the descriptor says %d bytes", d.Digest, len(b), sum, d.Size)
	}
	return b
}

// unpack applies the layers in order into root, with their owners and modes, confined to root
// (os.Root: a symbolic link in a layer cannot lead a later entry out of it).
func unpack(t *testing.T, img *image, root string) {
	t.Helper()
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755) // the image's / is root's, 0755, whatever the umask
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, l := range img.layers {
		zr, err := gzip.NewReader(bytes.NewReader(l.data))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := path.Clean(h.Name)
			if strings.HasPrefix(path.Base(name), ".wh.") {
				t.Fatalf("layer %d: whiteout %s: this image's layers only add", i, name)
			}
			mode := h.FileInfo().Mode()
			switch h.Typeflag {
			case tar.TypeDir:
				err = r.Mkdir(name, 0o700)
				if errors.Is(err, fs.ErrExist) {
					err = nil
				}
			case tar.TypeReg:
				var f *os.File
				if f, err = r.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600); err == nil {
					_, err = io.Copy(f, tr)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
			case tar.TypeSymlink:
				err = r.Symlink(h.Linkname, name)
			default:
				err = fmt.Errorf("type %q", h.Typeflag)
			}
			if err == nil {
				err = r.Lchown(name, h.Uid, h.Gid)
			}
			if err == nil && h.Typeflag != tar.TypeSymlink {
				// After the chown, which clears set-id bits; the umask played no part.
				if err = r.Chmod(name, mode); err == nil {
					err = r.Chtimes(name, h.ModTime, h.ModTime)
				}
			}
			if err != nil {
				t.Fatalf("layer %d: %s: %v", i, name, err)
			}
		}
	}
}

func tarMember(t *testing.T, tarPath, name string) []byte {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, tarPath, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func countCerts(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("%s: certificate %d: %v", p, n+1, err)
		}
		n++
	}
	return n
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// run runs a command in dir and returns what it printed, failing the test if it fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
