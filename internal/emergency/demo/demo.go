// Package demo is the demonstration data `make run` loads: a directory file, real communes
// with hand-drawn simplified boundaries, their PDAAU rows, and the certificates of a demo
// operator and of the PSAP simulator.
package demo

import (
	"bytes"
	"embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"text/template"

	"socle/internal/platform/pki"
)

//go:embed communes.geojson pdaau.csv directory.yaml.tmpl
var files embed.FS

// FallbackPSAP receives, in the demo, locations that no PDAAU row routes (at sea, abroad).
const FallbackPSAP = "samu-75"

// Install issues the demo certificates in dataDir/pki if missing and writes the demo
// directory under dataDir/demo, with PSAP endpoints at psapAddr. It returns the directory file.
func Install(dataDir, psapAddr string) (string, error) {
	if err := Certificates(dataDir, psapAddr); err != nil {
		return "", err
	}
	return Directory(dataDir, psapAddr)
}

// Certificates issues the demo certificates in dataDir/pki if missing: the simulator's is for
// psapAddr's host (its port does not matter, and may not be known yet).
func Certificates(dataDir, psapAddr string) error {
	pkiDir := filepath.Join(dataDir, "pki")
	if _, err := pki.Init(pkiDir); err != nil {
		return err
	}
	if _, err := pki.EnsureIssued(pkiDir, "demo-operator", pki.Request{
		Name: "demo-mobile", Organization: "Opérateur mobile de démonstration", Usage: pki.Client}); err != nil {
		return err
	}
	// The Paris fire brigade's centre, as a PSAP asking where a caller is (HELD).
	if _, err := pki.EnsureIssued(pkiDir, "demo-psap", pki.Request{
		Name: "bspp", Organization: "Brigade de sapeurs-pompiers de Paris (démonstration)", Usage: pki.Client}); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(psapAddr)
	if err != nil {
		return fmt.Errorf("demo: PSAP address: %w", err)
	}
	req := pki.Request{Name: "psap-simulator", Organization: "socle demo", Usage: pki.Server, DNSNames: []string{"localhost"}}
	if ip := net.ParseIP(host); ip != nil {
		req.IPs = []net.IP{ip}
	} else if host != "" {
		req.DNSNames = append(req.DNSNames, host)
	}
	if _, err := pki.EnsureIssued(pkiDir, "psap-sim", req); err != nil {
		return err
	}

	return nil
}

// Directory writes the demo directory under dataDir/demo, with PSAP endpoints at psapAddr,
// and returns its file.
func Directory(dataDir, psapAddr string) (string, error) {
	dir := filepath.Join(dataDir, "demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	for _, name := range []string{"communes.geojson", "pdaau.csv"} {
		b, _ := files.ReadFile(name)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
	}
	tmpl := template.Must(template.ParseFS(files, "directory.yaml.tmpl"))
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]string{"PSAPAddr": psapAddr}); err != nil {
		return "", err
	}
	file := filepath.Join(dir, "directory.yaml")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return file, nil
}
