package dryrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// binDir is where `make deploy-check` builds kube-apiserver and etcd.
func binDir() string {
	if d := os.Getenv("KUBE_BIN_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "bin", "kube")
}

// TestDryRun runs the real API server: the sample manifests are all accepted, and each bad one
// is refused for the reason it was written for. It needs the binaries (minutes to build), so
// it skips without them; `make deploy-check` builds them and runs it.
func TestDryRun(t *testing.T) {
	if _, _, err := Binaries(binDir()); err != nil {
		t.Skipf("no API server to test against (%v); `make deploy-check` builds it and runs this test", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, Options{BinDir: binDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("etcd and kube-apiserver ready in %s", time.Since(start).Round(time.Millisecond))

	check := func(t *testing.T, files ...string) *Report {
		t.Helper()
		var docs []Doc
		for _, f := range files {
			d, err := ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d...)
		}
		rep, err := Check(ctx, c.Config, docs, CheckOptions{Namespace: "socle"})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		rep.Print(&out)
		t.Log("\n" + out.String())
		return rep
	}
	find := func(t *testing.T, rep *Report, label, name string) Result {
		t.Helper()
		for _, r := range rep.Results {
			if r.Label() == label && r.Name == name {
				return r
			}
		}
		t.Fatalf("no result for %s %s", label, name)
		return Result{}
	}

	t.Run("samples are accepted", func(t *testing.T) {
		rep := check(t, filepath.Join("..", "testdata", "samples", "socle.yaml"))
		if r := rep.Refused(); len(r) > 0 {
			t.Fatalf("refused: %+v", r)
		}
		for _, r := range rep.Results {
			if r.Outcome == Skipped && r.Kind != "Route" {
				t.Errorf("%s %s skipped: %s", r.Kind, r.Name, r.Reason)
			}
		}
		// Every kind of the sample was judged by the API server, CRD-backed ones included,
		// and each workload's pod was checked against Pod Security.
		for _, want := range []struct{ label, name string }{
			{"ServiceMonitor", "socle"}, {"PrometheusRule", "socle"}, {"Cluster", "socle-db"},
			{"Certificate", "socle-tls"}, {"Issuer", "socle-selfsigned"}, {"Ingress", "socle-web"},
			{"NetworkPolicy", "socle-web"}, {"PodDisruptionBudget", "socle-web"},
			{"Pod (from Deployment/socle-web)", "socle-web-dryrun"},
			{"Pod (from StatefulSet/socle-interconnect)", "socle-interconnect-0"},
			{"Pod (from Job/socle-migrate)", "socle-migrate-dryrun"},
		} {
			if r := find(t, rep, want.label, want.name); r.Outcome != Accepted {
				t.Errorf("%s %s: %s %s", want.label, want.name, r.Outcome, r.Reason)
			}
		}
		if r := find(t, rep, "Route", "socle-interconnect"); r.Outcome != Skipped {
			t.Errorf("Route: %s, want skipped (no CRD)", r.Outcome)
		}
	})

	bad := func(name string) string { return filepath.Join("..", "testdata", "bad", name) }
	for _, tc := range []struct {
		file, label, name string
		reasons           []string
	}{
		{"unknown-field.yaml", "Deployment", "typo", []string{`unknown field "spec.replica"`}},
		{"privileged-pod.yaml", "Pod", "privileged", []string{`violates PodSecurity "restricted:latest"`, "privileged"}},
		{"privileged-deployment.yaml", "Pod (from Deployment/rooty)", "rooty-dryrun",
			[]string{`violates PodSecurity "restricted:latest"`, "hostNetwork"}},
		{"servicemonitor-unknown-field.yaml", "ServiceMonitor", "wrong", []string{`unknown field "spec.endpoints[0].scrapeEvery"`}},
	} {
		t.Run("refused "+tc.file, func(t *testing.T) {
			rep := check(t, bad(tc.file))
			r := find(t, rep, tc.label, tc.name)
			if r.Outcome != Refused {
				t.Fatalf("%s %s: %s, want refused", tc.label, tc.name, r.Outcome)
			}
			for _, want := range tc.reasons {
				if !strings.Contains(r.Reason, want) {
					t.Errorf("reason %q lacks %q", r.Reason, want)
				}
			}
			if len(rep.Refused()) != 1 {
				t.Errorf("refused %d objects, want only %s %s: %+v", len(rep.Refused()), tc.label, tc.name, rep.Refused())
			}
		})
	}

	t.Run("a workload is only warned about", func(t *testing.T) {
		// Why the Pods are built: Pod Security does not refuse the Deployment itself.
		rep := check(t, bad("privileged-deployment.yaml"))
		r := find(t, rep, "Deployment", "rooty")
		if r.Outcome != Accepted || len(r.Warnings) == 0 || !strings.Contains(strings.Join(r.Warnings, " "), "restricted") {
			t.Errorf("Deployment rooty: %s with warnings %q; want accepted with a Pod Security warning", r.Outcome, r.Warnings)
		}
	})
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "x.yaml")
	src := "# Source: socle/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# empty\n---\n" +
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: 1}\ndata: {k: 2}\n---\nkind: [\n"
	if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	docs, err := ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3 (the empty one dropped): %+v", len(docs), docs)
	}
	if docs[0].Err != nil || docs[0].Obj.GetName() != "a" || docs[0].Source != "socle/templates/a.yaml" {
		t.Errorf("first document: %+v", docs[0])
	}
	if docs[1].Err == nil || !strings.Contains(docs[1].Err.Error(), `key "data" already set`) {
		t.Errorf("duplicate key: err %v, want a duplicate-key error", docs[1].Err)
	}
	if docs[2].Err == nil {
		t.Errorf("broken YAML read without error")
	}
}

func TestPodFromStatefulSet(t *testing.T) {
	docs, err := ReadFile(filepath.Join("..", "testdata", "samples", "socle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Obj.GetKind() != "StatefulSet" {
			continue
		}
		gk := schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
		pod, err := podFromTemplate(d.Obj, gk, podTemplatePath[gk])
		if err != nil {
			t.Fatal(err)
		}
		if pod.GetName() != "socle-interconnect-0" {
			t.Errorf("name %q", pod.GetName())
		}
		vols, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes")
		if len(vols) != 1 || !strings.Contains(fmt.Sprint(vols[0]), "audit-socle-interconnect-0") {
			t.Errorf("volumes %v: want the claim audit-socle-interconnect-0", vols)
		}
		if pod.GetLabels()["app.kubernetes.io/component"] != "interconnect" {
			t.Errorf("labels %v", pod.GetLabels())
		}
		return
	}
	t.Fatal("no StatefulSet in the samples")
}
