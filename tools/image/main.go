// Command image builds socle's OCI image without a container engine: a distroless-like base
// assembled from Debian packages (apt-get download, dpkg-deb -x) and a layer with the socle
// binary, put together with go-containerregistry and written as an OCI image layout and as a
// tarball that `docker load` and `podman load` read. It lives in its own Go module so that
// go-containerregistry stays out of socle's go.mod. `make image` runs it; docs/operations-image.md
// says what is in the image and why.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's contract with its runtime.
const (
	// uid is socle's user: numeric, so that Kubernetes' runAsNonRoot can check it without
	// reading /etc/passwd, and never needed as such: any uid in group 0 works (OpenShift).
	uid     = 65532
	dataDir = "var/lib/socle"
	binPath = "usr/bin/socle"
)

// options are the command's flags.
type options struct {
	binary, tarPath, layoutPath, debCache string
	version, revision, source, licenses   string
	created                               int64
}

func main() {
	var o options
	epoch, _ := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	flag.StringVar(&o.binary, "binary", "", "the socle binary to put in the image (linux, the machine's architecture)")
	flag.StringVar(&o.tarPath, "tar", "", "write the image as a tarball that docker load / podman load read")
	flag.StringVar(&o.layoutPath, "layout", "", "write the image as an OCI image layout directory (replaced)")
	flag.StringVar(&o.debCache, "deb-cache", defaultDebCache(), "where the Debian packages are kept between builds")
	flag.StringVar(&o.version, "version", "dev", "socle's version: the image's tag and org.opencontainers.image.version")
	flag.StringVar(&o.revision, "revision", "", "the commit it is built from (org.opencontainers.image.revision)")
	flag.StringVar(&o.source, "source", "", "the source repository's URL (org.opencontainers.image.source); empty: no label")
	flag.StringVar(&o.licenses, "licenses", "", "SPDX expression of socle's licence (org.opencontainers.image.licenses); empty: no label")
	flag.Int64Var(&o.created, "created", epoch, "creation time, Unix seconds, also every file's mtime (default $SOURCE_DATE_EPOCH, else 0): the same inputs give the same image")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(o, log); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// defaultDebCache is the user's cache directory, or the temporary one when there is none (no
// $HOME): never a directory relative to the work tree.
func defaultDebCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "socle-image-debs")
}

func run(o options, log *slog.Logger) error {
	if o.binary == "" || o.tarPath == "" && o.layoutPath == "" {
		return fmt.Errorf("-binary and at least one of -tar, -layout are required")
	}
	img, err := build(o, log)
	if err != nil {
		return err
	}
	tag, err := name.NewTag("socle:" + o.version)
	if err != nil {
		return fmt.Errorf("-version %q is not a valid image tag: %w", o.version, err)
	}
	if o.layoutPath != "" {
		if err := os.RemoveAll(o.layoutPath); err != nil {
			return err
		}
		p, err := layout.Write(o.layoutPath, empty.Index)
		if err != nil {
			return fmt.Errorf("OCI layout: %w", err)
		}
		// The ref name lets `skopeo copy oci:<dir>:<version>` pick the image (OCI image
		// layout spec, annotations: org.opencontainers.image.ref.name).
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": o.version})); err != nil {
			return fmt.Errorf("OCI layout: %w", err)
		}
	}
	if o.tarPath != "" {
		if err := tarball.WriteToFile(o.tarPath, tag, img); err != nil {
			return fmt.Errorf("tarball: %w", err)
		}
	}
	return report(img, tag, o, log)
}

// report says how big the image is: compressed (what a registry stores and a node pulls) and
// uncompressed (what it takes on the node's disk).
func report(img v1.Image, tag name.Tag, o options, log *slog.Logger) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var compressed, uncompressed int64
	for _, l := range layers {
		c, err := l.Size()
		if err != nil {
			return err
		}
		u, err := l.Uncompressed()
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, u)
		u.Close()
		if err != nil {
			return err
		}
		compressed += c
		uncompressed += n
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s: %d layers, %.1f MiB compressed, %.1f MiB uncompressed\n", tag, d, len(layers),
		float64(compressed)/(1<<20), float64(uncompressed)/(1<<20))
	if o.layoutPath != "" {
		fmt.Printf("  OCI layout: %s\n", o.layoutPath)
	}
	if o.tarPath != "" {
		fmt.Printf("  tarball:    %s (docker load -i / podman load -i)\n", o.tarPath)
	}
	return nil
}

