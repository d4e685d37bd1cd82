// Command kube-apiserver is the Kubernetes API server built from the k8s.io/kubernetes Go module,
// exactly as that module's own cmd/kube-apiserver does it. No Kubernetes release binary can be
// downloaded on these machines (only the Go module proxy is reachable), so `make deploy-check`
// builds this one into bin/kube/ and runs it on loopback, with etcd, to dry-run every object the
// Helm chart renders. It lives in a Go module of its own so that Kubernetes stays out of
// socle's go.mod.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream's main imports it

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // the JSON log format, as upstream
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // the version metric, as upstream
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
