// Command dryrun starts kube-apiserver and etcd (built by `make deploy-check` into bin/kube) on
// loopback, and asks the API server to dry-run the creation of every object of the YAML files
// given (or of every *.yaml/*.yml file of the directories given): server-side dry run, strict
// field validation, Pod Security "restricted" enforced, plus a Pod built from each workload's
// template. It prints a table of file, kind, name and result, and exits 1 if the API server
// refused anything, naming each object and the reason; 2 if the check itself could not run.
//
//	dryrun -bin bin/kube out/*.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"socle/tools/kube/dryrun"
)

func main() {
	os.Exit(run())
}

func run() int {
	bin := flag.String("bin", "bin/kube", "directory holding the kube-apiserver and etcd binaries")
	namespace := flag.String("namespace", "socle", "namespace of the namespaced objects that name none")
	keep := flag.Bool("keep", false, "keep the cluster's temporary directory (logs, certificates) after the run")
	verbose := flag.Bool("v", false, "debug logs")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: dryrun [flags] FILE.yaml|DIR...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *verbose {
		slog.SetLogLoggerLevel(slog.LevelDebug)
	}
	if flag.NArg() == 0 {
		flag.Usage()
		return 2
	}
	files, err := yamlFiles(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "dryrun:", err)
		return 2
	}
	var docs []dryrun.Doc
	for _, f := range files {
		d, err := dryrun.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dryrun:", err)
			return 2
		}
		docs = append(docs, d...)
	}
	if len(docs) == 0 {
		fmt.Fprintf(os.Stderr, "dryrun: no Kubernetes object in %v\n", files)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	cluster, err := dryrun.Start(ctx, dryrun.Options{BinDir: *bin, KeepDir: *keep})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dryrun:", err)
		return 2
	}
	defer cluster.Stop()
	ready := time.Since(start)
	rep, err := dryrun.Check(ctx, cluster.Config, docs, dryrun.CheckOptions{Namespace: *namespace})
	if rep != nil {
		rep.Print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dryrun:", err)
		return 2
	}
	var accepted, skipped int
	for _, r := range rep.Results {
		switch r.Outcome {
		case dryrun.Accepted:
			accepted++
		case dryrun.Skipped:
			skipped++
		}
	}
	refused := rep.Refused()
	fmt.Printf("%d file(s), %d object(s) + %d pod(s) from templates: %d accepted, %d refused, %d skipped; "+
		"API server ready in %s, total %s\n",
		len(files), len(docs), len(rep.Results)-len(docs), accepted, len(refused), skipped,
		ready.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	if len(refused) > 0 {
		return 1
	}
	return 0
}

// yamlFiles expands directories into their *.yaml and *.yml files, sorted.
func yamlFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(a, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s holds no *.yaml file", a)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}