// build assembles the image: the base layer, socle's layer, and the configuration.
func build(o options, log *slog.Logger) (v1.Image, error) {
	arch, err := hostArch()
	if err != nil {
		return nil, err
	}
	if arch != "amd64" {
		return nil, fmt.Errorf("the base is made for amd64 (multiarch %s), this machine is %s", multiarch, arch)
	}
	mtime := time.Unix(o.created, 0).UTC()
	names := make([]string, len(basePackages))
	for i, p := range basePackages {
		names[i] = p.name + ":" + arch
		if p.name == "ca-certificates" || p.name == "tzdata" {
			names[i] = p.name // Architecture: all
		}
	}
	debs, err := fetchDebs(o.debCache, names)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "socle-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	base, err := baseTree(debs, work)
	if err != nil {
		return nil, err
	}
	baseTar, err := base.tarball(mtime)
	if err != nil {
		return nil, err
	}
	var pkgs []string
	for _, d := range debs {
		pkgs = append(pkgs, d.Name+"="+d.Version)
	}
	log.Info("base from Debian packages", "packages", strings.Join(pkgs, " "))

	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, fmt.Errorf("-binary: %w", err)
	}
	if !bytes.HasPrefix(bin, []byte("\x7fELF")) {
		return nil, fmt.Errorf("-binary %s: not an ELF executable", o.binary)
	}
	app := tree{}
	app.file(binPath, 0o755, bin)
	// The data directory: socle's uid owns it, group 0 has the same rights (g=u), so that
	// OpenShift's arbitrary uid in group 0 writes there too. It is a declared volume: the
	// only place the process writes.
	app.dir(dataDir, 0o775, uid, 0)
	appTar, err := app.tarball(mtime)
	if err != nil {
		return nil, err
	}

	created := v1.Time{Time: mtime}
	labels := map[string]string{
		"org.opencontainers.image.title":       "socle",
		"org.opencontainers.image.description": "socle: the State's base platform (emergency caller location, web conference, API gateway, citizen wallet, collaboration)",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     mtime.Format(time.RFC3339),
	}
	for k, v := range map[string]string{"revision": o.revision, "source": o.source, "licenses": o.licenses} {
		if v != "" {
			labels["org.opencontainers.image."+k] = v
		}
	}
	cfg := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      created,
		// "layers" is the only type the OCI image spec (config.md, rootfs) defines; the diff
		// IDs are added with the layers.
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:       fmt.Sprintf("%d:0", uid),
			Entrypoint: []string{"/" + binPath},
			Cmd:        []string{"serve"},
			WorkingDir: "/" + dataDir,
			Env: []string{
				"PATH=/usr/bin",
				"HOME=/" + dataDir,
				"SOCLE_DATA_DIR=/" + dataDir,
				// Ports above 1023: no privilege needed to bind them.
				"SOCLE_WEB_ADDR=:8080",
				"SOCLE_INTERCONNECT_ADDR=:8443",
				"SOCLE_OPS_ADDR=:9090",
				// One JSON object a line, what container log collectors parse.
				"SOCLE_LOG_FORMAT=json",
			},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}, "8443/tcp": {}, "9090/tcp": {}},
			Volumes:      map[string]struct{}{"/" + dataDir: {}},
			Labels:       labels,
			StopSignal:   "SIGTERM",
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, l := range []struct {
		data []byte
		by   string
	}{
		{baseTar, "debian packages " + strings.Join(pkgs, " ")},
		{appTar, "socle " + o.version},
	} {
		// Compressed once and kept: the digest, the layout and the tarball read the same bytes.
		layer, err := tarball.LayerFromOpener(opener(l.data), tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: layer, History: v1.History{Created: created, CreatedBy: "tools/image: " + l.by}})
	}
	return mutate.Append(img, adds...)
}

func opener(b []byte) tarball.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
