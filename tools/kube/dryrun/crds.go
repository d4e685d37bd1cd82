package dryrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// crdSource is where the CustomResourceDefinitions of some API groups are published: a
// directory of plain CRD manifests inside an official Go module of their project. The module is
// fetched at run time into the Go module cache (`go mod download`, checked against go.sum's
// checksum database like any module), never copied into socle's repository.
type crdSource struct {
	Module, Version string
	Dir             string // inside the module
	Groups          []string
}

// crdSources pins the versions. Each is the newest the Go module proxy serves here for the
// module that carries the CRD manifests (for prometheus-operator the root module: only its
// pkg/apis/monitoring submodule is served at later versions, and it has no manifests).
var crdSources = []crdSource{
	{
		Module: "github.com/prometheus-operator/prometheus-operator", Version: "v0.85.0",
		Dir: "example/prometheus-operator-crd", Groups: []string{"monitoring.coreos.com"},
	},
	{
		Module: "github.com/cloudnative-pg/cloudnative-pg", Version: "v1.30.0",
		Dir: "config/crd/bases", Groups: []string{"postgresql.cnpg.io"},
	},
	{
		// deploy/crds is what cert-manager's Helm chart templates its CRDs from: the same
		// schemas, without the chart's labels.
		Module: "github.com/cert-manager/cert-manager", Version: "v1.21.2",
		Dir: "deploy/crds", Groups: []string{"cert-manager.io", "acme.cert-manager.io"},
	},
}

// unavailableGroups are API groups whose schema no registry reachable here publishes; objects
// of these groups are skipped with this note rather than refused.
var unavailableGroups = map[string]string{
	"route.openshift.io": "no registry here serves a Route CRD: the Go module proxy has github.com/openshift/api " +
		"only at v3.9.0+incompatible (2018, Go types without CRD manifests), and OpenShift serves Route from its " +
		"own API server, not as a CRD; `make test` checks Routes offline",
}

func sourceFor(group string) (crdSource, bool) {
	for _, s := range crdSources {
		if slices.Contains(s.Groups, group) {
			return s, true
		}
	}
	return crdSource{}, false
}

// moduleDir downloads module@version into the module cache (a no-op when it is already there)
// and returns its directory.
func moduleDir(ctx context.Context, module, version string) (string, error) {
	// From an empty directory, outside any module: the download must not depend on, or touch,
	// the caller's go.mod.
	empty, err := os.MkdirTemp("", "socle-crd-download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(empty)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = empty
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil && err == nil {
		err = jerr
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRDs creates, for real, the CRDs that define the given group/kinds, from their
// sources, and waits until the API server serves them. It returns the CRDs installed as
// "name (module@version)" lines.
func installCRDs(ctx context.Context, dyn dynamic.Interface, needed map[schema.GroupKind]bool) ([]string, error) {
	bySource := map[string][]schema.GroupKind{} // by module
	for gk := range needed {
		if s, ok := sourceFor(gk.Group); ok {
			bySource[s.Module] = append(bySource[s.Module], gk)
		}
	}
	var installed []string
	var names []string
	for _, src := range crdSources {
		gks := bySource[src.Module]
		if len(gks) == 0 {
			continue
		}
		dir, err := moduleDir(ctx, src.Module, src.Version)
		if err != nil {
			return installed, err
		}
		files, err := filepath.Glob(filepath.Join(dir, src.Dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			return installed, fmt.Errorf("no CRD manifests in %s@%s/%s", src.Module, src.Version, src.Dir)
		}
		found := map[schema.GroupKind]bool{}
		for _, f := range files {
			docs, err := ReadFile(f)
			if err != nil {
				return installed, fmt.Errorf("CRD manifests of %s@%s: %w", src.Module, src.Version, err)
			}
			for _, d := range docs {
				if d.Err != nil || d.Obj.GetKind() != "CustomResourceDefinition" {
					continue
				}
				group, _, _ := unstructured.NestedString(d.Obj.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(d.Obj.Object, "spec", "names", "kind")
				gk := schema.GroupKind{Group: group, Kind: kind}
				if !slices.Contains(gks, gk) {
					continue
				}
				found[gk] = true
				crd := d.Obj.DeepCopy()
				crd.SetResourceVersion("")
				if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					return installed, fmt.Errorf("install CRD %s from %s@%s: %w", crd.GetName(), src.Module, src.Version, err)
				}
				names = append(names, crd.GetName())
				installed = append(installed, fmt.Sprintf("%s (%s@%s %s)", crd.GetName(), src.Module, src.Version, filepath.Join(src.Dir, filepath.Base(f))))
			}
		}
		for _, gk := range gks {
			if !found[gk] {
				return installed, fmt.Errorf("%s@%s/%s has no CRD for %s", src.Module, src.Version, src.Dir, gk)
			}
		}
	}
	sort.Strings(installed)
	return installed, waitEstablished(ctx, dyn, names)
}

// waitEstablished polls each CRD until its Established condition is True (the API server then
// serves its resource), for at most a minute.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, name := range names {
		for {
			crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && established(crd) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %v", name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
