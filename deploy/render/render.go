// Package render renders socle's Helm chart with Helm's own library (helm.sh/helm/v4), as
// `helm template` would, for the chart's tests and for `make deploy-check`, which hands the
// result to a real kube-apiserver.
package render

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// Release names the release and the namespace the value sets are rendered for.
var Release = common.ReleaseOptions{Name: "socle", Namespace: "socle", Revision: 1, IsInstall: true}

// Upgrade is Release at its second revision, for what differs between install and upgrade.
var Upgrade = common.ReleaseOptions{Name: "socle", Namespace: "socle", Revision: 2, IsUpgrade: true}

// Document is one rendered object: the template it comes from and its YAML.
type Document struct {
	Template string
	YAML     []byte
	// Head is what every object says of itself.
	Head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
}

// ID is kind/name, how the tests name an object.
func (d Document) ID() string { return d.Head.Kind + "/" + d.Head.Metadata.Name }

// Load reads the chart in dir (deploy/helm/socle).
func Load(dir string) (*chart.Chart, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return ch, nil
}

// ReadValues reads a values file.
func ReadValues(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := map[string]any{}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// ValueSets lists dir/values-<set>.yaml by set name: the value sets the tests render and
// `make deploy-check` applies.
func ValueSets(dir string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "values-*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no values-*.yaml in %s", dir)
	}
	sets := map[string]string{}
	for _, f := range files {
		sets[strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "values-"), ".yaml")] = f
	}
	return sets, nil
}

// Render validates vals against values.schema.json, renders every template and splits the
// result into documents, in the order of the templates' names and of the documents in each.
func Render(ch *chart.Chart, vals map[string]any, rel common.ReleaseOptions) ([]Document, error) {
	top, err := util.ToRenderValues(ch, vals, rel, nil)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	var docs []Document
	for _, name := range names {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt, helpers
		}
		for _, part := range splitYAML(out[name]) {
			d := Document{Template: name, YAML: part}
			if err := yaml.Unmarshal(part, &d.Head); err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", name, err, part)
			}
			if d.Head.Kind == "" {
				return nil, fmt.Errorf("%s: a document without kind:\n%s", name, part)
			}
			if d.Head.Metadata.Namespace == "" {
				d.Head.Metadata.Namespace = rel.Namespace
			}
			docs = append(docs, d)
		}
	}
	return docs, nil
}

// splitYAML cuts a multi-document stream at its "---" lines and drops the empty documents
// (comments only, or nothing, as templates whose condition is false leave).
func splitYAML(s string) [][]byte {
	var parts [][]byte
	var cur bytes.Buffer
	flush := func() {
		if hasContent(cur.String()) {
			parts = append(parts, bytes.Clone(cur.Bytes()))
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		if strings.TrimRight(line, " \r\n") == "---" {
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return parts
}

func hasContent(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// Stream writes docs as one multi-document YAML stream, each with the template it comes from.
func Stream(docs []Document) []byte {
	var b bytes.Buffer
	for _, d := range docs {
		fmt.Fprintf(&b, "---\n# Source: %s\n", d.Template)
		b.Write(d.YAML)
		if !bytes.HasSuffix(d.YAML, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
