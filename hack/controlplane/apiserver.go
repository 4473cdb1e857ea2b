package main

import "strconv"

// apiserverArgs follows controller-runtime's envtest: RBAC with an admin client certificate
// in system:masters, and no ServiceAccount admission since no controller creates the
// default service accounts. Everything listens on and advertises loopback only.
func apiserverArgs(p ports, k pkiFiles) []string {
	return []string{
		"--etcd-servers=" + p.etcdServerURL(),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		// Endpoints may not hold a loopback address, and nothing runs in the cluster that would
		// reach the API server through the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(p.APIServer),
		"--tls-cert-file=" + k.ServingCert,
		"--tls-private-key-file=" + k.ServingKey,
		"--client-ca-file=" + k.CACert,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + k.ServiceAccountKey,
		"--service-account-signing-key-file=" + k.ServiceAccountKey,
	}
}
