package dryrun

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Doc is one document of a multi-document YAML file.
type Doc struct {
	File   string
	Index  int    // 1-based position of the document in its file
	Source string // Helm's "# Source: chart/templates/x.yaml" comment, when present
	Obj    *unstructured.Unstructured
	Err    error // the document could not be read as a Kubernetes object
}

// ReadFile splits a YAML file into its documents. Empty documents (only comments, as Helm
// leaves for a template that renders nothing) are dropped; a document that is not valid YAML,
// has a duplicate key, or has no apiVersion/kind comes back with Err set, so that it is reported
// as refused instead of silently skipped.
func ReadFile(path string) ([]Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var docs []Doc
	for i := 1; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		d := Doc{File: path, Index: i, Source: helmSource(raw)}
		// Strict: a duplicate key would otherwise be resolved silently (last one wins) before
		// the API server sees the object.
		js, err := yaml.YAMLToJSONStrict(raw)
		if err != nil {
			d.Err = fmt.Errorf("not valid YAML: %w", err)
			docs = append(docs, d)
			continue
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			d.Err = fmt.Errorf("not a Kubernetes object: %w", err)
			d.Obj = nil
		} else {
			d.Obj = obj
		}
		docs = append(docs, d)
	}
}

func helmSource(raw []byte) string {
	for _, line := range strings.Split(string(raw), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return s
		}
	}
	return ""
}
