// Command etcd is the etcd server built from its Go module (go.etcd.io/etcd/server/v3), as
// that module's own main.go does it: the storage of the kube-apiserver that `make deploy-check`
// runs on loopback. Debian's etcd-server is 3.4, older than what Kubernetes 1.37 supports, and
// no release binary can be downloaded here. A Go module of its own keeps etcd out of socle's
// go.mod and out of the API server's build.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
