// Command keyward-controlplane runs a local Kubernetes control plane for Keyward's tests and
// development: an embedded etcd and kube-apiserver in one process, bound to loopback only.
//
// Everything lives in --dir: certificates, ports, etcd data and an admin kubeconfig. All of
// it is created on the first start and reused afterwards, so a restart serves the same
// address with the same data and existing kubeconfigs stay valid.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // CronJob time zones validate without the host's zoneinfo, as in upstream kube-apiserver

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json, as in upstream kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as in upstream kube-apiserver
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as in upstream kube-apiserver
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	dir := flag.String("dir", "", "state directory (created when missing)")
	flag.Parse()
	if *dir == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: keyward-controlplane --dir DIR")
		os.Exit(2)
	}
	os.Exit(run(*dir))
}

func run(dir string) int {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fail(err)
	}
	state, err := openState(dir)
	if err != nil {
		return fail(err)
	}
	defer state.release()

	pki, err := ensurePKI(state.pkiDir())
	if err != nil {
		return fail(err)
	}
	ports, err := ensurePorts(state.portsFile())
	if err != nil {
		return fail(err)
	}
	if err := writeKubeconfig(state.kubeconfigFile(), ports.serverURL(), pki); err != nil {
		return fail(err)
	}

	// The command installs the SIGTERM/SIGINT handler, so build it before etcd starts: a signal
	// from then on stops the API server gracefully and lets etcd close below.
	apiserver := app.NewAPIServerCommand()
	apiserver.SetArgs(apiserverArgs(ports, pki))

	etcd, err := startEtcd(state.etcdDir(), ports)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintf(os.Stderr, "keyward-controlplane: etcd ready, starting kube-apiserver on %s\n", ports.serverURL())
	err = cli.RunNoErrOutput(apiserver)
	etcd.Close()
	// Reported after etcd's shutdown messages, so the cause is the last line of the log.
	if err != nil {
		return fail(fmt.Errorf("kube-apiserver: %w", err))
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "keyward-controlplane: %v\n", err)
	return 1
}
