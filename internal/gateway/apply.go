package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"socle/internal/gateway/catalog"
	"socle/internal/gateway/spec"
	"socle/internal/platform/pki"
	"socle/internal/platform/service"
)

// applyPart is the gateway's part of the file `socle apply` reads: the `gateway:` key.
var applyPart = &service.Apply{Keys: []string{"gateway"}, Prepare: prepare}

// change is the gateway section, checked, ready to apply.
type change struct {
	declared catalog.Declared
}

func prepare(path string, _ []byte, doc *yaml.Node) (service.Change, []string) {
	dir := filepath.Dir(path)
	read := func(rel string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", rel, errUnwrapPath(err))
		}
		return b, nil
	}
	var node *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "gateway" {
			node = doc.Content[i+1]
		}
	}
	name := filepath.Base(path)
	g, docs, problems := spec.Parse(node, read)
	if g == nil {
		return nil, lines(name, problems)
	}
	d := catalog.Declared{Gateway: g, Docs: docs, Certificates: map[string][]*x509.Certificate{}}
	for _, a := range g.APIs {
		doc, ok := docs[a.Name]
		if !ok {
			continue
		}
		if err := CheckDescription(context.Background(), a.Kind, doc); err != nil {
			field := "openapi"
			if a.Kind == spec.SOAP {
				field = "wsdl"
			}
			problems = append(problems, spec.Problem{Line: a.Line(), Where: "apis[" + a.Name + "]." + field, Message: err.Error()})
		}
	}
	for _, c := range g.Consumers {
		for i, p := range c.Certificates {
			b, err := read(p)
			if err == nil {
				var certs []*x509.Certificate
				certs, err = pki.ParseCertificates(b)
				if err == nil && len(certs) == 0 {
					err = fmt.Errorf("%s holds no certificate", p)
				}
				d.Certificates[c.Name] = append(d.Certificates[c.Name], certs...)
			}
			if err != nil {
				problems = append(problems, spec.Problem{Line: c.Line(), Where: fmt.Sprintf("consumers[%s].certificates[%d]", c.Name, i), Message: err.Error()})
			}
		}
	}
	return &change{declared: d}, lines(name, problems)
}

func (c *change) Apply(ctx context.Context, tx pgx.Tx) (string, []string, error) {
	rep, problems, err := catalog.Apply(ctx, tx, c.declared, "socle apply")
	if err != nil {
		return "", nil, fmt.Errorf("gateway: %w", err)
	}
	if len(problems) > 0 {
		return "", lines("gateway", problems), nil
	}
	return rep.String(), nil, nil
}

// lines writes problems as `socle apply` prints them: FILE:LINE: where: what.
func lines(name string, ps spec.Problems) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p.Line > 0 {
			out[i] = fmt.Sprintf("%s:%d: gateway.%s: %s", name, p.Line, p.Where, p.Message)
		} else {
			out[i] = fmt.Sprintf("%s: gateway.%s: %s", name, p.Where, p.Message)
		}
	}
	return out
}

func errUnwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// CheckDescription says whether doc describes an API of kind usably: an OpenAPI 3.0 or 3.1
// document for REST, a WSDL 1.1 for SOAP.
func CheckDescription(ctx context.Context, kind string, doc []byte) error {
	if kind == spec.SOAP {
		_, err := newSOAPService(doc)
		return err
	}
	return CheckOpenAPI(ctx, doc)
}
