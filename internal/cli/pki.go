package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"socle/internal/platform/pki"
)

func init() {
	register(command{name: "pki", summary: "create a development CA and issue certificates (init, issue)", run: runPKI})
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runPKI(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "issue") {
		fmt.Fprintln(stderr, "Usage: socle pki init --dir D\n       socle pki issue --dir D --name N [--dns H]... [--ip A]... [--client|--server]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usagef("want a subcommand: init or issue")
	}
	if args[0] == "init" {
		fs := flags("pki init", "--dir D", `
Writes a development CA (ca.crt, ca.key) and a server certificate for localhost, 127.0.0.1
and ::1 (server.crt, server.key) in D. Existing files are kept: running it again is safe.
For development and tests only: production uses certificates from a real CA.`)
		dir := fs.String("dir", "", "directory to write to (created with mode 0700)")
		if err := parse(fs, nil, args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			return usagef("--dir is required")
		}
		created, err := pki.Init(*dir)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "pki: development CA and server certificate written to %s\n", *dir)
		} else {
			fmt.Fprintf(stdout, "pki: %s already holds a CA and a server certificate; nothing written\n", *dir)
		}
		return nil
	}
	fs := flags("pki issue", "--dir D --name N [--dns H]... [--ip A]... [--client|--server]", `
Writes N.crt and N.key in D, signed by the CA of D (see socle pki init). A client certificate
(the default) is what an operator or a PSAP presents on the interconnect; a server certificate
names the hosts it serves with --dns and --ip (repeatable).`)
	dir := fs.String("dir", "", "directory of the CA")
	name := fs.String("name", "", "certificate name: the file names and the subject's common name")
	org := fs.String("org", "", "subject organisation (optional)")
	var dns, ips listFlag
	fs.Var(&dns, "dns", "DNS name (repeatable)")
	fs.Var(&ips, "ip", "IP address (repeatable)")
	client := fs.Bool("client", false, "issue a client certificate (default)")
	server := fs.Bool("server", false, "issue a server certificate")
	days := fs.Int("days", 365, "validity in days")
	if err := parse(fs, nil, args[1:]); err != nil {
		return err
	}
	if *dir == "" || *name == "" {
		return usagef("--dir and --name are required")
	}
	if *client && *server {
		return usagef("--client and --server exclude each other")
	}
	if *days < 1 || *days > 825 {
		return usagef("--days must be from 1 to 825")
	}
	req := pki.Request{Name: *name, Organization: *org, DNSNames: dns, Usage: pki.Client,
		NotAfter: time.Now().Add(time.Duration(*days) * 24 * time.Hour)}
	if *server {
		req.Usage = pki.Server
	}
	for _, a := range ips {
		ip := net.ParseIP(a)
		if ip == nil {
			return usagef("--ip %q is not an IP address", a)
		}
		req.IPs = append(req.IPs, ip)
	}
	ca, err := pki.LoadCA(*dir)
	if err != nil {
		return err
	}
	iss, err := ca.Issue(req)
	if err != nil {
		return err
	}
	if err := iss.Save(*dir, *name); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pki: wrote %s/%s.crt and %s.key (fingerprint %s)\n", *dir, *name, *name, pki.Fingerprint(iss.Cert))
	return nil
}
